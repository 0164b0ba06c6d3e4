package interop_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/irpkidtest"
	"github.com/irpki/irpki/internal/security/irpkidproc"
	"github.com/irpki/irpki/internal/wire"
)

// The real irpkid binary: `irpkid serve` answers a SignNewCertificate, the
// bundle that `irpkid trust` prints lets xmlsec1 verify the signed response,
// and openssl verifies the certificate GetCertificate returns against it.
// The process runs on the wall clock, so these tests use time.Now.
func TestIrpkidBinaryWithTrustBundle(t *testing.T) {
	xmlsec, openssl := tool(t, "xmlsec1"), tool(t, "openssl")
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	dataDir := t.TempDir()
	// A hierarchy with RSA-2048 keys made here, as irpkid would make it
	// (with a 3072-bit root) on its first start, to keep the test quick.
	if _, _, err := ca.LoadOrCreate(dataDir, wire.EnvTest, time.Now(), ca.Options{RootBits: 2048, IssuingBits: 2048, SigningBits: 2048}); err != nil {
		t.Fatal(err)
	}
	p := irpkidproc.Start(t, bin, dataDir, "")
	bundle := irpkidproc.Run(t, bin, dataDir, "trust")
	irpkidproc.Run(t, bin, dataDir, "org", "add", "--customer-id", customer, "--name", "Acme Oy", "--contact-email", "tech@example.fi")
	cred, err := irpkidproc.Order(context.Background(), bin, dataDir, customer, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	trusted, untrusted := bundleFiles(t, dir, bundle)

	key := irpkidtest.NewKey(t)
	resp := post(t, p.Endpoint, "signNewCertificate", signNewBody(t, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, key, customer)))
	if !strings.Contains(string(resp), "<Status>OK</Status>") {
		t.Fatalf("SignNewCertificate refused:\n%s", resp)
	}
	f := writeFile(t, dir, "signnew-response.xml", soapBody(t, resp))
	if _, err := run(t, xmlsec, "--verify", "--trusted-pem", trusted, "--untrusted-pem", untrusted, "--enabled-key-data", "x509", f); err != nil {
		t.Fatalf("xmlsec1 against `irpkid trust`: %v", err)
	}

	roots, err := client.ParseTrustBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(p.Endpoint, client.Options{Environment: wire.EnvTest, Trust: roots})
	if err != nil {
		t.Fatal(err)
	}
	el, err := wire.ParseEnvelope(resp, wire.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	r, err := wire.DecodeResponse(wire.Detach(el), wire.OpSignNew, true)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.GetCertificate(context.Background(), customer, r.RetrievalID)
	if err != nil {
		t.Fatal(err)
	}
	certFile := writeFile(t, dir, "org.crt", pemCert(cert))
	if out, err := run(t, openssl, "verify", "-purpose", "sslclient", "-CAfile", trusted, "-untrusted", untrusted, certFile); err != nil || !strings.Contains(out, ": OK") {
		t.Fatalf("openssl verify against `irpkid trust`: %v %s", err, out)
	}
}
