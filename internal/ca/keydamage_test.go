package ca_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/irpki/irpki/internal/ca"
)

// The parts of an encrypted PKCS#8 key (RFC 5958, PBES2 of RFC 8018) that
// a damaged or hostile file changes.
type encryptedKeyInfo struct {
	Algo pkix.AlgorithmIdentifier
	Data []byte
}

type pbes2 struct {
	KDF, Scheme pkix.AlgorithmIdentifier
}

type scryptParams struct {
	Salt      []byte
	N, R, P   int
	KeyLength int `asn1:"optional"`
}

// A damaged encrypted key file, whose ASN.1 is still well formed, is
// refused with the error a wrong passphrase gets and nothing else: no
// crash (the PKCS#8 library panics on a ciphertext that is not whole
// blocks and on an IV of the wrong length) and no scrypt cost that takes
// the machine's memory.
func TestDamagedEncryptedKeyRefused(t *testing.T) {
	const pass = "correct horse battery staple"
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good, err := ca.EncryptKeyPEM(k, []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.ParseKeyPEM("good.key", good, passphrase(pass)); err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(good)
	var info encryptedKeyInfo
	if _, err := asn1.Unmarshal(blk.Bytes, &info); err != nil {
		t.Fatal(err)
	}
	var params pbes2
	if _, err := asn1.Unmarshal(info.Algo.Parameters.FullBytes, &params); err != nil {
		t.Fatal(err)
	}
	remarshal := func(t *testing.T, info encryptedKeyInfo, params pbes2) []byte {
		t.Helper()
		p, err := asn1.Marshal(params)
		if err != nil {
			t.Fatal(err)
		}
		info.Algo.Parameters = asn1.RawValue{FullBytes: p}
		der, err := asn1.Marshal(info)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
	}
	withScheme := func(t *testing.T, iv []byte) []byte {
		p := params
		raw, err := asn1.Marshal(iv)
		if err != nil {
			t.Fatal(err)
		}
		p.Scheme.Parameters = asn1.RawValue{FullBytes: raw}
		return remarshal(t, info, p)
	}
	withScrypt := func(t *testing.T, f func(*scryptParams)) []byte {
		var s scryptParams
		if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &s); err != nil {
			t.Fatal(err)
		}
		f(&s)
		raw, err := asn1.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		p := params
		p.KDF.Parameters = asn1.RawValue{FullBytes: raw}
		return remarshal(t, info, p)
	}
	cut := info
	cut.Data = info.Data[:len(info.Data)-5]
	empty := info
	empty.Data = nil
	for name, b := range map[string][]byte{
		"ciphertext not whole blocks": remarshal(t, cut, params),
		"no ciphertext":               remarshal(t, empty, params),
		"short IV":                    withScheme(t, make([]byte, 5)),
		"long IV":                     withScheme(t, make([]byte, 40)),
		"scrypt cost 2^30":            withScrypt(t, func(s *scryptParams) { s.N = 1 << 30 }),
		"scrypt r*p huge":             withScrypt(t, func(s *scryptParams) { s.R, s.P = 1<<20, 1<<9 }),
		"truncated file":              good[:len(good)/2],
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				_, err = ca.ParseKeyPEM("damaged.key", b, passphrase(pass))
			}()
			if err == nil || !strings.Contains(err.Error(), "damaged.key") || strings.Contains(err.Error(), pass) {
				t.Errorf("got %v, want an error naming the file and not the passphrase", err)
			}
		})
	}
}
