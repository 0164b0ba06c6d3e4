package main

import (
	"context"
	"fmt"
	"time"

	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/renewal"
)

func (a *app) cmdRenew(ctx context.Context, args []string) int {
	var asJSON bool
	var out runJSON
	code, err := a.renew(ctx, args, &asJSON, &out)
	if err != nil {
		code = a.exit("renew", err)
	}
	if asJSON {
		out.ExitCode = code
		a.printJSON(&out, err)
	}
	return code
}

// renew is irpki renew: the exit code, or an error for a.exit to print and
// map; with --json it fills out instead of printing on standard output.
func (a *app) renew(ctx context.Context, args []string, asJSON *bool, out *runJSON) (int, error) {
	fs, c := a.newFlagSet("renew")
	fs.BoolVar(asJSON, "json", false, "print the outcome as one JSON object on standard output (result: renewed, not_due, backing_off or error; the certificates; exit_code), for scripts")
	force := fs.Bool("force", false, "renew even outside the renewal window (the service still refuses before its own window opens)")
	lockWait := fs.Duration("lock-wait", 0, "how long to wait for another irpki working in --dir (0: exit at once)")
	issuerTrust := fs.String("issuer-trust", "", "save this PEM bundle as the one the delivered certificate must chain to (see irpki enroll --help), e.g. after a delivered certificate was refused for its chain")
	fs.Usage = cliconfig.Usage(fs, "irpki renew --dir DIR [--force] [--issuer-trust FILE]",
		"Renews the certificate if its renewal window is open (60 days before expiry): a new key\n"+
			"pair (saved before anything is sent), RenewCertificate signed with the current key,\n"+
			"GetCertificate until the successor is ready, verification, installation. The previous\n"+
			"certificate and key stay in DIR/archive. Outside the window it does nothing and says\n"+
			"when the window opens. An interrupted renewal resumes with the same key; one the\n"+
			"service refused with a code that may not be final is sent again only inside the\n"+
			"window, after a backoff (1 h, doubling up to a day, each jittered), unless --force.\n\n"+
			"Exit codes: 0 renewed or nothing to do; 1 failed (run again later: it resumes);\n"+
			"2 bad flags; 3 expired, revoked or no certificate: order a new certificate in the\n"+
			"e-service and run irpki enroll.")
	if err := a.parse(fs, c, args); err != nil {
		return 0, err
	}
	m, err := a.manager(c, *lockWait)
	if err != nil {
		return 0, err
	}
	out.Dir = m.Dir()
	if *issuerTrust != "" {
		if err := m.SetIssuerTrust(ctx, *issuerTrust); err != nil {
			return 0, err
		}
	}
	res, err := m.Renew(ctx, renewal.RenewOptions{Force: *force})
	if err != nil {
		return 0, err
	}
	out.Refused = res.Refused
	if !res.Renewed && !res.RetryAt.IsZero() {
		fmt.Fprintf(a.stderr, "irpki renew: not renewed: %s; it is sent again from %s (%d refusal(s) in a row; use --force to send it now)\n",
			res.Refused, fmtTime(res.RetryAt), res.Refused.Count)
		out.Result, out.Certificate, out.RetryAt = "backing_off", installedJSON(res.Previous), res.RetryAt.UTC()
		return exitError, nil
	}
	if !res.Renewed {
		if res.Refused != nil {
			fmt.Fprintf(a.stderr, "irpki renew: %s; it is kept and sent again once the renewal window is open\n", res.Refused)
		}
		out.Result, out.Certificate, out.WindowOpens = "not_due", installedJSON(res.Previous), res.WindowOpens.UTC()
		if *asJSON {
			return exitOK, nil
		}
		// --force helps only inside the service's own window (a short TEST
		// certificate before the client's narrower one); before it the
		// service refuses.
		hint := " (use --force to renew now)"
		if a.now().Before(renewal.WindowOpens(res.Previous.Cert.NotAfter, renewal.DefaultWindow)) {
			hint = ""
		}
		fmt.Fprintf(a.stdout, "not renewed: certificate %s is valid until %s; the renewal window opens %s%s\n",
			res.Previous.SerialText(), fmtTime(res.Previous.Cert.NotAfter), fmtTime(res.WindowOpens), hint)
		return exitOK, nil
	}
	out.Result, out.Certificate, out.Previous = "renewed", installedJSON(res.Installed), installedJSON(res.Previous)
	if *asJSON {
		return exitOK, nil
	}
	fmt.Fprintf(a.stdout, "renewed: certificate %s valid until %s replaces %s (archived in %s)\n",
		res.Installed.SerialText(), res.Installed.Cert.NotAfter.UTC().Format(time.RFC3339), res.Previous.SerialText(), res.Previous.Dir)
	return exitOK, nil
}
