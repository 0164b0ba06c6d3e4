package irpkidtest

import (
	"crypto"
	"crypto/rsa"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"testing"
)

// RawKey is an RSA key computed with math/big, for the keys crypto/rsa
// will not make or use: a public exponent of 3, a modulus with a small
// prime factor. It signs PKCS#1 v1.5 with SHA-1 or SHA-256, enough for a
// CSR whose proof of possession verifies.
type RawKey struct {
	Pub rsa.PublicKey
	D   *big.Int
}

//go:embed testdata/rawkeys.json
var rawKeysJSON []byte

// Raw keys of testdata/rawkeys.json, made once with math/big (crypto/rsa
// makes neither): RSA-2048 moduli of two primes.
const (
	RawExponent3  = "exponent3"  // public exponent 3, two 1024-bit primes
	RawSmallPrime = "smallprime" // exponent 65537, one prime factor 65521
)

// LoadRawKey returns one of the raw keys.
func LoadRawKey(t testing.TB, name string) *RawKey {
	t.Helper()
	var keys map[string]struct {
		N, D string
		E    int
	}
	if err := json.Unmarshal(rawKeysJSON, &keys); err != nil {
		t.Fatal(err)
	}
	k, ok := keys[name]
	n, okN := new(big.Int).SetString(k.N, 16)
	d, okD := new(big.Int).SetString(k.D, 16)
	if !ok || !okN || !okD {
		t.Fatalf("raw key %q: not in testdata/rawkeys.json", name)
	}
	return &RawKey{Pub: rsa.PublicKey{N: n, E: k.E}, D: d}
}

// Public returns the public key.
func (k *RawKey) Public() crypto.PublicKey { return &k.Pub }

var digestInfo = map[crypto.Hash]string{
	crypto.SHA1:   "3021300906052b0e03021a05000414",
	crypto.SHA256: "3031300d060960864801650304020105000420",
}

// Sign signs digest with PKCS#1 v1.5.
func (k *RawKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	prefix, ok := digestInfo[opts.HashFunc()]
	if !ok {
		return nil, errors.New("RawKey: only SHA-1 and SHA-256")
	}
	p, _ := hex.DecodeString(prefix)
	t := append(p, digest...)
	size := (k.Pub.N.BitLen() + 7) / 8
	em := make([]byte, size)
	em[1] = 1
	for i := 2; i < size-len(t)-1; i++ {
		em[i] = 0xff
	}
	copy(em[size-len(t):], t)
	s := new(big.Int).Exp(new(big.Int).SetBytes(em), k.D, k.Pub.N)
	return s.FillBytes(make([]byte, size)), nil
}
