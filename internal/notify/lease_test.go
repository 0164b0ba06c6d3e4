package notify

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/store"
)

type countMailer struct {
	mu   sync.Mutex
	sent []Message
}

func (c *countMailer) Send(_ context.Context, m Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, m)
	return nil
}

// A sender that claimed a reminder and crashed before recording it: the
// claim blocks others until its lease runs out, then the reminder is sent.
func TestCrashedClaimIsTakenOverAfterLease(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "irpki.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clk := clock.NewFixed(now)
	err = db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.InsertOrg(ctx, store.Org{CustomerID: "1234567-1", Name: "Palkat Oy", ContactEmail: "org@palkat.test", Language: "sv", CreatedAt: now}); err != nil {
			return err
		}
		return tx.InsertCertificate(ctx, store.Certificate{Serial: "abc1", CustomerID: "1234567-1", Environment: "TEST", NotBefore: now.AddDate(-2, 0, 0),
			NotAfter: now.Add(30 * 24 * time.Hour), DER: []byte{1}, KeyFingerprint: "fp1", Status: store.CertValid, RetrievalID: "r1", CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := &countMailer{}
	cfg := DefaultReminderConfig()
	crashed, _ := NewReminder(cfg, db, clk, m, log)
	cl, _, err := crashed.claim(ctx, "abc1")
	if err != nil || cl == nil {
		t.Fatalf("claim: %v %v", cl, err)
	}
	// The contact defaults to the organisation's, in its language.
	if cl.msg.To != "org@palkat.test" || cl.msg.Language != "sv" {
		t.Errorf("claim addressed %s in %s", cl.msg.To, cl.msg.Language)
	}
	r, _ := NewReminder(cfg, db, clk, m, log)
	clk.Advance(cfg.Lease - time.Second)
	if res, err := r.RunOnce(ctx); err != nil || res.Skipped != 1 || len(m.sent) != 0 {
		t.Fatalf("within the lease: %+v %v, %d sent", res, err, len(m.sent))
	}
	clk.Advance(2 * time.Second)
	if res, err := r.RunOnce(ctx); err != nil || res.Sent != 1 {
		t.Fatalf("after the lease: %+v %v", res, err)
	}
	// The crashed sender's late completion does not send or record twice.
	if err := crashed.markSent(ctx, cl); err != nil {
		t.Fatal(err)
	}
	if res, _ := r.RunOnce(ctx); res.Sent != 0 || len(m.sent) != 1 {
		t.Fatalf("afterwards: %+v, %d sent", res, len(m.sent))
	}
}

func TestNewReminderValidates(t *testing.T) {
	bad := []ReminderConfig{
		{},
		{Days: []int{0}, Lease: time.Minute, SendTimeout: time.Second, RetryMin: 1, RetryMax: 1},
		{Days: []int{60}, Lease: time.Minute, SendTimeout: time.Minute, RetryMin: 1, RetryMax: 1},
		{Days: []int{60}, Lease: time.Minute, SendTimeout: time.Second, RetryMin: 2, RetryMax: 1},
	}
	for i, c := range bad {
		if _, err := NewReminder(c, nil, nil, nil, nil); err == nil {
			t.Errorf("%d: accepted %+v", i, c)
		}
	}
}

// cancelMailer accepts the message and then the job's context ends, as when
// irpkid serve gets SIGTERM while the mail server answers "250 OK".
type cancelMailer struct {
	countMailer
	cancel context.CancelFunc
}

func (c *cancelMailer) Send(ctx context.Context, m Message) error {
	err := c.countMailer.Send(ctx, m)
	c.cancel()
	return err
}

// A reminder the mail server accepted is recorded as sent even if the job
// is being stopped at that moment: otherwise the claim stays open and the
// contact gets the mail again after the lease.
func TestAcceptedReminderIsRecordedWhenStopping(t *testing.T) {
	bg := context.Background()
	db, err := store.Open(bg, filepath.Join(t.TempDir(), "irpki.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clk := clock.NewFixed(now)
	err = db.Update(bg, func(tx *store.Tx) error {
		if err := tx.InsertOrg(bg, store.Org{CustomerID: "1234567-1", Name: "Palkat Oy", ContactEmail: "org@palkat.test", Language: "fi", CreatedAt: now}); err != nil {
			return err
		}
		return tx.InsertCertificate(bg, store.Certificate{Serial: "abc1", CustomerID: "1234567-1", Environment: "TEST", NotBefore: now.AddDate(-2, 0, 0),
			NotAfter: now.Add(30 * 24 * time.Hour), DER: []byte{1}, KeyFingerprint: "fp1", Status: store.CertValid, RetrievalID: "r1", CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	m := &cancelMailer{cancel: cancel}
	r, err := NewReminder(DefaultReminderConfig(), db, clk, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.RunOnce(ctx)
	st, err := Statuses(bg, db, "abc1")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.sent) != 1 || len(st) != 1 || st[0].State != store.ReminderSent {
		t.Fatalf("%d mails sent, reminder states %+v; want one, recorded as sent", len(m.sent), st)
	}
	// And so, after the lease, no second mail.
	clk.Advance(DefaultReminderConfig().Lease + time.Minute)
	if res, err := r.RunOnce(bg); err != nil || len(m.sent) != 1 {
		t.Fatalf("after the lease: %+v %v, %d mails", res, err, len(m.sent))
	}
}
