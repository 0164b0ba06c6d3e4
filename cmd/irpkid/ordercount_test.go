package main

import (
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestOrderCount: irpkid order --count N makes N orders, each with its own
// credentials, printed with --json as N objects one after another; a count
// out of range is refused before anything is made.
func TestOrderCount(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dataDir, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example"); code != 0 {
		t.Fatalf("org add: %s", se)
	}
	out, se, code := irpkid(t, nil, "order", "--data-dir", dataDir, "--customer-id", "1234567-1", "--count", "3", "--json")
	if code != 0 {
		t.Fatalf("order --count 3: %s", se)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	seen := map[string]bool{}
	for {
		var cred struct {
			TransferID       string `json:"transfer_id"`
			TransferPassword string `json:"transfer_password"`
		}
		err := dec.Decode(&cred)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || cred.TransferID == "" || cred.TransferPassword == "" || seen[cred.TransferID] {
			t.Fatalf("credentials %+v, %v in\n%s", cred, err, out)
		}
		seen[cred.TransferID] = true
	}
	if len(seen) != 3 {
		t.Fatalf("%d orders printed, want 3:\n%s", len(seen), out)
	}
	for _, n := range []string{"0", "10001"} {
		if _, se, code := irpkid(t, nil, "order", "--data-dir", dataDir, "--customer-id", "1234567-1", "--count", n); code == 0 || !strings.Contains(se, "--count "+n) {
			t.Errorf("--count %s: exit %d, %s", n, code, se)
		}
	}
}
