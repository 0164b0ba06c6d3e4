package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SMS states.
const (
	SMSQueued  = "queued"  // waiting for its first attempt or for a retry at NextAttempt
	SMSClaimed = "claimed" // a sender holds it until LeaseUntil
	SMSSent    = "sent"    // the gateway accepted it: never again
	SMSGaveUp  = "gave_up" // expired or refused for good: never again
)

// SMS is a queued text message. ID is the message's idempotency key, the
// same for every attempt.
type SMS struct {
	ID          string
	CustomerID  string
	To          string // E.164
	Text        string // "" once sent or given up
	State       string
	Attempts    int
	CreatedAt   time.Time
	ExpiresAt   time.Time // not sent after this
	NextAttempt time.Time
	LeaseUntil  time.Time
	SentAt      time.Time
	LastError   string
}

// EnqueueSMS adds a message to send at once; an ID already queued is
// ErrExists.
func (t *Tx) EnqueueSMS(ctx context.Context, m SMS) error {
	res, err := t.exec(ctx, `INSERT INTO sms_queue (id, customer_id, recipient, body, state, created_at, expires_at, next_attempt) VALUES (?,?,?,?,?,?,?,?)
		ON CONFLICT DO NOTHING`, m.ID, m.CustomerID, m.To, m.Text, SMSQueued, ms(m.CreatedAt), ms(m.ExpiresAt), ms(m.CreatedAt))
	if err != nil {
		return fmt.Errorf("store: queue SMS: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("SMS %s: %w", m.ID, ErrExists)
	}
	return nil
}

const smsCols = `id, customer_id, recipient, body, state, attempts, created_at, expires_at, next_attempt, lease_until, sent_at, last_error`

func scanSMS(sc interface{ Scan(...any) error }) (SMS, error) {
	var m SMS
	var created, expires, next, lease, sent int64
	err := sc.Scan(&m.ID, &m.CustomerID, &m.To, &m.Text, &m.State, &m.Attempts, &created, &expires, &next, &lease, &sent, &m.LastError)
	if errors.Is(err, sql.ErrNoRows) {
		return SMS{}, ErrNotFound
	}
	ms := func(v int64) time.Time {
		if v == 0 {
			return time.Time{}
		}
		return time.UnixMilli(v).UTC()
	}
	m.CreatedAt, m.ExpiresAt, m.NextAttempt, m.LeaseUntil, m.SentAt = ms(created), ms(expires), ms(next), ms(lease), ms(sent)
	return m, err
}

// SMSByID returns the queued message id.
func (t *Tx) SMSByID(ctx context.Context, id string) (SMS, error) {
	return scanSMS(t.queryRow(ctx, `SELECT `+smsCols+` FROM sms_queue WHERE id = ?`, id))
}

// SMSByCustomer returns an organisation's messages, oldest first.
func (t *Tx) SMSByCustomer(ctx context.Context, customerID string) ([]SMS, error) {
	rows, err := t.query(ctx, `SELECT `+smsCols+` FROM sms_queue WHERE customer_id = ? ORDER BY created_at, id`, customerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SMS
	for rows.Next() {
		m, err := scanSMS(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ClaimSMS takes the next message that is due at now (queued and its retry
// time come, or claimed by a sender whose lease has run out) for owner
// until now+lease, counting the attempt. ok is false when none is due.
// Inside Update the claim is exclusive: the store has one writer.
func (t *Tx) ClaimSMS(ctx context.Context, now time.Time, lease time.Duration, owner string) (m SMS, ok bool, err error) {
	n := now.UnixMilli()
	m, err = scanSMS(t.queryRow(ctx, `SELECT `+smsCols+` FROM sms_queue
		WHERE (state = ? AND next_attempt <= ?) OR (state = ? AND lease_until <= ?)
		ORDER BY next_attempt, id LIMIT 1`, SMSQueued, n, SMSClaimed, n))
	if errors.Is(err, ErrNotFound) {
		return SMS{}, false, nil
	}
	if err != nil {
		return SMS{}, false, err
	}
	m.State, m.Attempts, m.LeaseUntil = SMSClaimed, m.Attempts+1, now.Add(lease)
	_, err = t.exec(ctx, `UPDATE sms_queue SET state = ?, attempts = ?, lease_until = ?, owner = ? WHERE id = ?`,
		m.State, m.Attempts, m.LeaseUntil.UnixMilli(), owner, m.ID)
	return m, err == nil, err
}

// SMSDone records that the gateway accepted message id at now (sent true)
// or that it is given up (sent false, with why); either way its text is
// erased and it is never sent again.
func (t *Tx) SMSDone(ctx context.Context, id string, now time.Time, sent bool, why string) error {
	state, at := SMSGaveUp, int64(0)
	if sent {
		state, at = SMSSent, now.UnixMilli()
	}
	_, err := t.exec(ctx, `UPDATE sms_queue SET state = ?, body = '', sent_at = ?, lease_until = 0, owner = '', last_error = ? WHERE id = ?`, state, at, why, id)
	return err
}

// SMSRetry puts message id back in the queue, due again at next, after a
// failed attempt.
func (t *Tx) SMSRetry(ctx context.Context, id string, next time.Time, why string) error {
	_, err := t.exec(ctx, `UPDATE sms_queue SET state = ?, next_attempt = ?, lease_until = 0, owner = '', last_error = ? WHERE id = ?`, SMSQueued, next.UnixMilli(), why, id)
	return err
}
