package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/renewal"
)

func (a *app) cmdAbandon(ctx context.Context, args []string) error {
	fs, c := a.newFlagSet("abandon")
	force := fs.Bool("force", false, "give the request up even though the service may have issued a certificate for its key (a RetrievalId is known, an enrolment's certificate was delivered, or the request's answer was lost; never a renewal whose successor was delivered); only on the command line: IRPKI_FORCE and a config file's force, meant for irpki renew, do not apply")
	lockWait := fs.Duration("lock-wait", 0, "how long to wait for another irpki working in --dir (0: exit at once)")
	fs.Usage = cliconfig.Usage(fs, "irpki abandon --dir DIR [--force]",
		"Gives up the request pending in DIR (an enrolment or renewal that was interrupted,\n"+
			"or refused with a code that may not be final): DIR/pending.json, with the request's\n"+
			"key, is moved into DIR/archive/abandoned/, as irpki does with a request the service\n"+
			"refused for good. Nothing is sent to the service. A pending re-enrolment blocks the\n"+
			"renewal of the current certificate; once it is given up, renew and watch renew it,\n"+
			"with the settings it was enrolled with (a re-enrolment's own settings are undone).\n\n"+
			"It refuses (exit 1) a request for whose key the service may have issued a certificate,\n"+
			"and says what finishes it instead: one whose RetrievalId is known, one whose\n"+
			"certificate was delivered (saved in pending.json, not installed), or one whose answer\n"+
			"was lost (interrupted, not refused). --force gives it up all the same; that\n"+
			"certificate is then never installed.\n\n"+
			"A renewal whose successor was delivered (saved in pending.json, verified or not) is\n"+
			"never given up, not even with --force: the service counts that successor as\n"+
			"retrieved and refuses every later renewal of the current certificate. Fix\n"+
			"--issuer-trust / --trust and run irpki renew, which installs it; if it can never be\n"+
			"installed (it has expired), order a new certificate and run irpki enroll.\n\n"+
			"Exit codes: 0 given up, or nothing pending; 1 refused or failed; 2 bad flags.")
	if err := a.parse(fs, c, args); err != nil {
		return err
	}
	// Giving up a certificate the service may have issued is a decision
	// for this run only: IRPKI_FORCE or a shared config file's "force"
	// (set for irpki renew --force) must not make it.
	forced := false
	fs.Visit(func(f *flag.Flag) { forced = forced || (f.Name == "force" && *force) })
	m, err := a.manager(c, *lockWait)
	if err != nil {
		return err
	}
	res, err := m.Abandon(ctx, renewal.AbandonOptions{Force: forced})
	if err != nil {
		return err
	}
	if res == nil {
		fmt.Fprintf(a.stdout, "nothing to abandon: no request is pending in %s\n", m.Dir())
		return nil
	}
	what := "renewal"
	if res.Operation == "enroll" {
		what = "enrolment"
	}
	if res.Completed != "" {
		fmt.Fprintf(a.stdout, "the pending %s's certificate %s was already current: finished its installation (%s, %s, %s, %s)\n", what, res.Completed,
			filepath.Join(m.Dir(), renewal.CertFile), filepath.Join(m.Dir(), renewal.KeyFile), filepath.Join(m.Dir(), renewal.ChainFile), filepath.Join(m.Dir(), renewal.FullChainFile))
	}
	fmt.Fprintf(a.stdout, "abandoned the pending %s begun %s", what, fmtTime(res.Created))
	if res.Refused != nil {
		fmt.Fprintf(a.stdout, " (%s)", res.Refused)
	}
	fmt.Fprintf(a.stdout, ": moved %s to %s (its key is kept there)\n", filepath.Join(m.Dir(), "pending.json"), res.Path)
	if res.SettingsRestored {
		fmt.Fprintf(a.stdout, "restored the settings the current certificate was enrolled with in %s (the abandoned enrolment's endpoint, trust, key size and organisation no longer apply)\n", filepath.Join(m.Dir(), "settings.json"))
	}
	if res.MayHoldCertificate != "" {
		fmt.Fprintf(a.stderr, "irpki abandon: warning: the service may hold a certificate for that key (%s); it will not be installed; %s keeps the key and all else pending.json held\n",
			res.MayHoldCertificate, res.Path)
	}
	if st, err := m.Status(); err == nil {
		fmt.Fprintf(a.stdout, "state now: %s: %s\n", st.State, st.Message())
	}
	return nil
}
