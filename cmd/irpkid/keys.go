package main

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/irpki/irpki/internal/atomicfile"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/internal/hsm"
)

// envPassphrase is the environment variable that may hold the passphrase of
// encrypted key files. It is no flag's: a passphrase never goes on a
// command line.
const envPassphrase = "IRPKI_KEY_PASSPHRASE"

// passphraseUsage is --key-passphrase-file's help.
const passphraseUsage = "file holding the passphrase of encrypted CA key files (its content less a final newline; readable by owner and group only);\nor set the passphrase itself in " + envPassphrase + ". Never a flag value"

// passphraseGiven reports whether a passphrase for key files is configured.
func (c *common) passphraseGiven() bool {
	v, ok := os.LookupEnv(envPassphrase)
	return c.keyPassphraseFile != "" || ok && v != ""
}

// readPassphrase reads the passphrase of encrypted key files.
func (c *common) readPassphrase() ([]byte, error) {
	if c.keyPassphraseFile != "" {
		return hsm.ReadSecret(c.keyPassphraseFile, "passphrase")
	}
	if v, ok := os.LookupEnv(envPassphrase); ok && v != "" {
		return []byte(v), nil
	}
	return nil, fmt.Errorf("no passphrase was given: --key-passphrase-file FILE (%s) or %s", cliconfig.EnvName("key-passphrase-file"), envPassphrase)
}

// keySource is how the command opens the CA's keys: plain or encrypted
// files (the passphrase read once, when the first encrypted key needs it),
// and keys in PKCS#11 tokens; the caller closes the tokens.
func (c *common) keySource() *ca.Keys {
	return &ca.Keys{Passphrase: sync.OnceValues(c.readPassphrase), Tokens: &hsm.Tokens{}}
}

// cmdCAEncryptKeys encrypts the plain key files of a hierarchy's directory
// with the configured passphrase.
func cmdCAEncryptKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("ca encrypt-keys", stdout, stderr)
	offline := fs.String("offline-dir", "", "encrypt the keys of the offline directory that irpkid ca init made (DIR/ca/ENVIRONMENT) instead of the data directory's")
	fs.Usage = cliconfig.Usage(fs, "irpkid ca encrypt-keys [--data-dir DATA | --offline-dir DIR] [--environment ENV] --key-passphrase-file FILE",
		"Encrypts every plain CA key file of the environment (PKCS#8, scrypt and AES-256-CBC) with the passphrase from\n"+
			"--key-passphrase-file or "+envPassphrase+"; keys already encrypted and keys in a PKCS#11 token are left as they are.\n"+
			"Each file is replaced atomically (0600) only after its encrypted form was read back; a failure leaves every\n"+
			"key usable. Afterwards serve and every command on the directory need the passphrase.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	dir := filepath.Join(c.dataDir, "ca", c.environment)
	if *offline != "" {
		dir = filepath.Join(*offline, "ca", c.environment)
	} else if err := checkModes(c.dataDir, c.environment); err != nil {
		return err
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("no %s CA at %s: %w", c.environment, dir, err)
	}
	if err := removeStaleRotation(dir, stderr); err != nil {
		return err
	}
	pass, err := c.readPassphrase()
	if err != nil {
		return err
	}
	plain, err := ca.PlainKeyFiles(dir)
	if err != nil {
		return err
	}
	if len(plain) == 0 {
		fmt.Fprintf(stdout, "%s: no plain key file; nothing to do\n", dir)
		return nil
	}
	// Everything in memory first, each encrypted form read back with the
	// passphrase: nothing is written unless every key encrypts.
	keys := &ca.Keys{Passphrase: func() ([]byte, error) { return pass, nil }}
	out := map[string][]byte{}
	for _, name := range plain {
		p := filepath.Join(dir, name)
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		k, err := ca.ParseKeyPEM(p, b, nil)
		if err != nil {
			return err
		}
		enc, err := ca.EncryptKeyPEM(k, pass)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		back, err := ca.ParseKeyPEM(p, enc, keys)
		if err != nil || !samePublic(back, k) {
			return fmt.Errorf("%s: the encrypted key does not read back as the same key; nothing was changed", p)
		}
		out[name] = enc
	}
	for _, name := range plain {
		if err := atomicfile.WriteFile(filepath.Join(dir, name), out[name], 0o600); err != nil {
			return fmt.Errorf("%w (the keys listed before it are encrypted, the others still plain: run again)", err)
		}
	}
	fmt.Fprintf(stdout, "%s: encrypted %s\n", dir, strings.Join(plain, ", "))
	fmt.Fprintln(stderr, "serve and every irpkid command on this directory now need the passphrase (--key-passphrase-file or "+envPassphrase+").")
	return nil
}

func samePublic(a, b crypto.Signer) bool {
	pa, ok := a.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pa.Equal(b.Public())
}

// tokenKeys generates the online keys of a new hierarchy (those in which)
// in the token that uri names, labelled irpki-ENV-NAME; delete removes
// them again when the hierarchy could not be made.
type tokenKeys struct {
	tokens *hsm.Tokens
	base   *hsm.URI
	env    string
	which  string // all, issuing or signing
	made   []crypto.Signer
}

func (tk *tokenKeys) wants(name string) bool {
	switch tk.which {
	case "issuing":
		return strings.HasPrefix(name, "issuing")
	case "signing":
		return name == "signing"
	}
	return true
}

// onlineKey is ca.Options.OnlineKey: the keys tk wants, in the token.
func (tk *tokenKeys) onlineKey(name string, bits int) (crypto.Signer, string, error) {
	if !tk.wants(name) {
		return nil, "", nil
	}
	u := *tk.base
	u.Object = "irpki-" + tk.env + "-" + name
	k, err := tk.tokens.Generate(&u, bits)
	if err != nil {
		return nil, "", err
	}
	tk.made = append(tk.made, k)
	return k, u.String(), nil
}

func (tk *tokenKeys) deleteMade() error {
	var errs []error
	for _, k := range tk.made {
		errs = append(errs, hsm.Delete(k))
	}
	return errors.Join(errs...)
}
