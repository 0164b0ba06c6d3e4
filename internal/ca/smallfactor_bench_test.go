package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

// The small-prime check runs for every CSR; compare it with one RSA-2048
// signature in the same run:
//
//	go test ./internal/ca -run XXX -bench 'SmallFactor|RSA2048Sign'
func BenchmarkSmallFactor(b *testing.B) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	hasSmallFactor(k.N) // the product is made once
	for b.Loop() {
		if hasSmallFactor(k.N) {
			b.Fatal("a sound key has a small factor")
		}
	}
}

func BenchmarkRSA2048Sign(b *testing.B) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.Sum256([]byte("irpki"))
	for b.Loop() {
		if _, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:]); err != nil {
			b.Fatal(err)
		}
	}
}
