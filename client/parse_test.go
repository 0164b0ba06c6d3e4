package client_test

import (
	"encoding/pem"
	"strings"
	"testing"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// TestParseCertificates: every CERTIFICATE block in order, other blocks
// skipped, none is no error; the trust bundle must hold at least one, and a
// broken certificate is an error for both.
func TestParseCertificates(t *testing.T) {
	h := irpkidtest.Hierarchy(t, wire.EnvTest)
	var b strings.Builder
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: h.Root.Raw})
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not a certificate")})
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: h.Signing.Raw})
	got, err := client.ParseCertificates([]byte(b.String()))
	if err != nil || len(got) != 2 || !got[0].Equal(h.Root) || !got[1].Equal(h.Signing) {
		t.Fatalf("ParseCertificates = %d certificates, %v; want the root and the signing certificate", len(got), err)
	}

	if got, err := client.ParseCertificates([]byte("no PEM here")); err != nil || len(got) != 0 {
		t.Errorf("no PEM: %v, %v; want none and no error", got, err)
	}
	if _, err := client.ParseTrustBundle([]byte("no PEM here")); err == nil {
		t.Error("ParseTrustBundle accepted a bundle without certificates")
	}

	broken := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 0x02, 0x01}})
	if _, err := client.ParseCertificates(broken); err == nil {
		t.Error("ParseCertificates accepted a broken certificate")
	}
	if _, err := client.ParseTrustBundle(broken); err == nil || !strings.Contains(err.Error(), "trust bundle") {
		t.Errorf("ParseTrustBundle on a broken certificate: %v", err)
	}
}
