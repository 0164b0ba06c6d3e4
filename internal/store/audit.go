package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

const auditCols = `id, at, actor, action, customer_id, serial, outcome, code, detail, request_id`

// AuditFilter selects audit entries.
type AuditFilter struct {
	Since       time.Time // entries at or after; zero: from the first
	CustomerID  string    // one organisation's entries; "" all, including those filed under none
	NewestFirst bool      // order; oldest first otherwise
	Limit       int       // at most this many; 0 no limit
}

// AuditTrail returns the audit entries f selects.
func (t *Tx) AuditTrail(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	q := `SELECT ` + auditCols + ` FROM audit`
	var where []string
	var args []any
	if !f.Since.IsZero() {
		where = append(where, `at >= ?`)
		args = append(args, ms(f.Since))
	}
	if f.CustomerID != "" {
		where = append(where, `customer_id = ?`)
		args = append(args, f.CustomerID)
	}
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	if f.NewestFirst {
		q += ` ORDER BY id DESC`
	} else {
		q += ` ORDER BY id`
	}
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: audit trail: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.CustomerID, &e.Serial, &e.Outcome, &e.Code, &e.Detail, &e.RequestID); err != nil {
			return nil, fmt.Errorf("store: audit trail: %w", err)
		}
		e.At = fromMs(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditLog returns audit entries, newest first; customerID "" for all.
func (t *Tx) AuditLog(ctx context.Context, customerID string, limit int) ([]AuditEntry, error) {
	return t.AuditTrail(ctx, AuditFilter{CustomerID: customerID, NewestFirst: true, Limit: limit})
}

// AnonymousActions are the actions whose refusals anyone can cause without
// naming an organisation of this service (a SOAP request with a wrong
// CustomerId, a sign-in to no account): the only entries that retention
// prunes. Entries about issuance, revocation, orders and accounts are
// never pruned, whatever their outcome.
var AnonymousActions = []string{"sign_new", "renew", "get", "sign_in"}

// PruneAnonymousRefusals deletes the refusals (outcome fail) filed under no
// organisation of AnonymousActions written before before, and returns how
// many.
func (t *Tx) PruneAnonymousRefusals(ctx context.Context, before time.Time) (int64, error) {
	q := `DELETE FROM audit WHERE customer_id = '' AND outcome = 'fail' AND at < ? AND action IN (?` + strings.Repeat(`,?`, len(AnonymousActions)-1) + `)`
	args := []any{ms(before)}
	for _, a := range AnonymousActions {
		args = append(args, a)
	}
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("store: prune audit: %w", err)
	}
	return res.RowsAffected()
}
