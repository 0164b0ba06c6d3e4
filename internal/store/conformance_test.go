package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func update(t *testing.T, db *DB, fn func(ctx context.Context, tx *Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := db.Update(ctx, func(tx *Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

func TestAccounts(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		mustOrg(t, db, "1234567-1")
		update(t, db, func(ctx context.Context, tx *Tx) error {
			id, err := tx.InsertAccount(ctx, Account{Email: "Eeva@Palkat.test", Name: "Eeva", CustomerID: "1234567-1", CreatedAt: t0}, "hash1")
			if err != nil || id == 0 {
				return fmt.Errorf("insert: %d, %v", id, err)
			}
			// The address is unique in any letter case; the refusal ends
			// neither the transaction nor the insert before it.
			if _, err := tx.InsertAccount(ctx, Account{Email: "eeva@palkat.TEST", CreatedAt: t0}, "hash2"); !errors.Is(err, ErrExists) {
				t.Errorf("same address in other case: %v, want ErrExists", err)
			}
			op, err := tx.InsertAccount(ctx, Account{Email: "olli@vero.test", Operator: true, CreatedAt: t0}, "hash3")
			if err != nil || op == id {
				return fmt.Errorf("operator: %d, %v", op, err)
			}
			a, hash, err := tx.Account(ctx, " EEVA@palkat.test ")
			if err != nil || a.ID != id || a.Email != "Eeva@Palkat.test" || hash != "hash1" || a.Operator || a.Disabled || !a.CreatedAt.Equal(t0) {
				return fmt.Errorf("lookup: %+v %q %v", a, hash, err)
			}
			if err := tx.SetAccountDisabled(ctx, id, true); err != nil {
				return err
			}
			if err := tx.SetAccountPassword(ctx, id, "hash4"); err != nil {
				return err
			}
			if err := tx.SetAccountPassword(ctx, 999999, "x"); !errors.Is(err, ErrNotFound) {
				t.Errorf("password of no account: %v", err)
			}
			all, err := tx.Accounts(ctx, "")
			if err != nil || len(all) != 2 || !all[0].Operator || all[1].ID != id || !all[1].Disabled {
				return fmt.Errorf("all accounts (operators first): %+v %v", all, err)
			}
			mine, err := tx.Accounts(ctx, "1234567-1")
			if err != nil || len(mine) != 1 || mine[0].ID != id {
				return fmt.Errorf("the organisation's accounts: %+v %v", mine, err)
			}
			if _, h, err := tx.Account(ctx, "eeva@palkat.test"); err != nil || h != "hash4" {
				return fmt.Errorf("new password: %q %v", h, err)
			}
			if _, _, err := tx.Account(ctx, "nobody@palkat.test"); !errors.Is(err, ErrNotFound) {
				t.Errorf("no account: %v", err)
			}
			return nil
		})
	})
}

func TestSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		mustOrg(t, db, "1234567-1")
		var id int64
		h1, h2, h3 := []byte("hash-one"), []byte("hash-two"), []byte("hash-three")
		update(t, db, func(ctx context.Context, tx *Tx) (err error) {
			id, err = tx.InsertAccount(ctx, Account{Email: "a@palkat.test", CustomerID: "1234567-1", CreatedAt: t0}, "h")
			if err != nil {
				return err
			}
			if err := tx.InsertSession(ctx, Session{IDHash: h1, AccountID: id, CSRF: "c1", CreatedAt: t0, LastSeen: t0, ExpiresAt: t0.Add(time.Hour)}, t0.Add(-time.Hour)); err != nil {
				return err
			}
			if err := tx.InsertSession(ctx, Session{IDHash: h1, AccountID: id, CSRF: "c9", CreatedAt: t0, LastSeen: t0, ExpiresAt: t0.Add(time.Hour)}, t0.Add(-time.Hour)); !errors.Is(err, ErrExists) {
				t.Errorf("same session id twice: %v", err)
			}
			s, a, err := tx.Session(ctx, h1)
			if err != nil || s.CSRF != "c1" || a.ID != id || a.Email != "a@palkat.test" || !s.ExpiresAt.Equal(t0.Add(time.Hour)) {
				return fmt.Errorf("session: %+v %+v %v", s, a, err)
			}
			if err := tx.TouchSession(ctx, h1, t0.Add(10*time.Minute)); err != nil {
				return err
			}
			if s, _, _ := tx.Session(ctx, h1); !s.LastSeen.Equal(t0.Add(10 * time.Minute)) {
				t.Errorf("touched: last seen %v", s.LastSeen)
			}
			// A new session sweeps away those that have ended: h1 was
			// last seen before the idle limit.
			later := t0.Add(2 * time.Hour)
			if err := tx.InsertSession(ctx, Session{IDHash: h2, AccountID: id, CSRF: "c2", CreatedAt: later, LastSeen: later, ExpiresAt: later.Add(time.Hour)}, later.Add(-30*time.Minute)); err != nil {
				return err
			}
			if _, _, err := tx.Session(ctx, h1); !errors.Is(err, ErrNotFound) {
				t.Errorf("ended session kept: %v", err)
			}
			if err := tx.InsertSession(ctx, Session{IDHash: h3, AccountID: id, CSRF: "c3", CreatedAt: later, LastSeen: later, ExpiresAt: later.Add(time.Hour)}, later.Add(-30*time.Minute)); err != nil {
				return err
			}
			if err := tx.DeleteSession(ctx, h2); err != nil {
				return err
			}
			if _, _, err := tx.Session(ctx, h2); !errors.Is(err, ErrNotFound) {
				t.Errorf("deleted session: %v", err)
			}
			if err := tx.DeleteAccountSessions(ctx, id); err != nil {
				return err
			}
			if _, _, err := tx.Session(ctx, h3); !errors.Is(err, ErrNotFound) {
				t.Errorf("session of an account whose sessions ended: %v", err)
			}
			return nil
		})
	})
}

func TestFormNonces(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		update(t, db, func(ctx context.Context, tx *Tx) error {
			for i, want := range []bool{true, false} {
				if fresh, err := tx.UseFormNonce(ctx, "n1", t0); err != nil || fresh != want {
					return fmt.Errorf("use %d: %v %v, want %v", i, fresh, err, want)
				}
			}
			// After a day it is forgotten.
			if fresh, err := tx.UseFormNonce(ctx, "n1", t0.Add(25*time.Hour)); err != nil || !fresh {
				return fmt.Errorf("a day later: %v %v", fresh, err)
			}
			return nil
		})
	})
}

func TestDeliveries(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		d := Delivery{IDHash: []byte("h1"), CustomerID: "1234567-1", ContactEmail: "tea@palkat.test", Language: "sv", Salt: []byte("salt"),
			Nonce: []byte("nonce"), Sealed: []byte("sealed"), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), State: "open"}
		update(t, db, func(ctx context.Context, tx *Tx) error {
			if err := tx.InsertDelivery(ctx, d); err != nil {
				return err
			}
			if err := tx.InsertDelivery(ctx, d); !errors.Is(err, ErrExists) {
				t.Errorf("same token twice: %v", err)
			}
			got, err := tx.Delivery(ctx, d.IDHash)
			if err != nil || got.ContactEmail != d.ContactEmail || got.Language != "sv" || !bytes.Equal(got.Sealed, d.Sealed) || !got.ExpiresAt.Equal(d.ExpiresAt) || got.State != "open" {
				return fmt.Errorf("delivery: %+v %v", got, err)
			}
			if err := tx.SetDeliveryAttempts(ctx, d.IDHash, 1, "open", false); err != nil {
				return err
			}
			if got, _ := tx.Delivery(ctx, d.IDHash); got.Attempts != 1 || got.Sealed == nil {
				t.Errorf("after a wrong PIN: %+v", got)
			}
			if err := tx.SetDeliveryAttempts(ctx, d.IDHash, 5, "locked", true); err != nil {
				return err
			}
			if got, _ := tx.Delivery(ctx, d.IDHash); got.State != "locked" || got.Sealed != nil {
				t.Errorf("locked: %+v", got)
			}
			d2 := d
			d2.IDHash = []byte("h2")
			if err := tx.InsertDelivery(ctx, d2); err != nil {
				return err
			}
			if err := tx.CloseDelivery(ctx, d2.IDHash, "opened", t0.Add(time.Minute)); err != nil {
				return err
			}
			if err := tx.CloseDelivery(ctx, []byte("none"), "opened", t0); !errors.Is(err, ErrNotFound) {
				t.Errorf("closing no delivery: %v", err)
			}
			all, err := tx.Deliveries(ctx)
			if err != nil || len(all) != 2 || all[1].State != "opened" || all[1].Sealed != nil || !all[1].OpenedAt.Equal(t0.Add(time.Minute)) {
				return fmt.Errorf("deliveries: %+v %v", all, err)
			}
			if _, err := tx.Delivery(ctx, []byte("none")); !errors.Is(err, ErrNotFound) {
				t.Errorf("no delivery: %v", err)
			}
			return nil
		})
	})
}

// TestOrderDeliveries: deliveries name their order; an organisation's are
// listed, and withdrawing an order's deliveries closes only its unopened
// ones and erases their sealed credentials.
func TestOrderDeliveries(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		mk := func(id, customer, ref, state string, at time.Duration) Delivery {
			return Delivery{IDHash: []byte(id), CustomerID: customer, ContactEmail: "tea@palkat.test", Language: "fi", Salt: []byte("salt"),
				Nonce: []byte("nonce"), Sealed: []byte("sealed"), CreatedAt: t0.Add(at), ExpiresAt: t0.Add(time.Hour), State: state, OrderRef: ref}
		}
		update(t, db, func(ctx context.Context, tx *Tx) error {
			for _, d := range []Delivery{mk("a", "1234567-1", "r1", "open", 0), mk("b", "1234567-1", "r1", "open", time.Second),
				mk("c", "1234567-1", "r2", "open", 2*time.Second), mk("d", "7654321-2", "r3", "open", 3*time.Second)} {
				if err := tx.InsertDelivery(ctx, d); err != nil {
					return err
				}
			}
			if err := tx.CloseDelivery(ctx, []byte("b"), "opened", t0.Add(time.Minute)); err != nil {
				return err
			}
			n, err := tx.WithdrawDeliveries(ctx, "r1", "withdrawn", "open")
			if err != nil || n != 1 {
				return fmt.Errorf("withdraw r1: %d, %v", n, err)
			}
			if n, err := tx.WithdrawDeliveries(ctx, "", "withdrawn", "open"); err != nil || n != 0 {
				t.Errorf("withdrawing the deliveries of no order: %d, %v", n, err)
			}
			ds, err := tx.OrgDeliveries(ctx, "1234567-1")
			if err != nil || len(ds) != 3 {
				return fmt.Errorf("org deliveries: %d, %v", len(ds), err)
			}
			want := []struct{ id, ref, state string }{{"a", "r1", "withdrawn"}, {"b", "r1", "opened"}, {"c", "r2", "open"}}
			for i, w := range want {
				if string(ds[i].IDHash) != w.id || ds[i].OrderRef != w.ref || ds[i].State != w.state || (w.state == "withdrawn") != (ds[i].Sealed == nil && w.state != "opened") {
					t.Errorf("delivery %d: %s %s %s sealed=%v, want %+v", i, ds[i].IDHash, ds[i].OrderRef, ds[i].State, ds[i].Sealed != nil, w)
				}
			}
			return nil
		})
	})
}

func TestReminders(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		mustOrg(t, db, "1234567-1")
		soon := func(serial, key, rid, pred string, days int) Certificate {
			c := cert(serial, key, rid, pred)
			c.NotAfter = t0.AddDate(0, 0, days)
			return c
		}
		update(t, db, func(ctx context.Context, tx *Tx) error {
			for _, c := range []Certificate{
				soon("a1", "k1", "r1", "", 50),   // due
				soon("a2", "k2", "r2", "", 10),   // due, renewed below
				soon("a3", "k3", "r3", "a2", 90), // a2's successor, beyond the horizon
				soon("a4", "k4", "r4", "", 70),   // beyond the horizon
				soon("a5", "k5", "r5", "", 20),   // revoked below
				soon("a6", "k6", "r6", "", -1),   // expired
			} {
				if err := tx.InsertCertificate(ctx, c); err != nil {
					return err
				}
			}
			if err := tx.SetCertificateStatus(ctx, "a5", CertRevoked, t0, "keyCompromise"); err != nil {
				return err
			}
			exp, sent, err := tx.ExpiringCertificates(ctx, t0, t0.AddDate(0, 0, 60))
			if err != nil || len(exp) != 1 || exp[0].Serial != "a1" || !exp[0].NotAfter.Equal(t0.AddDate(0, 0, 50)) || len(sent) != 0 {
				return fmt.Errorf("expiring: %+v %v %v", exp, sent, err)
			}
			// Claimed, released for a retry, claimed again, sent.
			if err := tx.ClaimReminder(ctx, "a1", "60", "owner1", "it@palkat.test", "fi", t0, t0.Add(10*time.Minute)); err != nil {
				return err
			}
			r, err := tx.Reminder(ctx, "a1", "60")
			if err != nil || r.State != ReminderClaimed || r.Owner != "owner1" || r.Attempts != 1 || !r.LeaseUntil.Equal(t0.Add(10*time.Minute)) {
				return fmt.Errorf("claimed: %+v %v", r, err)
			}
			if held, err := tx.ReleaseReminder(ctx, "a1", "60", "someone else", t0.Add(time.Hour), "x"); err != nil || held {
				t.Errorf("another owner released it: %v %v", held, err)
			}
			if held, err := tx.ReleaseReminder(ctx, "a1", "60", "owner1", t0.Add(time.Hour), "451 try later"); err != nil || !held {
				return fmt.Errorf("release: %v %v", held, err)
			}
			if r, _ := tx.Reminder(ctx, "a1", "60"); r.State != ReminderPending || r.LastError != "451 try later" || !r.NextAttempt.Equal(t0.Add(time.Hour)) {
				t.Errorf("released: %+v", r)
			}
			if err := tx.ClaimReminder(ctx, "a1", "60", "owner2", "it@palkat.test", "sv", t0.Add(time.Hour), t0.Add(2*time.Hour)); err != nil {
				return err
			}
			if r, _ := tx.Reminder(ctx, "a1", "60"); r.State != ReminderClaimed || r.Attempts != 2 || r.Owner != "owner2" || r.Language != "sv" {
				t.Errorf("claimed again: %+v", r)
			}
			for i, want := range []bool{true, false} {
				if changed, err := tx.MarkReminderSent(ctx, "a1", "60", t0.Add(time.Hour)); err != nil || changed != want {
					return fmt.Errorf("mark sent %d: %v %v, want %v", i, changed, err, want)
				}
			}
			_, sent, err = tx.ExpiringCertificates(ctx, t0, t0.AddDate(0, 0, 60))
			if err != nil || len(sent["a1"]) != 1 || sent["a1"][0] != "60" {
				return fmt.Errorf("sent kinds: %v %v", sent, err)
			}
			all, err := tx.Reminders(ctx, "")
			if err != nil || len(all) != 1 || all[0].State != ReminderSent || !all[0].SentAt.Equal(t0.Add(time.Hour)) || all[0].Owner != "" {
				return fmt.Errorf("reminders: %+v %v", all, err)
			}
			if _, err := tx.Reminder(ctx, "a1", "14"); !errors.Is(err, ErrNotFound) {
				t.Errorf("unclaimed kind: %v", err)
			}
			return nil
		})
	})
}

func TestAttempts(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		w := 15 * time.Minute
		limits := []Limit{{Subject: "acct:a", Max: 3}, {Subject: "ip:1", Max: 5}}
		update(t, db, func(ctx context.Context, tx *Tx) error {
			for i := 0; i < 3; i++ {
				ok, _, err := tx.TakeAttempt(ctx, t0.Add(time.Duration(i)*time.Minute), w, limits)
				if err != nil || !ok {
					return fmt.Errorf("attempt %d: %v %v", i, ok, err)
				}
			}
			// The account has its three: blocked until the first leaves.
			ok, until, err := tx.TakeAttempt(ctx, t0.Add(5*time.Minute), w, limits)
			if err != nil || ok || !until.Equal(t0.Add(w)) {
				return fmt.Errorf("fourth: %v %v %v, want blocked until %v", ok, until, err, t0.Add(w))
			}
			// Blocked attempts count nothing: the address has three.
			if b, _, err := tx.Blocked(ctx, t0.Add(5*time.Minute), w, Limit{Subject: "ip:1", Max: 4}); err != nil || b {
				t.Errorf("address with max 4: blocked %v %v", b, err)
			}
			if b, u, _ := tx.Blocked(ctx, t0.Add(5*time.Minute), w, Limit{Subject: "ip:1", Max: 3}); !b || !u.Equal(t0.Add(w)) {
				t.Errorf("address with max 3: %v until %v", b, u)
			}
			// A success gives its reservation back; a reset forgets all.
			if err := tx.ForgetFailure(ctx, "ip:1", t0.Add(2*time.Minute)); err != nil {
				return err
			}
			if b, _, _ := tx.Blocked(ctx, t0.Add(5*time.Minute), w, Limit{Subject: "ip:1", Max: 3}); b {
				t.Error("after giving one of three back, max 3: still blocked")
			}
			if err := tx.ResetFailures(ctx, "acct:a"); err != nil {
				return err
			}
			if ok, _, err := tx.TakeAttempt(ctx, t0.Add(6*time.Minute), w, limits); err != nil || !ok {
				return fmt.Errorf("after reset: %v %v", ok, err)
			}
			// Failures leave the window.
			if err := tx.CountFailure(ctx, "acct:b", t0); err != nil {
				return err
			}
			if b, _, _ := tx.Blocked(ctx, t0.Add(w), w, Limit{Subject: "acct:b", Max: 1}); b {
				t.Error("a failure a window old still counts")
			}
			return nil
		})
	})
}

// TestConcurrentOpensMigrateOnce: processes starting at once on a new
// database (replicas) apply each migration exactly once, and all start.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := Open(context.Background(), b.dsn)
				if err == nil {
					db.Close()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("open %d: %v", i, err)
			}
		}
		db := b.open(t)
		applied, err := db.Applied(context.Background())
		if err != nil || len(applied) != len(migrations) {
			t.Fatalf("applied %v, %v", applied, err)
		}
	})
}

// TestWritesSerialiseAcrossInstances: read-then-write transactions on two
// store instances (two replicas, or a server and an operator command) lose
// no update, and of racing successors of one certificate exactly one is
// recorded. This is what every check-then-act rule of the service leans
// on.
func TestWritesSerialiseAcrossInstances(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		dbs := []*DB{b.open(t), b.open(t)}
		mustOrg(t, dbs[0], "1234567-1")
		if err := insert(dbs[0], cert("p1", "kp", "rp", "")); err != nil {
			t.Fatal(err)
		}
		update(t, dbs[0], func(ctx context.Context, tx *Tx) error {
			return tx.InsertOrder(ctx, Order{TransferID: "T1", CustomerID: "1234567-1", Environment: "TEST", PasswordHash: []byte{1}, PasswordSalt: []byte{2},
				CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), Status: OrderOpen})
		})
		const per = 10
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := 0; i < 2*per; i++ {
			db := dbs[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := db.Update(ctx, func(tx *Tx) error {
					o, err := tx.Order(ctx, "T1")
					if err != nil {
						return err
					}
					o.FailedAttempts++
					return tx.UpdateOrderState(ctx, o)
				})
				if err != nil {
					t.Error(err)
				}
				err = db.Update(ctx, func(tx *Tx) error {
					if _, err := tx.Successor(ctx, "p1"); err == nil {
						return nil
					} else if !errors.Is(err, ErrNotFound) {
						return err
					}
					s := fmt.Sprintf("s%d", i)
					if err := tx.InsertCertificate(ctx, cert(s, "k"+s, "r"+s, "p1")); err != nil {
						return err
					}
					mu.Lock()
					won++
					mu.Unlock()
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if err := dbs[1].View(ctx, func(tx *Tx) error {
			o, err := tx.Order(ctx, "T1")
			if err != nil {
				return err
			}
			if o.FailedAttempts != 2*per {
				t.Errorf("%d increments counted, want %d", o.FailedAttempts, 2*per)
			}
			cs, err := tx.Certificates(ctx, CertFilter{})
			if len(cs) != 2 || won != 1 {
				t.Errorf("%d certificates, %d successors recorded; want the predecessor and one successor", len(cs), won)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRenewalState: the one statement a renewal is decided on tells what
// Certificate, Successor, KeyCertified and Org tell, on both backends.
func TestRenewalState(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := b.open(t)
		mustOrg(t, db, "1234567-1")
		p := cert("p1", "kp", "rp", "")
		p.OrderID, p.ContactEmail, p.Purpose, p.RequestHash = "o1", "c@example.fi", "wage", "h0"
		gone := cert("s0", "ks0", "rs0", "p1")
		gone.Status = CertSuperseded
		live := cert("s1", "ks1", "rs1", "p1")
		live.RequestHash, live.RetrievedAt = "h1", t0.Add(time.Hour)
		// q1's one successor was superseded: it has no live one, and is
		// found all the same.
		onlyGone := cert("t0", "kt0", "rt0", "q1")
		onlyGone.Status = CertSuperseded
		update(t, db, func(ctx context.Context, tx *Tx) error {
			for _, c := range []Certificate{p, gone, live, cert("x1", "kx", "rx", ""), cert("q1", "kq", "rq", ""), onlyGone} {
				if err := tx.InsertCertificate(ctx, c); err != nil {
					return err
				}
			}
			return nil
		})
		view := func(fn func(tx *Tx) error) {
			t.Helper()
			if err := db.View(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		view(func(tx *Tx) error {
			st, err := tx.RenewalState(ctx, "p1", p.DER, "kx")
			if err != nil {
				return err
			}
			want := p
			want.DER = nil
			if fmt.Sprint(st.Cert) != fmt.Sprint(want) || !st.SameDER || !st.KeyCertified {
				t.Errorf("certificate %+v same DER %v key certified %v, want %+v true true", st.Cert, st.SameDER, st.KeyCertified, want)
			}
			wantSucc := live
			wantSucc.DER = nil
			if st.Successor == nil || fmt.Sprint(*st.Successor) != fmt.Sprint(wantSucc) {
				t.Errorf("successor %+v, want the live one %+v", st.Successor, wantSucc)
			}
			if st.Org.CustomerID != "1234567-1" || st.Org.Name != "Acme Oy" || st.Org.Language != "fi" || !st.Org.CreatedAt.Equal(t0) {
				t.Errorf("organisation %+v", st.Org)
			}
			// Another DER, an unused key, no successor.
			st, err = tx.RenewalState(ctx, "x1", []byte{1, 2, 3, 4}, "new")
			if err != nil || st.SameDER || st.KeyCertified || st.Successor != nil || st.Cert.Serial != "x1" {
				t.Errorf("x1: %+v %v, want another DER, an unused key, no successor", st, err)
			}
			st, err = tx.RenewalState(ctx, "q1", p.DER, "kt0")
			if err != nil || st.Successor != nil || st.Cert.Serial != "q1" || !st.KeyCertified {
				t.Errorf("q1: %+v %v, want no live successor, the superseded one's key certified", st, err)
			}
			if _, err := tx.RenewalState(ctx, "nope", p.DER, "kx"); !errors.Is(err, ErrNotFound) {
				t.Errorf("no such certificate: %v, want ErrNotFound", err)
			}
			for fp, want := range map[string]bool{"ks0": true, "kp": true, "new": false} {
				if used, err := tx.KeyCertified(ctx, fp); err != nil || used != want {
					t.Errorf("KeyCertified(%s) = %v, %v; want %v", fp, used, err, want)
				}
			}
			return nil
		})
	})
}

// TestConcurrent: only PostgreSQL's UpdateKeyed transactions run beside
// other write transactions.
func TestConcurrent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := b.open(t)
		for _, tc := range []struct {
			name string
			run  func(context.Context, func(*Tx) error) error
			want bool
		}{
			{"Update", db.Update, false},
			{"UpdateKeyed", db.UpdateKeyed, db.Backend() == "postgres"},
			{"View", db.View, false},
		} {
			var got bool
			if err := tc.run(ctx, func(tx *Tx) error { got = tx.Concurrent(); return nil }); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("%s: Concurrent() = %v, want %v", tc.name, got, tc.want)
			}
		}
	})
}
