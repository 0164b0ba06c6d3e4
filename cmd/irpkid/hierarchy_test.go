package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// copyLegacyCA puts the two-level TEST hierarchy that irpkid made before
// the intermediate and per-channel issuing CAs (internal/ca/testdata/legacy)
// into dataDir, as an existing data directory has it.
func copyLegacyCA(t *testing.T, dataDir string) {
	t.Helper()
	src := filepath.Join("..", "..", "internal", "ca", "testdata", "legacy", "ca", "TEST")
	dst := filepath.Join(dataDir, "ca", "TEST")
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTwoLevelDataDirectoryKeepsWorking: a data directory made by an
// earlier version keeps its CA: serve loads it, trust prints its three
// certificates, and a client enrols against it for any channel, the
// certificate issued by the old issuing CA.
func TestTwoLevelDataDirectoryKeepsWorking(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	copyLegacyCA(t, dataDir)
	addr := startServe(t, dataDir).Addr
	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dataDir, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example"); code != 0 {
		t.Fatalf("org add: %s", se)
	}
	trustPEM, se, code := irpkid(t, nil, "trust", "--data-dir", dataDir)
	if code != 0 {
		t.Fatalf("trust: %s", se)
	}
	trust, err := client.ParseTrustBundle([]byte(trustPEM))
	if err != nil || len(trust) != 3 || trust[0].Subject.CommonName != "irpki TEST Root CA" {
		t.Fatalf("trust of the old hierarchy: %v, %d certificates", err, len(trust))
	}
	if out, se, code := irpkid(t, nil, "trust", "--data-dir", dataDir, "--out-dir", t.TempDir()); code != 0 || strings.Contains(out, "-chain.pem") {
		t.Errorf("trust --out-dir of an old hierarchy: %d %s %s", code, out, se)
	}
	c, err := client.New("http://"+addr+"/2017/10/CertificateServices", client.Options{Environment: "TEST", Trust: trust})
	if err != nil {
		t.Fatal(err)
	}
	out, se, code := irpkid(t, nil, "order", "--data-dir", dataDir, "--customer-id", "1234567-1", "--purpose", "datause_sftp", "--json")
	if code != 0 {
		t.Fatalf("order: %s", se)
	}
	var cred struct {
		TransferID       string `json:"transfer_id"`
		TransferPassword string `json:"transfer_password"`
	}
	if err := json.Unmarshal([]byte(out), &cred); err != nil {
		t.Fatal(err)
	}
	key := irpkidtest.NewKey(t)
	ctx := context.Background()
	rid, err := c.SignNewCertificate(ctx, "1234567-1", cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, key, "1234567-1"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.GetCertificate(ctx, "1234567-1", rid)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyIssued(cert, &key.PublicKey, "1234567-1"); err != nil || cert.Issuer.CommonName != "irpki TEST Data Providers Issuing CA" {
		t.Fatalf("issued by %q: %v", cert.Issuer.CommonName, err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "ca", "TEST", "intermediate.crt")); err == nil {
		t.Error("the old hierarchy was changed")
	}
}

// TestCANamePrefix: a new data directory's CA takes the operator's brand;
// a bad prefix is refused before anything is created.
func TestCANamePrefix(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dataDir, "--ca-name-prefix", " padded", "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example"); code == 0 || !strings.Contains(se, "--ca-name-prefix") {
		t.Fatalf("a padded prefix: exit %d %s", code, se)
	}
	if _, err := os.Stat(dataDir); err == nil {
		t.Fatal("a refused prefix left a data directory behind")
	}
	if _, se, code := irpkid(t, []string{"IRPKI_CA_NAME_PREFIX=Acme Lab"}, "org", "add", "--data-dir", dataDir, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example"); code != 0 {
		t.Fatalf("org add: %s", se)
	}
	out, se, code := irpkid(t, nil, "trust", "--data-dir", dataDir, "--for", "responses")
	if code != 0 {
		t.Fatalf("trust: %s", se)
	}
	certs, err := client.ParseTrustBundle([]byte(out))
	if err != nil || len(certs) != 4 {
		t.Fatalf("responses bundle: %v, %d", err, len(certs))
	}
	for i, want := range []string{"Acme Lab Root Test CA v1", "Acme Lab Intermediate Test CA v1", "Acme Lab IR Services Test Issuing CA v1", "Acme Lab IR Certificate Services Test Signing v1"} {
		if certs[i].Subject.CommonName != want {
			t.Errorf("certificate %d: %q, want %q", i, certs[i].Subject.CommonName, want)
		}
	}
	if _, se, code := irpkid(t, nil, "trust", "--data-dir", dataDir, "--for", "everything"); code == 0 || !strings.Contains(se, "responses, certificates or all") {
		t.Errorf("--for everything: %d %s", code, se)
	}
}
