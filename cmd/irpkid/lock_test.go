package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecondServeRefused: a second irpkid serve on a SQLite data directory
// refuses to start and names the process that holds it; the operator
// commands work beside the server; once the server is gone (even killed)
// the directory is free. On PostgreSQL several servers are the point.
func TestSecondServeRefused(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	first := startServe(t, dataDir)
	_, se, code := irpkid(t, nil, "serve", "--data-dir", dataDir, "--listen", anyPort)
	if code != 1 || !strings.Contains(se, "in use by another irpkid serve") || !strings.Contains(se, fmt.Sprintf("pid %d ", first.Process.Pid)) {
		t.Fatalf("second serve: exit %d, %s; want a refusal naming pid %d", code, se, first.Process.Pid)
	}
	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dataDir, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example"); code != 0 {
		t.Fatalf("org add beside the server: %d %s", code, se)
	}
	if out, se, code := irpkid(t, nil, "orgs", "--data-dir", dataDir); code != 0 || !strings.Contains(out, "1234567-1") {
		t.Fatalf("orgs beside the server: %d %s %s", code, out, se)
	}
	first.Process.Kill()
	first.Wait()
	startServe(t, dataDir) // the kernel released the lock with the process
}

func TestDatabaseFlagTakesOnlyPostgresURLs(t *testing.T) {
	// Checked at the flag: anything but a PostgreSQL URL is refused.
	_, se, code := irpkid(t, nil, "orgs", "--data-dir", t.TempDir(), "--database", "/tmp/x.db")
	if code != 1 || !strings.Contains(se, "postgres://") {
		t.Fatalf("--database with a path: %d %s", code, se)
	}
}
