package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/reqid"
)

// The audit trail: filtered by time and organisation, request IDs kept,
// and retention pruning only the refusals anyone could file under no
// organisation, never an entry about issuance, revocation or accounts.
func TestAuditTrailAndRetention(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		old, recent := t0, t0.Add(40*24*time.Hour)
		entries := []AuditEntry{
			{At: old, Actor: "soap", Action: "sign_new", Outcome: "fail", Code: "CUSTOMER_INVALID"},                     // pruned
			{At: old, Actor: "soap", Action: "get", Outcome: "fail", Code: "RETRIEVAL_ID"},                              // pruned
			{At: old, Actor: "eservice:(unknown account)", Action: "sign_in", Outcome: "fail", Code: "BAD_CREDENTIALS"}, // pruned
			{At: old, Actor: "soap", Action: "renew", CustomerID: "1234567-1", Outcome: "fail", Code: "WINDOW_NOT_OPEN"},
			{At: old, Actor: "soap", Action: "sign_new", CustomerID: "1234567-1", Serial: "01", Outcome: "ok"},
			{At: old, Actor: "operator", Action: "revoke", CustomerID: "1234567-1", Serial: "01", Outcome: "ok"},
			{At: old, Actor: "operator", Action: "user_add", Outcome: "ok", Detail: "operator olli@vero.test"},
			{At: old, Actor: "operator", Action: "revoke", Outcome: "fail", Code: "NOT_FOUND"},
			{At: old, Actor: "operator", Action: "order", Outcome: "fail"},
			{At: recent, Actor: "soap", Action: "get", Outcome: "fail", Code: "RETRIEVAL_ID"}, // too recent to prune
			{At: recent, Actor: "soap", Action: "get", CustomerID: "1234567-1", Outcome: "ok", Serial: "01"},
		}
		ctx := reqid.With(context.Background(), "00112233aabbccdd")
		if err := db.Update(ctx, func(tx *Tx) error {
			for _, e := range entries {
				if err := tx.Audit(ctx, e); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		trail := func(f AuditFilter) []AuditEntry {
			t.Helper()
			var out []AuditEntry
			if err := db.View(ctx, func(tx *Tx) (err error) { out, err = tx.AuditTrail(ctx, f); return err }); err != nil {
				t.Fatal(err)
			}
			return out
		}
		all := trail(AuditFilter{})
		if len(all) != len(entries) || all[0].Action != "sign_new" || all[0].RequestID != "00112233aabbccdd" || !all[0].At.Equal(old) {
			t.Fatalf("the whole trail, oldest first: %+v", all)
		}
		if got := trail(AuditFilter{Since: recent}); len(got) != 2 {
			t.Errorf("since: %d entries, want 2", len(got))
		}
		if got := trail(AuditFilter{CustomerID: "1234567-1"}); len(got) != 4 {
			t.Errorf("one organisation: %d entries, want 4", len(got))
		}
		if got := trail(AuditFilter{NewestFirst: true, Limit: 1}); len(got) != 1 || got[0].Serial != "01" || !got[0].At.Equal(recent) {
			t.Errorf("newest: %+v", got)
		}
		var n int64
		if err := db.Update(ctx, func(tx *Tx) (err error) {
			n, err = tx.PruneAnonymousRefusals(ctx, old.Add(30*24*time.Hour))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Errorf("pruned %d, want 3", n)
		}
		left := trail(AuditFilter{})
		var kept []string
		for _, e := range left {
			kept = append(kept, fmt.Sprintf("%s/%s/%s", e.Action, e.CustomerID, e.Outcome))
		}
		if len(left) != len(entries)-3 {
			t.Errorf("kept %v", kept)
		}
		for _, e := range left {
			if e.At.Equal(old) && e.CustomerID == "" && e.Outcome == "fail" && (e.Action == "sign_new" || e.Action == "get" || e.Action == "sign_in") {
				t.Errorf("an old anonymous refusal survived: %+v", e)
			}
		}
	})
}
