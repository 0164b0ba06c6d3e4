package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

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
		tk = &tokenKeys{tokens: opt.Keys.Tokens, base: u, env: c.environment, which: *tokenWhich}
		opt.OnlineKey = tk.onlineKey
	}
	created := false
	defer func() {
		if !created && tk != nil {
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
	if _, err := ca.Load(online, c.environment, opt.Keys); err != nil {
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
