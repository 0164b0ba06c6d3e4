package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/certapi"
	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/membudget"
	"github.com/irpki/irpki/internal/metrics"
	"github.com/irpki/irpki/internal/server"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/wire"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := common{createCA: true, helpOut: stdout}
	c.register(fs)
	var extras serveExtras // the e-service and the reminder job (eservice.go)
	extras.register(fs)
	listen := fs.String("listen", defaultListen, "address to listen on")
	tlsCert := fs.String("tls-cert", "", "TLS certificate (PEM) to serve HTTPS")
	tlsKey := fs.String("tls-key", "", "TLS private key (PEM) to serve HTTPS")
	insecure := fs.Bool("allow-insecure-http", false, "allow plain HTTP on a non-loopback address (behind a TLS-terminating proxy)")
	maxBody := fs.Int("max-body-bytes", wire.DefaultLimits.MaxBytes, "largest accepted SOAP request body")
	pprofOn := fs.Bool("pprof", false, "also serve Go's profiler (net/http/pprof) at /debug/pprof/ on the --metrics-listen address, for operators profiling a running server")
	metricsListen := fs.String("metrics-listen", "", "address to serve Prometheus metrics on at /metrics (with /healthz and /readyz), e.g. 127.0.0.1:9590; empty: no metrics")
	retention := fs.String("audit-retention", "90d", "prune refusals filed under no organisation (the audit entries anyone can cause) older than this; entries about issuance, revocation, orders and accounts are kept forever; 0 keeps all")
	inflight := fs.Int64("max-inflight-body-bytes", certapi.DefaultBodyBytesInFlight, "memory that SOAP request bodies being received may hold at once, over all connections; beyond it requests get 503 SERVICE_BUSY")
	issueDelay := fs.Duration("issue-delay", 0, "make each certificate retrievable only this long after its request was accepted (e.g. 30s): until then GetCertificate answers\nFAIL NOT_READY saying when to try again, as the real service's certificate is not always ready at once; 0: at once")
	rsaSizes := fs.String("rsa-key-sizes", "2048", "RSA key sizes certified, comma-separated, of 2048, 3072 and 4096; the real service supports only 2048,\nso a wider setting departs from it (earlier irpkid versions accepted 2048,3072,4096)")
	maxInFlight := fs.Int("max-inflight-requests", certapi.DefaultMaxInFlight, "SOAP requests served at once (each costs up to three RSA signatures); default 4 per CPU")
	memBudget := fs.String("memory-budget", "auto", "memory the garbage collector works to (Go's memory limit, GOGC off), e.g. 64MiB, at least "+membudget.FormatSize(minMemoryBudget)+":\nresident memory stays about this plus the executable's pages at any load; raised by 64 MiB while each e-service password\ncheck runs; auto: "+membudget.FormatSize(autoBudgetBase)+" and "+membudget.FormatSize(autoBudgetPerRequest)+" per SOAP request admitted at once (--max-inflight-requests +\n--max-queued-requests; "+membudget.FormatSize(autoMemoryBudget(certapi.DefaultMaxInFlight, certapi.DefaultMaxQueued))+" with their defaults here); 0: Go's own settings; GOGC and GOMEMLIMIT in the\nenvironment win (docs/operations.md, \"Memory: the collector's budget\")")
	maxQueued := fs.Int("max-queued-requests", certapi.DefaultMaxQueued, "SOAP requests that may wait for those being served; beyond it requests get 503 SERVICE_BUSY with Retry-After at once; default 64 per CPU (about a quarter of a second of work)")
	fs.Usage = cliconfig.Usage(fs, "irpkid serve [flags]", "Runs the certificate service: SOAP at "+certapi.Path+" (?wsdl, ?xsd), /healthz, the e-service at /eservice/\nand the expiry reminder job.\nOn first start it creates the data directory, the SQLite store and a CA for the environment.\n"+
		"The CA's keys are files in DATA/ca/ENVIRONMENT (encrypted ones need --key-passphrase-file or "+envPassphrase+")\n"+
		"or keys in a PKCS#11 token named there by NAME.pkcs11 files: see docs/operations.md, \"Key custody\".")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *maxBody < minBodyLimit {
		return fmt.Errorf("--max-body-bytes %d: at least %d, or valid requests (a CSR of up to 10 KiB, a signature with its certificate) are refused as too large", *maxBody, minBodyLimit)
	}
	if *pprofOn && *metricsListen == "" {
		return errors.New("--pprof serves the profiler on the metrics listener: give --metrics-listen too (a loopback or management address)")
	}
	if *maxInFlight < 1 || *maxQueued < 0 {
		return fmt.Errorf("--max-inflight-requests must be at least 1 and --max-queued-requests at least 0 (got %d, %d)", *maxInFlight, *maxQueued)
	}
	if *inflight < int64(*maxBody) {
		return fmt.Errorf("--max-inflight-body-bytes %d: at least --max-body-bytes (%d), or the largest request could never be received", *inflight, *maxBody)
	}
	budget, auto, err := parseMemoryBudget(*memBudget, *maxInFlight, *maxQueued)
	if err != nil {
		return err
	}
	sizes, err := parseRSASizes(*rsaSizes)
	if err != nil {
		return err
	}
	if *issueDelay < 0 || *issueDelay > 24*time.Hour {
		return fmt.Errorf("--issue-delay %v: give 0 to 24h", *issueDelay)
	}
	crlBase := crlBaseURL(extras.publicURL, *tlsCert != "", *listen)
	var keepAudit time.Duration
	if *retention != "0" {
		var err error
		if keepAudit, err = parseDuration(*retention); err != nil {
			return fmt.Errorf("--audit-retention %v", err)
		}
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	useTLS := *tlsCert != ""
	if !useTLS && !*insecure {
		if err := requireLoopback(*listen); err != nil {
			return err
		}
	}
	var tlsConfig *tls.Config
	if useTLS {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	limits := wire.DefaultLimits
	limits.MaxBytes = *maxBody
	cfg := server.Config{
		SOAP: certapi.Config{Limits: limits, PublicURL: extras.publicURL, BodyBytesInFlight: *inflight,
			MaxInFlight: *maxInFlight, MaxQueued: cmp.Or(*maxQueued, -1)},
		CRLInterval:    time.Hour,
		AuditRetention: keepAudit,
		SignerRefresh:  signerRefresh,
	}
	if err := extras.apply(&cfg, useTLS, *listen); err != nil {
		return err
	}
	if err := checkModes(c.dataDir, c.environment); err != nil {
		return err
	}
	if c.database == "" {
		release, err := lockDataDir(c.dataDir, clock.System{}.Now())
		if err != nil {
			return err
		}
		defer release()
	}
	if cfg.CoreConfig, err = c.coreConfig(stderr); err != nil {
		return err
	}
	mem := tuneGC(budget, auto, os.LookupEnv, cfg.Log)
	if cfg.EService != nil && mem != nil {
		cfg.EService.ReserveMemory = mem.Reserve
	}
	removed, err := ca.RemoveStaleRotationDirs(filepath.Join(c.dataDir, "ca", c.environment))
	for _, p := range removed {
		cfg.Log.Warn("removed what an interrupted signer rotation left", "path", p)
	}
	if err != nil {
		return err
	}
	cfg.Metrics = metrics.New(build)
	cfg.Metrics.Register(memoryMetrics(mem)...)
	cfg.Rules = func(sc *service.Config) {
		sc.Profile.RSASizes = sizes
		sc.Profile.CRLBaseURL = crlBase
		sc.IssueDelay = *issueDelay
	}
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	settleMemory()
	srv.Start(ctx)
	if *metricsListen != "" {
		ln, err := net.Listen("tcp", *metricsListen)
		if err != nil {
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		if err := srv.ServeMetrics(ln, *pprofOn); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if useTLS {
		ln = tls.NewListener(ln, tlsConfig)
		scheme = "https"
	}
	srv.Log.Info("irpkid serving", "environment", c.environment, "endpoint", scheme+"://"+ln.Addr().String()+certapi.Path, "data_dir", c.dataDir)
	// The client's command line that reaches this server, for the
	// operator to hand on with the order's credentials.
	fmt.Fprintln(stdout, enrollLine(scheme, ln.Addr().String(), c.environment, c.dataDir))
	return srv.Serve(ctx, ln)
}

// crlBaseURL is where certificates say their issuer's revocation list is
// (the CRL distribution point): under --public-url, or else this server's
// listen address; none when the listen address has no fixed port.
func crlBaseURL(publicURL string, useTLS bool, listen string) string {
	if publicURL != "" {
		return publicURL
	}
	if _, port, err := net.SplitHostPort(listen); err != nil || port == "0" || port == "" {
		return ""
	}
	return defaultPublicURL(useTLS, listen)
}

// minBodyLimit is the smallest --max-body-bytes: the largest valid request
// (a 10 KiB CSR as base64, a signature with a certificate chain) stays
// below it.
const minBodyLimit = 32 << 10

func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen %s is not a loopback address: serve HTTPS with --tls-cert/--tls-key, or pass --allow-insecure-http behind a TLS-terminating proxy", addr)
	}
	return nil
}

// localEndpoint is irpki's default for --service local; a server
// elsewhere is named with --local-url.
const localEndpoint = "http://" + defaultListen + certapi.Path

// enrollLine is the irpki enroll command that reaches a server listening
// on addr: --service local, with --local-url unless it is the default
// address, for this machine (a wildcard address is reached on 127.0.0.1),
// else --endpoint.
func enrollLine(scheme, addr, environment, dataDir string) string {
	host, port, err := net.SplitHostPort(addr)
	if err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
		}
		addr = net.JoinHostPort(host, port)
	}
	url := scheme + "://" + addr + certapi.Path
	target := "--endpoint " + url
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		target = "--service local"
		if url != localEndpoint {
			target += " --local-url " + url
		}
	}
	if environment != wire.EnvTest {
		target += " --environment " + environment
	}
	return fmt.Sprintf("irpkid: clients enrol with: irpki enroll --dir DIR %s --trust TRUST.pem --customer-id BUSINESS-ID --transfer-id ID --transfer-password-file FILE\n"+
		"irpkid: (TRUST.pem: irpkid trust --data-dir %s --environment %s > TRUST.pem; the order's TransferId and TransferPassword: irpkid order, or the e-service)",
		target, dataDir, environment)
}

// parseRSASizes reads --rsa-key-sizes: sizes of ca.AllowedRSASizes,
// comma-separated.
func parseRSASizes(v string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || !slices.Contains(ca.AllowedRSASizes, n) {
			return nil, fmt.Errorf("--rsa-key-sizes %q: give sizes of 2048, 3072 and 4096, comma-separated (default 2048, as the real service)", v)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// signerRefresh is how often serve looks for a response-signer rotation
// begun or finished in the CA directory.
const signerRefresh = 30 * time.Second
