package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/testenv"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
)

func needOpenSSL(t *testing.T) string {
	t.Helper()
	return testenv.Tool(t, "openssl", "openssl")
}

// A revocation by the operator command publishes the issuing CA's signed
// CRL at once, in the data directory and over HTTP at /crl/PACKAGE.crl;
// openssl reads it, and openssl verify -crl_check refuses the revoked
// certificate and accepts its sibling.
func TestCRLPublishedOnRevocation(t *testing.T) {
	openssl := needOpenSSL(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	addr := startServe(t, dataDir).Addr
	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dataDir, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example"); code != 0 {
		t.Fatal(se)
	}
	bundle, _, _ := irpkid(t, nil, "trust", "--data-dir", dataDir)
	trust, err := client.ParseTrustBundle([]byte(bundle))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New("http://"+addr+"/2017/10/CertificateServices", client.Options{Environment: "TEST", Trust: trust})
	if err != nil {
		t.Fatal(err)
	}
	enrol := func() *x509.Certificate {
		t.Helper()
		out, se, code := irpkid(t, nil, "order", "--data-dir", dataDir, "--customer-id", "1234567-1", "--json")
		if code != 0 {
			t.Fatal(se)
		}
		var cred struct {
			ID string `json:"transfer_id"`
			PW string `json:"transfer_password"`
		}
		if err := jsonUnmarshal(out, &cred); err != nil {
			t.Fatal(err)
		}
		key := irpkidtest.NewKey(t)
		rid, err := c.SignNewCertificate(context.Background(), "1234567-1", cred.ID, cred.PW, irpkidtest.CSR(t, key, "1234567-1"))
		if err != nil {
			t.Fatal(err)
		}
		cert, err := c.GetCertificate(context.Background(), "1234567-1", rid)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	revoked, kept := enrol(), enrol()
	serialHex := fmt.Sprintf("%X", revoked.SerialNumber)
	if _, se, code := irpkid(t, nil, "revoke", "--data-dir", dataDir, "--serial", serialHex, "--reason", "key_compromise"); code != 0 {
		t.Fatal(se)
	}

	const name = "DataProvidersTestIssuingCAv1.crl"
	onDisk, err := os.ReadFile(filepath.Join(dataDir, "crl", name))
	if err != nil {
		t.Fatalf("no CRL in the data directory: %v", err)
	}
	resp, err := http.Get("http://" + addr + "/crl/" + name)
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pkix-crl" || string(served) != string(onDisk) {
		t.Fatalf("GET /crl/%s: %d %q, %d bytes, the file has %d", name, resp.StatusCode, resp.Header.Get("Content-Type"), len(served), len(onDisk))
	}
	if resp, _ := http.Get("http://" + addr + "/crl/../irpki.db"); resp != nil && resp.StatusCode == 200 {
		t.Error("/crl/ served a file outside the lists")
	}

	dir := t.TempDir()
	der := filepath.Join(dir, "issuing.crl")
	os.WriteFile(der, served, 0o600)
	text, err := exec.Command(openssl, "crl", "-inform", "DER", "-in", der, "-noout", "-text").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl crl: %v\n%s", err, text)
	}
	// openssl prints a serial as its whole bytes: a leading zero nibble
	// shows (04BC…), which %X of the number drops (4BC…) one time in 16.
	for _, want := range []string{"CN = Data Providers Test Issuing CA v1", "Serial Number: " + fmt.Sprintf("%X", revoked.SerialNumber.Bytes()), "Key Compromise", "Next Update:"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("openssl crl -text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(string(text), fmt.Sprintf("%X", kept.SerialNumber.Bytes())) {
		t.Errorf("the kept certificate is listed:\n%s", text)
	}

	crlPEM := filepath.Join(dir, "issuing.crl.pem")
	os.WriteFile(crlPEM, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: served}), 0o600)
	cafile := filepath.Join(dir, "ca.pem")
	certsBundle, _, _ := irpkid(t, nil, "trust", "--data-dir", dataDir, "--for", "certificates")
	os.WriteFile(cafile, []byte(certsBundle), 0o600)
	verify := func(cert *x509.Certificate) (string, error) {
		f := filepath.Join(dir, fmt.Sprintf("%x.pem", cert.SerialNumber))
		os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600)
		out, err := exec.Command(openssl, "verify", "-crl_check", "-CAfile", cafile, "-CRLfile", crlPEM, "-purpose", "sslclient", f).CombinedOutput()
		return string(out), err
	}
	if out, err := verify(revoked); err == nil || !strings.Contains(out, "certificate revoked") {
		t.Errorf("openssl verify -crl_check of the revoked certificate: %v\n%s", err, out)
	}
	if out, err := verify(kept); err != nil {
		t.Errorf("openssl verify -crl_check of the valid certificate: %v\n%s", err, out)
	}

	// Every issuing CA publishes, also with nothing revoked.
	for _, n := range []string{"DataProvidersSFTPTestIssuingCAv1.crl", "IRIncomeDataUsersTestIssuingCAv1.crl", "IRServicesTestIssuingCAv1.crl"} {
		if _, err := os.Stat(filepath.Join(dataDir, "crl", n)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	l, err := x509.ParseRevocationList(served)
	if err != nil {
		t.Fatal(err)
	}
	if d := l.NextUpdate.Sub(l.ThisUpdate); d < 24*time.Hour {
		t.Errorf("nextUpdate only %v after thisUpdate", d)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
