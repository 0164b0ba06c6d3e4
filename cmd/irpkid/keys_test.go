package main

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/ca/catest"
	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// enrolAndRenew runs an organisation's first enrolment and a renewal
// against the irpkid serving dataDir at addr, with the bundle irpkid trust
// prints, and returns the renewed certificate.
func enrolAndRenew(t *testing.T, env []string, dataDir, addr string) *x509.Certificate {
	t.Helper()
	if _, se, code := irpkid(t, env, "org", "add", "--data-dir", dataDir, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example"); code != 0 {
		t.Fatal(se)
	}
	out, se, code := irpkid(t, env, "order", "--data-dir", dataDir, "--customer-id", "1234567-1", "--validity", "30d", "--json")
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
	bundle, se, code := irpkid(t, env, "trust", "--data-dir", dataDir)
	if code != 0 {
		t.Fatal(se)
	}
	trust, err := client.ParseTrustBundle([]byte(bundle))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New("http://"+addr+"/2017/10/CertificateServices", client.Options{Environment: "TEST", Trust: trust})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := irpkidtest.NewKey(t)
	rid, err := c.SignNewCertificate(ctx, "1234567-1", cred.ID, cred.PW, irpkidtest.CSR(t, key, "1234567-1"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.GetCertificate(ctx, "1234567-1", rid)
	if err != nil {
		t.Fatal(err)
	}
	key2 := irpkidtest.NewKey(t)
	rid2, err := c.RenewCertificate(ctx, "1234567-1", irpkidtest.CSR(t, key2, "1234567-1"), key, cert)
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := c.GetCertificate(ctx, "1234567-1", rid2)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyIssued(renewed, &key2.PublicKey, "1234567-1"); err != nil {
		t.Fatal(err)
	}
	return renewed
}

// Passphrase-encrypted key files: irpkid ca encrypt-keys encrypts a data
// directory's plain keys (all or none: a damaged key leaves every file as
// it was), 0600; without the passphrase, or with a wrong one, every command
// is refused with an error naming the key file and never the passphrase;
// with it, serve issues and renews.
func TestEncryptedKeys(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	if _, _, err := ca.LoadOrCreate(dataDir, "TEST", time.Now(), catest.Options()); err != nil {
		t.Fatal(err)
	}
	caDir := filepath.Join(dataDir, "ca", "TEST")
	const pass = "Correct Horse 42 battery staple"
	pf := filepath.Join(t.TempDir(), "passphrase")
	if err := os.WriteFile(pf, []byte(pass+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(pf, 0o644)

	if _, se, code := irpkid(t, nil, "ca", "encrypt-keys", "--data-dir", dataDir); code != 1 || !strings.Contains(se, "no passphrase was given") {
		t.Errorf("without a passphrase: %d %s", code, se)
	}
	if _, se, code := irpkid(t, nil, "ca", "encrypt-keys", "--data-dir", dataDir, "--key-passphrase-file", pf); code != 1 || !strings.Contains(se, "readable by others") {
		t.Errorf("a world-readable passphrase file: %d %s", code, se)
	}
	os.Chmod(pf, 0o600)

	// A damaged key: nothing is encrypted.
	signingKey := filepath.Join(caDir, "signing.key")
	saved, _ := os.ReadFile(signingKey)
	os.WriteFile(signingKey, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
	if _, se, code := irpkid(t, nil, "ca", "encrypt-keys", "--data-dir", dataDir, "--key-passphrase-file", pf); code != 1 || !strings.Contains(se, "signing.key") {
		t.Errorf("a damaged key: %d %s", code, se)
	}
	if plain, _ := ca.PlainKeyFiles(caDir); len(plain) != 8 {
		t.Fatalf("after a failed encrypt-keys %d plain key files are left, want all 8", len(plain))
	}
	os.WriteFile(signingKey, saved, 0o600)

	out, se, code := irpkid(t, []string{"IRPKI_KEY_PASSPHRASE_FILE=" + pf}, "ca", "encrypt-keys", "--data-dir", dataDir)
	if code != 0 || !strings.Contains(out, "signing.key") || strings.Contains(out+se, pass) {
		t.Fatalf("encrypt-keys: %d %s %s", code, out, se)
	}
	ents, _ := os.ReadDir(caDir)
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".key") {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(caDir, e.Name()))
		fi, _ := os.Stat(filepath.Join(caDir, e.Name()))
		if !ca.IsEncryptedKeyPEM(b) || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: encrypted %v, mode %v", e.Name(), ca.IsEncryptedKeyPEM(b), fi.Mode().Perm())
		}
	}
	if out, _, code := irpkid(t, []string{"IRPKI_KEY_PASSPHRASE=" + pass}, "ca", "encrypt-keys", "--data-dir", dataDir); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("a second encrypt-keys: %d %s", code, out)
	}

	if _, se, code := irpkid(t, nil, "trust", "--data-dir", dataDir); code != 1 || !strings.Contains(se, "is encrypted and no passphrase was given") && !strings.Contains(se, "is encrypted: no passphrase was given") || !strings.Contains(se, caDir) {
		t.Errorf("trust without the passphrase: %d %s", code, se)
	}
	const wrong = "not-the-passphrase-1234"
	if _, se, code := irpkid(t, []string{"IRPKI_KEY_PASSPHRASE=" + wrong}, "trust", "--data-dir", dataDir); code != 1 || !strings.Contains(se, "wrong passphrase") || !strings.Contains(se, ".key") || strings.Contains(se, wrong) {
		t.Errorf("trust with a wrong passphrase: %d %s", code, se)
	}
	addr := startServe(t, dataDir, "--key-passphrase-file", pf).Addr
	if code, _ := get(t, "http://"+addr+"/readyz"); code != 200 {
		t.Errorf("/readyz with encrypted keys: %d", code)
	}
	enrolAndRenew(t, []string{"IRPKI_KEY_PASSPHRASE_FILE=" + pf}, dataDir, addr)
}
