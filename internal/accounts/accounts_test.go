package accounts_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/accounts"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/store"
)

var cheap = accounts.Argon2Params{Memory: 1024, Time: 1, Threads: 1}

func openStore(t *testing.T) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "irpki.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(ctx, func(tx *store.Tx) error {
		return tx.InsertOrg(ctx, store.Org{CustomerID: "1234567-1", Name: "Palkat Oy", Language: "fi", CreatedAt: time.Unix(0, 0)})
	}); err != nil {
		t.Fatal(err)
	}
	return db
}

func auditActions(t *testing.T, db *store.DB) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	err := db.View(ctx, func(tx *store.Tx) error {
		entries, err := tx.AuditLog(ctx, "", 100)
		for _, e := range entries {
			out = append(out, e.Action+" "+e.Actor+" "+e.Detail)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The account administration works on a store alone, without HTTP, as
// the operator's commands use it; every change is audited.
func TestAccountLifecycle(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	clk := clock.NewFixed(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	rep, err := accounts.Add(ctx, db, clk, cheap, accounts.NewAccount{Email: " rep@palkat.test ", Name: "Eeva", CustomerID: "1234567-1", Password: "long enough password"}, "operator:test")
	if err != nil {
		t.Fatal(err)
	}
	if rep.ID == 0 || rep.Email != "rep@palkat.test" || rep.CustomerID != "1234567-1" || rep.Operator {
		t.Fatalf("added: %+v", rep)
	}
	if _, err := accounts.Add(ctx, db, clk, cheap, accounts.NewAccount{Email: "op@vero.test", Operator: true, Password: "another long password"}, "operator:test"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []accounts.NewAccount{
		{Email: "rep@palkat.test", CustomerID: "1234567-1", Password: "long enough password"}, // exists
		{Email: "x@palkat.test", CustomerID: "7654321-2", Password: "long enough password"},   // no such organisation
		{Email: "x@palkat.test", CustomerID: "1234567-1", Password: "short"},
		{Email: "x@vero.test", CustomerID: "1234567-1", Operator: true, Password: "long enough password"},
		{Email: "not an address", CustomerID: "1234567-1", Password: "long enough password"},
	} {
		if _, err := accounts.Add(ctx, db, clk, cheap, bad, "operator:test"); !errors.Is(err, accounts.ErrInput) {
			t.Errorf("Add(%+v): %v, want ErrInput", bad, err)
		}
	}
	all, err := accounts.List(ctx, db, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("List all: %v %+v", err, all)
	}
	reps, err := accounts.List(ctx, db, "1234567-1")
	if err != nil || len(reps) != 1 || reps[0].Email != "rep@palkat.test" {
		t.Fatalf("List of the organisation: %v %+v", err, reps)
	}
	u, err := accounts.SetDisabled(ctx, db, clk, "rep@palkat.test", true, "operator:test")
	if err != nil || !u.Disabled {
		t.Fatalf("SetDisabled: %v %+v", err, u)
	}
	if reps, _ := accounts.List(ctx, db, "1234567-1"); !reps[0].Disabled {
		t.Fatal("the disabled account is listed as enabled")
	}
	if _, err := accounts.SetPassword(ctx, db, clk, cheap, "rep@palkat.test", "a new long password", "operator:test"); err != nil {
		t.Fatal(err)
	}
	var hash string
	if err := db.View(ctx, func(tx *store.Tx) error {
		var err error
		_, hash, err = tx.Account(ctx, "rep@palkat.test")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !accounts.CheckPassword(hash, "a new long password") || accounts.CheckPassword(hash, "long enough password") {
		t.Error("SetPassword did not replace the hash")
	}
	if _, err := accounts.SetPassword(ctx, db, clk, cheap, "nobody@palkat.test", "a new long password", "operator:test"); !errors.Is(err, accounts.ErrInput) || !strings.Contains(err.Error(), "no account") {
		t.Errorf("SetPassword of no account: %v", err)
	}
	got := strings.Join(auditActions(t, db), "\n")
	for _, want := range []string{"user_add operator:test representative rep@palkat.test", "user_add operator:test operator op@vero.test",
		"user_disable operator:test rep@palkat.test", "user_password operator:test rep@palkat.test"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit lacks %q:\n%s", want, got)
		}
	}
}
