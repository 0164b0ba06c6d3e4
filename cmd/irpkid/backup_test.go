package main

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// holder is an organisation's side of a certificate: its key and
// certificate.
type holder struct {
	customer string
	key      *rsa.PrivateKey
	cert     *x509.Certificate
}

// enrolVia orders a 30-day certificate with the operator command and
// enrols through c: inside its renewal window at once.
func enrolVia(t *testing.T, c *client.Client, dataDir, customer string) holder {
	t.Helper()
	out, se, code := irpkid(t, nil, "order", "--data-dir", dataDir, "--customer-id", customer, "--validity", "30d", "--json")
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
	ctx := context.Background()
	key := irpkidtest.NewKey(t)
	rid, err := c.SignNewCertificate(ctx, customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, key, customer))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.GetCertificate(ctx, customer, rid)
	if err != nil {
		t.Fatal(err)
	}
	return holder{customer, key, cert}
}

// renew renews h through c and returns the successor.
func renew(t *testing.T, c *client.Client, h holder) (holder, error) {
	t.Helper()
	ctx := context.Background()
	key := irpkidtest.NewKey(t)
	rid, err := c.RenewCertificate(ctx, h.customer, irpkidtest.CSR(t, key, h.customer), h.key, h.cert)
	if err != nil {
		return holder{}, err
	}
	cert, err := c.GetCertificate(ctx, h.customer, rid)
	if err != nil {
		return holder{}, err
	}
	return holder{h.customer, key, cert}, nil
}

func writePEM(t *testing.T, path string, certs ...*x509.Certificate) {
	t.Helper()
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func stop(t *testing.T, cmd interface {
	Signal(os.Signal) error
	Wait() (*os.ProcessState, error)
}) {
	t.Helper()
	cmd.Signal(syscall.SIGTERM)
	cmd.Wait()
}

// TestRestoreDrill is the drill of docs/operations.md: back up while the
// server runs; issue and renew more certificates; lose the data directory
// and restore the backup; the certificates issued since are unknown
// (SIGNER_UNKNOWN) until irpkid certs import registers them; then every
// organisation renews again.
func TestRestoreDrill(t *testing.T) {
	root := t.TempDir()
	dataDir := filepath.Join(root, "data")
	srv := startServe(t, dataDir)
	addr := srv.Addr
	for _, id := range []string{"1234567-1", "7654321-2"} {
		if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dataDir, "--customer-id", id, "--name", "Org "+id, "--contact-email", "it@org.example"); code != 0 {
			t.Fatalf("org add: %s", se)
		}
	}
	trustPEM, _, _ := irpkid(t, nil, "trust", "--data-dir", dataDir)
	trust, err := client.ParseTrustBundle([]byte(trustPEM))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New("http://"+addr+"/2017/10/CertificateServices", client.Options{Environment: "TEST", Trust: trust})
	if err != nil {
		t.Fatal(err)
	}
	a1 := enrolVia(t, c, dataDir, "1234567-1")
	b1 := enrolVia(t, c, dataDir, "7654321-2")

	// The backup, online.
	bk := filepath.Join(root, "backup")
	if out, se, code := irpkid(t, nil, "backup", "--data-dir", dataDir, "--to", bk); code != 0 || !strings.Contains(out, "backup written") {
		t.Fatalf("backup: %d %s %s", code, out, se)
	}
	if _, se, code := irpkid(t, nil, "backup", "--data-dir", dataDir, "--to", bk); code != 1 || !strings.Contains(se, "exists") {
		t.Fatalf("backup over a backup: %d %s", code, se)
	}
	checkManifest(t, bk, dataDir)

	// Life goes on after the backup.
	a2, err := renew(t, c, a1)
	if err != nil {
		t.Fatal(err)
	}
	b2 := enrolVia(t, c, dataDir, "7654321-2") // a second certificate

	// The machine is lost; the backup is restored on a new one.
	stop(t, srv.Process)
	restored := filepath.Join(root, "restored")
	if err := os.MkdirAll(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"irpki.db", "ca"} {
		if err := os.Rename(filepath.Join(bk, f), filepath.Join(restored, f)); err != nil {
			t.Fatal(err)
		}
	}
	addr = startServe(t, restored).Addr
	c, err = client.New("http://"+addr+"/2017/10/CertificateServices", client.Options{Environment: "TEST", Trust: trust})
	if err != nil {
		t.Fatal(err)
	}
	var se *client.ServiceError
	if _, err := renew(t, c, a2); !errors.As(err, &se) || se.Code != client.Code("SIGNER_UNKNOWN") {
		t.Fatalf("renewing with a certificate issued after the backup, before the import: %v, want SIGNER_UNKNOWN", err)
	}

	// The import is all or nothing: a foreign certificate refuses it all.
	current := filepath.Join(root, "current.pem")
	writePEM(t, current, a2.cert, b2.cert, b1.cert)
	foreign := filepath.Join(root, "foreign.pem")
	writePEM(t, foreign, trust[0]) // the root: no organisation's, and not signed by the issuing CA
	if _, stderr, code := irpkid(t, nil, "certs", "import", "--data-dir", restored, current, foreign); code != 1 || !strings.Contains(stderr, "nothing imported") || !strings.Contains(stderr, "not issued by this service's TEST issuing CAs") {
		t.Fatalf("import with a foreign certificate: %d %s", code, stderr)
	}
	if _, err := renew(t, c, b2); !errors.As(err, &se) || se.Code != client.Code("SIGNER_UNKNOWN") {
		t.Fatalf("after a refused import: %v, want still SIGNER_UNKNOWN", err)
	}
	out, stderr, code := irpkid(t, nil, "certs", "import", "--data-dir", restored, current)
	if code != 0 || strings.Count(out, "imported:") != 2 || strings.Count(out, "already known:") != 1 {
		t.Fatalf("import: %d %s %s", code, out, stderr)
	}
	// Every organisation renews again, with the certificate it holds.
	for name, h := range map[string]holder{"a2": a2, "b1": b1, "b2": b2} {
		if _, err := renew(t, c, h); err != nil {
			t.Errorf("renew %s after the import: %v", name, err)
		}
	}
}

// checkManifest checks a backup of dataDir as sha256sum -c would, that it
// holds the database and every file of the CA material, and its modes.
func checkManifest(t *testing.T, dir, dataDir string) {
	t.Helper()
	m, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(m)), "\n")
	names := map[string]bool{}
	for _, l := range lines {
		sum, name, ok := strings.Cut(l, "  ")
		if !ok {
			t.Fatalf("manifest line %q", l)
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: checksum differs", name)
		}
		if st, _ := os.Stat(filepath.Join(dir, name)); st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, st.Mode().Perm())
		}
		names[name] = true
	}
	want := []string{"irpki.db"}
	filepath.WalkDir(filepath.Join(dataDir, "ca"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dataDir, p)
			want = append(want, filepath.ToSlash(rel))
		}
		return err
	})
	for _, w := range want {
		if !names[w] {
			t.Errorf("the backup lacks %s", w)
		}
	}
	if len(want) < 4 || len(names) != len(want) {
		t.Errorf("manifest lists %v; want the database and the CA material %v", names, want)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("backup directory mode %v", st.Mode().Perm())
	}
}
