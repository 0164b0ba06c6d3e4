package security_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"

	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// csrWithModulus returns a well-formed CSR whose RSA key is replaced by a
// modulus of the given size (no one holds its private key, so the
// signature cannot verify); of 2048 bits, another key's sound modulus.
func csrWithModulus(t testing.TB, bits int) []byte {
	t.Helper()
	k := irpkidtest.NewKey(t)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: custA}}, k)
	if err != nil {
		t.Fatal(err)
	}
	var csr struct {
		Info asn1.RawValue
		Alg  pkix.AlgorithmIdentifier
		Sig  asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &csr); err != nil {
		t.Fatal(err)
	}
	var info struct {
		Version int
		Subject asn1.RawValue
		SPKI    struct {
			Alg pkix.AlgorithmIdentifier
			Key asn1.BitString
		}
		Attrs asn1.RawValue `asn1:"tag:0"`
	}
	if _, err := asn1.Unmarshal(csr.Info.FullBytes, &info); err != nil {
		t.Fatal(err)
	}
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(12345677))
	if bits == 2048 {
		n = irpkidtest.NewKey(t).N // a sound modulus, of another key
	}
	pk, err := asn1.Marshal(struct {
		N *big.Int
		E int
	}{n, 65537})
	if err != nil {
		t.Fatal(err)
	}
	info.SPKI.Key = asn1.BitString{Bytes: pk, BitLength: len(pk) * 8}
	ib, err := asn1.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	csr.Info = asn1.RawValue{FullBytes: ib}
	out, err := asn1.Marshal(csr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOversizedCSRKeyRefusedFirst is the regression test of a finding: a
// CSR of under 10 KiB can carry a 70000-bit RSA modulus, and CheckCSR
// verified its signature before looking at the key size — about 170 times
// the CPU of a normal check, on the unauthenticated SignNewCertificate
// path, and answered with CSR_SIGNATURE instead of KEY_NOT_ALLOWED. The key
// is now checked first.
func TestOversizedCSRKeyRefusedFirst(t *testing.T) {
	for _, bits := range []int{1024, 4097, 16384, 70000} {
		der := csrWithModulus(t, bits)
		if len(der) > 10240 {
			t.Fatalf("%d bits: CSR of %d bytes is over the schema's limit", bits, len(der))
		}
		_, err := ca.DefaultProfile.CheckCSR(der)
		if !errors.Is(err, ca.ErrKeyNotAllowed) {
			t.Errorf("RSA-%d: %v, want %v", bits, err, ca.ErrKeyNotAllowed)
		}
	}
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, custA, "Acme Oy")
	cred := s.Order(t, custA, 0)
	o := post(t, s.URL, "signNewCertificate", "text/xml; charset=utf-8", signNewBody(t, custA, cred.TransferID, cred.TransferPassword, csrWithModulus(t, 70000)))
	if o.Code() != wire.CodeKeyNotAllowed {
		t.Fatalf("SignNewCertificate with RSA-70000: %v, want %s", o, wire.CodeKeyNotAllowed)
	}
	// A key of the profile with a broken signature is still CSR_SIGNATURE.
	if _, err := ca.DefaultProfile.CheckCSR(csrWithModulus(t, 2048)); !errors.Is(err, ca.ErrCSRSignature) {
		t.Fatalf("RSA-2048 with a foreign signature: %v", err)
	}
}
