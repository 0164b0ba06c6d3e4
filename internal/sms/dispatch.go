package sms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/store"
)

// Store is what the dispatcher needs of storage.
type Store interface {
	Update(ctx context.Context, fn func(*store.Tx) error) error
}

// DispatchConfig holds the dispatcher's timing.
type DispatchConfig struct {
	// Lease is how long a claimed message belongs to its sender; a claim
	// older than this (its sender crashed or hung) is taken over. It must
	// be longer than SendTimeout.
	Lease time.Duration
	// SendTimeout bounds one attempt.
	SendTimeout time.Duration
	// RetryMin and RetryMax bound the backoff after a failed attempt; it
	// doubles from RetryMin with each failure.
	RetryMin, RetryMax time.Duration
}

// DefaultDispatchConfig returns the defaults: a PIN is wanted soon, so
// retries start after 30 s and back off to 10 minutes.
func DefaultDispatchConfig() DispatchConfig {
	return DispatchConfig{Lease: 3 * time.Minute, SendTimeout: time.Minute, RetryMin: 30 * time.Second, RetryMax: 10 * time.Minute}
}

// Dispatcher sends the queued messages. Any number of dispatchers, in one
// process or in replicas sharing the store, may run at once: the claim in
// the store gives each message to one of them at a time. See the package
// comment for the guarantee.
type Dispatcher struct {
	cfg    DispatchConfig
	db     Store
	send   Sender
	clock  clock.Clock
	log    *slog.Logger
	owner  string
	wakeup chan struct{}
}

// NewDispatcher returns a dispatcher sending through s.
func NewDispatcher(cfg DispatchConfig, db Store, s Sender, clk clock.Clock, log *slog.Logger) (*Dispatcher, error) {
	if cfg.Lease <= cfg.SendTimeout || cfg.SendTimeout <= 0 || cfg.RetryMin <= 0 || cfg.RetryMax < cfg.RetryMin {
		return nil, errors.New("sms: the lease must be longer than the send timeout, and the retry bounds positive and ordered")
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &Dispatcher{cfg: cfg, db: db, send: s, clock: clk, log: log, owner: hex.EncodeToString(b), wakeup: make(chan struct{}, 1)}, nil
}

// Wake makes a running Run look at the queue now instead of at its next
// tick: called after a message has been queued.
func (d *Dispatcher) Wake() {
	select {
	case d.wakeup <- struct{}{}:
	default:
	}
}

// Run sends due messages every interval and whenever woken, until ctx ends.
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
			d.log.ErrorContext(ctx, "SMS dispatch failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wakeup:
		}
	}
}

// RunOnce sends every message due now and returns how many the gateway
// accepted.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	sent := 0
	for ctx.Err() == nil {
		m, ok, err := d.claim(ctx)
		if err != nil || !ok {
			return sent, err
		}
		if d.deliver(ctx, m) {
			sent++
		}
	}
	return sent, ctx.Err()
}

// claim takes the next due message; one that has expired is given up.
func (d *Dispatcher) claim(ctx context.Context) (store.SMS, bool, error) {
	for {
		var m store.SMS
		var ok, expired bool
		now := d.clock.Now()
		err := d.db.Update(ctx, func(tx *store.Tx) error {
			var err error
			m, ok, err = tx.ClaimSMS(ctx, now, d.cfg.Lease, d.owner)
			if err != nil || !ok {
				return err
			}
			if expired = !now.Before(m.ExpiresAt); expired {
				if err := tx.SMSDone(ctx, m.ID, now, false, "expired before it could be sent"); err != nil {
					return err
				}
				return tx.Audit(ctx, store.AuditEntry{At: now, Actor: "sms", Action: "delivery_sms", CustomerID: m.CustomerID, Outcome: "fail", Code: "SMS_EXPIRED",
					Detail: fmt.Sprintf("to=%s attempts=%d last_error=%s", m.To, m.Attempts-1, m.LastError)})
			}
			return nil
		})
		if err != nil || !ok || !expired {
			return m, ok, err
		}
		d.log.WarnContext(ctx, "SMS given up: it expired before it could be sent", "to", m.To, "id", m.ID, "last_error", m.LastError)
	}
}

// deliver makes one attempt at m and records its outcome; true if sent.
func (d *Dispatcher) deliver(ctx context.Context, m store.SMS) bool {
	sctx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
	err := d.send.Send(sctx, Message{ID: m.ID, To: m.To, Text: m.Text})
	cancel()
	now := d.clock.Now()
	// The outcome is recorded even if ctx ends now: a sent message must
	// not be sent again.
	rctx := context.WithoutCancel(ctx)
	rerr := d.db.Update(rctx, func(tx *store.Tx) error {
		switch {
		case err == nil:
			if err := tx.SMSDone(rctx, m.ID, now, true, ""); err != nil {
				return err
			}
			return tx.Audit(rctx, store.AuditEntry{At: now, Actor: "sms", Action: "delivery_sms", CustomerID: m.CustomerID, Outcome: "ok",
				Detail: fmt.Sprintf("to=%s attempt=%d", m.To, m.Attempts)})
		case errors.Is(err, ErrPermanent):
			if err := tx.SMSDone(rctx, m.ID, now, false, err.Error()); err != nil {
				return err
			}
			return tx.Audit(rctx, store.AuditEntry{At: now, Actor: "sms", Action: "delivery_sms", CustomerID: m.CustomerID, Outcome: "fail", Code: "SMS_REFUSED",
				Detail: fmt.Sprintf("to=%s attempt=%d", m.To, m.Attempts)})
		default:
			return tx.SMSRetry(rctx, m.ID, now.Add(d.backoff(m.Attempts)), err.Error())
		}
	})
	if rerr != nil {
		d.log.ErrorContext(ctx, "could not record an SMS attempt; it is sent again after its lease", "to", m.To, "id", m.ID, "err", rerr)
	}
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrPermanent):
		d.log.ErrorContext(ctx, "SMS refused for good", "to", m.To, "id", m.ID, "err", err)
	default:
		d.log.WarnContext(ctx, "SMS attempt failed; retrying later", "to", m.To, "id", m.ID, "attempt", m.Attempts, "err", err)
	}
	return false
}

func (d *Dispatcher) backoff(attempts int) time.Duration {
	b := d.cfg.RetryMin
	for i := 1; i < attempts && b < d.cfg.RetryMax; i++ {
		b *= 2
	}
	return min(b, d.cfg.RetryMax)
}
