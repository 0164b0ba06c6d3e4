package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/atomicfile"
	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/renewal"
)

// watchConfig are the watch command's settings.
type watchConfig struct {
	hook          string
	hookTimeout   time.Duration
	metricsAddr   string
	checkInterval time.Duration
	retryInitial  time.Duration
	retryMax      time.Duration
	once          bool
}

func (a *app) cmdWatch(ctx context.Context, args []string) int {
	fs, c := a.newFlagSetDirs("watch")
	var wc watchConfig
	fs.StringVar(&wc.hook, "deploy-hook", "", "command run by the shell ("+hookShell+") after each successful renewal, with IRPKI_CERT_FILE, IRPKI_KEY_FILE, IRPKI_CHAIN_FILE, IRPKI_FULLCHAIN_FILE, IRPKI_SERIAL, IRPKI_NOT_AFTER, IRPKI_DIR in its environment")
	fs.DurationVar(&wc.hookTimeout, "deploy-hook-timeout", 5*time.Minute, "how long the deploy hook may run")
	fs.StringVar(&wc.metricsAddr, "metrics", "", "serve Prometheus metrics on this address at /metrics, e.g. 127.0.0.1:9591")
	fs.DurationVar(&wc.checkInterval, "check-interval", time.Hour, "how often to look at the certificate (it also wakes up at the renewal moment)")
	fs.DurationVar(&wc.retryInitial, "retry-initial", time.Minute, "wait after a failed renewal; doubles on each failure; each wait is random between half of it and all of it, so that installations do not retry in step")
	fs.DurationVar(&wc.retryMax, "retry-max", time.Hour, "longest wait between failed renewals (before the random reduction)")
	fs.BoolVar(&wc.once, "once", false, "check once, renew if due, run the hook, and exit (for a systemd timer or cron)")
	lockWait := fs.Duration("lock-wait", time.Minute, "how long to wait for another irpki working in --dir")
	fs.Usage = cliconfig.Usage(fs, "irpki watch --dir DIR [--dir DIR2 ...] [--deploy-hook CMD] [--metrics ADDR] [--check-interval 1h] [--once]",
		"Keeps the certificate renewed: checks at start and every --check-interval, and renews\n"+
			"at a moment early in the renewal window that is random per certificate (so that a\n"+
			"fleet does not renew at once). Failures are retried with exponential backoff from\n"+
			"--retry-initial up to --retry-max, each wait jittered. After each successful renewal\n"+
			"it runs --deploy-hook. Stops cleanly on SIGTERM or SIGINT.\n\n"+
			"Several --dir (one organisation's certificates, or a service bureau's customers) are\n"+
			"watched in one process, each on its own (checks, renewals, backoff, hook with its\n"+
			"IRPKI_DIR); every metric has the label dir, and log lines name their directory.\n\n"+
			"With --once it checks, renews if due, and exits: 0 nothing to do or renewed;\n"+
			"1 renewal or deploy hook failed (run again later: it resumes), or renewal is due\n"+
			"but blocked by a pending enrolment (irpki enroll --dir DIR finishes it); 2 bad flags;\n"+
			"3 expired, revoked or no certificate: order a new certificate and run irpki enroll.\n"+
			"With several directories, the worst of theirs: 3, else 1, else 0.")
	if err := a.parse(fs, c, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		if errors.Is(err, errUsage) {
			return exitUsage
		}
		return a.exit("watch", err)
	}
	if wc.checkInterval <= 0 || wc.retryInitial <= 0 || wc.retryMax < wc.retryInitial || wc.hookTimeout <= 0 {
		fmt.Fprintln(a.stderr, "irpki watch: --check-interval, --retry-initial and --deploy-hook-timeout must be positive, --retry-max at least --retry-initial")
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(a.stderr, nil))
	set := newMetricSet()
	var watchers []*watcher
	seen := map[string]bool{}
	for _, dir := range c.dirs {
		wlog := log
		if len(c.dirs) > 1 {
			wlog = log.With("dir", dir)
		}
		m, err := renewal.Open(dir, renewal.Options{
			Now: a.now, Sleep: a.sleep, HTTPClient: a.httpClient, UserAgent: userAgent(), LockWait: *lockWait, Log: wlog,
			Progress: func(e renewal.Event) { wlog.Info(e.Message) },
		})
		if err != nil {
			return a.exit("watch", err)
		}
		if seen[m.Dir()] {
			return a.exit("watch", badFlags{fmt.Errorf("--dir %s is given twice", m.Dir())})
		}
		seen[m.Dir()] = true
		if _, err := m.Settings(); err != nil {
			return a.exit("watch", err)
		}
		watchers = append(watchers, &watcher{app: a, m: m, cfg: wc, log: wlog, met: set.forDir(m.Dir())})
	}
	if wc.metricsAddr != "" {
		stop, err := serveMetrics(wc.metricsAddr, set.reg, log)
		if err != nil {
			return a.exit("watch", err)
		}
		defer stop()
	}
	if len(watchers) == 1 {
		return watchers[0].run(ctx)
	}
	// Each directory is watched on its own: its own checks, renewals,
	// backoff and hook; one failing does not hold up the others. With
	// --once the exit code is the worst of theirs.
	codes := make([]int, len(watchers))
	var wg sync.WaitGroup
	for i, w := range watchers {
		wg.Go(func() { codes[i] = w.run(ctx) })
	}
	wg.Wait()
	return worstExit(codes)
}

// worstExit is the exit code of several directories' runs: 3 (order a new
// certificate) over 1 (failed) over 0.
func worstExit(codes []int) int {
	worst := exitOK
	for _, c := range codes {
		if c == exitNewOrder || (c == exitError && worst == exitOK) {
			worst = c
		}
	}
	return worst
}

type watcher struct {
	app *app
	m   *renewal.Manager
	cfg watchConfig
	log *slog.Logger
	met *metrics
}

// deployedFile is DIR/deployed: the serial of the last certificate the
// deploy hook succeeded for. A certificate installed since (by watch, by
// irpki renew, or by a re-enrolment) gets the hook at the next check, so a
// hook that failed, or a run killed between the renewal and the hook, is
// retried by the next run, also with --once.
const deployedFile = "deployed"

// deployCurrent runs the deploy hook for the current certificate unless it
// already succeeded for it. A directory without the file is taken as
// deployed as it stands: the certificate it was enrolled with was put in
// place by hand.
func (w *watcher) deployCurrent(ctx context.Context) error {
	cur, err := w.m.Current()
	if err != nil || cur == nil {
		return err
	}
	path := filepath.Join(w.m.Dir(), deployedFile)
	b, err := w.m.ReadStateFile(deployedFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return atomicfile.WriteFile(path, []byte(cur.Serial()+"\n"), 0o600)
	case err != nil:
		return err
	case strings.TrimSpace(string(b)) == cur.Serial():
		return nil
	}
	return w.deploy(ctx, cur)
}

func (w *watcher) run(ctx context.Context) int {
	w.log.Info("irpki watch started", "dir", w.m.Dir(), "check_interval", w.cfg.checkInterval, "once", w.cfg.once)
	failures := 0
	for {
		wait, code := w.check(ctx, &failures)
		if w.cfg.once || ctx.Err() != nil {
			if ctx.Err() != nil {
				w.log.Info("irpki watch stopping")
				return exitOK
			}
			return code
		}
		w.log.Info("next check", "in", wait.Round(time.Second), "at", w.app.now().Add(wait).UTC().Format(time.RFC3339))
		if err := w.app.sleep(ctx, wait); err != nil {
			w.log.Info("irpki watch stopping")
			return exitOK
		}
	}
}

// check looks at the certificate once, renews it if due, and returns how
// long to wait before the next check and the exit code a one-shot run has.
func (w *watcher) check(ctx context.Context, failures *int) (time.Duration, int) {
	// The backoff doubles per failure in a row and is jittered (see
	// client.Jitter): installations that failed in the same outage do not
	// all retry at the same instant.
	backoff := func() time.Duration {
		*failures++
		d := w.cfg.retryInitial
		for i := 1; i < *failures && d < w.cfg.retryMax; i++ {
			d *= 2
		}
		jitter := w.app.jitter
		if jitter == nil {
			jitter = client.Jitter
		}
		return jitter(min(d, w.cfg.retryMax))
	}
	// A hook that keeps failing is retried with the backoff, but does not
	// keep a due renewal from happening.
	hookErr := w.deployCurrent(ctx)
	if hookErr != nil {
		w.log.Error("deploy", "err", hookErr)
	}
	ok := func(wait time.Duration) (time.Duration, int) {
		if hookErr != nil {
			return min(wait, backoff()), exitError
		}
		return wait, exitOK
	}
	// failed is a check that failed: look again after wait, sooner if the
	// hook is failing too.
	failed := func(wait time.Duration) (time.Duration, int) {
		if hookErr != nil {
			wait = min(wait, backoff())
		}
		return wait, exitError
	}
	if _, err := w.m.CheckRevocation(ctx); err != nil && !errors.Is(err, renewal.ErrNoCRL) {
		w.log.Warn("could not check the revocation list", "err", err)
	}
	st, err := w.m.Status()
	if err != nil {
		w.log.Error("cannot read the state directory", "err", err)
		return backoff(), exitError
	}
	w.met.observe(st)
	now := w.app.now()
	// What is due is renewal.Next's to decide; the watcher says it, and
	// waits, renews or fails accordingly.
	switch d := st.Next(now); d.Action {
	case renewal.ActionOrder:
		w.log.Error("no usable certificate", "state", st.State, "what_to_do", st.Message())
		return w.cfg.checkInterval, exitNewOrder
	case renewal.ActionBlocked:
		if d.Reason == renewal.ReasonEnrollmentPending {
			// Only irpki enroll finishes it (it may need the password),
			// and no new order is needed.
			w.log.Error("no usable certificate: an interrupted enrolment is pending", "state", st.State, "what_to_do", st.Message())
			return w.cfg.checkInterval, exitError
		}
		// Renew refuses while an enrolment is pending, and only a person
		// clears it: say so, without calling it, and look again at the
		// renewal moment.
		wait := w.cfg.checkInterval
		if !d.At.IsZero() {
			wait = min(wait, d.At.Sub(now))
		}
		if d.Failing {
			w.log.Error("renewal of the current certificate is blocked by a pending enrolment", "serial", st.Serial, "not_after", st.NotAfter, "renew_at", st.RenewAt, "what_to_do", st.Message())
			return failed(wait)
		}
		w.log.Warn("certificate valid; not due; but its renewal is blocked by a pending enrolment", "serial", st.Serial, "not_after", st.NotAfter, "renew_at", st.RenewAt, "what_to_do", st.Message())
		return ok(wait)
	case renewal.ActionWait:
		wait := min(w.cfg.checkInterval, d.At.Sub(now))
		if d.Failing {
			w.log.Error("the service refused the renewal request; backing off", "refusal", st.Refused.String(), "refusals", st.Refused.Count, "retry_at", st.Refused.RetryAt)
			return failed(wait)
		}
		w.log.Info("certificate valid; not due", "serial", st.Serial, "not_after", st.NotAfter, "renew_at", st.RenewAt)
		if d.Reason == renewal.ReasonRefusedNotDue {
			w.log.Warn("the pending renewal request was refused; it is sent again once due", "refusal", st.Refused.String())
		}
		return ok(wait)
	}
	w.log.Info("renewing", "serial", st.Serial, "not_after", st.NotAfter, "pending", st.Pending)
	w.met.attempt(now)
	res, err := w.m.Renew(ctx, renewal.RenewOptions{})
	if err != nil {
		w.met.result(false)
		if ctx.Err() != nil {
			return 0, exitError
		}
		if needsNewOrder(err) {
			w.log.Error("renewal impossible", "err", err)
			if st, serr := w.m.Status(); serr == nil {
				w.met.observe(st)
			}
			return w.cfg.checkInterval, exitNewOrder
		}
		d := backoff()
		w.log.Error("renewal failed; will retry", "err", err, "failures", *failures, "retry_in", d)
		return d, exitError
	}
	if !res.Renewed && !res.RetryAt.IsZero() {
		// Another run was refused after the status above was read (Renew
		// decides under the lock): back off as from a refusal seen in
		// the status, failing like irpki renew does.
		wait := min(w.cfg.checkInterval, max(res.RetryAt.Sub(w.app.now()), 0))
		w.log.Error("the service refused the renewal request; backing off", "refusal", res.Refused.String(), "refusals", res.Refused.Count, "retry_at", res.RetryAt)
		return failed(wait)
	}
	if !res.Renewed {
		// The window is not open after all (e.g. a fresh certificate was
		// enrolled meanwhile): look again at the renewal moment.
		*failures = 0
		return ok(w.cfg.checkInterval)
	}
	*failures = 0
	w.met.result(true)
	w.log.Info("renewed", "serial", res.Installed.SerialText(), "not_after", res.Installed.Cert.NotAfter, "previous", res.Previous.SerialText())
	if st, err := w.m.Status(); err == nil {
		w.met.observe(st)
	}
	if err := w.deploy(ctx, res.Installed); err != nil {
		return backoff(), exitError
	}
	return 0, exitOK
}

// deploy runs the deploy hook for a newly installed certificate and, once
// it succeeded, records the certificate as deployed.
func (w *watcher) deploy(ctx context.Context, inst *renewal.Installed) error {
	if w.cfg.hook == "" {
		return w.markDeployed(inst)
	}
	cert, key, chain, full := inst.Files()
	hctx, cancel := context.WithTimeout(ctx, w.cfg.hookTimeout)
	defer cancel()
	cmd := hookCommand(hctx, w.cfg.hook)
	// The watcher's own IRPKI_ settings are not passed on: they would be
	// read as the flags of an irpki command the hook runs (an IRPKI_CONFIG
	// of watch's flags makes irpki export refuse its unknown keys).
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IRPKI_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"IRPKI_CERT_FILE="+cert,
		"IRPKI_KEY_FILE="+key,
		"IRPKI_CHAIN_FILE="+chain,
		"IRPKI_FULLCHAIN_FILE="+full,
		"IRPKI_SERIAL="+inst.SerialText(),
		"IRPKI_NOT_AFTER="+inst.Cert.NotAfter.UTC().Format(time.RFC3339),
		"IRPKI_DIR="+w.m.Dir(),
	)
	cmd.Stdout, cmd.Stderr = w.app.stderr, w.app.stderr
	err := cmd.Run()
	w.met.hook(err == nil)
	if err != nil {
		w.log.Error("deploy hook failed; will retry", "err", err)
		return err
	}
	w.log.Info("deploy hook done", "serial", inst.SerialText())
	return w.markDeployed(inst)
}

func (w *watcher) markDeployed(inst *renewal.Installed) error {
	return atomicfile.WriteFile(filepath.Join(w.m.Dir(), deployedFile), []byte(inst.Serial()+"\n"), 0o600)
}
