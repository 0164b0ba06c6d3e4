package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/certapi"
	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/crl"
	"github.com/irpki/irpki/internal/eservice"
	"github.com/irpki/irpki/internal/metrics"
	"github.com/irpki/irpki/internal/reqid"
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
	maxQueued := fs.Int("max-queued-requests", certapi.DefaultMaxQueued, "SOAP requests that may wait for those being served; beyond it requests get 503 SERVICE_BUSY with Retry-After at once; default 16 per CPU")
	fs.Usage = cliconfig.Usage(fs, "irpkid serve [flags]", "Runs the certificate service: SOAP at "+certapi.Path+" (?wsdl, ?xsd), /healthz, the e-service at /eservice/\nand the expiry reminder job.\nOn first start it creates the data directory, the SQLite store and a CA for the environment.")
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
	sizes, err := parseRSASizes(*rsaSizes)
	if err != nil {
		return err
	}
	if *issueDelay < 0 || *issueDelay > 24*time.Hour {
		return fmt.Errorf("--issue-delay %v: give 0 to 24h", *issueDelay)
	}
	crlBase := crlBaseURL(extras.publicURL, *tlsCert != "", *listen)
	c.rules = func(cfg *service.Config) {
		cfg.Profile.RSASizes = sizes
		cfg.Profile.CRLBaseURL = crlBase
		cfg.IssueDelay = *issueDelay
	}
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
	c.metrics = metrics.New(build)
	a, err := c.open(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	signer, err := wire.NewSigner(a.ca.SigningKey, a.ca.SigningChain())
	if err != nil {
		return err
	}
	limits := wire.DefaultLimits
	limits.MaxBytes = *maxBody
	mux := http.NewServeMux()
	api := certapi.New(a.svc, signer, certapi.Config{Limits: limits, Log: a.log, Health: a.db.Ping, Ready: a.ready,
		PublicURL: extras.publicURL, BodyBytesInFlight: *inflight, Observer: a.metrics,
		MaxInFlight: *maxInFlight, MaxQueued: cmp.Or(*maxQueued, -1)})
	api.Register(mux)
	a.exposeCA()
	mux.Handle(crl.PathPrefix, a.crls.Handler())
	a.metrics.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "irpkid_soap_body_bytes_in_flight",
		Help: "Memory held now by SOAP request bodies being received (bounded by --max-inflight-body-bytes)."},
		func() float64 { return float64(api.BodyBytesInFlight()) }))
	a.metrics.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "irpkid_soap_requests_admitted",
		Help: "SOAP requests being served or waiting for their turn (bounded by --max-inflight-requests plus --max-queued-requests)."},
		func() float64 { all, _ := api.Admission().Queued(""); return float64(all) }))
	a.metrics.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "irpkid_store_commits_total",
		Help: "Durable SQLite commits (each one fsync); with irpkid_store_committed_transactions_total, how many write transactions a group commit holds."},
		func() float64 { c, _ := a.db.CommitStats(); return float64(c) }))
	a.metrics.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "irpkid_store_committed_transactions_total",
		Help: "Write transactions in the SQLite commits."},
		func() float64 { _, t := a.db.CommitStats(); return float64(t) }))
	stopExtras, err := extras.start(ctx, a, c.dataDir, mux, useTLS, *listen)
	if err != nil {
		return err
	}
	defer stopExtras()
	{
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); a.crls.Run(cctx, time.Hour) }()
		defer func() { cancel(); <-done }()
	}
	if keepAudit > 0 {
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); pruneAudit(pctx, a.db, keepAudit, time.Hour, time.Now, a.log) }()
		defer func() { cancel(); <-done }()
	}
	if *metricsListen != "" {
		stop, err := serveMetrics(*metricsListen, a, api, *pprofOn)
		if err != nil {
			return err
		}
		defer stop()
	}
	srv := &http.Server{
		Handler:           reqid.Middleware(a.log, time.Now, eservice.RedactPath, mux),
		ReadHeaderTimeout: certapi.ReadHeaderTimeout,
		ReadTimeout:       certapi.ReadTimeout,
		WriteTimeout:      certapi.WriteTimeout,
		IdleTimeout:       certapi.IdleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          nil,
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if useTLS {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("TLS: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	a.log.Info("irpkid serving", "environment", c.environment, "endpoint", scheme+"://"+ln.Addr().String()+certapi.Path, "data_dir", c.dataDir)
	// The client's command line that reaches this server, for the
	// operator to hand on with the order's credentials.
	fmt.Fprintln(stdout, enrollLine(scheme, ln.Addr().String(), c.environment, c.dataDir))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// Leave the data in the database file alone, ready to back up. Not
	// fatal: the log is as durable, and the next start reads it.
	if err := a.db.Checkpoint(sctx); err != nil {
		a.log.Warn("could not fold the write-ahead log into the database at shutdown", "err", err)
	}
	a.log.Info("stopped")
	return nil
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

// ready is /readyz: the database takes a write and every online key signs.
func (a *app) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := a.db.ProbeWrite(ctx, a.clk.Now()); err != nil {
		return fmt.Errorf("the database does not take writes: %w", err)
	}
	return a.ca.CheckKeys(rand.Reader)
}

// readyTimeout bounds the readiness probe: a database that waits on a lock
// longer than this is not ready.
const readyTimeout = 3 * time.Second

// exposeCA sets the expiry gauges of the hierarchy's certificates.
func (a *app) exposeCA() {
	for _, rc := range a.ca.Certificates() {
		a.metrics.CertificateExpiry(rc.Role, rc.Cert)
	}
}

// serveMetrics serves /metrics, /healthz and /readyz on addr until the
// returned func is called.
func serveMetrics(addr string, a *app, api *certapi.Handler, withPprof bool) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", a.metrics.Handler())
	api.RegisterHealth(mux)
	writeTimeout := certapi.WriteTimeout
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		writeTimeout = 0 // a CPU profile or trace takes ?seconds= to answer
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: certapi.ReadHeaderTimeout, ReadTimeout: certapi.ReadTimeout, WriteTimeout: writeTimeout}
	go srv.Serve(ln)
	a.log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() { srv.Close() }, nil
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
