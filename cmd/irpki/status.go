package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/renewal"
)

// Exit codes of status, for monitoring.
const (
	statusValid   = 0 // valid, renewal window not open
	statusRenew   = 1 // renewal window open: renew now (irpki watch will)
	statusInvalid = 2 // no usable certificate: expired, revoked or none (an interrupted enrolment may be pending: see the message)
	statusError   = 3 // the state could not be read, or bad flags
)

// statusCode maps a state to the exit code.
func statusCode(s renewal.State) int {
	switch s {
	case renewal.StateValid:
		return statusValid
	case renewal.StateWindowOpen:
		return statusRenew
	}
	return statusInvalid
}

func (a *app) cmdStatus(ctx context.Context, args []string) int {
	fs, c := a.newFlagSet("status")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = cliconfig.Usage(fs, "irpki status --dir DIR [--json]",
		"Shows the certificate in DIR: subject, serial, expiry, days left, when the renewal\n"+
			"window opens, its state, and what irpki watch does next (renew, wait until\n"+
			"a moment, order anew, or blocked by a pending enrolment).\n\n"+
			"Exit codes for monitoring: 0 valid and outside the renewal window; 1 inside the\n"+
			"window (renew now); 2 no usable certificate: expired, revoked or none (order a new\n"+
			"certificate and run irpki enroll, unless an interrupted enrolment is pending: then\n"+
			"irpki enroll --dir DIR finishes it, no new order is needed; or a renewal's successor\n"+
			"was delivered and saved, still valid, or the service accepted a renewal (its\n"+
			"RetrievalId is saved) whose answer was lost: then irpki renew fetches and installs\n"+
			"it; the message says which);\n"+
			"3 the state could not be read (or bad flags).")
	if err := a.parse(fs, c, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		if !errors.Is(err, errUsage) {
			fmt.Fprintf(a.stderr, "irpki status: %v\n", err)
		}
		return statusError
	}
	m, err := a.manager(c, 0)
	if err != nil {
		fmt.Fprintf(a.stderr, "irpki status: %v\n", err)
		return statusError
	}
	a.checkRevocation(ctx, m, "irpki status")
	st, err := m.Status()
	if err != nil {
		fmt.Fprintf(a.stderr, "irpki status: %v\n", err)
		return statusError
	}
	// What irpki watch does next: the same decision as its own.
	next := st.Next(a.now())
	if *asJSON {
		out := struct {
			*renewal.Status
			Message  string           `json:"message"`
			Next     renewal.Decision `json:"next"`
			ExitCode int              `json:"exit_code"`
		}{st, st.Message(), next, statusCode(st.State)}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return statusError
		}
		return statusCode(st.State)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Directory:\t%s\n", st.Dir)
	if st.CustomerID != "" {
		fmt.Fprintf(tw, "Customer:\t%s\n", st.CustomerID)
	}
	if st.Serial != "" {
		fmt.Fprintf(tw, "Subject:\t%s\n", st.Subject)
		fmt.Fprintf(tw, "Serial:\t%s\n", st.Serial)
		fmt.Fprintf(tw, "Not before:\t%s\n", fmtTime(st.NotBefore))
		fmt.Fprintf(tw, "Not after:\t%s (%d days left)\n", fmtTime(st.NotAfter), st.DaysLeft)
		fmt.Fprintf(tw, "Window opens:\t%s\n", fmtTime(st.WindowOpens))
		fmt.Fprintf(tw, "Watch renews at:\t%s\n", fmtTime(st.RenewAt))
		fmt.Fprintf(tw, "Files:\t%s, %s, %s\n", st.CertFile, st.KeyFile, st.ChainFile)
	}
	if st.Pending != "" {
		if strings.HasPrefix(st.Pending, "enroll") {
			// Only irpki enroll sends or finishes it (see State).
			if st.Refused != nil {
				fmt.Fprintf(tw, "Pending:\t%s: %s; only irpki enroll --dir %s sends it again\n", st.Pending, st.Refused, st.Dir)
			} else {
				fmt.Fprintf(tw, "Pending:\t%s (interrupted; irpki enroll --dir %s finishes it)\n", st.Pending, st.Dir)
			}
		} else if st.Refused != nil {
			fmt.Fprintf(tw, "Pending:\t%s: %s; sent again inside the renewal window from %s (irpki renew --force: now)\n", st.Pending, st.Refused, fmtTime(st.Refused.RetryAt))
		} else {
			fmt.Fprintf(tw, "Pending:\t%s (interrupted; the next run resumes it)\n", st.Pending)
		}
	}
	if st.DeliveredExpired() {
		fmt.Fprintf(tw, "Delivered:\tcertificate %s (kept in pending.json, not installed) expired %s and can never be installed: see State\n",
			st.Delivered(), fmtTime(st.DeliveredNotAfter))
	} else if st.DeliveredUnverified != "" {
		// As the refusal of the delivered certificate says (renewal's
		// issuer hint): the run with the right bundle installs it.
		cmd := "renew"
		if strings.HasPrefix(st.Pending, "enroll") {
			cmd = "enroll"
		}
		fmt.Fprintf(tw, "Delivered:\tcertificate %s awaits verification (kept in pending.json, not installed): fix --issuer-trust / --trust and run irpki %s --dir %s --issuer-trust FILE, which verifies and installs it without asking the service again\n",
			st.DeliveredUnverified, cmd, st.Dir)
	}
	if !st.LastAttempt.IsZero() {
		res := st.LastResult
		if st.LastError != "" {
			res += ": " + st.LastError
		}
		fmt.Fprintf(tw, "Last attempt:\t%s %s\n", fmtTime(st.LastAttempt), res)
	}
	fmt.Fprintf(tw, "irpki watch:\t%s\n", next)
	fmt.Fprintf(tw, "State:\t%s: %s\n", st.State, st.Message())
	tw.Flush()
	return statusCode(st.State)
}

// checkRevocation looks the current certificate up in the revocation list
// it names, if any: a listed certificate is recorded as revoked, which
// Status then reports (exit 2). A list that cannot be read is a warning;
// it never makes a certificate read "valid" or "revoked" by itself.
func (a *app) checkRevocation(ctx context.Context, m *renewal.Manager, who string) {
	if _, err := m.CheckRevocation(ctx); err != nil && !errors.Is(err, renewal.ErrNoCRL) && !errors.Is(err, renewal.ErrNoDirectory) {
		fmt.Fprintf(a.stderr, "%s: warning: could not check the revocation list: %v\n", who, err)
	}
}
