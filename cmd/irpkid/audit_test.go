package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/store"
)

type auditRow struct {
	At         time.Time `json:"at"`
	Action     string    `json:"action"`
	CustomerID string    `json:"customer_id"`
	Outcome    string    `json:"outcome"`
	Code       string    `json:"code"`
	RequestID  string    `json:"request_id"`
}

func auditJSON(t *testing.T, args ...string) []auditRow {
	t.Helper()
	out, se, code := irpkid(t, nil, append([]string{"audit", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("audit %v: exit %d %s", args, code, se)
	}
	var rows []auditRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("audit --json: %v\n%s", err, out)
	}
	return rows
}

// irpkid audit prints the trail with its filters, refusals filed under no
// organisation included; serve's --audit-retention prunes the old ones of
// those, and nothing else.
func TestAuditCommandAndRetention(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dataDir, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example"); code != 0 {
		t.Fatal(se)
	}
	// Entries of 100 days ago: two anonymous refusals, one refusal of the
	// organisation, one revocation.
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dataDir, "irpki.db"))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-100 * 24 * time.Hour)
	if err := db.Update(ctx, func(tx *store.Tx) error {
		for _, e := range []store.AuditEntry{
			{At: old, Actor: "soap", Action: "sign_new", Outcome: "fail", Code: "CUSTOMER_INVALID"},
			{At: old, Actor: "eservice:(unknown account)", Action: "sign_in", Outcome: "fail", Code: "BAD_CREDENTIALS"},
			{At: old, Actor: "soap", Action: "get", CustomerID: "1234567-1", Outcome: "fail", Code: "RETRIEVAL_ID"},
			{At: old, Actor: "operator", Action: "revoke", CustomerID: "1234567-1", Serial: "0a", Outcome: "ok"},
		} {
			if err := tx.Audit(ctx, e); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if rows := auditJSON(t, "--data-dir", dataDir); len(rows) != 5 { // org_add and the four
		t.Fatalf("before serve: %+v", rows)
	}
	addr := startServe(t, dataDir, "--audit-retention", "30d").Addr
	// A fresh anonymous refusal, which stays.
	post := func(customer string) {
		t.Helper()
		body := strings.Replace(string(getBodyXML(t)), "<CustomerId>1234567-1</CustomerId>", "<CustomerId>"+customer+"</CustomerId>", 1)
		resp, err := httpPost("http://"+addr+"/2017/10/CertificateServices", body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post("1111111-1") // not a business ID: filed under no organisation
	var rows []auditRow
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		rows = auditJSON(t, "--data-dir", dataDir)
		if len(rows) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("old anonymous refusals not pruned: %+v", rows)
		}
	}
	var actions []string
	for _, r := range rows {
		actions = append(actions, r.Action+"/"+r.CustomerID+"/"+r.Outcome)
	}
	if strings.Join(actions, " ") != "org_add/1234567-1/ok get/1234567-1/fail revoke/1234567-1/ok get//fail" {
		t.Errorf("after pruning: %v", actions)
	}
	if last := rows[len(rows)-1]; last.RequestID == "" || last.Code != "CUSTOMER_INVALID" {
		t.Errorf("the anonymous refusal: %+v", last)
	}
	if got := auditJSON(t, "--data-dir", dataDir, "--customer-id", "1234567-1"); len(got) != 3 {
		t.Errorf("--customer-id: %+v", got)
	}
	if got := auditJSON(t, "--data-dir", dataDir, "--since", "1d"); len(got) != 2 { // org_add and the fresh refusal
		t.Errorf("--since 1d: %+v", got)
	}
	if got := auditJSON(t, "--data-dir", dataDir, "--since", old.Add(-time.Hour).UTC().Format(time.RFC3339)); len(got) != 4 {
		t.Errorf("--since RFC 3339: %+v", got)
	}
	out, _, code := irpkid(t, nil, "audit", "--data-dir", dataDir)
	if code != 0 || !strings.HasPrefix(out, "TIME") || !strings.Contains(out, "CUSTOMER_INVALID") {
		t.Errorf("audit table: %d\n%s", code, out)
	}
	if _, se, code := irpkid(t, nil, "audit", "--data-dir", dataDir, "--since", "last tuesday"); code != 1 || !strings.Contains(se, "give a date") {
		t.Errorf("bad --since: %d %s", code, se)
	}
}

func httpPost(url, body string) (*http.Response, error) {
	return http.Post(url, "text/xml; charset=utf-8", strings.NewReader(body))
}
