//go:build cgo

package hsm

import (
	"crypto"
	"errors"
	"fmt"
	"time"

	"github.com/ThalesGroup/crypto11"
)

const cgoBuild = true

// poolWait bounds the wait for a free session of the token: past it a
// signature fails instead of hanging (irpkid's admission control keeps the
// signatures in flight far below the sessions a token offers).
const poolWait = 30 * time.Second

type cryptoToken struct{ ctx *crypto11.Context }

func openToken(module, label, pin string) (token, error) {
	ctx, err := crypto11.Configure(&crypto11.Config{Path: module, TokenLabel: label, Pin: pin, PoolWaitTimeout: poolWait})
	if err != nil {
		return nil, err
	}
	return cryptoToken{ctx}, nil
}

func (t cryptoToken) find(id, label []byte) (crypto.Signer, error) {
	ks, err := t.ctx.FindKeyPairs(id, label)
	switch {
	case err != nil:
		return nil, err
	case len(ks) == 0:
		return nil, nil
	case len(ks) > 1:
		return nil, fmt.Errorf("%d keys match: add the key's id= to the URI", len(ks))
	}
	return ks[0], nil
}

func (t cryptoToken) generate(id, label []byte, bits int) (crypto.Signer, error) {
	if bits < 2048 {
		return nil, errors.New("RSA keys of fewer than 2048 bits are refused")
	}
	return t.ctx.GenerateRSAKeyPairWithLabel(id, label, bits)
}

func (t cryptoToken) close() error { return t.ctx.Close() }
