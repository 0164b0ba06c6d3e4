package renewal

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDocsDowngradeNote: older irpki binaries refuse unknown fields in the
// state files, so docs/client-reference.md must name every key this version writes
// that the files of older binaries did not have (the keys to remove before
// rolling back).
func TestDocsDowngradeNote(t *testing.T) {
	b, err := os.ReadFile("../docs/client-reference.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "Do not roll back `irpki`")
	if i < 0 {
		t.Fatal("docs/client-reference.md has no note on rolling back irpki")
	}
	note := doc[i:]
	if j := strings.Index(note, "\n\n"); j >= 0 {
		note = note[:j]
	}
	// The keys of the files written before 2026-11-25 (before 6806040 and
	// 6c9b662).
	older := map[string]bool{
		"operation": true, "created": true, "customer_id": true, "transfer_id": true, "predecessor": true,
		"key_pem": true, "csr": true, "retrieval_id": true, "cert_pem": true,
		"endpoint": true, "environment": true, "organization": true, "trust": true, "key_size": true,
	}
	p := pending{Operation: opRenew, Created: time.Now(), CustomerID: "1234567-1", Predecessor: "01", KeyPEM: "k", CSR: []byte{1},
		Refused: time.Now(), RefusedCode: "E1001", RefusedMessage: "m", Refusals: 1, UnverifiedCertPEM: "c"}
	s := Settings{Endpoint: "https://x", Environment: "TEST", CustomerID: "1234567-1", Organization: "o", Trust: "t", IssuerTrust: "i", KeySize: 2048}
	for name, v := range map[string]any{pendingFile: p, settingsFile: s} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(b, &keys); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(note, "`"+name+"`") {
			t.Errorf("the rollback note does not name %s", name)
		}
		for k := range keys {
			if !older[k] && !strings.Contains(note, "`"+k+"`") {
				t.Errorf("%s: key %q, unknown to older irpki, is not named in the rollback note:\n%s", name, k, note)
			}
		}
	}
}
