package wire_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/irpki/irpki/internal/wire"
)

// TestParseRenew: a signed request parses with its claimed fields and
// signer, and Verify gives the verified request; a missing signature is
// kept for the service to refuse, a schema violation is a fault at once.
func TestParseRenew(t *testing.T) {
	el := parse(t, wire.Envelope(signedRenew(t)))
	r, err := wire.ParseRenew(el)
	if err != nil {
		t.Fatal(err)
	}
	if r.Claimed == nil || r.Claimed.CustomerID != customer {
		t.Fatalf("claimed: %+v", r.Claimed)
	}
	cert, err := r.Signer()
	if err != nil || !cert.Equal(testSigner(t).cert) {
		t.Fatalf("Signer: %v", err)
	}
	v, err := r.Verify(now)
	if err != nil {
		t.Fatal(err)
	}
	if v.CustomerID != customer || v.Environment != wire.EnvTest || !bytes.Equal(v.CertificateRequest, testSigner(t).csr) || !v.Signer.Equal(cert) {
		t.Errorf("verified: %+v", v)
	}
	got, err := r.Digest()
	want, werr := wire.SignedDigest(el)
	if err != nil || werr != nil || !bytes.Equal(got, want) {
		t.Errorf("Digest = %x, %v; SignedDigest = %x, %v", got, err, want, werr)
	}

	tampered := parse(t, wire.Envelope(signedRenew(t)))
	tampered.FindElement("./CustomerId").SetText("7654321-6")
	r, err = wire.ParseRenew(tampered)
	if err != nil {
		t.Fatal(err)
	}
	if r.Claimed.CustomerID != "7654321-6" {
		t.Errorf("claimed: %+v", r.Claimed)
	}
	if _, err := r.Verify(now); !errors.Is(err, wire.ErrSigInvalid) || errors.Is(err, wire.ErrSignedContent) {
		t.Errorf("tampered: %v, want ErrSigInvalid", err)
	}

	unsigned := parse(t, envelope(`<ser:RenewCertificateRequest><Environment>TEST</Environment><CustomerId>`+customer+`</CustomerId><CertificateRequest>AAAA</CertificateRequest></ser:RenewCertificateRequest>`))
	r, err = wire.ParseRenew(unsigned)
	if err != nil {
		t.Fatalf("unsigned: %v, want a refusal later, not a fault", err)
	}
	if r.Claimed != nil {
		t.Errorf("unsigned: claimed %+v, want none", r.Claimed)
	}
	if _, err := r.Signer(); !errors.Is(err, wire.ErrSigMissing) {
		t.Errorf("unsigned Signer: %v, want ErrSigMissing", err)
	}
	if _, err := r.Verify(now); !errors.Is(err, wire.ErrSigMissing) {
		t.Errorf("unsigned Verify: %v, want ErrSigMissing", err)
	}

	extra := parse(t, wire.Envelope(signedRenew(t)))
	extra.InsertChildAt(0, extra.FindElement("./Environment").Copy())
	if _, err := wire.ParseRenew(extra); !errors.Is(err, wire.ErrSchema) {
		t.Errorf("schema violation: %v, want ErrSchema", err)
	}
}
