package eservice

import (
	"context"
	"time"

	"github.com/irpki/irpki/internal/store"
)

// The sign-in and PIN limits count failures in the store (store.Limit),
// so that every replica on one database enforces one limit.

// takeAttempt reserves an attempt under limits (see store.Tx.TakeAttempt).
func (h *Handler) takeAttempt(ctx context.Context, now time.Time, limits ...store.Limit) (ok bool, until time.Time, err error) {
	err = h.db.Update(ctx, func(tx *store.Tx) error {
		ok, until, err = tx.TakeAttempt(ctx, now, h.cfg.LimitWindow, limits)
		return err
	})
	return ok, until, err
}

// blocked reports whether l's subject has its failures inside the window.
func (h *Handler) blocked(ctx context.Context, now time.Time, l store.Limit) (bool, error) {
	var b bool
	err := h.db.View(ctx, func(tx *store.Tx) (err error) {
		b, _, err = tx.Blocked(ctx, now, h.cfg.LimitWindow, l)
		return err
	})
	return b, err
}

// countFailure records a failed attempt of subject.
func (h *Handler) countFailure(ctx context.Context, subject string, now time.Time) {
	if err := h.db.Update(ctx, func(tx *store.Tx) error { return tx.CountFailure(ctx, subject, now) }); err != nil {
		h.log.ErrorContext(ctx, "could not count a failed attempt", "subject", subject, "err", err)
	}
}
