package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Limit is at most Max failed attempts by Subject (an account, a client
// address) inside a sliding window.
type Limit struct {
	Subject string
	Max     int
}

// Failed attempts are rows of the attempts table, so that every replica
// on one database counts the same failures: N replicas do not allow N
// times a limit.

// TakeAttempt reserves one attempt under every limit at once, before the
// attempt is made: unless a subject already has its Max failures after
// now-window, it counts the attempt as a failure of each subject (at now)
// and returns true; otherwise it counts nothing and returns false and when
// the last of the blocking failures leaves the window. Counting before the
// slow check is what keeps a burst of parallel attempts within the limit;
// a successful attempt gives its reservation back with ForgetFailure.
// Failures that have left the window are deleted.
func (t *Tx) TakeAttempt(ctx context.Context, now time.Time, window time.Duration, limits []Limit) (bool, time.Time, error) {
	if _, err := t.exec(ctx, `DELETE FROM attempts WHERE at <= ?`, ms(now.Add(-window))); err != nil {
		return false, time.Time{}, fmt.Errorf("store: attempts: %w", err)
	}
	var until time.Time
	for _, l := range limits {
		blocked, u, err := t.Blocked(ctx, now, window, l)
		if err != nil {
			return false, time.Time{}, err
		}
		if blocked && u.After(until) {
			until = u
		}
	}
	if !until.IsZero() {
		return false, until, nil
	}
	for _, l := range limits {
		if err := t.CountFailure(ctx, l.Subject, now); err != nil {
			return false, time.Time{}, err
		}
	}
	return true, time.Time{}, nil
}

// Blocked reports whether l's subject has its Max failures after
// now-window, and when the oldest of those that block leaves the window.
func (t *Tx) Blocked(ctx context.Context, now time.Time, window time.Duration, l Limit) (bool, time.Time, error) {
	if l.Max < 1 {
		return true, now.Add(window), nil
	}
	// The Max-th newest failure inside the window: while it is inside,
	// the subject has Max failures.
	var at int64
	err := t.queryRow(ctx, `SELECT at FROM attempts WHERE subject = ? AND at > ? ORDER BY at DESC, id DESC LIMIT 1 OFFSET ?`,
		l.Subject, ms(now.Add(-window)), l.Max-1).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return false, time.Time{}, nil
	}
	if err != nil {
		return false, time.Time{}, fmt.Errorf("store: attempts: %w", err)
	}
	return true, fromMs(at).Add(window), nil
}

// CountFailure records a failed attempt of subject at now.
func (t *Tx) CountFailure(ctx context.Context, subject string, now time.Time) error {
	if _, err := t.exec(ctx, `INSERT INTO attempts (subject, at) VALUES (?, ?)`, subject, ms(now)); err != nil {
		return fmt.Errorf("store: count failure: %w", err)
	}
	return nil
}

// ForgetFailure removes one failure of subject counted at at: the
// reservation of an attempt that succeeded.
func (t *Tx) ForgetFailure(ctx context.Context, subject string, at time.Time) error {
	_, err := t.exec(ctx, `DELETE FROM attempts WHERE id = (SELECT id FROM attempts WHERE subject = ? AND at = ? ORDER BY id DESC LIMIT 1)`, subject, ms(at))
	if err != nil {
		return fmt.Errorf("store: forget failure: %w", err)
	}
	return nil
}

// ResetFailures forgets every failure of subject.
func (t *Tx) ResetFailures(ctx context.Context, subject string) error {
	if _, err := t.exec(ctx, `DELETE FROM attempts WHERE subject = ?`, subject); err != nil {
		return fmt.Errorf("store: reset failures: %w", err)
	}
	return nil
}
