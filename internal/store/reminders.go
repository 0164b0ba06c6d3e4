package store

import (
	"context"
	"fmt"
	"time"
)

// Reminder states.
const (
	ReminderClaimed = "claimed" // a sender holds it until LeaseUntil
	ReminderPending = "pending" // a delivery failed; retry at NextAttempt
	ReminderSent    = "sent"    // the mail server accepted it: never again
)

// Reminder is one expiry reminder of a kind ("60", or an extra one) for a
// certificate. The pair (Serial, Kind) is unique: it is what makes a
// reminder claimable by exactly one sender.
type Reminder struct {
	Serial, Kind string
	State        string
	Owner        string // the claim's random token while claimed
	Recipient    string
	Language     string
	Attempts     int
	ClaimedAt    time.Time
	LeaseUntil   time.Time
	NextAttempt  time.Time
	SentAt       time.Time
	LastError    string
}

// Expiring is a certificate that may be due a reminder.
type Expiring struct {
	Serial   string
	NotAfter time.Time
}

// ExpiringCertificates lists the valid certificates without a live
// successor whose NotAfter is in (now, horizon], soonest first, with the
// reminder kinds already sent for each.
func (t *Tx) ExpiringCertificates(ctx context.Context, now, horizon time.Time) ([]Expiring, map[string][]string, error) {
	rows, err := t.query(ctx, `SELECT c.serial, c.not_after FROM certificates c
		WHERE c.status = 'valid' AND c.not_after > ? AND c.not_after <= ?
		AND NOT EXISTS (SELECT 1 FROM certificates s WHERE s.predecessor = c.serial AND s.status != 'superseded')
		ORDER BY c.not_after, c.serial`, ms(now), ms(horizon))
	if err != nil {
		return nil, nil, fmt.Errorf("store: expiring certificates: %w", err)
	}
	defer rows.Close()
	var out []Expiring
	for rows.Next() {
		var e Expiring
		var na int64
		if err := rows.Scan(&e.Serial, &na); err != nil {
			return nil, nil, fmt.Errorf("store: expiring certificates: %w", err)
		}
		e.NotAfter = fromMs(na)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("store: expiring certificates: %w", err)
	}
	rows.Close()
	srows, err := t.query(ctx, `SELECT serial, kind FROM reminders WHERE state = 'sent' AND serial IN
		(SELECT serial FROM certificates WHERE status = 'valid' AND not_after > ? AND not_after <= ?)`, ms(now), ms(horizon))
	if err != nil {
		return nil, nil, fmt.Errorf("store: sent reminders: %w", err)
	}
	defer srows.Close()
	sent := map[string][]string{}
	for srows.Next() {
		var s, k string
		if err := srows.Scan(&s, &k); err != nil {
			return nil, nil, fmt.Errorf("store: sent reminders: %w", err)
		}
		sent[s] = append(sent[s], k)
	}
	return out, sent, srows.Err()
}

const reminderCols = `serial, kind, state, owner, recipient, language, attempts, claimed_at, lease_until, next_attempt, sent_at, last_error`

func scanReminder(sc scanner) (Reminder, error) {
	var r Reminder
	var claimed, lease, next, sent int64
	err := sc.Scan(&r.Serial, &r.Kind, &r.State, &r.Owner, &r.Recipient, &r.Language, &r.Attempts, &claimed, &lease, &next, &sent, &r.LastError)
	r.ClaimedAt, r.LeaseUntil, r.NextAttempt, r.SentAt = fromMs(claimed), fromMs(lease), fromMs(next), fromMs(sent)
	return r, err
}

// Reminder returns the reminder of a kind for a certificate.
func (t *Tx) Reminder(ctx context.Context, serial, kind string) (Reminder, error) {
	r, err := scanReminder(t.queryRow(ctx, `SELECT `+reminderCols+` FROM reminders WHERE serial=? AND kind=?`, serial, kind))
	if err != nil {
		return Reminder{}, notFound(err, "reminder")
	}
	return r, nil
}

// Reminders lists the reminders of a certificate ("" for all) by serial
// and kind.
func (t *Tx) Reminders(ctx context.Context, serial string) ([]Reminder, error) {
	return queryAll(ctx, t, "reminders", scanReminder, `SELECT `+reminderCols+` FROM reminders WHERE ? = '' OR serial = ? ORDER BY serial, kind`, serial, serial)
}

// ClaimReminder records that owner holds the reminder until leaseUntil,
// creating its row on the first claim and counting one more attempt. The
// caller has checked, in the same transaction, that it is free to claim.
func (t *Tx) ClaimReminder(ctx context.Context, serial, kind, owner, recipient, language string, now, leaseUntil time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO reminders (serial, kind, state, owner, recipient, language, attempts, claimed_at, lease_until)
		VALUES (?,?,?,?,?,?,1,?,?)
		ON CONFLICT (serial, kind) DO UPDATE SET state=excluded.state, owner=excluded.owner, recipient=excluded.recipient,
			language=excluded.language, attempts=reminders.attempts+1, claimed_at=excluded.claimed_at, lease_until=excluded.lease_until`,
		serial, kind, ReminderClaimed, owner, recipient, language, ms(now), ms(leaseUntil))
	if err != nil {
		return fmt.Errorf("store: claim reminder: %w", err)
	}
	return nil
}

// MarkReminderSent records a delivered reminder; false if it was already
// recorded as sent (by another sender that took the claim over).
func (t *Tx) MarkReminderSent(ctx context.Context, serial, kind string, at time.Time) (bool, error) {
	res, err := t.exec(ctx, `UPDATE reminders SET state=?, owner='', sent_at=?, last_error='' WHERE serial=? AND kind=? AND state != ?`,
		ReminderSent, ms(at), serial, kind, ReminderSent)
	if err != nil {
		return false, fmt.Errorf("store: reminder sent: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// ReleaseReminder gives a claimed reminder back for a retry at next; false
// if owner no longer holds it (another sender took it over).
func (t *Tx) ReleaseReminder(ctx context.Context, serial, kind, owner string, next time.Time, lastError string) (bool, error) {
	res, err := t.exec(ctx, `UPDATE reminders SET state=?, owner='', next_attempt=?, last_error=? WHERE serial=? AND kind=? AND owner=? AND state=?`,
		ReminderPending, ms(next), lastError, serial, kind, owner, ReminderClaimed)
	if err != nil {
		return false, fmt.Errorf("store: release reminder: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
