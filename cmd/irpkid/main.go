// Command irpkid is the certificate service of the Incomes Register as an
// authority would run it, and as payroll-software vendors run it locally:
// the CA, the SOAP interface, and the operator commands.
//
//	irpkid serve                     start the service (SQLite and a CA in ./irpki-data)
//	irpkid org add --customer-id …   register an organisation
//	irpkid order --customer-id …     create a certificate order, print transfer credentials
//	irpkid certs                     list certificates
//	irpkid certs import FILE…        re-register certificates after a restore
//	irpkid backup --to DIR           back up the database and CA material
//	irpkid revoke --serial …         revoke a certificate
//	irpkid trust                     print the PEM trust bundle for clients
//	irpkid user add --email …        add an e-service account (password on stdin)
//	irpkid remind --once             send due expiry reminders (cron)
//	irpkid audit [--since 7d]        print the audit trail
//	irpkid ca rotate-signer          rotate the response-signing certificate
//
// Every flag has an IRPKI_… environment variable (--data-dir is
// IRPKI_DATA_DIR) and may be set in a JSON config file given by --config.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/irpki/irpki/internal/buildinfo"
	"github.com/irpki/irpki/internal/reqid"
)

const usage = `irpkid — the Incomes Register certificate service (CA, SOAP interface, operator tools)

Usage:
  irpkid serve   [flags]   run the service (creates the data directory and CA on first start)
  irpkid org add [flags]   register an organisation (business ID, name, contact e-mail)
  irpkid orgs    [flags]   list organisations
  irpkid order   [flags]   create a certificate order; prints TransferId and TransferPassword once
  irpkid certs   [flags]   list certificates
  irpkid certs import FILE…  re-register this CA's certificates the store lost (after a restore)
  irpkid backup --to DIR   consistent copy of the database (SQLite) and the CA material, with checksums
  irpkid revoke  [flags]   revoke a certificate
  irpkid trust   [flags]   print the PEM bundle clients use to verify responses and certificates
  irpkid user add [flags]  add an e-service account (representative or operator); password on stdin
  irpkid user disable|enable --email ADDR   turn an account off (its sessions end) or on again
  irpkid user password --email ADDR         set an account's new password (on stdin)
  irpkid users   [flags]   list e-service accounts
  irpkid remind --once     send the expiry reminders that are due (for cron; serve also runs them)
  irpkid audit   [flags]   print the audit trail (--since, --customer-id, --json)
  irpkid ca init --offline-dir DIR   create the CA with its root key offline (only what serve needs in --data-dir;
                 --pkcs11-token URI: the issuing and signing keys in an HSM; encrypted key files with a passphrase)
  irpkid ca encrypt-keys   encrypt the CA's plain key files with a passphrase (--key-passphrase-file)
  irpkid ca rotate-signer [--overlap 30d]   new response-signing certificate; trust holds both until the switch (--status, --finish)
  irpkid version           print the version

Run "irpkid COMMAND --help" for a command's flags. Every flag can also be set
by an environment variable (--data-dir: IRPKI_DATA_DIR) or in a JSON file
given with --config.
`

// build is the running build's version (module version, or VCS revision
// and time), printed by "version" and --help and exported as a metric.
var build = buildinfo.Read()

// help is the usage text with the version it describes.
func help() string { return usage + "\nThis is irpkid " + build.String() + ".\n" }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks errors after which usage was already printed.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, help())
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "org":
		if len(args) < 2 || args[1] != "add" {
			fmt.Fprintln(stderr, "irpkid org: the subcommand is \"add\": irpkid org add --customer-id ID --name NAME --contact-email ADDR")
			return 2
		}
		err = cmdOrgAdd(ctx, args[2:], stdout, stderr)
	case "orgs":
		err = cmdOrgs(ctx, args[1:], stdout, stderr)
	case "order":
		err = cmdOrder(ctx, args[1:], stdout, stderr)
	case "certs":
		if len(args) >= 2 && args[1] == "import" {
			err = cmdCertsImport(ctx, args[2:], stdout, stderr)
			break
		}
		err = cmdCerts(ctx, args[1:], stdout, stderr)
	case "backup":
		err = cmdBackup(ctx, args[1:], stdout, stderr)
	case "revoke":
		err = cmdRevoke(ctx, args[1:], stdout, stderr)
	case "trust":
		err = cmdTrust(ctx, args[1:], stdout, stderr)
	case "user":
		sub := ""
		if len(args) >= 2 {
			sub = args[1]
		}
		switch sub {
		case "add":
			err = cmdUserAdd(ctx, args[2:], stdout, stderr)
		case "disable", "enable", "password":
			err = cmdUserChange(ctx, sub, args[2:], stdout, stderr)
		default:
			fmt.Fprintln(stderr, "irpkid user: the subcommands are add, disable, enable and password, e.g. irpkid user add --email ADDR (--customer-id ID | --operator) < password")
			return 2
		}
	case "users":
		err = cmdUsers(ctx, args[1:], stdout, stderr)
	case "ca":
		switch {
		case len(args) >= 2 && args[1] == "init":
			err = cmdCAInit(ctx, args[2:], stdout, stderr)
		case len(args) >= 2 && args[1] == "encrypt-keys":
			err = cmdCAEncryptKeys(ctx, args[2:], stdout, stderr)
		case len(args) >= 2 && args[1] == "rotate-signer":
			err = cmdRotateSigner(ctx, args[2:], stdout, stderr)
		default:
			fmt.Fprintln(stderr, "irpkid ca: the subcommands are init, encrypt-keys and rotate-signer: irpkid ca init --offline-dir DIR --data-dir DATA, irpkid ca rotate-signer [--overlap 30d | --status | --finish]")
			return 2
		}
	case "audit":
		err = cmdAudit(ctx, args[1:], stdout, stderr)
	case "remind":
		err = cmdRemind(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "irpkid", build.String())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, help())
	default:
		fmt.Fprintf(stderr, "irpkid: unknown command %q\n\n%s", args[0], help())
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		// An error from a package named like the command ("ca: …" from
		// internal/ca under "irpkid ca") names it once, not twice.
		msg := strings.TrimPrefix(err.Error(), args[0]+": ")
		fmt.Fprintf(stderr, "irpkid %s: %s\n", args[0], msg)
		return 1
	}
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(reqid.NewHandler(slog.NewTextHandler(w, opts))), nil
	case "json":
		return slog.New(reqid.NewHandler(slog.NewJSONHandler(w, opts))), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}
