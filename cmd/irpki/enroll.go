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
	var asJSON bool
	var out runJSON
	err := a.enroll(ctx, args, &asJSON, &out)
	code := a.exit("enroll", err)
	if asJSON {
		out.ExitCode = code
		a.printJSON(&out, err)
	}
	return code
}

// enroll is irpki enroll; with --json it fills out instead of printing.
func (a *app) enroll(ctx context.Context, args []string, asJSON *bool, out *runJSON) error {
	fs, c := a.newFlagSet("enroll")
	fs.BoolVar(asJSON, "json", false, "print the outcome as one JSON object on standard output (result, certificate, files, error, exit_code), for scripts")
	customerID := fs.String("customer-id", "", "the organisation's business ID, e.g. 1234567-8 (the certificate's CN)")
	org := fs.String("organization", "", "the organisation's name, for the CSR's O and CustomerName (optional)")
	transferID := fs.String("transfer-id", "", "TransferId of the order (from the e-service delivery)")
	pwFile := fs.String("transfer-password-file", "", "file holding the TransferPassword")
	pwStdin := fs.Bool("transfer-password-stdin", false, "read the TransferPassword from the first line of standard input")
	pwArg := fs.String("transfer-password", "", "the TransferPassword (discouraged on the command line: others can see it; prefer the file, stdin or IRPKI_TRANSFER_PASSWORD)")
	endpoint := fs.String("endpoint", "", "URL of the certificate service: https://, or http:// to irpkid on this machine")
	svc := fs.String("service", "", "preset endpoint: test (pkiws-testi.vero.fi), production (pkiws.vero.fi) or local (irpkid on this machine, at --local-url)")
	localURL := fs.String("local-url", EndpointLocal, "where irpkid serves, for --service local: its SOAP endpoint URL, as irpkid serve prints it at start-up")
	environment := fs.String("environment", "", "TEST or PRODUCTION (default: the --service's, else TEST)")
	trust := fs.String("trust", "", "PEM trust bundle the service's response signatures must chain to (irpkid trust; for the real service the Tax Administration's \"IR Services\" CA chain)")
	issuerTrust := fs.String("issuer-trust", "", "PEM bundle the delivered certificate must chain to, if not the --trust bundle: for the real service the \"Data Providers Issuing CA v1\" chain (TEST: \"Data Providers Test Issuing CA v1\"), which issues organisation certificates; not needed for irpkid")
	keySize := fs.Int("key-size", 0, "RSA key size (default 2048, the only size the real service supports; 3072 or 4096 only for an irpkid whose --rsa-key-sizes allows them)")
	lockWait := fs.Duration("lock-wait", 0, "how long to wait for another irpki working in --dir (0: exit at once)")
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
		return err
	}
	argvPassword := false
	fs.Visit(func(f *flag.Flag) { argvPassword = argvPassword || f.Name == "transfer-password" })

	m, err := a.manager(c, *lockWait)
	if err != nil {
		return err
	}
	// Start from the saved settings, if any: re-enrolling needs only the
	// new credentials.
	s, serr := m.Settings()
	if serr != nil && !errors.Is(serr, renewal.ErrNoSettings) {
		return serr
	}
	ep, env, err := resolveService(*endpoint, *svc, *environment, *localURL)
	if err != nil {
		return badFlags{err}
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
	if *customerID != "" {
		s.CustomerID = *customerID
	}
	if *org != "" {
		s.Organization = *org
	}
	if *trust != "" {
		s.Trust = *trust
	}
	if *issuerTrust != "" {
		s.IssuerTrust = *issuerTrust
	}
	if *keySize != 0 {
		s.KeySize = *keySize
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
		return badFlags{fmt.Errorf("missing %s", strings.Join(missing, ", "))}
	}
	if s.KeySize != 2048 && s.KeySize != 3072 && s.KeySize != 4096 {
		return badFlags{fmt.Errorf("--key-size %d: use 2048 (the only size the real service supports), or 3072 or 4096 for an irpkid that allows them", s.KeySize)}
	}
	if err := checkKeySize(a.stderr, s.KeySize, s.Endpoint); err != nil {
		return badFlags{err}
	}

	pendingID, resumable, err := m.PendingEnrollment()
	if err != nil {
		return err
	}
	cred := renewal.Credentials{TransferID: *transferID}
	sources := 0
	for _, set := range []bool{*pwFile != "", *pwStdin, *pwArg != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources > 1:
		return badFlags{errors.New("give the TransferPassword one way: --transfer-password-file, --transfer-password-stdin or --transfer-password")}
	case *pwFile != "":
		b, err := os.ReadFile(*pwFile)
		if err != nil {
			return fmt.Errorf("--transfer-password-file: %w", err)
		}
		cred.TransferPassword = strings.TrimSpace(string(b))
	case *pwStdin:
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("--transfer-password-stdin: nothing on standard input")
		}
		cred.TransferPassword = strings.TrimSpace(line)
	case *pwArg != "":
		if argvPassword {
			fmt.Fprintln(a.stderr, "irpki: warning: a password on the command line is visible to other users (ps) and kept in shell history; use --transfer-password-file, --transfer-password-stdin or IRPKI_TRANSFER_PASSWORD")
		}
		cred.TransferPassword = *pwArg
	}
	if cred.TransferID == "" && pendingID != "" {
		// An interrupted enrolment names its TransferId: resuming it
		// needs at most the password.
		cred.TransferID = pendingID
	}
	if resumable && cred.TransferID == pendingID {
		fmt.Fprintf(a.stderr, "irpki: an interrupted enrolment (TransferId %s) is waiting for its certificate; finishing it\n", pendingID)
		cred.TransferID = pendingID
	} else {
		if cred.TransferID == "" {
			return badFlags{errors.New("--transfer-id is required (the TransferId of the order)")}
		}
		if cred.TransferPassword == "" {
			if cred.TransferID == pendingID {
				if st, err := m.Status(); err == nil && st.Refused != nil {
					return badFlags{fmt.Errorf("an interrupted enrolment (TransferId %s): %s; to send it again, run again with its TransferPassword (--transfer-password-file F, --transfer-password-stdin or IRPKI_TRANSFER_PASSWORD); if the refusal says these credentials cannot be used, order a new certificate and enrol with the new --transfer-id", pendingID, st.Refused)}
				}
				return badFlags{fmt.Errorf("an interrupted enrolment (TransferId %s) was sent without an answer; run again with its TransferPassword (--transfer-password-file F, --transfer-password-stdin or IRPKI_TRANSFER_PASSWORD): the same key is sent again, no second certificate is issued", pendingID)}
			}
			return badFlags{errors.New("the TransferPassword is required: --transfer-password-file F, --transfer-password-stdin or IRPKI_TRANSFER_PASSWORD")}
		}
	}
	out.Dir = m.Dir()
	inst, err := m.Enroll(ctx, s, cred)
	if err != nil {
		return err
	}
	if *asJSON {
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
