package interop_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/ca/catest"
	"github.com/irpki/irpki/internal/server/irpkidproc"
	"github.com/irpki/irpki/internal/server/irpkidtest"
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
	if _, _, err := ca.LoadOrCreate(dataDir, wire.EnvTest, time.Now(), catest.Options()); err != nil {
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
	args := append([]string{"--verify", "--trusted-pem", trusted}, xmlsecUntrusted(t, untrusted)...)
	if _, err := run(t, xmlsec, append(args, "--enabled-key-data", "x509", f)...); err != nil {
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

// TestTrustBundlesPerPurpose: the irpkid binary's hierarchy has the real
// service's shape and names. For each channel an order's certificate is
// issued by that channel's issuing CA, and openssl verifies it against
// `irpkid trust --for certificates` and against the channel's package; the
// response signer is issued by the IR Services issuing CA and verifies
// against `--for responses`, not against the certificates bundle (nor an
// organisation certificate against the responses bundle). A client given
// only the two per-purpose bundles, as it would be given the real
// service's packages, enrols without more configuration.
func TestTrustBundlesPerPurpose(t *testing.T) {
	openssl := tool(t, "openssl")
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	dataDir := t.TempDir()
	if _, _, err := ca.LoadOrCreate(dataDir, wire.EnvTest, time.Now(), catest.Options()); err != nil {
		t.Fatal(err)
	}
	p := irpkidproc.Start(t, bin, dataDir, "")
	trustDir := t.TempDir()
	irpkidproc.Run(t, bin, dataDir, "trust", "--out-dir", trustDir)
	for purpose, file := range map[string]string{"responses": "responses.pem", "certificates": "certificates.pem", "all": "all.pem"} {
		b, err := os.ReadFile(filepath.Join(trustDir, file))
		if err != nil {
			t.Fatal(err)
		}
		if printed := irpkidproc.Run(t, bin, dataDir, "trust", "--for", purpose); !bytes.Equal(printed, b) {
			t.Errorf("trust --for %s differs from %s", purpose, file)
		}
	}
	readBundle := func(name string) []*x509.Certificate {
		b, err := os.ReadFile(filepath.Join(trustDir, name))
		if err != nil {
			t.Fatal(err)
		}
		certs, err := client.ParseTrustBundle(b)
		if err != nil {
			t.Fatal(err)
		}
		return certs
	}
	c, err := client.New(p.Endpoint, client.Options{Environment: wire.EnvTest, Trust: readBundle("responses.pem"), IssuerTrust: readBundle("certificates.pem")})
	if err != nil {
		t.Fatal(err)
	}
	issuerCN := func(certFile string) string {
		out, err := run(t, openssl, "x509", "-in", certFile, "-noout", "-issuer", "-nameopt", "multiline")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == "commonName" {
				return strings.TrimSpace(v)
			}
		}
		t.Fatalf("no issuer CN in\n%s", out)
		return ""
	}
	verify := func(bundle, certFile string) error {
		out, err := run(t, openssl, "verify", "-CAfile", filepath.Join(trustDir, bundle), certFile)
		if err == nil && !strings.Contains(out, ": OK") {
			err = fmt.Errorf("openssl verify: %s", out)
		}
		return err
	}
	irpkidproc.Run(t, bin, dataDir, "org", "add", "--customer-id", customer, "--name", "Acme Oy", "--contact-email", "tech@example.fi")
	dir := t.TempDir()
	for _, tc := range []struct{ purpose, issuer, pkg string }{
		{"reports_ws", "Data Providers Test Issuing CA v1", "DataProvidersTestIssuingCAv1"},
		{"reports_sftp", "Data Providers SFTP Test Issuing CA v1", "DataProvidersSFTPTestIssuingCAv1"},
		{"datause_ws", "IR Income Data Users Test Issuing CA v1", "IRIncomeDataUsersTestIssuingCAv1"},
		{"datause_sftp", "IR Income Data Users SFTP Test Issuing CA v1", "IRIncomeDataUsersSFTPTestIssuingCAv1"},
	} {
		cred, err := irpkidproc.Order(context.Background(), bin, dataDir, customer, "", "--purpose", tc.purpose)
		if err != nil {
			t.Fatal(err)
		}
		key := irpkidtest.NewKey(t)
		resp := post(t, p.Endpoint, "signNewCertificate", signNewBody(t, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, key, customer)))
		el, err := wire.ParseEnvelope(resp, wire.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		r, err := wire.DecodeResponse(wire.Detach(el), wire.OpSignNew, true)
		if err != nil || !r.Result.OK() {
			t.Fatalf("SignNewCertificate: %v\n%s", err, resp)
		}
		cert, err := c.GetCertificate(context.Background(), customer, r.RetrievalID)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.VerifyIssued(cert, &key.PublicKey, customer); err != nil {
			t.Errorf("%s: the client with the certificates bundle: %v", tc.purpose, err)
		}
		certFile := writeFile(t, dir, tc.purpose+".crt", pemCert(cert))
		if got := issuerCN(certFile); got != tc.issuer {
			t.Errorf("%s: issuer %q, want %q", tc.purpose, got, tc.issuer)
		}
		for _, bundle := range []string{"certificates.pem", tc.pkg + "-chain.pem", "all.pem"} {
			if err := verify(bundle, certFile); err != nil {
				t.Errorf("%s against %s: %v", tc.purpose, bundle, err)
			}
		}
		if err := verify("responses.pem", certFile); err == nil {
			t.Errorf("%s: an organisation certificate verifies against the responses bundle", tc.purpose)
		}

		// The response signer, from the response's KeyInfo.
		signer, err := wire.ResponseSignatureCertificate(wire.Detach(el))
		if err != nil {
			t.Fatal(err)
		}
		sigFile := writeFile(t, dir, "signer.crt", pemCert(signer))
		if got := issuerCN(sigFile); got != "IR Services Test Issuing CA v1" {
			t.Errorf("response signer issued by %q", got)
		}
		for _, bundle := range []string{"responses.pem", "IRServicesTestIssuingCAv1-chain.pem", "all.pem"} {
			if err := verify(bundle, sigFile); err != nil {
				t.Errorf("response signer against %s: %v", bundle, err)
			}
		}
		if err := verify("certificates.pem", sigFile); err == nil {
			t.Error("the response signer verifies against the certificates bundle")
		}
	}
	// The chain above each issuing CA.
	for _, f := range []string{"responses.pem", "certificates.pem"} {
		certs := readBundle(f)
		if certs[0].Subject.CommonName != "Verohallinto Root Test CA v1" || certs[1].Subject.CommonName != "Verohallinto Intermediate Test CA v1" ||
			certs[1].Issuer.CommonName != certs[0].Subject.CommonName {
			t.Errorf("%s starts with %q, %q", f, certs[0].Subject.CommonName, certs[1].Subject.CommonName)
		}
	}
}
