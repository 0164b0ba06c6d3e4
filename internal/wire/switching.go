package wire

import (
	"crypto"
	"sync"

	"github.com/beevik/etree"
)

// SwitchingSigner signs with whichever key is in use at the moment of each
// signature, as current tells: a server whose response signer is rotated
// switches to the next one without a restart. It keeps one Signer per key.
type SwitchingSigner struct {
	current func() (key crypto.Signer, chain [][]byte)
	mu      sync.Mutex
	signers map[crypto.Signer]*Signer
}

// NewSwitchingSigner returns a SwitchingSigner asking current for the key
// and its certificate chain (leaf first, DER) before each signature.
func NewSwitchingSigner(current func() (key crypto.Signer, chain [][]byte)) *SwitchingSigner {
	return &SwitchingSigner{current: current, signers: map[crypto.Signer]*Signer{}}
}

// Sign signs el with the key in use now; see Signer.Sign.
func (s *SwitchingSigner) Sign(el *etree.Element) ([]byte, error) {
	key, chain := s.current()
	s.mu.Lock()
	sg, ok := s.signers[key]
	if !ok {
		var err error
		if sg, err = NewSigner(key, chain); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		// Keys come and go only with a rotation: keep the last few.
		if len(s.signers) >= 4 {
			clear(s.signers)
		}
		s.signers[key] = sg
	}
	s.mu.Unlock()
	return sg.Sign(el)
}
