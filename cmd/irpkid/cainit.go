package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/irpki/irpki/internal/atomicfile"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/hsm"
)

// cmdCAInit creates a hierarchy with its root offline: all of it in the
// offline directory, and in the data directory only what serve needs (the
// certificates, the issuing CAs' and the signer's keys).
func cmdCAInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("ca init", stdout, stderr)
	offline := fs.String("offline-dir", "", "directory for the whole hierarchy, root key included: removable media kept offline (required, must not exist)")
	tokenURI := fs.String("pkcs11-token", "", "generate the issuing CAs' and the response signer's keys in this PKCS#11 token, e.g.\n"+
		"pkcs11:token=irpki?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/irpkid/pin\n"+
		"(the PIN from pin-source: file:PATH or env:NAME, never in the URI); keys labelled irpki-ENVIRONMENT-NAME")
	tokenWhich := fs.String("pkcs11-keys", "all", "which online keys --pkcs11-token holds: all, issuing (the issuing CAs'), signing (the response signer's); the others are files")
	fs.Usage = cliconfig.Usage(fs, "irpkid ca init --offline-dir DIR --data-dir DATA [--environment ENV] [--pkcs11-token URI] [--key-passphrase-file FILE]",
		"Creates the CA hierarchy of an environment with its root key offline: every certificate and key\n"+
			"in --offline-dir, and in the data directory only what irpkid serve needs (the certificates, the\n"+
			"issuing CAs' and the response signer's keys; not the root's, the intermediate's or the services\n"+
			"CA's). With --pkcs11-token the issuing CAs' and the signer's keys are made in the token and\n"+
			"never leave it: the data directory holds NAME.pkcs11 files with their URIs instead. With a\n"+
			"passphrase (--key-passphrase-file or "+envPassphrase+") every key file written is encrypted.\n"+
			"See docs/operations.md, \"The offline root\" and \"Key custody\".")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *offline == "" {
		return errors.New("--offline-dir is required")
	}
	if !slices.Contains([]string{"all", "issuing", "signing"}, *tokenWhich) {
		return fmt.Errorf("--pkcs11-keys %q: use all, issuing or signing", *tokenWhich)
	}
	if _, err := os.Stat(*offline); err == nil {
		return fmt.Errorf("--offline-dir %s exists: give a new directory", *offline)
	}
	online := filepath.Join(c.dataDir, "ca", c.environment)
	if _, err := os.Stat(online); err == nil {
		return fmt.Errorf("%s already holds a %s CA", c.dataDir, c.environment)
	}
	if err := checkModes(c.dataDir, c.environment); err != nil {
		return err
	}
	opt := ca.DefaultOptions
	opt.NamePrefix = c.namePrefix
	opt.Keys = c.keySource()
	defer opt.Keys.Tokens.Close()
	if c.passphraseGiven() {
		var err error
		if opt.Passphrase, err = opt.Keys.Passphrase(); err != nil {
			return err
		}
	}
	var tk *tokenKeys
	if *tokenURI != "" {
		u, err := hsm.ParseURI(*tokenURI)
		if err != nil {
			return fmt.Errorf("--pkcs11-token: %w", err)
		}
		if u.Object != "" || u.ID != nil {
			return errors.New("--pkcs11-token names the token only (no object= or id=): the keys are made there, labelled irpki-ENVIRONMENT-NAME")
		}
		if !hsm.Available() {
			return fmt.Errorf("--pkcs11-token: %w", hsm.ErrNeedsCgo)
		}
		if err := opt.Keys.Tokens.Login(u); err != nil {
			return fmt.Errorf("--pkcs11-token: %w", err)
		}
		tk = &tokenKeys{tokens: opt.Keys.Tokens, base: u, env: c.environment, which: *tokenWhich}
		opt.OnlineKey = tk.onlineKey
	}
	// All or nothing: a hierarchy that could not be made whole leaves no
	// offline directory (it did not exist), no online directory (nor did
	// it) and no keys in the token.
	created, wroteOnline := false, false
	defer func() {
		if created {
			return
		}
		if err := os.RemoveAll(*offline); err != nil {
			fmt.Fprintf(stderr, "could not remove %s: %v\n", *offline, err)
		}
		if wroteOnline {
			if err := os.RemoveAll(online); err != nil {
				fmt.Fprintf(stderr, "could not remove %s: %v\n", online, err)
			}
		}
		if tk != nil {
			if err := tk.deleteMade(); err != nil {
				fmt.Fprintf(stderr, "could not remove the keys made in the token: %v\n", err)
			}
		}
	}()
	h, _, err := ca.LoadOrCreate(*offline, c.environment, clock.System{}.Now(), opt)
	if err != nil {
		return err
	}
	full := filepath.Join(*offline, "ca", c.environment)
	entries, err := os.ReadDir(full)
	if err != nil {
		return err
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if slices.Contains(ca.OfflineKeys, e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(full, e.Name()))
		if err != nil {
			return err
		}
		files[e.Name()] = b
	}
	if err := atomicfile.MkdirPrivate(filepath.Dir(online)); err != nil {
		return err
	}
	if err := atomicfile.WriteDir(online, files, 0o600); err != nil {
		return err
	}
	wroteOnline = true // it did not exist: checked above
	if _, err := loadOnline(online, c.environment, opt.Keys); err != nil {
		return fmt.Errorf("the online part does not load: %w", err)
	}
	created = true
	fmt.Fprintf(stdout, "%s CA %q created.\nOffline (root, intermediate and services CA keys): %s\nOnline (what irpkid serve needs): %s\n",
		c.environment, h.Root.Subject.CommonName, full, online)
	if tk != nil {
		fmt.Fprintf(stdout, "Keys in token %q: %d (labels irpki-%s-…); the data directory holds their URIs (*.pkcs11)\n", tk.base.Token, len(tk.made), c.environment)
	}
	if len(opt.Passphrase) > 0 {
		fmt.Fprintln(stdout, "Key files are encrypted with the passphrase: serve needs it (--key-passphrase-file or "+envPassphrase+").")
	}
	fmt.Fprintln(stderr, "Move the offline directory to removable media and keep it offline; serve needs only the data directory.")
	return nil
}

// removeStaleRotation removes what a rotation of the response signer that
// stopped midway left in the CA directory caDir (see
// ca.RemoveStaleRotationDirs), saying so on w.
func removeStaleRotation(caDir string, w io.Writer) error {
	removed, err := ca.RemoveStaleRotationDirs(caDir)
	for _, p := range removed {
		fmt.Fprintf(w, "removed %s, left by an interrupted signer rotation\n", p)
	}
	return err
}

// loadOnline loads the online part ca init wrote; a test replaces it to
// make that step fail.
var loadOnline = ca.Load

const (
	rotateSignerUsage = "irpkid ca rotate-signer [--overlap 30d] [--replace] [--offline-dir DIR]\n" +
		"  irpkid ca rotate-signer --status\n" +
		"  irpkid ca rotate-signer --finish [--now]"
	rotateSignerHelp = `Rotates the certificate that signs the service's responses. A new key and certificate from the
IR Services issuing CA are written to the CA directory (signer-next/) with a switch time --overlap
from now. Until the switch, irpkid trust holds both signing certificates and the current one signs;
from the switch on the new one signs (serve follows by its clock, without a restart, and picks up
the files within 30 seconds) and the old one is retired from the trust bundles. With replicas, copy
ca/ENV/signer-next/ to every replica's data directory. --finish then tidies the files (the next
rotation does so too). See docs/operations.md, "Rotating the response signer".`
)

// cmdRotateSigner begins, shows or finishes a rotation of the response
// signer (see internal/ca/rotate.go for the lifecycle).
func cmdRotateSigner(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("ca rotate-signer", stdout, stderr)
	overlap := fs.String("overlap", "30d", "time from now until the new signer signs: until then the trust bundles hold both signing certificates, and clients\nthat pin the signer (irpkid trust) must install the new bundle within it")
	replace := fs.Bool("replace", false, "make another next signer in place of a rotation whose switch is still to come")
	offline := fs.String("offline-dir", "", "the offline copy of the hierarchy (irpkid ca init --offline-dir) when the data directory lacks the services CA's key;\nonly that key (ca/ENV/services.key) is read from it")
	status := fs.Bool("status", false, "show the response signers and the rotation's state, change nothing")
	finish := fs.Bool("finish", false, "after the switch: make the new signer signing.crt/signing.key, keep the retired certificate in retired-signers/, delete its key")
	now := fs.Bool("now", false, "with --finish before the switch time: switch now (the current signing key must go at once; clients without the new bundle fail from then)")
	fs.Usage = cliconfig.Usage(fs, rotateSignerUsage, rotateSignerHelp)
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *now && !*finish {
		return errors.New("--now goes with --finish")
	}
	if (*status || *finish) && (*replace || *offline != "") {
		return errors.New("--replace and --offline-dir go with a new rotation, not with --status or --finish")
	}
	if *status && *finish {
		return errors.New("give --status or --finish, not both")
	}
	d, err := parseDuration(*overlap)
	if err != nil {
		return fmt.Errorf("--overlap %v", err)
	}
	if err := c.checkEnvironmentCA(); err != nil {
		return err
	}
	if err := c.checkExists(); err != nil {
		return err
	}
	if err := checkModes(c.dataDir, c.environment); err != nil {
		return err
	}
	dir := filepath.Join(c.dataDir, "ca", c.environment)
	if !*status {
		if err := removeStaleRotation(dir, stderr); err != nil {
			return err
		}
	}
	keys := c.keySource()
	defer keys.Tokens.Close()
	h, err := ca.Load(dir, c.environment, keys)
	if err != nil {
		return err
	}
	at := clock.System{}.Now()
	switch {
	case *status:
	case *finish:
		r := h.Rotation
		if h, err = ca.FinishRotation(h, at, *now); err != nil {
			return finishHint(err)
		}
		if r != nil {
			fmt.Fprintf(stdout, "Rotation finished: serial %s signs; the retired certificate is in %s, its key deleted.\n", ca.SerialHex(h.Signing), filepath.Join(dir, "retired-signers"))
			if at.Before(r.SwitchAt) {
				fmt.Fprintln(stderr, "Switched before the planned time: a running irpkid serve signs with the new signer within 30 seconds (restart it to switch at once), and clients without the new bundle fail from then.")
			}
		}
	default:
		opt := ca.RotateOptions{Overlap: d, Replace: *replace}
		if *offline != "" {
			opt.IssuerKeyDir = filepath.Join(*offline, "ca", c.environment)
		}
		if h, err = ca.RotateSigner(h, at, opt); err != nil {
			if errors.Is(err, ca.ErrRotationPending) {
				return fmt.Errorf("%w; --replace makes another next signer in its place (clients that installed the bundle holding this one then need the new one); irpkid ca rotate-signer --status shows the rotation", err)
			}
			return err
		}
		r := h.Rotation
		fmt.Fprintf(stdout, "New response signer: serial %s, valid until %s, in %s.\n", ca.SerialHex(r.Next.Cert), r.Next.Cert.NotAfter.UTC().Format(time.DateOnly), filepath.Join(dir, "signer-next"))
		fmt.Fprintf(stdout, "It signs from %s; until then irpkid trust holds both signing certificates.\n", r.SwitchAt.UTC().Format(time.RFC3339))
		fmt.Fprintf(stderr, "Next: hand the bundle of irpkid trust to the clients now; with replicas, copy %s to each replica's data directory (serve picks it up within 30 seconds); check with irpkid ca rotate-signer --status.\n", filepath.Join(dir, "signer-next"))
		return nil
	}
	printSignerStatus(stdout, h, at)
	return nil
}

// finishHint adds to a refused --finish what to do.
func finishHint(err error) error {
	if errors.Is(err, ca.ErrRotationPending) {
		return fmt.Errorf("%w; --finish --now switches at once, if the current signing key must go now", err)
	}
	return err
}

// printSignerStatus shows h's response signers at now.
func printSignerStatus(w io.Writer, h *ca.Hierarchy, now time.Time) {
	desc := func(c *x509.Certificate) string {
		return fmt.Sprintf("serial %s, %q, valid until %s", ca.SerialHex(c), c.Subject.CommonName, c.NotAfter.UTC().Format(time.DateOnly))
	}
	r := h.Rotation
	switch {
	case r == nil:
		fmt.Fprintf(w, "Signing:  %s\nNo rotation under way: irpkid trust holds this signing certificate only.\n", desc(h.Signing))
	case now.Before(r.SwitchAt):
		fmt.Fprintf(w, "Signing:  %s\nNext:     %s, made %s\nSwitch:   %s (in %s)\n",
			desc(h.Signing), desc(r.Next.Cert), r.Started.UTC().Format(time.RFC3339), r.SwitchAt.UTC().Format(time.RFC3339), roundDuration(r.SwitchAt.Sub(now)))
		fmt.Fprintln(w, "Overlap:  irpkid trust holds both signing certificates; clients that pin the signer must install that bundle before the switch,\n          when the next signer signs and the current one is retired from the bundles.")
	default:
		fmt.Fprintf(w, "Signing:  %s, since %s\nRetired:  %s (no bundle holds it)\n", desc(r.Next.Cert), r.SwitchAt.UTC().Format(time.RFC3339), desc(h.Signing))
		fmt.Fprintln(w, "The switch is done: irpkid ca rotate-signer --finish tidies the files (the next rotation does too).")
	}
}

// roundDuration writes d in days and hours, or minutes when shorter.
func roundDuration(d time.Duration) string {
	if d >= 24*time.Hour {
		return fmt.Sprintf("%dd %dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	}
	return d.Round(time.Minute).String()
}
