package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/renewal"
)

func (a *app) cmdEnroll(ctx context.Context, args []string) int {
	var out runJSON
	f, err := a.parseEnrollFlags(args)
	if err == nil {
		err = a.enroll(ctx, f, &out)
	}
	code := a.exit("enroll", err)
	if f.asJSON {
		out.ExitCode = code
		a.printJSON(&out, err)
	}
	return code
}

// enrollFlags are irpki enroll's flags.
type enrollFlags struct {
	common
	asJSON       bool
	customerID   string
	organization string
	transferID   string
	pwFile       string
	pwStdin      bool
	pwArg        string
	argvPassword bool // --transfer-password was given on the command line, not by the environment or config file
	endpoint     string
	service      string
	localURL     string
	environment  string
	trust        string
	issuerTrust  string
	keySize      int
	lockWait     time.Duration
}

// parseEnrollFlags parses irpki enroll's flags. The flags it returns are
// never nil: --json, once parsed, says how to report a later error too.
func (a *app) parseEnrollFlags(args []string) (*enrollFlags, error) {
	fs, c := a.newFlagSet("enroll")
	f := &enrollFlags{}
	fs.BoolVar(&f.asJSON, "json", false, "print the outcome as one JSON object on standard output (result, certificate, files, error, exit_code), for scripts")
	fs.StringVar(&f.customerID, "customer-id", "", "the organisation's business ID, e.g. 1234567-8 (the certificate's CN)")
	fs.StringVar(&f.organization, "organization", "", "the organisation's name, for the CSR's O and CustomerName (optional)")
	fs.StringVar(&f.transferID, "transfer-id", "", "TransferId of the order (from the e-service delivery)")
	fs.StringVar(&f.pwFile, "transfer-password-file", "", "file holding the TransferPassword")
	fs.BoolVar(&f.pwStdin, "transfer-password-stdin", false, "read the TransferPassword from the first line of standard input")
	fs.StringVar(&f.pwArg, "transfer-password", "", "the TransferPassword (discouraged on the command line: others can see it; prefer the file, stdin or IRPKI_TRANSFER_PASSWORD)")
	fs.StringVar(&f.endpoint, "endpoint", "", "URL of the certificate service: https://, or http:// to irpkid on this machine")
	fs.StringVar(&f.service, "service", "", "preset endpoint: test (pkiws-testi.vero.fi), production (pkiws.vero.fi) or local (irpkid on this machine, at --local-url)")
	fs.StringVar(&f.localURL, "local-url", EndpointLocal, "where irpkid serves, for --service local: its SOAP endpoint URL, as irpkid serve prints it at start-up")
	fs.StringVar(&f.environment, "environment", "", "TEST or PRODUCTION (default: the --service's, else TEST)")
	fs.StringVar(&f.trust, "trust", "", "PEM trust bundle the service's response signatures must chain to (irpkid trust; for the real service the Tax Administration's \"IR Services\" CA chain)")
	fs.StringVar(&f.issuerTrust, "issuer-trust", "", "PEM bundle the delivered certificate must chain to, if not the --trust bundle: for the real service the \"Data Providers Issuing CA v1\" chain (TEST: \"Data Providers Test Issuing CA v1\"), which issues organisation certificates; not needed for irpkid")
	fs.IntVar(&f.keySize, "key-size", 0, "RSA key size (default 2048, the only size the real service supports; 3072 or 4096 only for an irpkid whose --rsa-key-sizes allows them)")
	fs.DurationVar(&f.lockWait, "lock-wait", 0, "how long to wait for another irpki working in --dir (0: exit at once)")
	fs.Usage = cliconfig.Usage(fs,
		"irpki enroll --dir DIR --customer-id ID --transfer-id X (--transfer-password-file F | --transfer-password-stdin) (--service test|production|local | --endpoint URL) --trust FILE [--issuer-trust FILE]",
		"Enrols with a certificate order's one-time transfer credentials: makes a new key pair\n"+
			"(saved before anything is sent), sends SignNewCertificate, fetches the certificate\n"+
			"with GetCertificate (waiting with backoff until it is ready), verifies it and\n"+
			"installs it in DIR. The settings are saved in DIR, so later commands need only --dir.\n"+
			"An interrupted enrolment resumes when run again; once the service has answered,\n"+
			"only --dir is needed to finish it. One the service refused with a code that may not\n"+
			"be final is kept and sent again (same key) only when enroll is run again with its\n"+
			"TransferPassword; enrolling with new credentials abandons it.\n\n"+
			"For the real service, --trust is the \"IR Services\" CA chain (it signs the responses)\n"+
			"and --issuer-trust the \"Data Providers (Test) Issuing CA v1\" chain (it issues the\n"+
			"certificate). For irpkid, irpkid trust serves both: give it as --trust alone.")
	if err := a.parse(fs, c, args); err != nil {
		return f, err
	}
	f.common = *c
	fs.Visit(func(fl *flag.Flag) { f.argvPassword = f.argvPassword || fl.Name == "transfer-password" })
	return f, nil
}

// settings returns the settings to enrol with: the flags over the saved
// ones (re-enrolling needs only the new credentials), with defaults, or a
// bad-flags error saying what is missing or wrong.
func (f *enrollFlags) settings(saved renewal.Settings, stderr io.Writer) (renewal.Settings, error) {
	s := saved
	ep, env, err := resolveService(f.endpoint, f.service, f.environment, f.localURL)
	if err != nil {
		return s, badFlags{err}
	}
	if ep != "" {
		s.Endpoint = ep
	}
	if env != "" {
		s.Environment = env
	}
	if s.Environment == "" {
		s.Environment = "TEST"
	}
	set := func(to *string, v string) {
		if v != "" {
			*to = v
		}
	}
	set(&s.CustomerID, f.customerID)
	set(&s.Organization, f.organization)
	set(&s.Trust, f.trust)
	set(&s.IssuerTrust, f.issuerTrust)
	if f.keySize != 0 {
		s.KeySize = f.keySize
	}
	if s.KeySize == 0 {
		s.KeySize = 2048
	}
	var missing []string
	if s.CustomerID == "" {
		missing = append(missing, "--customer-id")
	}
	if s.Endpoint == "" {
		missing = append(missing, "--service or --endpoint")
	}
	if s.Trust == "" {
		missing = append(missing, "--trust (irpkid trust > trust.pem; for the real service the IR Services CA chain)")
	}
	if len(missing) > 0 {
		return s, badFlags{fmt.Errorf("missing %s", strings.Join(missing, ", "))}
	}
	if s.KeySize != 2048 && s.KeySize != 3072 && s.KeySize != 4096 {
		return s, badFlags{fmt.Errorf("--key-size %d: use 2048 (the only size the real service supports), or 3072 or 4096 for an irpkid that allows them", s.KeySize)}
	}
	if err := checkKeySize(stderr, s.KeySize, s.Endpoint); err != nil {
		return s, badFlags{err}
	}
	return s, nil
}

// readTransferPassword reads the TransferPassword from the one place the
// flags name (a file, the first line of standard input, or the flag
// itself, with a warning when it was given on the command line); "" when
// none is named.
func (a *app) readTransferPassword(f *enrollFlags) (string, error) {
	sources := 0
	for _, set := range []bool{f.pwFile != "", f.pwStdin, f.pwArg != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources > 1:
		return "", badFlags{errors.New("give the TransferPassword one way: --transfer-password-file, --transfer-password-stdin or --transfer-password")}
	case f.pwFile != "":
		b, err := os.ReadFile(f.pwFile)
		if err != nil {
			return "", fmt.Errorf("--transfer-password-file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	case f.pwStdin:
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("--transfer-password-stdin: nothing on standard input")
		}
		return strings.TrimSpace(line), nil
	case f.pwArg != "":
		if f.argvPassword {
			fmt.Fprintln(a.stderr, "irpki: warning: a password on the command line is visible to other users (ps) and kept in shell history; use --transfer-password-file, --transfer-password-stdin or IRPKI_TRANSFER_PASSWORD")
		}
		return f.pwArg, nil
	}
	return "", nil
}

// credentials returns the credentials to enrol with: the TransferId of
// the flags or of the interrupted enrolment in the directory, and the
// password read, which an enrolment whose RetrievalId is known does not
// need. Without what it needs, a bad-flags error says what to give.
func (a *app) credentials(m *renewal.Manager, f *enrollFlags) (renewal.Credentials, error) {
	pendingID, resumable, err := m.PendingEnrollment()
	if err != nil {
		return renewal.Credentials{}, err
	}
	pw, err := a.readTransferPassword(f)
	if err != nil {
		return renewal.Credentials{}, err
	}
	cred := renewal.Credentials{TransferID: f.transferID, TransferPassword: pw}
	if cred.TransferID == "" && pendingID != "" {
		// An interrupted enrolment names its TransferId: resuming it
		// needs at most the password.
		cred.TransferID = pendingID
	}
	if resumable && cred.TransferID == pendingID {
		fmt.Fprintf(a.stderr, "irpki: an interrupted enrolment (TransferId %s) is waiting for its certificate; finishing it\n", pendingID)
		return cred, nil
	}
	if cred.TransferID == "" {
		return cred, badFlags{errors.New("--transfer-id is required (the TransferId of the order)")}
	}
	if cred.TransferPassword != "" {
		return cred, nil
	}
	if cred.TransferID == pendingID {
		if st, err := m.Status(); err == nil && st.Refused != nil {
			return cred, badFlags{fmt.Errorf("an interrupted enrolment (TransferId %s): %s; to send it again, run again with its TransferPassword (--transfer-password-file F, --transfer-password-stdin or IRPKI_TRANSFER_PASSWORD); if the refusal says these credentials cannot be used, order a new certificate and enrol with the new --transfer-id", pendingID, st.Refused)}
		}
		return cred, badFlags{fmt.Errorf("an interrupted enrolment (TransferId %s) was sent without an answer; run again with its TransferPassword (--transfer-password-file F, --transfer-password-stdin or IRPKI_TRANSFER_PASSWORD): the same key is sent again, no second certificate is issued", pendingID)}
	}
	return cred, badFlags{errors.New("the TransferPassword is required: --transfer-password-file F, --transfer-password-stdin or IRPKI_TRANSFER_PASSWORD")}
}

// enroll is irpki enroll with parsed flags: the settings, the credentials,
// and the enrolment; with --json it fills out instead of printing.
func (a *app) enroll(ctx context.Context, f *enrollFlags, out *runJSON) error {
	m, err := a.manager(&f.common, f.lockWait)
	if err != nil {
		return err
	}
	saved, err := m.Settings()
	if err != nil && !errors.Is(err, renewal.ErrNoSettings) {
		return err
	}
	s, err := f.settings(saved, a.stderr)
	if err != nil {
		return err
	}
	cred, err := a.credentials(m, f)
	if err != nil {
		return err
	}
	out.Dir = m.Dir()
	inst, err := m.Enroll(ctx, s, cred)
	if err != nil {
		return err
	}
	if f.asJSON {
		out.Result, out.Certificate = "enrolled", installedJSON(inst)
		return nil
	}
	fmt.Fprintf(a.stdout, "enrolled: certificate %s for %s, valid until %s\n", inst.SerialText(), inst.Cert.Subject.CommonName, inst.Cert.NotAfter.UTC().Format(time.RFC3339))
	fmt.Fprintf(a.stdout, "files: %s, key.pem, chain.pem, fullchain.pem\n", filepath.Join(m.Dir(), renewal.CertFile))
	return nil
}

// checkKeySize refuses a key size other than 2048 for the real service,
// which states that it supports only 2048-bit RSA keys, and says so on w
// when one is asked of another service (irpkid refuses it too unless its
// --rsa-key-sizes allows it).
func checkKeySize(w io.Writer, bits int, endpoint string) error {
	if bits == 2048 {
		return nil
	}
	if endpoint == client.EndpointProduction || endpoint == client.EndpointTest {
		return fmt.Errorf("--key-size %d: the real certificate service supports only 2048-bit RSA keys; leave --key-size out", bits)
	}
	fmt.Fprintf(w, "irpki: note: generating RSA-%d as asked; the real certificate service supports only 2048-bit RSA keys, and irpkid accepts others only when its --rsa-key-sizes allows them\n", bits)
	return nil
}
