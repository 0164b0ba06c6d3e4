// Package catest is test support for package ca: options that mint a
// hierarchy in milliseconds from RSA-2048 keys made in advance
// (testdata/ca-keys.pem), instead of generating eight keys each time.
package catest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
	"sync"

	"github.com/irpki/irpki/internal/ca"
)

//go:embed testdata/ca-keys.pem
var keysPEM []byte

var (
	mu   sync.Mutex
	rest = keysPEM
)

// Options are hierarchy options for tests: RSA-2048 everywhere, keys
// handed out from the ready-made ones in order, each once per process;
// when they run out, new ones are generated.
func Options() ca.Options {
	return ca.Options{RootBits: 2048, IssuingBits: 2048, SigningBits: 2048, NewKey: key}
}

func key(bits int) (*rsa.PrivateKey, error) {
	mu.Lock()
	defer mu.Unlock()
	if bits == 2048 {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk != nil {
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("catest: %w", err)
			}
			return k.(*rsa.PrivateKey), nil
		}
	}
	return rsa.GenerateKey(rand.Reader, bits)
}
