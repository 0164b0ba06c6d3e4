package renewal

import (
	"crypto/x509"
	"math/big"
	"os"
	"path/filepath"
	"testing"
)

// A state file that cannot be read is left as it is when a revocation is
// noted: writing a fresh state over it would lose every other field.
func TestMarkRevokedKeepsUnreadableState(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	m, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte(`{"not json`)
	p := filepath.Join(dir, stateFile)
	if err := os.WriteFile(p, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	m.markRevoked(&Installed{Cert: &x509.Certificate{SerialNumber: big.NewInt(42)}}, "revoked")
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(bad) {
		t.Fatalf("state.json was overwritten: %q", got)
	}
}
