package security_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/irpki/irpki/internal/server/irpkidproc"
)

// TestDataDirectoryPermissions: while irpkid serves and after operator
// commands, everything in its data directory is closed to other users —
// 0700 directories, and 0600 files: CA private keys, the database with
// password hashes, and (a finding) its WAL and shared-memory files, which
// were 0644 — even when the operator made the data directory itself
// readable (0755) and whatever the umask.
func TestDataDirectoryPermissions(t *testing.T) {
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := irpkidproc.Start(t, bin, dir, "")
	irpkidproc.Run(t, bin, dir, "org", "add", "--customer-id", custA, "--name", "Acme Oy", "--contact-email", "a@example.fi")
	if _, err := irpkidproc.Order(t.Context(), bin, dir, custA, ""); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		n := 0
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			mode := info.Mode().Perm()
			rel, _ := filepath.Rel(dir, path)
			switch {
			case path == dir: // the operator's choice
			case d.IsDir() && mode&0o077 != 0:
				t.Errorf("%s: directory %s is %o, want no access for group and others", when, rel, mode)
			case !d.IsDir() && mode&0o077 != 0 && !public(path):
				t.Errorf("%s: file %s is %o, want 0600", when, rel, mode)
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n < 8 {
			t.Fatalf("%s: only %d entries in the data directory", when, n)
		}
	}
	check("while serving")
	p.Kill()
	check("after a kill")
	if _, err := os.Stat(filepath.Join(dir, "ca", "TEST", "issuing-reports_ws.key")); err != nil {
		t.Fatal(err)
	}
}

// public reports whether path is a file that holds only what the service
// publishes anyway: a certificate, or a CRL it serves over HTTP. Such files
// may be readable by others; they sit in 0700 directories all the same.
func public(path string) bool {
	return strings.HasSuffix(path, ".crt") || strings.HasSuffix(path, ".crl")
}
