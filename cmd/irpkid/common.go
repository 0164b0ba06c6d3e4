package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/server"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// common are the flags every command has.
type common struct {
	// helpOut receives the usage that --help asks for (standard output,
	// for a pager or grep; flag errors and their usage go to the flag
	// set's output, standard error).
	helpOut     io.Writer
	dataDir     string
	database    string
	environment string
	config      string
	logLevel    string
	logFormat   string
	namePrefix  string
	// keyPassphraseFile holds the passphrase of encrypted key files
	// (keys.go).
	keyPassphraseFile string
	// createCA lets open create the CA of an environment beside another
	// environment's CA (serve does; the operator commands do not).
	createCA bool
	// files, when set, takes the arguments after the flags (file names)
	// instead of refusing them.
	files *[]string
	// mayCreate lets open make a data directory that does not exist yet
	// (serve, org add and user add do; the other commands, which read or
	// need what is there, would only make a stray CA in a mistyped one).
	mayCreate bool
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dataDir, "data-dir", "./irpki-data", "data directory: SQLite database, CA keys, outbox")
	fs.StringVar(&c.database, "database", "", "PostgreSQL database URL (postgres://user@host/db?sslmode=verify-full; a password is better in ~/.pgpass or PGPASSWORD);\nempty: SQLite in the data directory")
	fs.StringVar(&c.environment, "environment", wire.EnvTest, "environment this instance serves: TEST or PRODUCTION")
	fs.StringVar(&c.config, "config", "", "JSON config file whose keys are these flags' names")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.keyPassphraseFile, "key-passphrase-file", "", passphraseUsage)
	fs.StringVar(&c.namePrefix, "ca-name-prefix", "", fmt.Sprintf("brand a new CA: this replaces \"Verohallinto\" and prefixes the issuing CAs' names (at most %d characters; default: the real service's names; an existing CA keeps its names)", ca.MaxNamePrefix))
}

// parse parses args, then fills unset flags from the environment and the
// config file.
func (c *common) parse(fs *flag.FlagSet, args []string) error {
	if collectFlags != nil {
		collectFlags(fs)
		return flag.ErrHelp
	}
	var out bytes.Buffer
	stderr := fs.Output()
	fs.SetOutput(&out)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	if err != nil {
		if err == flag.ErrHelp && c.helpOut != nil {
			c.helpOut.Write(out.Bytes())
			return err
		}
		stderr.Write(out.Bytes())
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	if c.files != nil {
		*c.files = fs.Args()
	} else if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	cfg := c.config
	if cfg == "" {
		// --config itself may come from IRPKI_CONFIG.
		cfg = os.Getenv(cliconfig.EnvName("config"))
	}
	// One config file serves every command: serve's settings in it are
	// skipped by the operator commands, misspelt ones refused by all.
	if err := cliconfig.ResolveShared(fs, cfg, nil, irpkidSetting); err != nil {
		return err
	}
	if c.database != "" && !store.IsPostgresURL(c.database) {
		return errors.New("--database: give a postgres:// or postgresql:// URL, or leave it out for SQLite in the data directory")
	}
	if !ca.ValidNamePrefix(c.namePrefix) {
		return fmt.Errorf("--ca-name-prefix %q: use one line of at most %d characters without surrounding spaces", c.namePrefix, ca.MaxNamePrefix)
	}
	c.environment = strings.ToUpper(c.environment)
	if c.environment != wire.EnvTest && c.environment != wire.EnvProduction {
		return fmt.Errorf("--environment %q: use TEST or PRODUCTION", c.environment)
	}
	return nil
}

// collectFlags, while set, makes parse hand a command's flag set over and
// stop there: how irpkidSetting learns the flags of every command.
var collectFlags func(*flag.FlagSet)

var (
	settingsOnce sync.Once
	settings     map[string]bool
)

// irpkidSetting reports whether name is a flag of some irpkid command, and
// so a key that a config file shared by all commands may hold.
func irpkidSetting(name string) bool {
	settingsOnce.Do(func() {
		settings = map[string]bool{}
		collectFlags = func(fs *flag.FlagSet) { fs.VisitAll(func(f *flag.Flag) { settings[f.Name] = true }) }
		defer func() { collectFlags = nil }()
		for _, cmd := range []func(context.Context, []string, io.Writer, io.Writer) error{
			cmdServe, cmdOrgAdd, cmdOrgs, cmdOrder, cmdCerts, cmdCertsImport, cmdBackup, cmdRevoke, cmdTrust, cmdUserAdd, cmdUsers, cmdRemind, cmdAudit, cmdCAInit, cmdCAEncryptKeys, cmdRotateSigner,
		} {
			cmd(context.Background(), nil, io.Discard, io.Discard)
		}
	})
	return settings[name]
}

// app is the core the operator commands use (server.Open).
type app struct {
	core *server.Core
	db   *store.DB
	ca   *ca.Hierarchy
	svc  *service.Service
	log  *slog.Logger
}

// coreConfig makes the logger, checks the data directory and returns what
// server.Open and server.New take.
func (c *common) coreConfig(stderr io.Writer) (server.CoreConfig, error) {
	log, err := newLogger(stderr, c.logLevel, c.logFormat)
	if err != nil {
		return server.CoreConfig{}, err
	}
	if err := c.checkEnvironmentCA(); err != nil {
		return server.CoreConfig{}, err
	}
	if err := c.checkExists(); err != nil {
		return server.CoreConfig{}, err
	}
	if err := checkModes(c.dataDir, c.environment); err != nil {
		return server.CoreConfig{}, err
	}
	opt := ca.DefaultOptions
	opt.NamePrefix = c.namePrefix
	// The CA's keys: files (encrypted ones with the passphrase) or PKCS#11
	// token keys; the core closes the tokens.
	opt.Keys = c.keySource()
	if c.passphraseGiven() {
		// A CA made on first start has its key files encrypted too.
		if opt.Passphrase, err = opt.Keys.Passphrase(); err != nil {
			return server.CoreConfig{}, err
		}
	}
	return server.CoreConfig{Environment: c.environment, DataDir: c.dataDir, Database: c.database, CAOptions: opt,
		Clock: clock.System{}, Log: log}, nil
}

func (c *common) open(ctx context.Context, stderr io.Writer) (*app, error) {
	cfg, err := c.coreConfig(stderr)
	if err != nil {
		return nil, err
	}
	core, err := server.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &app{core: core, db: core.DB, ca: core.CA, svc: core.Service, log: core.Log}, nil
}

func (a *app) close() { a.core.Close() }

// storeName is what store.Open takes: the --database URL, or the SQLite
// file in the data directory.
func (c *common) storeName() string {
	return server.StoreName(server.CoreConfig{DataDir: c.dataDir, Database: c.database})
}

// checkCustomerFilter refuses a --customer-id filter that is no business
// ID or no organisation here, which would otherwise list nothing, silently.
func (a *app) checkCustomerFilter(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	if err := businessid.Validate(id); err != nil {
		return fmt.Errorf("--customer-id: %w", err)
	}
	err := a.db.View(ctx, func(tx *store.Tx) error {
		_, err := tx.Org(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("--customer-id: no organisation %s here (irpkid orgs lists them)", id)
	}
	return err
}

// withApp opens the data directory, runs fn with it and closes it.
func (c *common) withApp(ctx context.Context, stderr io.Writer, fn func(*app) error) error {
	a, err := c.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	return fn(a)
}

// checkModes refuses a data directory (or its CA directories) that users
// other than the owner may write: anyone who can write there can replace
// the CA's keys, the database, or plant a file the server then trusts.
// Refused rather than tightened: what was written there meanwhile cannot be
// told apart from the server's own files.
func checkModes(dataDir, env string) error {
	for _, p := range []string{dataDir, filepath.Join(dataDir, "ca"), filepath.Join(dataDir, "ca", env)} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if m := fi.Mode().Perm(); m&0o022 != 0 {
			return fmt.Errorf("%s is writable by group or others (mode %04o): whoever can write there can replace the CA keys or the database. Check that nothing foreign was put there, then chmod 0700 %s", p, m, p)
		}
	}
	return nil
}

// checkExists refuses, for a command that may not create one, a data
// directory with neither this environment's CA nor a database.
func (c *common) checkExists() error {
	if c.createCA || c.mayCreate {
		return nil
	}
	for _, p := range []string{filepath.Join(c.dataDir, "ca", c.environment), c.storeName()} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			return nil
		}
	}
	return fmt.Errorf("%s is not an irpkid data directory (no %s CA, no database): give the --data-dir the server uses, or create it with irpkid serve --data-dir %s (or irpkid org add)", c.dataDir, c.environment, c.dataDir)
}

// checkEnvironmentCA refuses, for an operator command, a data directory
// that holds only another environment's CA: without it, "irpkid trust" or
// "irpkid order" run without the server's --environment would quietly
// create a second CA and print its bundle, or make an order the server
// refuses as wrong credentials.
func (c *common) checkEnvironmentCA() error {
	if c.createCA {
		return nil
	}
	if _, err := os.Stat(filepath.Join(c.dataDir, "ca", c.environment)); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, other := range []string{wire.EnvTest, wire.EnvProduction} {
		if other == c.environment {
			continue
		}
		if _, err := os.Stat(filepath.Join(c.dataDir, "ca", other)); err == nil {
			return fmt.Errorf("%s holds the %s environment, not %s: pass --environment %s (or IRPKI_ENVIRONMENT=%s) as the server runs; irpkid serve --environment %s creates the %s CA",
				c.dataDir, other, c.environment, other, other, c.environment, c.environment)
		}
	}
	return nil
}
