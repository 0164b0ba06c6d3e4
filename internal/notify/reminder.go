package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/lang"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
)

// Store is what the reminder job needs of storage.
type Store interface {
	Update(ctx context.Context, fn func(*store.Tx) error) error
	View(ctx context.Context, fn func(*store.Tx) error) error
}

var _ Store = (*store.DB)(nil)

// ReminderConfig holds the reminder rules.
type ReminderConfig struct {
	// Days before NotAfter at which the technical contact is mailed; the
	// seed's rule is 60. Extra reminders (14, 3) are optional.
	Days []int
	// Lease is how long a claimed reminder belongs to its sender; a claim
	// older than this (its sender crashed or hung) is taken over. It must be
	// longer than SendTimeout.
	Lease time.Duration
	// SendTimeout bounds one delivery attempt.
	SendTimeout time.Duration
	// RetryMin and RetryMax bound the backoff after a failed delivery; it
	// doubles from RetryMin with each failure.
	RetryMin, RetryMax time.Duration
	// RenewalWindow is how long before NotAfter renewal opens (for the text).
	RenewalWindow time.Duration
	// EServiceURL is the e-service address named in the mail ("" to omit).
	EServiceURL string
	// Observer, if not nil, is told of every delivery attempt.
	Observer Observer
}

// Observer is told whether each reminder mail was sent (for metrics).
type Observer interface {
	ReminderSent(ok bool)
}

// DefaultReminderConfig returns the seed's rule: one reminder 60 days
// before expiry.
func DefaultReminderConfig() ReminderConfig {
	return ReminderConfig{
		Days:          []int{60},
		Lease:         10 * time.Minute,
		SendTimeout:   2 * time.Minute,
		RetryMin:      5 * time.Minute,
		RetryMax:      6 * time.Hour,
		RenewalWindow: 60 * 24 * time.Hour,
	}
}

// ParseDays parses a comma-separated list of reminder days such as
// "60,14,3".
func ParseDays(s string) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 365 {
			return nil, fmt.Errorf("reminder days %q: use whole days from 1 to 365, separated by commas, e.g. 60,14,3", s)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// Reminder is the reminder job. Any number of Reminders, in one process or
// in replicas sharing the store, may run at once.
//
// # Guarantee
//
// A reminder of a kind (60 days, or an extra one) for a certificate is a row
// in the reminders table keyed by (serial, kind). Before sending, a job
// claims the row in a write transaction that re-checks the certificate
// (valid, unexpired, not renewed, not revoked) and inserts the row as
// "claimed" with a lease, or takes over a row whose lease has run out or
// whose retry time has come; the unique key and the store's single writer
// make the claim exclusive. Only then is the mail sent, and only after the
// mail server has accepted it is the row marked "sent" (with an audit entry,
// in the same transaction). A failed delivery turns the row "pending" with
// a retry time (exponential backoff); it is never marked sent.
//
// Exactly-once delivery is impossible across SMTP, which is not
// transactional with the store: between the server's "250 OK" and the
// commit of "sent", a crash loses the knowledge that the mail went out. We
// choose at-least-once over at-most-once, because a lost reminder can cost
// an organisation its interface while a duplicate costs a second e-mail:
// such a claim is taken over after the lease and the mail is sent again.
// Every other case (restarts, replicas racing, failures before acceptance)
// sends exactly one mail. The Message-ID is the same for every attempt of
// one reminder, so a mail system that de-duplicates by Message-ID drops
// even that duplicate. SendTimeout is kept below Lease so that a slow but
// live sender gives up before anyone else may take over.
type Reminder struct {
	cfg   ReminderConfig
	db    Store
	clock clock.Clock
	mail  Mailer
	log   *slog.Logger
}

// NewReminder returns a reminder job.
func NewReminder(cfg ReminderConfig, db Store, clk clock.Clock, m Mailer, log *slog.Logger) (*Reminder, error) {
	if len(cfg.Days) == 0 {
		return nil, errors.New("notify: at least one reminder day is required")
	}
	for _, d := range cfg.Days {
		if d < 1 || d > 365 {
			return nil, fmt.Errorf("notify: reminder day %d is out of range 1..365", d)
		}
	}
	if cfg.Lease <= 0 || cfg.SendTimeout <= 0 || cfg.SendTimeout >= cfg.Lease {
		return nil, fmt.Errorf("notify: the send timeout (%v) must be positive and shorter than the lease (%v)", cfg.SendTimeout, cfg.Lease)
	}
	if cfg.RetryMin <= 0 || cfg.RetryMax < cfg.RetryMin {
		return nil, fmt.Errorf("notify: retry backoff %v..%v is not a range", cfg.RetryMin, cfg.RetryMax)
	}
	days := append([]int(nil), cfg.Days...)
	sort.Ints(days)
	cfg.Days = days
	return &Reminder{cfg: cfg, db: db, clock: clk, mail: m, log: log}, nil
}

// Result counts what one run did.
type Result struct {
	Sent    int // accepted by the mail server (or written to the outbox)
	Failed  int // delivery failed; will be retried
	Skipped int // due, but claimed by another sender or waiting for a retry
}

// kind names a reminder kind: "60d".
func kind(days int) string { return strconv.Itoa(days) + "d" }

// due returns the reminder kind due for a certificate expiring at notAfter:
// the smallest configured day count not further away than the expiry, so
// that a certificate first seen 10 days before expiry gets the 14-day
// reminder only, not the 60-day one too.
func (r *Reminder) due(notAfter, now time.Time) (int, bool) {
	left := notAfter.Sub(now)
	if left <= 0 {
		return 0, false
	}
	for _, d := range r.cfg.Days { // ascending
		if left <= time.Duration(d)*24*time.Hour {
			return d, true
		}
	}
	return 0, false
}

type candidate struct {
	serial   string
	notAfter time.Time
}

// RunOnce sends every reminder that is due now. It returns an error only if
// the store failed; delivery failures are counted, logged and retried by a
// later run.
func (r *Reminder) RunOnce(ctx context.Context) (Result, error) {
	var res Result
	now := r.clock.Now()
	horizon := now.Add(time.Duration(r.cfg.Days[len(r.cfg.Days)-1]) * 24 * time.Hour)
	var cands []candidate
	err := r.db.View(ctx, func(tx *store.Tx) error {
		// Certificates expiring within the longest reminder horizon that
		// are valid and have no live successor, less those whose due kind
		// was already sent. (The claim below re-checks all of it.)
		exp, sent, err := tx.ExpiringCertificates(ctx, now, horizon)
		if err != nil {
			return err
		}
		cands = cands[:0]
		for _, c := range exp {
			if d, ok := r.due(c.NotAfter, now); ok && !slices.Contains(sent[c.Serial], kind(d)) {
				cands = append(cands, candidate{serial: c.Serial, notAfter: c.NotAfter})
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("notify: find due reminders: %w", err)
	}
	for _, c := range cands {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		outcome, err := r.remind(ctx, c.serial)
		if err != nil {
			return res, err
		}
		switch outcome {
		case outcomeSent:
			res.Sent++
		case outcomeFailed:
			res.Failed++
		case outcomeBusy:
			res.Skipped++
		}
	}
	return res, nil
}

type outcome int

const (
	outcomeNone   outcome = iota // nothing due after all
	outcomeBusy                  // claimed by another sender, or waiting for its retry
	outcomeSent                  // delivered
	outcomeFailed                // delivery failed, released for a retry
)

// claim is a reminder this job holds.
type claim struct {
	serial, kind, owner string
	days                int
	attempts            int
	msg                 Message
	customerID          string
}

// remind claims, sends and records one certificate's due reminder.
func (r *Reminder) remind(ctx context.Context, serial string) (outcome, error) {
	cl, out, err := r.claim(ctx, serial)
	if err != nil || cl == nil {
		return out, err
	}
	sctx, cancel := context.WithTimeout(ctx, r.cfg.SendTimeout)
	sendErr := r.mail.Send(sctx, cl.msg)
	cancel()
	// What happened is recorded even if ctx ended meanwhile (serve
	// stopping): a mail the server accepted but not marked sent would go
	// out again after the lease.
	rctx := context.WithoutCancel(ctx)
	if r.cfg.Observer != nil {
		r.cfg.Observer.ReminderSent(sendErr == nil)
	}
	if sendErr != nil {
		return outcomeFailed, r.release(rctx, cl, sendErr)
	}
	return outcomeSent, r.markSent(rctx, cl)
}

// claim takes the due reminder of a certificate for this job, or returns
// nil if there is none or another sender holds it.
func (r *Reminder) claim(ctx context.Context, serial string) (*claim, outcome, error) {
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, outcomeNone, err
	}
	owner := hex.EncodeToString(tok)
	var cl *claim
	out := outcomeNone
	err := r.db.Update(ctx, func(tx *store.Tx) error {
		cl, out = nil, outcomeNone
		now := r.clock.Now()
		c, err := tx.Certificate(ctx, serial)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if c.Status != store.CertValid {
			return nil // revoked or superseded
		}
		if _, err := tx.Successor(ctx, serial); err == nil {
			return nil // renewed
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		days, ok := r.due(c.NotAfter, now)
		if !ok {
			return nil
		}
		k := kind(days)
		prev, err := tx.Reminder(ctx, serial, k)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		switch prev.State {
		case store.ReminderSent:
			return nil
		case store.ReminderClaimed:
			if now.Before(prev.LeaseUntil) {
				out = outcomeBusy
				return nil
			}
			r.log.WarnContext(ctx, "reminder claim expired; taking it over (its sender may have crashed after the mail was accepted, so the contact may get it twice)", "serial", serial, "kind", k)
		case store.ReminderPending:
			if now.Before(prev.NextAttempt) {
				out = outcomeBusy
				return nil
			}
		}
		org, err := tx.Org(ctx, c.CustomerID)
		if err != nil {
			return err
		}
		language := c.ContactLanguage
		if !lang.Valid(language) {
			language = org.Language
		}
		if !lang.Valid(language) {
			language = lang.Default
		}
		to := c.ContactEmail
		if to == "" {
			to = org.ContactEmail
		}
		d := mailData{
			Cert: c, Org: org, Days: days, DaysLeft: int(c.NotAfter.Sub(now) / (24 * time.Hour)),
			WindowOpens: service.RenewableFrom(c.NotBefore, c.NotAfter, r.cfg.RenewalWindow), WindowDays: int(r.cfg.RenewalWindow / (24 * time.Hour)),
			Now: now, EServiceURL: r.cfg.EServiceURL,
		}
		msg, err := reminderMessage(language, d)
		if err != nil {
			return err
		}
		msg.To = to
		msg.MessageID = MessageID("reminder-"+k+"-"+d.Serial(), r.cfg.EServiceURL)
		if err := tx.ClaimReminder(ctx, serial, k, owner, to, language, now, now.Add(r.cfg.Lease)); err != nil {
			return err
		}
		cl = &claim{serial: serial, kind: k, owner: owner, days: days, attempts: prev.Attempts + 1, msg: msg, customerID: c.CustomerID}
		return nil
	})
	if err != nil {
		return nil, outcomeNone, fmt.Errorf("notify: claim reminder %s: %w", serial, err)
	}
	return cl, out, nil
}

// markSent records a delivered reminder and audits it.
func (r *Reminder) markSent(ctx context.Context, cl *claim) error {
	err := r.db.Update(ctx, func(tx *store.Tx) error {
		now := r.clock.Now()
		changed, err := tx.MarkReminderSent(ctx, cl.serial, cl.kind, now)
		if err != nil {
			return err
		}
		if !changed {
			r.log.WarnContext(ctx, "reminder was already recorded as sent by another sender", "serial", cl.serial, "kind", cl.kind)
			return nil
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: "reminder", Action: "reminder", CustomerID: cl.customerID, Serial: cl.serial,
			Outcome: "ok", Detail: "kind=" + cl.kind + " to=" + cl.msg.To + " language=" + cl.msg.Language})
	})
	if err != nil {
		// The mail went out but the record did not: the lease will expire
		// and the reminder will be sent again (at least once).
		return fmt.Errorf("notify: record sent reminder %s: %w", cl.serial, err)
	}
	r.log.InfoContext(ctx, "expiry reminder sent", "serial", cl.serial, "kind", cl.kind, "to", cl.msg.To, "language", cl.msg.Language)
	return nil
}

// release gives a failed reminder back for a later retry.
func (r *Reminder) release(ctx context.Context, cl *claim, sendErr error) error {
	now := r.clock.Now()
	backoff := r.cfg.RetryMin
	for i := 1; i < cl.attempts && backoff < r.cfg.RetryMax; i++ {
		backoff *= 2
	}
	backoff = min(backoff, r.cfg.RetryMax)
	next := now.Add(backoff)
	msg := sendErr.Error()
	if len(msg) > 300 {
		msg = msg[:300]
	}
	r.log.WarnContext(ctx, "expiry reminder not delivered; will retry", "serial", cl.serial, "kind", cl.kind, "to", cl.msg.To, "attempt", cl.attempts, "retry_at", next, "err", sendErr)
	err := r.db.Update(ctx, func(tx *store.Tx) error {
		held, err := tx.ReleaseReminder(ctx, cl.serial, cl.kind, cl.owner, next, msg)
		if err != nil {
			return err
		}
		if !held {
			return nil // taken over meanwhile; the new owner decides
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: "reminder", Action: "reminder", CustomerID: cl.customerID, Serial: cl.serial,
			Outcome: "fail", Code: "MAIL_FAILED", Detail: "kind=" + cl.kind + " to=" + cl.msg.To + " attempt=" + strconv.Itoa(cl.attempts) + "; retry later"})
	})
	if err != nil {
		return fmt.Errorf("notify: release reminder %s: %w", cl.serial, err)
	}
	return nil
}

// Run runs the job every interval (wall-clock ticks; the rules use the
// injected clock) until ctx ends, starting with an immediate run.
func (r *Reminder) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		res, err := r.RunOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			r.log.ErrorContext(ctx, "reminder run failed", "err", err)
		case res != (Result{}):
			r.log.InfoContext(ctx, "reminder run", "sent", res.Sent, "failed", res.Failed, "skipped", res.Skipped)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Status is the state of one reminder, for operators and tests.
type Status = store.Reminder

// Statuses lists the reminders of a certificate ("" for all).
func Statuses(ctx context.Context, db Store, serial string) ([]Status, error) {
	var out []Status
	err := db.View(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.Reminders(ctx, serial)
		return err
	})
	return out, err
}
