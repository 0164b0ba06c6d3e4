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
)

// cmdCAInit creates a hierarchy with its root offline: all of it in the
// offline directory, and in the data directory only what serve needs (the
// certificates, the issuing CAs' and the signer's keys).
func cmdCAInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("ca init", stdout, stderr)
	offline := fs.String("offline-dir", "", "directory for the whole hierarchy, root key included: removable media kept offline (required, must not exist)")
	fs.Usage = cliconfig.Usage(fs, "irpkid ca init --offline-dir DIR --data-dir DATA [--environment ENV]",
		"Creates the CA hierarchy of an environment with its root key offline: every certificate and key\n"+
			"in --offline-dir, and in the data directory only what irpkid serve needs (the certificates, the\n"+
			"issuing CAs' and the response signer's keys; not the root's, the intermediate's or the services\n"+
			"CA's). See docs/operations.md, \"The offline root\".")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *offline == "" {
		return errors.New("--offline-dir is required")
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
	if _, err := ca.Load(online, c.environment); err != nil {
		return fmt.Errorf("the online part does not load: %w", err)
	}
	fmt.Fprintf(stdout, "%s CA %q created.\nOffline (root, intermediate and services CA keys): %s\nOnline (what irpkid serve needs): %s\n",
		c.environment, h.Root.Subject.CommonName, full, online)
	fmt.Fprintln(stderr, "Move the offline directory to removable media and keep it offline; serve needs only the data directory.")
	return nil
}
