// Command irpkiload is a load generator for a running irpkid: N concurrent
// clients each run full certificate cycles — order (through the irpkid
// operator CLI on the server's data directory), new key, SignNewCertificate,
// GetCertificate, new key, RenewCertificate signed with the first key,
// GetCertificate — and it reports throughput, latency percentiles per
// operation, and errors. It exits 1 if any operation failed.
//
//	irpkid serve --data-dir ./d &
//	irpkiload --endpoint http://127.0.0.1:8080/2017/10/CertificateServices \
//	          --data-dir ./d --clients 8 --duration 60s
//
// Orders are made with `irpkid order --validity 30d` so that each new
// certificate is inside its 60-day renewal window at once (TEST only); each
// client registers its own organisation first with `irpkid org add`. The
// trust bundle comes from `irpkid trust` unless --trust is given.
//
// --ladder runs one step per client count and reads the server's CPU and
// memory from /proc (see ladder.go); with --start it starts irpkid serve
// itself, HTTPS on a loopback port (docs/benchmark.md):
//
//	irpkiload --start --irpkid ./irpkid --mode renew --ladder 1,4,16,64,128 --duration 20s
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/cliconfig"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the command line.
type config struct {
	endpoint, trust, irpkid, dataDir, validity string
	mode                                       string
	// onStart, if set, is called as the clock starts (after the keys are
	// made and, in renew mode, the clients enrolled); for measurements.
	onStart func()
	// onAnswer, if set, sees each RetrievalId as it is answered; for tests.
	onAnswer                func(Answered)
	clients, cycles, pregen int
	duration                time.Duration
	warmup                  time.Duration // with --ladder; negative: auto (see warmupFor)
	asJSON                  bool
	// The ladder.
	ladder, database string
	rounds           int
	serverPID        int
	serverPprof      string // base URL of the server's net/http/pprof
	databasePID      int
	start            bool
	serveFlags       []string
	tlsClient        *tls.Config
	cpuProfile       string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("irpkiload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.endpoint, "endpoint", "", "irpkid SOAP endpoint, e.g. http://127.0.0.1:8080/2017/10/CertificateServices;\nseveral, comma-separated, spread the clients over replicas (client i uses endpoint i mod n)")
	fs.StringVar(&c.mode, "mode", "full", "full: each cycle orders, enrols and renews once; renew: each client enrols once, then each cycle is\nRenewCertificate (signed with the newest certificate) and GetCertificate; enrol: each cycle is SignNewCertificate\nand GetCertificate (with --ladder, of orders made before the clock starts; otherwise ordered in the cycle)")
	fs.StringVar(&c.dataDir, "data-dir", "", "the server's data directory, for irpkid org add / order / trust")
	fs.StringVar(&c.irpkid, "irpkid", "irpkid", "the irpkid executable")
	fs.StringVar(&c.trust, "trust", "", "PEM trust bundle (default: irpkid trust on --data-dir)")
	fs.StringVar(&c.validity, "validity", "30d", "validity of ordered certificates; under the 60-day window so that renewal is open at once")
	fs.IntVar(&c.clients, "clients", 4, "concurrent clients")
	fs.IntVar(&c.cycles, "cycles", 0, "cycles per client (0: run for --duration)")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "how long to run when --cycles is 0")
	fs.BoolVar(&c.asJSON, "json", false, "print the report as JSON")
	fs.IntVar(&c.pregen, "pregen-keys", 0, "generate this many RSA keys before the clock starts, so that the run measures the service rather than the load generator's key generation (cycles take keys from the pool, then generate their own)")
	fs.StringVar(&c.ladder, "ladder", "", "run a ladder of steps, one per client count (e.g. 1,4,16,64,128), each for --duration, and report\nfor each cycles/s, the server's CPU per cycle (from /proc; --server-pid or --start), Go's RSA-2048\nsignature cost measured in the same run, the signatures' share, latency p50/p99, 503s and the server's RSS")
	warmup := fs.String("warmup", "auto", "with --ladder: how long each step's clients run before its measured --duration starts, so that the\nstep is measured at its steady state (auto: a fifth of --duration, at most 2s; 0: none). Cycles still\nin flight when the window closes end, uncounted, before the next step")
	fs.IntVar(&c.rounds, "rounds", 1, "with --ladder: run the whole ladder this many times on the same server and report, beside each\nround, every step's median over the rounds (a shared machine's speed drifts within minutes)")
	fs.IntVar(&c.serverPID, "server-pid", 0, "the irpkid serve process whose CPU and memory the ladder reads (Linux /proc)")
	fs.StringVar(&c.serverPprof, "server-pprof", "", "with --ladder: the server's profiler, http://ADDR of irpkid serve --metrics-listen ADDR --pprof; each step then\nalso reads the signatures' share of the server's CPU off its CPU profile over the window's whole seconds\n(sig share (profile)). With --start irpkiload sets this up itself unless a --serve-flag gives --metrics-listen")
	fs.IntVar(&c.databasePID, "database-pid", 0, "the PostgreSQL server's postmaster: the ladder adds its CPU and its children's to the server's (Linux /proc)")
	fs.BoolVar(&c.start, "start", false, "start irpkid serve itself (HTTPS on a loopback port; a new temporary data directory, removed after, unless --data-dir) for the run, and stop it after")
	fs.StringVar(&c.database, "database", "", "with --start: the PostgreSQL URL irpkid serve and its operator commands use (default SQLite in the data directory)")
	fs.Func("serve-flag", "with --start: a flag for irpkid serve, e.g. --serve-flag=--max-queued-requests=64 (repeatable)", func(v string) error {
		c.serveFlags = append(c.serveFlags, v)
		return nil
	})
	fs.StringVar(&c.cpuProfile, "cpu-profile", "", "write the load generator's own CPU profile (go tool pprof) to this file, to see what the clients cost")
	fs.Usage = cliconfig.PlainUsage(fs, "irpkiload (--endpoint URL[,URL…] --data-dir DIR | --start [--data-dir DIR]) [--mode full|renew|enrol] [--clients N | --ladder 1,4,16]\n       [--cycles N | --duration D] [--pregen-keys N] [--json]",
		"Runs N concurrent clients against a running irpkid, each doing full certificate cycles: order (irpkid org add\n"+
			"and order on the server's data directory), SignNewCertificate, GetCertificate, RenewCertificate signed with\n"+
			"the first key, GetCertificate. Reports throughput, latency percentiles per operation and errors; exits 1\n"+
			"if any operation failed. TEST environment only (orders use a short validity).")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var bad []string
	var steps []int
	if c.ladder != "" {
		var err error
		if steps, err = parseLadder(c.ladder); err != nil {
			bad = append(bad, err.Error())
		}
		if !c.start && c.serverPID == 0 {
			bad = append(bad, "--ladder needs --server-pid (the running irpkid) or --start")
		}
	}
	if c.serverPprof != "" {
		c.serverPprof = strings.TrimRight(c.serverPprof, "/")
		u, err := url.Parse(c.serverPprof)
		switch {
		case c.ladder == "":
			bad = append(bad, "--server-pprof: only with --ladder")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad = append(bad, fmt.Sprintf("--server-pprof %q: give the profiler's base URL, http://ADDR", c.serverPprof))
		case c.start && !givesMetricsListen(c.serveFlags):
			// The server started here would have no profiler there.
			bad = append(bad, "--server-pprof with --start: irpkiload sets up the server's profiler itself; give it only with --serve-flag=--metrics-listen=ADDR --serve-flag=--pprof")
		}
	}
	c.warmup = -1
	if *warmup != "auto" {
		d, err := time.ParseDuration(*warmup)
		switch {
		case err != nil || d < 0:
			bad = append(bad, fmt.Sprintf("--warmup %q: give a duration such as 2s, 0 or auto", *warmup))
		case c.ladder == "":
			bad = append(bad, "--warmup: only with --ladder")
		default:
			c.warmup = d
		}
	}
	if c.rounds < 1 || (c.rounds > 1 && c.ladder == "") {
		bad = append(bad, fmt.Sprintf("--rounds %d: give at least 1, and more only with --ladder", c.rounds))
	}
	if c.database != "" && !c.start {
		bad = append(bad, "--database goes with --start")
	}
	if c.endpoint == "" && !c.start {
		bad = append(bad, "--endpoint is required")
	}
	if c.dataDir == "" && !c.start {
		bad = append(bad, "--data-dir is required")
	}
	if c.clients < 1 {
		bad = append(bad, "--clients must be at least 1")
	}
	if c.mode != "full" && c.mode != "renew" && c.mode != "enrol" {
		bad = append(bad, "--mode is full, renew or enrol")
	}
	if c.cycles < 0 {
		bad = append(bad, "--cycles must not be negative")
	}
	if c.duration <= 0 && (c.ladder != "" || c.cycles == 0) {
		// A step's window, or the run, would measure nothing.
		bad = append(bad, fmt.Sprintf("--duration %s: give a positive duration", c.duration))
	}
	if fs.NArg() > 0 {
		bad = append(bad, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if len(bad) > 0 {
		fmt.Fprintf(stderr, "irpkiload: %s (irpkiload --help lists the flags)\n", strings.Join(bad, "; "))
		return 2
	}
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "irpkiload: --cpu-profile: %v\n", err)
			return 1
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if steps != nil {
		rep, err := ladder(ctx, c, steps, stdout, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "irpkiload: %v\n", err)
			return 1
		}
		printReport(stdout, c.asJSON, rep)
		for _, st := range rep.Steps {
			if st.Errors > 0 {
				return 1
			}
		}
		return 0
	}
	if c.start {
		srv, err := startServer(ctx, &c, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "irpkiload: %v\n", err)
			return 1
		}
		defer srv.close()
	}
	rep, err := load(ctx, c, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "irpkiload: %v\n", err)
		return 1
	}
	printReport(stdout, c.asJSON, rep)
	if rep.Errors > 0 {
		return 1
	}
	return 0
}

// Operations measured.
const (
	opSignNew = "sign_new"
	opGet     = "get"
	opRenew   = "renew"
	opOrderCr = "order"  // irpkid order on the data directory (a process start)
	opCycle   = "cycle"  // the whole cycle, key generation and order included
	opOther   = "client" // failures of the load generator itself (key generation)
)

var opOrder = []string{opOrderCr, opSignNew, opGet, opRenew, opCycle, opOther}

// recorded marks an error already counted under its operation.
type recorded struct{ error }

func (r recorded) Unwrap() error { return r.error }

// OpStats are one operation's figures.
type OpStats struct {
	Op     string  `json:"op"`
	Count  int     `json:"count"`
	Errors int     `json:"errors"`
	P50    float64 `json:"p50_ms"`
	P90    float64 `json:"p90_ms"`
	P99    float64 `json:"p99_ms"`
	Max    float64 `json:"max_ms"`
}

// Report is the result of a run.
type Report struct {
	Clients      int       `json:"clients"`
	PregenKeys   int       `json:"pregenerated_keys"`
	Cycles       int       `json:"cycles"`
	Requests     int       `json:"requests"` // SOAP requests
	Errors       int       `json:"errors"`
	Seconds      float64   `json:"seconds"`
	CyclesPerS   float64   `json:"cycles_per_second"`
	RequestsPerS float64   `json:"requests_per_second"`
	Ops          []OpStats `json:"operations"`
	FirstErrors  []string  `json:"first_errors,omitempty"`
	// SignCPUms is the CPU time of one RSA-2048 signature (PKCS #1 v1.5,
	// SHA-256) on this machine during the run: the median of samples taken
	// on the load generator's own thread every quarter second.
	SignCPUms  float64 `json:"rsa2048_sign_cpu_ms"`
	answered   []Answered
	endpointOf map[string]int // customer → the index of its endpoint
}

func (r *Report) write(w io.Writer) {
	fmt.Fprintf(w, "irpkiload: %d clients, %d cycles, %d requests in %.1fs: %.2f cycles/s, %.1f requests/s, %d errors (%d keys pregenerated); one RSA-2048 signature %.2f ms CPU\n",
		r.Clients, r.Cycles, r.Requests, r.Seconds, r.CyclesPerS, r.RequestsPerS, r.Errors, r.PregenKeys, r.SignCPUms)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tcount\terrors\tp50 ms\tp90 ms\tp99 ms\tmax ms\t")
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t\n", o.Op, o.Count, o.Errors, o.P50, o.P90, o.P99, o.Max)
	}
	tw.Flush()
	for _, e := range r.FirstErrors {
		fmt.Fprintln(w, "error:", e)
	}
}

// clientTransport is the clients' HTTP transport: up to maxIdle
// connections kept open between requests, each dropped after a minute
// idle. Without that bound a connection left idle between steps was
// reused just as irpkid closed it (its IdleTimeout, 120 s), and the
// POST, which the transport does not send again by itself, failed with
// EOF.
func clientTransport(tlsConfig *tls.Config, maxIdle int) *http.Transport {
	return &http.Transport{MaxIdleConnsPerHost: maxIdle, IdleConnTimeout: time.Minute, TLSClientConfig: tlsConfig}
}

// recorder collects latencies and errors from the clients.
type recorder struct {
	// paused stops ok from recording latencies and cycles: a ladder step
	// counts only what completes inside its measurement window.
	paused  bool
	keys    *keyPool
	issuers *issuerCache
	mu      sync.Mutex
	lat     map[string][]time.Duration
	errs    map[string]int
	first   []string
	cycles  int
	// answered are the RetrievalIds the service answered, for tests.
	answered   []Answered
	endpointOf map[string]int // customer → the index of its endpoint
	onAnswer   func(Answered)
}

// Answered is a RetrievalId the service answered to a customer, when, and
// at which of the endpoints.
type Answered struct {
	Customer, RetrievalID string
	At                    time.Time
	Endpoint              int
}

func (r *recorder) answer(customer, rid string) {
	r.mu.Lock()
	a := Answered{Customer: customer, RetrievalID: rid, At: time.Now(), Endpoint: r.endpointOf[customer]}
	r.answered = append(r.answered, a)
	r.mu.Unlock()
	if r.onAnswer != nil {
		r.onAnswer(a)
	}
}

func (r *recorder) ok(op string, d time.Duration) {
	r.mu.Lock()
	if r.paused {
		r.mu.Unlock()
		return
	}
	r.lat[op] = append(r.lat[op], d)
	if op == opCycle {
		r.cycles++
	}
	r.mu.Unlock()
}

// count opens (true) or closes (false) the window in which ok records;
// errors are counted in and out of it.
func (r *recorder) count(on bool) {
	r.mu.Lock()
	r.paused = !on
	r.mu.Unlock()
}

func (r *recorder) fail(op string, err error) {
	r.mu.Lock()
	r.errs[op]++
	if len(r.first) < 10 {
		r.first = append(r.first, op+": "+err.Error())
	}
	r.mu.Unlock()
}

// timed runs f and records its latency or error under op.
func (r *recorder) timed(op string, f func() error) error {
	start := time.Now()
	if err := f(); err != nil {
		r.fail(op, err)
		return recorded{err}
	}
	r.ok(op, time.Since(start))
	return nil
}

// loadTrust reads --trust, or asks irpkid trust on the data directory.
func loadTrust(ctx context.Context, c config) ([]*x509.Certificate, error) {
	var pemData []byte
	var err error
	if c.trust != "" {
		pemData, err = os.ReadFile(c.trust)
	} else {
		pemData, err = irpkid(ctx, c, "trust")
	}
	if err != nil {
		return nil, err
	}
	return client.ParseTrustBundle(pemData)
}

func load(ctx context.Context, c config, stderr io.Writer) (*Report, error) {
	trust, err := loadTrust(ctx, c)
	if err != nil {
		return nil, err
	}
	var cls []*client.Client
	for _, ep := range strings.Split(c.endpoint, ",") {
		cl, err := client.New(strings.TrimSpace(ep), client.Options{
			Environment: client.EnvTest, Trust: trust,
			HTTPClient: &http.Client{Timeout: 60 * time.Second, Transport: clientTransport(c.tlsClient, c.clients)},
		})
		if err != nil {
			return nil, err
		}
		cls = append(cls, cl)
	}
	rec := &recorder{lat: map[string][]time.Duration{}, errs: map[string]int{}, keys: &keyPool{}, issuers: &issuerCache{}, endpointOf: map[string]int{}, onAnswer: c.onAnswer}
	if c.pregen > 0 {
		fmt.Fprintf(stderr, "irpkiload: generating %d RSA-2048 keys before the run\n", c.pregen)
		if err := rec.keys.fill(ctx, c.pregen); err != nil {
			return nil, err
		}
	}
	// --duration bounds when cycles start; a cycle in flight at the end
	// completes, so that the end of the run is no error of the service.
	var deadline time.Time
	if c.cycles == 0 {
		deadline = time.Now().Add(c.duration)
	}
	// Each run uses fresh organisations, so runs against one data
	// directory do not collide.
	base, err := rand.Int(rand.Reader, big.NewInt(9_000_000))
	if err != nil {
		return nil, err
	}
	var customers []string
	for n := int(base.Int64()) + 1_000_000; len(customers) < c.clients; n++ {
		id, err := businessid.Complete(fmt.Sprintf("%07d", n%10_000_000))
		if err != nil {
			continue
		}
		if _, err := irpkid(ctx, c, "org", "add", "--customer-id", id, "--name", "Load "+id, "--contact-email", "load@example.fi"); err != nil {
			return nil, err
		}
		rec.endpointOf[id] = len(customers) % len(cls)
		customers = append(customers, id)
	}
	// In renew mode every client enrols before the clock starts: the run
	// measures renew+get cycles alone.
	first := make([]*holding, len(customers))
	if c.mode == "renew" {
		warm := &recorder{lat: map[string][]time.Duration{}, errs: map[string]int{}, keys: rec.keys, issuers: rec.issuers}
		var wg sync.WaitGroup
		errs := make([]error, len(customers))
		for n, id := range customers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				first[n], errs[n] = enrol(ctx, c, cls[n%len(cls)], warm, id)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("enrolling the clients before the run: %w", err)
		}
		if c.cycles == 0 {
			deadline = time.Now().Add(c.duration)
		}
	}
	sampling := make(chan struct{})
	signs := make(chan []time.Duration, 1)
	go func() { signs <- sampleSignatures(sampling) }()
	if c.onStart != nil {
		c.onStart()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for n, id := range customers {
		cl := cls[n%len(cls)]
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			h := first[n] // renew mode: the newest certificate
			for i := 0; c.cycles == 0 || i < c.cycles; i++ {
				if ctx.Err() != nil || (!deadline.IsZero() && time.Now().After(deadline)) {
					return
				}
				cycleStart := time.Now()
				var err error
				switch c.mode {
				case "renew":
					h, err = renewCycle(ctx, c, cl, rec, id, h)
				case "enrol":
					_, err = enrol(ctx, c, cl, rec, id)
				default:
					_, err = cycle(ctx, c, cl, rec, id)
				}
				if err != nil {
					if ctx.Err() != nil {
						return // interrupted
					}
					var done recorded
					if !errors.As(err, &done) {
						rec.fail(opOther, err)
					}
					rec.fail(opCycle, err)
					continue
				}
				rec.ok(opCycle, time.Since(cycleStart))
			}
		}(id)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(sampling)
	rep := rec.report(c.clients, elapsed)
	rep.PregenKeys = c.pregen
	if s := <-signs; len(s) > 0 {
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		rep.SignCPUms = ms(pct(s, 50))
	}
	return rep, nil
}

// holding is a certificate and its key, as a client holds them.
type holding struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

// renewCycle renews h (after enrolling first if h is nil, which is not
// counted as a cycle) and fetches the successor: one renew+get cycle.
func renewCycle(ctx context.Context, c config, cl *client.Client, rec *recorder, customer string, h *holding) (*holding, error) {
	if h == nil {
		first, err := enrol(ctx, c, cl, rec, customer)
		if err != nil {
			return nil, err
		}
		h = first
	}
	return renewOnce(ctx, cl, rec, customer, h)
}

// cycle runs one full enrol + renew cycle for customer.
func cycle(ctx context.Context, c config, cl *client.Client, rec *recorder, customer string) (*holding, error) {
	h, err := enrol(ctx, c, cl, rec, customer)
	if err != nil {
		return nil, err
	}
	return renewOnce(ctx, cl, rec, customer, h)
}

// enrol orders (irpkid order) and enrols a certificate.
func enrol(ctx context.Context, c config, cl *client.Client, rec *recorder, customer string) (*holding, error) {
	var creds []credentials
	if err := rec.timed(opOrderCr, func() (err error) {
		creds, err = order(ctx, c, customer, 1)
		return err
	}); err != nil {
		return nil, err
	}
	return enrolWith(ctx, cl, rec, customer, creds[0])
}

// credentials are an order's TransferId and TransferPassword.
type credentials struct {
	TransferID       string `json:"transfer_id"`
	TransferPassword string `json:"transfer_password"`
}

// order makes n orders for customer with irpkid order on the server's data
// directory, in one process.
func order(ctx context.Context, c config, customer string, n int) ([]credentials, error) {
	out, err := irpkid(ctx, c, "order", "--customer-id", customer, "--validity", c.validity, "--count", strconv.Itoa(n), "--json")
	if err != nil {
		return nil, err
	}
	var creds []credentials
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var cr credentials
		if err := dec.Decode(&cr); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("irpkid order: %w", err)
		}
		creds = append(creds, cr)
	}
	if len(creds) != n {
		return nil, fmt.Errorf("irpkid order --count %d printed %d orders", n, len(creds))
	}
	return creds, nil
}

// enrolWith enrols a certificate with an order's credentials.
func enrolWith(ctx context.Context, cl *client.Client, rec *recorder, customer string, cred credentials) (*holding, error) {
	key1, csr1, err := rec.keys.csr(customer)
	if err != nil {
		return nil, err
	}
	var rid string
	if err := rec.timed(opSignNew, func() (err error) {
		rid, err = cl.SignNewCertificate(ctx, customer, cred.TransferID, cred.TransferPassword, csr1)
		if err == nil {
			rec.answer(customer, rid)
		}
		return err
	}); err != nil {
		return nil, err
	}
	var cert1 *x509.Certificate
	if err := rec.timed(opGet, func() (err error) {
		if cert1, err = cl.GetCertificate(ctx, customer, rid); err != nil {
			return err
		}
		return rec.issuers.verify(cl, cert1, &key1.PublicKey, customer)
	}); err != nil {
		return nil, err
	}
	return &holding{key1, cert1}, nil
}

// renewOnce renews h and fetches and checks the successor.
func renewOnce(ctx context.Context, cl *client.Client, rec *recorder, customer string, h *holding) (*holding, error) {
	key2, csr2, err := rec.keys.csr(customer)
	if err != nil {
		return nil, err
	}
	var rid string
	if err := rec.timed(opRenew, func() (err error) {
		rid, err = cl.RenewCertificate(ctx, customer, csr2, h.key, h.cert)
		if err == nil {
			rec.answer(customer, rid)
		}
		return err
	}); err != nil {
		return nil, err
	}
	var cert2 *x509.Certificate
	err = rec.timed(opGet, func() (err error) {
		if cert2, err = cl.GetCertificate(ctx, customer, rid); err != nil {
			return err
		}
		return rec.issuers.verify(cl, cert2, &key2.PublicKey, customer)
	})
	if err != nil {
		return nil, err
	}
	return &holding{key2, cert2}, nil
}

// keyPool hands out keys with their CSRs made before the clock started
// (prepare), then pre-generated keys (fill), then fresh ones.
type keyPool struct {
	mu    sync.Mutex
	ready []keyCSR
	keys  []*rsa.PrivateKey
	// primes, if any, make keys from pairs (see fillPrimes); pi < pj
	// is the next pair.
	primes []*big.Int
	pi, pj int
	// late counts the keys made while the clock ran, because ready was
	// empty: the load generator's work that prepare is there to avoid.
	late atomic.Int64
}

// keyCSR is a key and a CSR for it.
type keyCSR struct {
	key *rsa.PrivateKey
	csr []byte
}

// fill generates n keys on all CPUs.
func (p *keyPool) fill(ctx context.Context, n int) error {
	return onAllCPUs(ctx, n, func() error {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err == nil {
			p.mu.Lock()
			p.keys = append(p.keys, k)
			p.mu.Unlock()
		}
		return err
	})
}

// prepare makes keys and their CSRs on all CPUs until n are ready, so that
// a step's clients spend no CPU on them: the server, on the same machine,
// is what a step measures. The CSRs name no customer (the service takes
// the subject from its own records).
func (p *keyPool) prepare(ctx context.Context, n int) error {
	p.mu.Lock()
	n -= len(p.ready)
	p.mu.Unlock()
	return onAllCPUs(ctx, n, func() error {
		k, err := p.key()
		if err != nil {
			return err
		}
		der, err := makeCSR(k, "irpkiload")
		if err == nil {
			p.mu.Lock()
			p.ready = append(p.ready, keyCSR{k, der})
			p.mu.Unlock()
		}
		return err
	})
}

// onAllCPUs runs f n times on all CPUs and returns the first error.
func onAllCPUs(ctx context.Context, n int, f func() error) error {
	if n <= 0 {
		return nil
	}
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if ctx.Err() != nil {
					return
				}
				if err := f(); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func (p *keyPool) key() (*rsa.PrivateKey, error) {
	p.mu.Lock()
	if n := len(p.keys); n > 0 {
		k := p.keys[n-1]
		p.keys = p.keys[:n-1]
		p.mu.Unlock()
		return k, nil
	}
	if len(p.primes) > 0 {
		k, err := p.pairKey()
		p.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return finishPairKey(k)
	}
	p.mu.Unlock()
	return rsa.GenerateKey(rand.Reader, 2048)
}

// csr returns a new key (each used once) and its CSR: one made before the
// clock started if there is one left.
func (p *keyPool) csr(customer string) (*rsa.PrivateKey, []byte, error) {
	p.mu.Lock()
	if n := len(p.ready); n > 0 {
		kc := p.ready[n-1]
		p.ready = p.ready[:n-1]
		p.mu.Unlock()
		return kc.key, kc.csr, nil
	}
	p.mu.Unlock()
	p.late.Add(1)
	k, err := p.key()
	if err != nil {
		return nil, nil, err
	}
	der, err := makeCSR(k, customer)
	return k, der, err
}

func makeCSR(k *rsa.PrivateKey, cn string) ([]byte, error) {
	return x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn, Organization: []string{"Load Oy"}, Country: []string{"FI"}},
	}, k)
}

// issuerCache checks issued certificates as client.VerifyIssued does, but
// chains each issuing CA to the trust bundle only the first time it is
// seen; after that a certificate from it costs one signature check instead
// of a chain built and verified up to the root. The load generator shares
// the machine with the server it measures.
type issuerCache struct {
	mu      sync.Mutex
	checked map[string]*x509.Certificate // RawIssuer + AuthorityKeyId → the issuing CA
}

func (ic *issuerCache) verify(cl *client.Client, cert *x509.Certificate, pub crypto.PublicKey, customer string) error {
	id := string(cert.RawIssuer) + "\x00" + string(cert.AuthorityKeyId)
	ic.mu.Lock()
	issuer := ic.checked[id]
	ic.mu.Unlock()
	if issuer == nil {
		chain, err := cl.VerifyIssuedChain(cert, pub, customer)
		if err != nil {
			return err
		}
		ic.mu.Lock()
		if ic.checked == nil {
			ic.checked = map[string]*x509.Certificate{}
		}
		ic.checked[id] = chain[0]
		ic.mu.Unlock()
		return nil
	}
	if err := cert.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("issued certificate: %w", err)
	}
	if now := time.Now(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return errors.New("issued certificate is not valid now")
	}
	if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return errors.New("issued certificate is not for client authentication")
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if k, ok := pub.(equaler); !ok || !k.Equal(cert.PublicKey) {
		return errors.New("issued certificate is not for our public key")
	}
	if cert.Subject.CommonName != customer {
		return fmt.Errorf("issued certificate names %q, not customer %s", cert.Subject.CommonName, customer)
	}
	return nil
}

// irpkid runs an operator command on the server's data directory.
func irpkid(ctx context.Context, c config, args ...string) ([]byte, error) {
	args = append(args, "--data-dir", c.dataDir, "--environment", "TEST")
	if c.database != "" {
		args = append(args, "--database", c.database)
	}
	cmd := exec.CommandContext(ctx, c.irpkid, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("irpkid %s: %v: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (r *recorder) report(clients int, elapsed time.Duration) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &Report{Clients: clients, Cycles: r.cycles, Seconds: elapsed.Seconds(), FirstErrors: r.first, answered: r.answered}
	for _, op := range opOrder {
		lat := r.lat[op]
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		st := OpStats{Op: op, Count: len(lat), Errors: r.errs[op]}
		if len(lat) > 0 {
			st.P50, st.P90, st.P99, st.Max = ms(pct(lat, 50)), ms(pct(lat, 90)), ms(pct(lat, 99)), ms(lat[len(lat)-1])
		}
		if op == opOther && st.Errors == 0 {
			continue
		}
		rep.Ops = append(rep.Ops, st)
		if op != opCycle {
			rep.Errors += st.Errors // a failed cycle's error is counted at its operation
		}
		if op == opSignNew || op == opGet || op == opRenew {
			rep.Requests += st.Count + st.Errors
		}
	}
	if rep.Seconds > 0 {
		rep.CyclesPerS = float64(rep.Cycles) / rep.Seconds
		rep.RequestsPerS = float64(rep.Requests) / rep.Seconds
	}
	return rep
}

// pct is the nearest-rank percentile of sorted durations.
func pct(sorted []time.Duration, p int) time.Duration {
	i := (p*len(sorted)+99)/100 - 1
	if i < 0 {
		i = 0
	}
	return sorted[i]
}

// printReport writes a report as indented JSON or as its table.
func printReport(w io.Writer, asJSON bool, rep interface{ write(io.Writer) }) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
		return
	}
	rep.write(w)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// sampleSignatures times one RSA-2048 signature every quarter second, in
// CPU time of its own locked thread, until stop is closed.
func sampleSignatures(stop <-chan struct{}) []time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil
	}
	digest := sha256.Sum256([]byte("irpkiload"))
	var out []time.Duration
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return out
		case <-t.C:
		}
		if d, ok := timeSignature(key, digest[:]); ok {
			out = append(out, d)
		}
	}
}

// timeSignature times one RSA-2048 signature in CPU time of the calling
// thread, which the caller has locked.
func timeSignature(key *rsa.PrivateKey, digest []byte) (time.Duration, bool) {
	before, err1 := threadCPU()
	_, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest)
	after, err2 := threadCPU()
	return after - before, err == nil && err1 == nil && err2 == nil
}
