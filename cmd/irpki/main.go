// Command irpki is the organisation's side of the Incomes Register
// certificate service: it enrols with an order's one-time transfer
// credentials, renews the certificate by itself inside the 60-day window,
// reports its state for monitoring, and exports it for Java and .NET
// software. It works against irpkid and against the Tax Administration's
// real endpoints.
//
//	irpki enroll --dir DIR --customer-id ID --transfer-id X --transfer-password-file F --service test --trust CA.pem
//	irpki status --dir DIR [--json]      exit 0 valid, 1 renew now, 2 expired/revoked/none
//	irpki renew  --dir DIR [--force]
//	irpki watch  --dir DIR [--deploy-hook CMD] [--metrics ADDR] [--once]
//	irpki export --dir DIR --pkcs12 FILE --password-file F | --pem-chain FILE
//	irpki abandon --dir DIR [--force]
//
// Every flag has an IRPKI_… environment variable (--dir is IRPKI_DIR) and
// may be set in a JSON config file given by --config. The state directory's
// layout is described in package renewal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/irpki/irpki/internal/buildinfo"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/renewal"
)

const usage = `irpki — enrol and renew the organisation's Incomes Register certificate

Usage:
  irpki enroll [flags]   new key pair, CSR, SignNewCertificate with the order's transfer
                         credentials, fetch, verify and install the certificate
  irpki renew  [flags]   renew inside the renewal window (60 days before expiry)
  irpki status [flags]   show the certificate and its state; exit code for monitoring
  irpki watch  [flags]   keep renewing by itself; deploy hook; Prometheus metrics
  irpki export [flags]   write PKCS#12 (Java, .NET) or a PEM chain
  irpki abandon [flags]  give up the pending enrolment or renewal (its key is kept in
                         DIR/archive/abandoned/)
  irpki version          print the version

Run "irpki COMMAND --help" for a command's flags. Every flag can also be set
by an environment variable (--dir: IRPKI_DIR) or in a JSON file given with
--config. After enroll, the other commands need only --dir.
`

// build is the running build's version (module version, or VCS revision
// and time), printed by "version" and --help and exported as a metric.
var build = buildinfo.Read()

// help is the usage text with the version it describes.
func help() string { return usage + "\nThis is irpki " + build.String() + ".\n" }

// app is the command's world: its streams, environment and clock. Tests
// replace the clock and sleeper to move time without waiting.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
	now            func() time.Time
	sleep          func(ctx context.Context, d time.Duration) error
	httpClient     *http.Client
	// jitter turns a retry backoff step into the wait slept; nil is
	// client.Jitter (random, between half the step and all of it).
	jitter func(time.Duration) time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookupEnv: os.LookupEnv, now: time.Now, sleep: clock.Sleep}
	code := a.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// Exit codes of enroll, renew, export, watch and abandon; status has its own.
const (
	exitOK       = 0
	exitError    = 1 // failed; running again later may succeed (it resumes)
	exitUsage    = 2 // bad flags
	exitNewOrder = 3 // expired, revoked or no certificate: order a new one and enroll
)

// errUsage marks errors after which usage was already printed.
var errUsage = errors.New("usage")

// badFlags marks a mistake in the flags: printed, then exit code 2.
type badFlags struct{ error }

func (e badFlags) Unwrap() error { return e.error }

func (a *app) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, help())
		return exitUsage
	}
	switch args[0] {
	case "enroll", "enrol":
		return a.cmdEnroll(ctx, args[1:])
	case "renew":
		return a.cmdRenew(ctx, args[1:])
	case "status":
		return a.cmdStatus(ctx, args[1:])
	case "watch":
		return a.cmdWatch(ctx, args[1:])
	case "export":
		return a.exit("export", a.cmdExport(ctx, args[1:]))
	case "abandon":
		return a.exit("abandon", a.cmdAbandon(ctx, args[1:]))
	case "version", "--version":
		fmt.Fprintln(a.stdout, "irpki", build.String())
		return exitOK
	case "help", "-h", "--help":
		if len(args) > 1 && args[0] == "help" && args[1] != "help" {
			// irpki help COMMAND is irpki COMMAND --help.
			return a.run(ctx, []string{args[1], "--help"})
		}
		fmt.Fprint(a.stdout, help())
		return exitOK
	}
	fmt.Fprintf(a.stderr, "irpki: unknown command %q\n\n%s", args[0], help())
	return exitUsage
}

// exit prints err and maps it to an exit code.
func (a *app) exit(cmd string, err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	}
	fmt.Fprintf(a.stderr, "irpki %s: %v\n", cmd, err)
	if errors.As(err, new(badFlags)) {
		return exitUsage
	}
	if errors.Is(err, renewal.ErrNoDirectory) {
		return exitError // a mistyped --dir, not a reason to order anew
	}
	if needsNewOrder(err) {
		return exitNewOrder
	}
	return exitError
}
