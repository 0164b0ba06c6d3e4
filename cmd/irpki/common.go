package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/renewal"
)

// EndpointLocal is irpkid's default address on this machine: what
// --service local means unless --local-url (IRPKI_LOCAL_URL) says where
// irpkid serves (irpkid serve prints the matching irpki enroll line).
const EndpointLocal = "http://127.0.0.1:8080/2017/10/CertificateServices"

// common are the flags of every command.
type common struct {
	dir    string
	config string
	// dirs: a command that takes several state directories (watch)
	// registers --dir with registerDirs; dir is then the first.
	dirs []string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dir, "dir", "", "state directory: settings, certificate, key, archive (required)")
	fs.StringVar(&c.config, "config", "", "JSON config file whose keys are these flags' names")
}

// registerDirs registers --dir for a command that takes several state
// directories: --dir repeated, or a list separated by the platform's path
// list separator (":" on Unix, ";" on Windows), in IRPKI_DIR or the config
// file too.
func (c *common) registerDirs(fs *flag.FlagSet) {
	fs.Var(dirList{c}, "dir", "state directory: settings, certificate, key, archive (required); repeat --dir, or separate directories with "+
		strconv.Quote(string(os.PathListSeparator))+", to watch several in one process")
	fs.StringVar(&c.config, "config", "", "JSON config file whose keys are these flags' names")
}

// dirList is the flag.Value of a --dir that may name several directories.
type dirList struct{ c *common }

func (d dirList) String() string {
	if d.c == nil {
		return ""
	}
	return strings.Join(d.c.dirs, string(os.PathListSeparator))
}

func (d dirList) Set(v string) error {
	for _, dir := range filepath.SplitList(v) {
		if dir == "" {
			continue
		}
		d.c.dirs = append(d.c.dirs, dir)
		if d.c.dir == "" {
			d.c.dir = dir
		}
	}
	return nil
}

// irpkiFlags are the flags of every irpki command, so that one config file
// (or IRPKI_CONFIG) serves them all: a key that is another command's flag
// is skipped, a key that is no command's flag is still refused.
// TestAllFlagsKnown keeps the list complete.
var irpkiFlags = map[string]bool{
	"config": true, "dir": true, "lock-wait": true,
	// enroll
	"customer-id": true, "organization": true, "transfer-id": true, "transfer-password": true,
	"transfer-password-file": true, "transfer-password-stdin": true, "endpoint": true,
	"service": true, "local-url": true, "environment": true, "trust": true, "issuer-trust": true, "key-size": true,
	// renew
	"force": true,
	// status
	"json": true,
	// watch
	"deploy-hook": true, "deploy-hook-timeout": true, "metrics": true, "check-interval": true,
	"retry-initial": true, "retry-max": true, "once": true,
	// export
	"pkcs12": true, "password-file": true, "password-stdin": true, "legacy": true, "pem-chain": true,
}

// newFlagSet returns a command's flag set with the common flags.
func (a *app) newFlagSet(name string) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	c := &common{}
	c.register(fs)
	return fs, c
}

// newFlagSetDirs is newFlagSet for a command that takes several state
// directories (see registerDirs).
func (a *app) newFlagSetDirs(name string) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	c := &common{}
	c.registerDirs(fs)
	return fs, c
}

// parse parses args, then fills unset flags from the environment and the
// config file, and requires --dir.
//
// --help (-h) prints the command's usage to standard output, for a pager
// or grep, and the caller exits 0; a flag error prints the error and the
// usage to standard error (exit 2).
func (a *app) parse(fs *flag.FlagSet, c *common, args []string) error {
	var out bytes.Buffer
	fs.SetOutput(&out)
	err := fs.Parse(args)
	fs.SetOutput(a.stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.stdout.Write(out.Bytes())
			return err
		}
		a.stderr.Write(out.Bytes())
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(a.stderr, "irpki %s: unexpected argument %q (flags are written --name value)\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	cfg := c.config
	if cfg == "" {
		if v, ok := a.lookupEnv(cliconfig.EnvName("config")); ok {
			cfg = v
		}
	}
	other := func(name string) bool { return irpkiFlags[name] }
	if err := cliconfig.ResolveShared(fs, cfg, a.lookupEnv, other); err != nil {
		return err
	}
	if c.dir == "" {
		fmt.Fprintf(a.stderr, "irpki %s: --dir is required (the state directory, e.g. /var/lib/irpki)\n", fs.Name())
		return errUsage
	}
	return nil
}

// manager opens the state directory with the app's clock and a progress
// printer on stderr.
func (a *app) manager(c *common, lockWait time.Duration) (*renewal.Manager, error) {
	return renewal.Open(c.dir, renewal.Options{
		Now:        a.now,
		Sleep:      a.sleep,
		HTTPClient: a.httpClient,
		UserAgent:  userAgent(),
		LockWait:   lockWait,
		Progress:   func(e renewal.Event) { fmt.Fprintf(a.stderr, "irpki: %s\n", e.Message) },
	})
}

// userAgent is the User-Agent of irpki's requests: irpki/VERSION, the
// version "irpki version" prints.
func userAgent() string { return "irpki/" + build.Version }

// needsNewOrder reports errors that only a new order and enrolment fix.
func needsNewOrder(err error) bool {
	return errors.Is(err, renewal.ErrExpired) || errors.Is(err, renewal.ErrRevoked) ||
		errors.Is(err, renewal.ErrNoCertificate) || errors.Is(err, renewal.ErrNoSettings) ||
		errors.Is(err, renewal.ErrDeliveredExpired)
}

// resolveService resolves --endpoint, --service and --environment;
// localURL is what --service local means (--local-url).
func resolveService(endpoint, svc, environment, localURL string) (string, string, error) {
	environment = strings.ToUpper(environment)
	if environment != "" && environment != client.EnvTest && environment != client.EnvProduction {
		return "", "", fmt.Errorf("--environment %q: use TEST or PRODUCTION", environment)
	}
	var presetEP, presetEnv string
	switch strings.ToLower(svc) {
	case "":
	case "test":
		presetEP, presetEnv = client.EndpointTest, client.EnvTest
	case "production":
		presetEP, presetEnv = client.EndpointProduction, client.EnvProduction
	case "local":
		presetEP, presetEnv = localURL, client.EnvTest
		if presetEP == "" {
			presetEP = EndpointLocal
		}
	default:
		return "", "", fmt.Errorf("--service %q: use test, production or local", svc)
	}
	if presetEP != "" && endpoint != "" {
		return "", "", errors.New("give either --endpoint or --service, not both")
	}
	if presetEP != "" {
		endpoint = presetEP
		if environment == "" {
			environment = presetEnv
		} else if environment != presetEnv && svc != "local" {
			return "", "", fmt.Errorf("--service %s is the %s environment, not %s", svc, presetEnv, environment)
		}
	}
	if endpoint == client.EndpointProduction && environment == "" {
		environment = client.EnvProduction
	}
	if endpoint != "" && !strings.HasPrefix(endpoint, "https://") && !strings.HasPrefix(endpoint, "http://") {
		return "", "", fmt.Errorf("--endpoint %q: must be an http:// or https:// URL", endpoint)
	}
	if strings.HasPrefix(endpoint, "http://") && !loopbackURL(endpoint) {
		return "", "", fmt.Errorf("--endpoint %q: use https:// — plain http:// would carry the TransferPassword and the certificates unencrypted; it is only for irpkid on this machine (127.0.0.1, ::1, localhost)", endpoint)
	}
	return endpoint, environment, nil
}

// loopbackURL reports whether rawURL's host is this machine.
func loopbackURL(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 MST")
}
