package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/store"
)

// cmdAudit prints the audit trail.
func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("audit", stdout, stderr)
	since := fs.String("since", "", "only entries from this time on: a date (2026-12-01), an RFC 3339 time, or an age (7d, 36h)")
	id := fs.String("customer-id", "", "only this organisation's entries (default: all, including refusals filed under no organisation)")
	asJSON := fs.Bool("json", false, "print a JSON array")
	fs.Usage = cliconfig.Usage(fs, "irpkid audit [--since 7d] [--customer-id ID] [--json]",
		"Prints the audit trail, oldest first: every issuance, renewal, retrieval, revocation, order,\naccount change, sign-in and refusal, with the request ID of the HTTP request that caused it.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	var from time.Time
	if *since != "" {
		var err error
		if from, err = parseSince(*since, clock.System{}.Now()); err != nil {
			return fmt.Errorf("--since %w", err)
		}
	}
	return c.withApp(ctx, stderr, func(a *app) error {
		if err := a.checkCustomerFilter(ctx, *id); err != nil {
			return err
		}
		var entries []store.AuditEntry
		if err := a.db.View(ctx, func(tx *store.Tx) (err error) {
			entries, err = tx.AuditTrail(ctx, store.AuditFilter{Since: from, CustomerID: *id})
			return err
		}); err != nil {
			return err
		}
		type row struct {
			At         time.Time `json:"at"`
			Actor      string    `json:"actor"`
			Action     string    `json:"action"`
			CustomerID string    `json:"customer_id"`
			Serial     string    `json:"serial,omitempty"`
			Outcome    string    `json:"outcome"`
			Code       string    `json:"code,omitempty"`
			Detail     string    `json:"detail,omitempty"`
			RequestID  string    `json:"request_id,omitempty"`
		}
		dash := func(s string) string {
			if s == "" {
				return "-"
			}
			return s
		}
		return printList(stdout, *asJSON, entries,
			func(e store.AuditEntry) row {
				return row{e.At.UTC(), e.Actor, e.Action, e.CustomerID, e.Serial, e.Outcome, e.Code, e.Detail, e.RequestID}
			},
			[]string{"TIME", "ACTOR", "ACTION", "CUSTOMER", "SERIAL", "OUTCOME", "CODE", "REQUEST", "DETAIL"},
			func(e store.AuditEntry) []string {
				return []string{e.At.UTC().Format(time.RFC3339), e.Actor, e.Action, dash(e.CustomerID), dash(e.Serial), e.Outcome, dash(e.Code), dash(e.RequestID), strings.ReplaceAll(e.Detail, "\t", " ")}
			})
	})
}

// parseSince reads --since: a date, an RFC 3339 time, or an age before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.UTC); err == nil {
		return t, nil
	}
	if d, err := parseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: give a date (2026-12-01), an RFC 3339 time (2026-12-01T08:00:00Z) or an age (7d, 36h)", s)
}
