package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
)

const operatorActor = "operator"

func newFlagSet(name string, stderr io.Writer) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &common{}
	c.register(fs)
	return fs, c
}

func cmdOrgAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("org add", stderr)
	id := fs.String("customer-id", "", "business ID, e.g. 1234567-1 (checksum-validated)")
	name := fs.String("name", "", "organisation name")
	email := fs.String("contact-email", "", "default technical contact's e-mail")
	lang := fs.String("language", "fi", "language of mail to the contact: fi, sv or en")
	fs.Usage = cliconfig.Usage(fs, "irpkid org add --customer-id ID --name NAME --contact-email ADDR", "Registers an organisation so that certificates can be ordered for it.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *id == "" || *name == "" || *email == "" {
		return errors.New("--customer-id, --name and --contact-email are required")
	}
	a, err := c.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.svc.AddOrg(ctx, store.Org{CustomerID: *id, Name: *name, ContactEmail: *email, Language: *lang}, operatorActor); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "organisation %s (%s) added\n", *id, *name)
	return nil
}

func cmdOrgs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("orgs", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = cliconfig.Usage(fs, "irpkid orgs [--json]", "Lists organisations.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	a, err := c.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	var orgs []store.Org
	if err := a.db.View(ctx, func(tx *store.Tx) error {
		var err error
		orgs, err = tx.Orgs(ctx)
		return err
	}); err != nil {
		return err
	}
	if *asJSON {
		type row struct {
			CustomerID   string `json:"customer_id"`
			Name         string `json:"name"`
			ContactEmail string `json:"contact_email"`
			Language     string `json:"language"`
		}
		rows := []row{}
		for _, o := range orgs {
			rows = append(rows, row{o.CustomerID, o.Name, o.ContactEmail, o.Language})
		}
		return writeJSON(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CUSTOMER ID\tNAME\tCONTACT\tLANGUAGE")
	for _, o := range orgs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.CustomerID, o.Name, o.ContactEmail, o.Language)
	}
	return tw.Flush()
}

// parseDuration accepts Go durations and a days suffix: 50d, 36h, 90m.
func parseDuration(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") {
		var n int
		if _, err := fmt.Sscanf(s, "%dd", &n); err != nil || n <= 0 || fmt.Sprintf("%dd", n) != s {
			return 0, fmt.Errorf("%q: use e.g. 50d, 36h or 90m", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: use e.g. 50d, 36h or 90m", s)
	}
	return d, nil
}

func cmdOrder(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("order", stderr)
	id := fs.String("customer-id", "", "organisation's business ID")
	validity := fs.String("validity", "", "certificate validity, e.g. 50d or 2h (shorter than two years only in TEST)")
	purpose := fs.String("purpose", "", "channel / purpose of use")
	desc := fs.String("description", "", "description")
	cname := fs.String("contact-name", "", "technical contact's name")
	cemail := fs.String("contact-email", "", "technical contact's e-mail (default: the organisation's)")
	cphone := fs.String("contact-phone", "", "technical contact's phone")
	asJSON := fs.Bool("json", false, "print {transfer_id, transfer_password, expires} as JSON")
	fs.Usage = cliconfig.Usage(fs, "irpkid order --customer-id ID [--validity 50d] [--json]", "Creates a certificate order and prints its one-time TransferId and TransferPassword.\nThe password is shown once and stored only as a hash.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return errors.New("--customer-id is required")
	}
	var v time.Duration
	if *validity != "" {
		var err error
		if v, err = parseDuration(*validity); err != nil {
			return fmt.Errorf("--validity %v", err)
		}
	}
	a, err := c.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	cred, err := a.svc.CreateOrder(ctx, service.OrderRequest{CustomerID: *id, Validity: v, Purpose: *purpose, Description: *desc, ContactName: *cname, ContactEmail: *cemail, ContactPhone: *cphone}, operatorActor)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, cred)
	}
	fmt.Fprintf(stdout, "TransferId:       %s\nTransferPassword: %s\nExpires:          %s\n", cred.TransferID, cred.TransferPassword, cred.Expires.UTC().Format(time.RFC3339))
	fmt.Fprintln(stderr, "The password is shown only now. Deliver it to the technical contact over a separate channel from the TransferId.")
	return nil
}

func cmdCerts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("certs", stderr)
	id := fs.String("customer-id", "", "only this organisation's certificates")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = cliconfig.Usage(fs, "irpkid certs [--customer-id ID] [--json]", "Lists certificates with serial, customer, validity, state and predecessor.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	a, err := c.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	certs, err := a.svc.Certificates(ctx, *id)
	if err != nil {
		return err
	}
	if *asJSON {
		type row struct {
			Serial      string    `json:"serial"`
			CustomerID  string    `json:"customer_id"`
			Environment string    `json:"environment"`
			NotBefore   time.Time `json:"not_before"`
			NotAfter    time.Time `json:"not_after"`
			Status      string    `json:"status"`
			Predecessor string    `json:"predecessor,omitempty"`
			Retrieved   bool      `json:"retrieved"`
		}
		rows := []row{}
		for _, v := range certs {
			rows = append(rows, row{v.Serial, v.CustomerID, v.Environment, v.NotBefore, v.NotAfter, string(v.State), v.Predecessor, !v.RetrievedAt.IsZero()})
		}
		return writeJSON(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tCUSTOMER\tNOT BEFORE\tNOT AFTER\tSTATUS\tPREDECESSOR")
	for _, v := range certs {
		pred := v.Predecessor
		if pred == "" {
			pred = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Serial, v.CustomerID, v.NotBefore.UTC().Format(time.RFC3339), v.NotAfter.UTC().Format(time.RFC3339), v.State, pred)
	}
	return tw.Flush()
}

func cmdRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("revoke", stderr)
	serial := fs.String("serial", "", "certificate serial, hex (as irpkid certs prints it)")
	reason := fs.String("reason", "", "reason: "+strings.Join(service.RevocationReasons, ", "))
	fs.Usage = cliconfig.Usage(fs, "irpkid revoke --serial HEX --reason REASON", "Revokes a certificate. A revoked certificate cannot be renewed.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *serial == "" || *reason == "" {
		return fmt.Errorf("--serial and --reason are required (reasons: %s)", strings.Join(service.RevocationReasons, ", "))
	}
	a, err := c.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.svc.Revoke(ctx, *serial, *reason, "", operatorActor); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "certificate %s revoked (%s)\n", *serial, *reason)
	return nil
}

func cmdTrust(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("trust", stderr)
	fs.Usage = cliconfig.Usage(fs, "irpkid trust > trust.pem", "Prints the PEM bundle a client needs: the root CA, the issuing CA and the service signing certificate.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	a, err := c.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	_, err = stdout.Write(a.ca.Bundle())
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
