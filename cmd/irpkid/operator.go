package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/irpki/irpki/internal/atomicfile"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/internal/lang"
	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

const operatorActor = "operator"

func newFlagSet(name string, stdout, stderr io.Writer) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &common{helpOut: stdout}
	c.register(fs)
	return fs, c
}

func cmdOrgAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("org add", stdout, stderr)
	id := fs.String("customer-id", "", "business ID, e.g. 1234567-1 (checksum-validated)")
	name := fs.String("name", "", "organisation name")
	email := fs.String("contact-email", "", "default technical contact's e-mail")
	language := fs.String("language", lang.Default, "language of mail to the contact: fi, sv or en")
	fs.Usage = cliconfig.Usage(fs, "irpkid org add --customer-id ID --name NAME --contact-email ADDR", "Registers an organisation so that certificates can be ordered for it.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *id == "" || *name == "" || *email == "" {
		return errors.New("--customer-id, --name and --contact-email are required")
	}
	// Checked before the data directory is opened, which creates it (and
	// a CA) when it does not exist yet: a typo must leave nothing behind.
	org, err := service.CheckOrg(store.Org{CustomerID: *id, Name: *name, ContactEmail: *email, Language: *language})
	if err != nil {
		return err
	}
	c.mayCreate = true
	return c.withApp(ctx, stderr, func(a *app) error {
		if err := a.svc.AddOrg(ctx, org, operatorActor); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "organisation %s (%s) added\n", *id, *name)
		return nil
	})
}

func cmdOrgs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("orgs", stdout, stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = cliconfig.Usage(fs, "irpkid orgs [--json]", "Lists organisations.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	return c.withApp(ctx, stderr, func(a *app) error {
		var orgs []store.Org
		if err := a.db.View(ctx, func(tx *store.Tx) error {
			var err error
			orgs, err = tx.Orgs(ctx)
			return err
		}); err != nil {
			return err
		}
		type row struct {
			CustomerID   string `json:"customer_id"`
			Name         string `json:"name"`
			ContactEmail string `json:"contact_email"`
			Language     string `json:"language"`
		}
		return printList(stdout, *asJSON, orgs,
			func(o store.Org) row { return row{o.CustomerID, o.Name, o.ContactEmail, o.Language} },
			[]string{"CUSTOMER ID", "NAME", "CONTACT", "LANGUAGE"},
			func(o store.Org) []string { return []string{o.CustomerID, o.Name, o.ContactEmail, o.Language} })
	})
}

// maxDays bounds a validity given in days: 100 years.
const maxDays = 36525

// parseDuration accepts Go durations and a days suffix: 50d, 36h, 90m.
func parseDuration(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") {
		var n int
		if _, err := fmt.Sscanf(s, "%dd", &n); err != nil || n <= 0 || fmt.Sprintf("%dd", n) != s {
			return 0, fmt.Errorf("%q: use e.g. 50d, 36h or 90m", s)
		}
		// More days than a Duration holds would wrap around to a short
		// validity; anything near that is far beyond any certificate's.
		if n > maxDays {
			return 0, fmt.Errorf("%q: at most %dd", s, maxDays)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: use e.g. 50d, 36h or 90m", s)
	}
	return d, nil
}

// maxOrderCount bounds irpkid order --count.
const maxOrderCount = 10000

func cmdOrder(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("order", stdout, stderr)
	id := fs.String("customer-id", "", "organisation's business ID")
	validity := fs.String("validity", "", fmt.Sprintf("certificate validity, e.g. 30d, 2h or 15m: two years by default; in TEST from %v up to two years, in PRODUCTION two years only", service.DefaultConfig(wire.EnvTest).MinTestValidity))
	purpose := fs.String("purpose", "", "channel and purpose of use: "+strings.Join(service.Purposes, ", "))
	desc := fs.String("description", "", "description")
	cname := fs.String("contact-name", "", "technical contact's name")
	cemail := fs.String("contact-email", "", "technical contact's e-mail (default: the organisation's)")
	cphone := fs.String("contact-phone", "", "technical contact's phone (+358 40 123 4567, or a Finnish number without the country code), recorded in E.164")
	asJSON := fs.Bool("json", false, "print {transfer_id, transfer_password, expires} as JSON (with --count, one object per order, one after another)")
	count := fs.Int("count", 1, "create this many orders alike (each with its own credentials), e.g. for several systems of the organisation or a load test")
	fs.Usage = cliconfig.Usage(fs, "irpkid order --customer-id ID [--validity 50d] [--count N] [--json]", "Creates a certificate order and prints its one-time TransferId and TransferPassword.\nThe password is shown once and stored only as a hash.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return errors.New("--customer-id is required")
	}
	if *count < 1 || *count > maxOrderCount {
		return fmt.Errorf("--count %d: from 1 to %d", *count, maxOrderCount)
	}
	var v time.Duration
	if *validity != "" {
		var err error
		if v, err = parseDuration(*validity); err != nil {
			return fmt.Errorf("--validity %v", err)
		}
	}
	return c.withApp(ctx, stderr, func(a *app) error {
		for range *count {
			cred, err := a.svc.CreateOrder(ctx, service.OrderRequest{CustomerID: *id, Validity: v, Purpose: *purpose, Description: *desc, ContactName: *cname, ContactEmail: *cemail, ContactPhone: *cphone}, operatorActor)
			if err != nil {
				return err
			}
			if *asJSON {
				if err := writeJSON(stdout, cred); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(stdout, "TransferId:       %s\nTransferPassword: %s\nExpires:          %s\n", cred.TransferID, cred.TransferPassword, cred.Expires.UTC().Format(time.RFC3339))
		}
		if !*asJSON {
			fmt.Fprintln(stderr, "The password is shown only now. Deliver it to the technical contact over a separate channel from the TransferId.")
		}
		return nil
	})
}

func cmdCerts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("certs", stdout, stderr)
	id := fs.String("customer-id", "", "only this organisation's certificates")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = cliconfig.Usage(fs, "irpkid certs [--customer-id ID] [--json]", "Lists certificates with serial, customer, validity, state and predecessor.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	return c.withApp(ctx, stderr, func(a *app) error {
		if err := a.checkCustomerFilter(ctx, *id); err != nil {
			return err
		}
		certs, err := a.svc.Certificates(ctx, *id)
		if err != nil {
			return err
		}
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
		return printList(stdout, *asJSON, certs,
			func(v service.CertificateView) row {
				return row{serial.Pad(v.Serial), v.CustomerID, v.Environment, v.NotBefore, v.NotAfter, string(v.State), padOrEmpty(v.Predecessor), !v.RetrievedAt.IsZero()}
			},
			[]string{"SERIAL", "CUSTOMER", "NOT BEFORE", "NOT AFTER", "STATUS", "PREDECESSOR"},
			func(v service.CertificateView) []string {
				pred := padOrEmpty(v.Predecessor)
				if pred == "" {
					pred = "-"
				}
				return []string{serial.Pad(v.Serial), v.CustomerID, v.NotBefore.UTC().Format(time.RFC3339), v.NotAfter.UTC().Format(time.RFC3339), string(v.State), pred}
			})
	})
}

// padOrEmpty is a serial at full width, or "" for none.
func padOrEmpty(key string) string {
	if key == "" {
		return ""
	}
	return serial.Pad(key)
}

func cmdRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("revoke", stdout, stderr)
	written := fs.String("serial", "", "certificate serial, hex (as irpkid certs prints it, or as openssl does: upper case, 0x…, colons)")
	reason := fs.String("reason", "", "reason: "+service.RevocationReasonHelp)
	yes := fs.Bool("yes", false, "revoke also the successors a key_compromise revocation takes along, without stopping to show them first")
	dryRun := fs.Bool("dry-run", false, "only show which certificates would be revoked")
	fs.Usage = cliconfig.Usage(fs, "irpkid revoke --serial HEX --reason REASON [--dry-run | --yes]",
		"Revokes a certificate. A revoked certificate cannot be renewed.\n"+
			"For key_compromise it also revokes every successor renewed with a request signed by that\n"+
			"key, and their successors: whoever held the key could have made them. It first lists\n"+
			"what it will revoke; when that is more than the certificate itself, it stops there\n"+
			"unless --yes is given.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *written == "" || *reason == "" {
		return fmt.Errorf("--serial and --reason are required (reasons: %s)", service.RevocationReasonHelp)
	}
	r, ok := service.ParseRevocationReason(*reason)
	if !ok {
		return fmt.Errorf("--reason %q: give %s", *reason, service.RevocationReasonHelp)
	}
	return c.withApp(ctx, stderr, func(a *app) error {
		plan, err := a.svc.RevocationPlan(ctx, *written, r, "")
		if err != nil {
			return err
		}
		var serials []string
		fmt.Fprintf(stdout, "revoking for %s:\n", r)
		for i, v := range plan {
			serials = append(serials, v.Serial)
			why := "the certificate named"
			if i > 0 {
				why = "successor of " + serial.Pad(v.Predecessor) + ", renewed with a request signed by its key"
			}
			fmt.Fprintf(stdout, "  %s  %s  not after %s  (%s)\n", serial.Pad(v.Serial), v.CustomerID, v.NotAfter.UTC().Format(time.RFC3339), why)
		}
		if *dryRun {
			fmt.Fprintln(stdout, "dry run: nothing revoked")
			return nil
		}
		if len(plan) > 1 && !*yes {
			return fmt.Errorf("the key is compromised, so its %d successors above are revoked with it: run again with --yes to revoke all %d certificates", len(plan)-1, len(plan))
		}
		done, err := a.svc.Revoke(ctx, *written, r, "", operatorActor, serials)
		if err != nil {
			return err
		}
		for _, s := range done {
			fmt.Fprintf(stdout, "certificate %s revoked (%s)\n", serial.Pad(s), r)
		}
		return nil
	})
}

func cmdTrust(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("trust", stdout, stderr)
	purpose := fs.String("for", ca.TrustAll, "which bundle: responses (verifies the service's response signatures: root, intermediate, IR Services issuing CA, signing certificate), certificates (verifies delivered certificates: root, intermediate, every channel's issuing CA), or all")
	outDir := fs.String("out-dir", "", "instead of printing, write into this directory responses.pem, certificates.pem, all.pem and one <package>-chain.pem per CA package as the real service names them (e.g. DataProvidersTestIssuingCAv1-chain.pem)")
	fs.Usage = cliconfig.Usage(fs, "irpkid trust [--for responses|certificates|all] > trust.pem\n  irpkid trust --out-dir DIR",
		"Prints the PEM bundle a client needs. The real service ships per-purpose CA packages: one\n"+
			"to verify its response signatures (IRServices[Test]IssuingCAv1) and one per channel to\n"+
			"verify delivered certificates (DataProviders[Test]IssuingCAv1, ...). irpkid's hierarchy has\n"+
			"the same shape: root → intermediate → issuing CAs. A client configured with the real\n"+
			"service's packages takes these bundles in their place; irpki takes --for all as --trust.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *purpose != ca.TrustResponses && *purpose != ca.TrustCertificates && *purpose != ca.TrustAll {
		return fmt.Errorf("--for %q: use responses, certificates or all", *purpose)
	}
	return c.withApp(ctx, stderr, func(a *app) error {
		now := a.core.Clock.Now()
		if r := a.ca.Rotation; r != nil && now.Before(r.SwitchAt) && *purpose != ca.TrustCertificates {
			fmt.Fprintf(stderr, "irpkid trust: the response signer is being rotated: until %s the bundle holds both signing certificates; from then on only the new one (serial %s) signs. Clients must install this bundle before then.\n",
				r.SwitchAt.UTC().Format(time.RFC3339), ca.SerialHex(r.Next.Cert))
		}
		if *outDir == "" {
			_, err := stdout.Write(a.ca.BundleFor(*purpose, now))
			return err
		}
		return writeTrustDir(*outDir, a.ca, now, stdout)
	})
}

// writeTrustDir writes every bundle of h at now into dir, each file
// atomically, and names them on w.
func writeTrustDir(dir string, h *ca.Hierarchy, now time.Time, w io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out-dir: %w", err)
	}
	type file struct {
		name string
		data []byte
		what string
	}
	files := []file{
		{"responses.pem", h.BundleFor(ca.TrustResponses, now), "verifies response signatures"},
		{"certificates.pem", h.BundleFor(ca.TrustCertificates, now), "verifies delivered certificates"},
		{"all.pem", h.BundleFor(ca.TrustAll, now), "both (irpki --trust)"},
	}
	for _, p := range h.Packages() {
		what := "CA package of " + p.Channel + " certificates"
		if p.Channel == ca.ServicesChannel {
			what = "CA package of the response signer"
		}
		files = append(files, file{p.Name + "-chain.pem", ca.PEM(p.Chain...), what})
	}
	for _, f := range files {
		if err := atomicfile.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(w, "%-44s %s\n", filepath.Join(dir, f.name), f.what)
	}
	return nil
}

// printList prints items as an indented JSON array of toJSON's values, or
// as a table under header with toRow's cells.
func printList[T, J any](w io.Writer, asJSON bool, items []T, toJSON func(T) J, header []string, toRow func(T) []string) error {
	if asJSON {
		rows := make([]J, 0, len(items))
		for _, it := range items {
			rows = append(rows, toJSON(it))
		}
		return writeJSON(w, rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, it := range items {
		fmt.Fprintln(tw, strings.Join(toRow(it), "\t"))
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
