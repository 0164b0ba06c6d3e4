package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// The SMS queue on both backends: enqueue once per ID, claim with a lease
// (exclusive, taken over after it), retry at its time, done erases the
// text.
func TestSMSQueue(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		update(t, db, func(ctx context.Context, tx *Tx) error {
			m := SMS{ID: "pin-1", CustomerID: "1234567-1", To: "+358401234567", Text: "PIN 1234 5678", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
			if err := tx.EnqueueSMS(ctx, m); err != nil {
				return err
			}
			if err := tx.EnqueueSMS(ctx, m); !errors.Is(err, ErrExists) {
				t.Errorf("the same ID twice: %v", err)
			}
			c, ok, err := tx.ClaimSMS(ctx, t0, time.Minute, "a")
			if err != nil || !ok || c.ID != "pin-1" || c.Text != "PIN 1234 5678" || c.Attempts != 1 || c.State != SMSClaimed {
				return fmt.Errorf("claim: %+v %v %v", c, ok, err)
			}
			if _, ok, err := tx.ClaimSMS(ctx, t0.Add(30*time.Second), time.Minute, "b"); ok || err != nil {
				return fmt.Errorf("claimed inside the lease: %v %v", ok, err)
			}
			c, ok, err = tx.ClaimSMS(ctx, t0.Add(time.Minute), time.Minute, "b")
			if err != nil || !ok || c.Attempts != 2 {
				return fmt.Errorf("take-over after the lease: %+v %v %v", c, ok, err)
			}
			if err := tx.SMSRetry(ctx, "pin-1", t0.Add(5*time.Minute), "busy"); err != nil {
				return err
			}
			if _, ok, _ := tx.ClaimSMS(ctx, t0.Add(4*time.Minute), time.Minute, "c"); ok {
				t.Error("claimed before its retry time")
			}
			if _, ok, _ := tx.ClaimSMS(ctx, t0.Add(5*time.Minute), time.Minute, "c"); !ok {
				t.Error("not claimable at its retry time")
			}
			if err := tx.SMSDone(ctx, "pin-1", t0.Add(5*time.Minute), true, ""); err != nil {
				return err
			}
			got, err := tx.SMSByID(ctx, "pin-1")
			if err != nil || got.State != SMSSent || got.Text != "" || !got.SentAt.Equal(t0.Add(5*time.Minute)) || got.Attempts != 3 {
				return fmt.Errorf("after sending: %+v %v", got, err)
			}
			if _, ok, _ := tx.ClaimSMS(ctx, t0.Add(time.Hour), time.Minute, "d"); ok {
				t.Error("a sent message claimed again")
			}
			list, err := tx.SMSByCustomer(ctx, "1234567-1")
			if err != nil || len(list) != 1 {
				return fmt.Errorf("by customer: %+v %v", list, err)
			}
			if _, err := tx.SMSByID(ctx, "nope"); !errors.Is(err, ErrNotFound) {
				t.Errorf("missing: %v", err)
			}
			return nil
		})
	})
}

// OpenID Connect sign-ins under way are used once and go stale; the
// claims of a session are kept with it; an external account never takes
// over a password account.
func TestOIDCRecords(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		update(t, db, func(ctx context.Context, tx *Tx) error {
			l := OIDCLogin{StateHash: []byte("state-hash-1"), Nonce: "n", Verifier: "v", Next: "/eservice/", CreatedAt: t0}
			if err := tx.PutOIDCLogin(ctx, l, t0.Add(-time.Hour)); err != nil {
				return err
			}
			got, err := tx.TakeOIDCLogin(ctx, l.StateHash, t0.Add(-10*time.Minute))
			if err != nil || got.Nonce != "n" || got.Verifier != "v" || got.Next != "/eservice/" {
				return fmt.Errorf("take: %+v %v", got, err)
			}
			if _, err := tx.TakeOIDCLogin(ctx, l.StateHash, t0.Add(-10*time.Minute)); !errors.Is(err, ErrNotFound) {
				t.Errorf("taken twice: %v", err)
			}
			l.StateHash = []byte("state-hash-2")
			tx.PutOIDCLogin(ctx, l, t0.Add(-time.Hour))
			if _, err := tx.TakeOIDCLogin(ctx, l.StateHash, t0.Add(time.Minute)); !errors.Is(err, ErrNotFound) {
				t.Errorf("stale sign-in taken: %v", err)
			}
			// A bounded number under way; stale ones make room.
			saved := maxOIDCLogins
			defer func() { maxOIDCLogins = saved }()
			maxOIDCLogins = 2
			for i, want := range []error{nil, nil, ErrBusy} {
				l.StateHash = []byte(fmt.Sprintf("flood-%d", i))
				if err := tx.PutOIDCLogin(ctx, l, t0.Add(-time.Hour)); !errors.Is(err, want) {
					t.Errorf("sign-in %d under way: %v, want %v", i, err, want)
				}
			}
			l.CreatedAt = t0.Add(time.Hour)
			if err := tx.PutOIDCLogin(ctx, l, t0.Add(time.Minute)); err != nil {
				t.Errorf("after the others went stale: %v", err)
			}

			id, disabled, err := tx.EnsureExternalUser(ctx, "oidc:person-1", "Eeva", t0)
			if err != nil || id == 0 || disabled {
				return fmt.Errorf("external user: %d %v %v", id, disabled, err)
			}
			again, _, err := tx.EnsureExternalUser(ctx, "oidc:person-1", "Eeva E.", t0)
			if err != nil || again != id {
				return fmt.Errorf("external user again: %d %v", again, err)
			}
			if _, err := tx.InsertAccount(ctx, Account{Email: "oidc:taken", CreatedAt: t0}, "argon-hash"); err != nil {
				return err
			}
			if _, _, err := tx.EnsureExternalUser(ctx, "oidc:taken", "x", t0); !errors.Is(err, ErrExists) {
				t.Errorf("took over a password account: %v", err)
			}
			if err := tx.InsertSession(ctx, Session{IDHash: []byte("session-1"), AccountID: id, CSRF: "c", CreatedAt: t0, LastSeen: t0, ExpiresAt: t0.Add(time.Hour)}, t0.Add(-time.Hour)); err != nil {
				return err
			}
			s := OIDCSession{IDHash: []byte("session-1"), Person: "person-1", Orgs: []string{"1234567-1", "7654321-2"}, Operator: true, CreatedAt: t0}
			if err := tx.PutOIDCSession(ctx, s); err != nil {
				return err
			}
			if err := tx.SetOIDCActiveOrg(ctx, s.IDHash, "7654321-2"); err != nil {
				return err
			}
			fs, err := tx.OIDCSessionOf(ctx, s.IDHash)
			if err != nil || !slices.Equal(fs.Orgs, s.Orgs) || fs.Active != "7654321-2" || !fs.Operator || fs.Person != "person-1" {
				return fmt.Errorf("session claims: %+v %v", fs, err)
			}
			if _, err := tx.OIDCSessionOf(ctx, []byte("password-session")); !errors.Is(err, ErrNotFound) {
				t.Errorf("a session without claims: %v", err)
			}
			return nil
		})
	})
}
