package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
)

// The ladder (--ladder 1,4,16,64,128) runs one step per client count, each
// for --duration, against one irpkid whose CPU and memory it reads from
// /proc/PID (--server-pid, or the irpkid it starts itself with --start).
// Before each step every client is set up (its organisation, and in renew
// mode its first certificate) and the clock and the server's CPU are read
// only once all are ready, so that a step measures its cycles alone.
// During each step Go's RSA-2048 signature is sampled on a locked thread
// (its thread CPU time, every quarter second), so that the signatures'
// share of a cycle's CPU is computed from the same machine in the same run;
// with the server's profiler (--server-pprof, set up by --start) the share
// is also read off the server's own CPU profile over the step's window.

// StepReport is one step of the ladder.
type StepReport struct {
	Clients int `json:"clients"`
	// Round is the ladder's round the step ran in (--rounds), from 1; 0
	// in Medians.
	Round int `json:"round,omitempty"`
	// Cycles are those that ended in the measured window, Seconds its
	// length. Errors are the whole step's, warm-up and the cycles in
	// flight at the close included: an error anywhere fails the run.
	Cycles        int     `json:"cycles"`
	Errors        int     `json:"errors"`
	Busy          int64   `json:"busy_answers"` // 503 SERVICE_BUSY answers in the window, retried after Retry-After
	Seconds       float64 `json:"seconds"`
	CyclesPerS    float64 `json:"cycles_per_second"`
	CPUmsPerCycle float64 `json:"server_cpu_ms_per_cycle"` // irpkid's, and with --database-pid the database server's
	// DatabaseCPUmsPerCycle is the PostgreSQL server's part of
	// CPUmsPerCycle (--database-pid).
	DatabaseCPUmsPerCycle float64 `json:"database_cpu_ms_per_cycle,omitempty"`
	ServerCPUShare        float64 `json:"server_cpu_cores"` // server CPU seconds per second
	SigMs                 float64 `json:"rsa2048_sign_ms"`
	SigShare              float64 `json:"signature_share"`
	// ProfileSigShare is the share of the server's CPU in RSA signatures,
	// read off its CPU profile over the window (--server-pprof), of
	// irpkid's CPU and the database server's (--database-pid) together
	// like SigShare; 0 when not read.
	ProfileSigShare float64 `json:"signature_share_profile,omitempty"`
	CycleP50        float64 `json:"cycle_p50_ms"`
	CycleP99        float64 `json:"cycle_p99_ms"`
	RequestP99      float64 `json:"request_p99_ms"` // the worst operation's, retries after 503 included
	// AdmittedP50 and AdmittedP99 are those of single HTTP requests the
	// server admitted (all but its 503 answers).
	AdmittedP50 float64 `json:"admitted_request_p50_ms"`
	AdmittedP99 float64 `json:"admitted_request_p99_ms"`
	RSSMiB      float64 `json:"server_rss_mib"`
	// The load generator's own CPU per cycle (this process, from /proc),
	// and the machine's CPU left idle during the step (from /proc/stat), in
	// cores: on a machine shared by client and server these say whether
	// the step was bound by the CPU rather than by the server.
	ClientCPUmsPerCycle float64 `json:"client_cpu_ms_per_cycle"`
	IdleCores           float64 `json:"machine_idle_cores"`
	LoadAvg             float64 `json:"load_average_1m"` // at the step's start
	// RunQueueMsPerCycle is the time the server's threads were ready to
	// run but waited for a CPU (/proc/PID/task/*/schedstat), per cycle:
	// the wait that other processes on the machine impose.
	RunQueueMsPerCycle float64 `json:"server_runqueue_wait_ms_per_cycle"`
	// LateKeys are the client keys and CSRs made during the step because
	// those made before it ran out.
	LateKeys int64 `json:"client_keys_made_in_step"`
	// LateOrders are, in enrol mode, the orders made during the step
	// (irpkid order in the cycle) because those made before it ran out.
	LateOrders  int64    `json:"orders_made_in_step,omitempty"`
	FirstErrors []string `json:"first_errors,omitempty"`
}

// normalized is the step's cycles/s times its signature time: the cycles
// made per unit of the machine's speed in that step, to compare steps the
// machine ran at different speeds.
func (s StepReport) normalized() float64 { return s.CyclesPerS * s.SigMs }

// LadderReport is a whole ladder.
type LadderReport struct {
	Mode         string       `json:"mode"`
	Database     string       `json:"database"`
	SigsPerCycle int          `json:"signatures_per_cycle"`
	Rounds       int          `json:"rounds"`
	Steps        []StepReport `json:"steps"`
	// Medians has, with more than one round, each client count's median
	// over the rounds, column by column; the ratios are read from it.
	Medians []StepReport `json:"medians,omitempty"`
}

func (r *LadderReport) write(w io.Writer) {
	fmt.Fprintf(w, "irpkiload ladder: mode %s, %s, %d RSA-2048 signatures per cycle on the server", r.Mode, r.Database, r.SigsPerCycle)
	if r.Rounds > 1 {
		fmt.Fprintf(w, ", %d rounds", r.Rounds)
	}
	fmt.Fprintln(w)
	writeSteps(w, r.Steps, r.Rounds > 1)
	ratios := r.Steps
	if len(r.Medians) > 0 {
		fmt.Fprintf(w, "median of the %d rounds, column by column:\n", r.Rounds)
		writeSteps(w, r.Medians, false)
		ratios = r.Medians
	}
	// The machine's speed drifts from step to step on a shared VM (the
	// signature measured in the same step moved 1.2-1.7 ms within minutes
	// here): each ratio is also given on cycles/s times that step's
	// signature time, the cycles made per unit of the machine's speed.
	best, bestNorm := 0.0, 0.0
	var of4, of4Norm float64
	for _, s := range ratios {
		best, bestNorm = max(best, s.CyclesPerS), max(bestNorm, s.normalized())
		if s.Clients == 4 {
			of4, of4Norm = s.CyclesPerS, s.normalized()
		}
	}
	for _, s := range ratios {
		line := fmt.Sprintf("  %3d clients: %.2f of the best step", s.Clients, s.CyclesPerS/best)
		if of4 > 0 {
			line += fmt.Sprintf(", %.2f of 4 clients", s.CyclesPerS/of4)
		}
		if bestNorm > 0 && s.SigMs > 0 {
			line += fmt.Sprintf("; at the step's machine speed (cycles/s × sign ms): %.2f of the best", s.normalized()/bestNorm)
			if of4Norm > 0 {
				line += fmt.Sprintf(", %.2f of 4 clients", s.normalized()/of4Norm)
			}
		}
		fmt.Fprintln(w, line)
	}
	for _, s := range r.Steps {
		for _, e := range s.FirstErrors {
			fmt.Fprintf(w, "error (%d clients): %s\n", s.Clients, e)
		}
	}
}

// writeSteps writes steps as a table, with their round if withRound.
func writeSteps(w io.Writer, steps []StepReport, withRound bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	head := "clients\tcycles/s\tCPU ms/cycle\tcores\tsign ms\tsig share\tsig share (profile)\tcycle p50\tcycle p99\treq p99\tadmitted p50/p99\t503s\terrors\tRSS MiB\tdb ms/cycle\tclient ms/cycle\tlate keys/orders\tidle cores\tload\trunqueue ms/cycle\t"
	if withRound {
		head = "round\t" + head
	}
	fmt.Fprintln(tw, head)
	for _, s := range steps {
		if withRound {
			fmt.Fprintf(tw, "%d\t", s.Round)
		}
		prof := "-"
		if s.ProfileSigShare > 0 {
			prof = fmt.Sprintf("%.2f", s.ProfileSigShare)
		}
		fmt.Fprintf(tw, "%d\t%.1f\t%.2f\t%.2f\t%.3f\t%.2f\t%s\t%.1f\t%.1f\t%.1f\t%.0f/%.0f\t%d\t%d\t%.0f\t%.2f\t%.2f\t%d/%d\t%.2f\t%.1f\t%.2f\t\n", s.Clients, s.CyclesPerS, s.CPUmsPerCycle, s.ServerCPUShare,
			s.SigMs, s.SigShare, prof, s.CycleP50, s.CycleP99, s.RequestP99, s.AdmittedP50, s.AdmittedP99, s.Busy, s.Errors, s.RSSMiB, s.DatabaseCPUmsPerCycle, s.ClientCPUmsPerCycle, s.LateKeys, s.LateOrders, s.IdleCores, s.LoadAvg, s.RunQueueMsPerCycle)
	}
	tw.Flush()
}

// medians returns, for each client count of steps in the order first
// met, a step whose every measured column is the median of that count's
// steps (the mean of the middle two of an even number); errors and 503s are
// summed, first errors dropped.
func medians(steps []StepReport) []StepReport {
	var order []int
	by := map[int][]StepReport{}
	for _, s := range steps {
		if _, ok := by[s.Clients]; !ok {
			order = append(order, s.Clients)
		}
		by[s.Clients] = append(by[s.Clients], s)
	}
	var out []StepReport
	for _, n := range order {
		ss := by[n]
		med := func(f func(StepReport) float64) float64 {
			v := make([]float64, len(ss))
			for i, s := range ss {
				v[i] = f(s)
			}
			return median(v)
		}
		m := StepReport{Clients: n,
			Seconds:               med(func(s StepReport) float64 { return s.Seconds }),
			CyclesPerS:            med(func(s StepReport) float64 { return s.CyclesPerS }),
			CPUmsPerCycle:         med(func(s StepReport) float64 { return s.CPUmsPerCycle }),
			DatabaseCPUmsPerCycle: med(func(s StepReport) float64 { return s.DatabaseCPUmsPerCycle }),
			ServerCPUShare:        med(func(s StepReport) float64 { return s.ServerCPUShare }),
			SigMs:                 med(func(s StepReport) float64 { return s.SigMs }),
			SigShare:              med(func(s StepReport) float64 { return s.SigShare }),
			ProfileSigShare:       medianRead(ss, func(s StepReport) float64 { return s.ProfileSigShare }),
			CycleP50:              med(func(s StepReport) float64 { return s.CycleP50 }),
			CycleP99:              med(func(s StepReport) float64 { return s.CycleP99 }),
			RequestP99:            med(func(s StepReport) float64 { return s.RequestP99 }),
			AdmittedP50:           med(func(s StepReport) float64 { return s.AdmittedP50 }),
			AdmittedP99:           med(func(s StepReport) float64 { return s.AdmittedP99 }),
			RSSMiB:                med(func(s StepReport) float64 { return s.RSSMiB }),
			ClientCPUmsPerCycle:   med(func(s StepReport) float64 { return s.ClientCPUmsPerCycle }),
			IdleCores:             med(func(s StepReport) float64 { return s.IdleCores }),
			LoadAvg:               med(func(s StepReport) float64 { return s.LoadAvg }),
			RunQueueMsPerCycle:    med(func(s StepReport) float64 { return s.RunQueueMsPerCycle }),
			Cycles:                int(med(func(s StepReport) float64 { return float64(s.Cycles) })),
			LateKeys:              int64(med(func(s StepReport) float64 { return float64(s.LateKeys) })),
			LateOrders:            int64(med(func(s StepReport) float64 { return float64(s.LateOrders) })),
		}
		for _, s := range ss {
			m.Errors += s.Errors
			m.Busy += s.Busy
		}
		out = append(out, m)
	}
	return out
}

// medianRead is the median of f over the steps where it was read (not
// 0), 0 if none: a profile that could not be fetched in one round is not
// a share of 0.
func medianRead(steps []StepReport, f func(StepReport) float64) float64 {
	var v []float64
	for _, s := range steps {
		if x := f(s); x != 0 {
			v = append(v, x)
		}
	}
	return median(v)
}

// median is the middle of v (the mean of the middle two of an even
// number), 0 for none; it sorts v.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 0 {
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return v[len(v)/2]
}

// parseLadder reads "1,4,16".
func parseLadder(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--ladder %q: give client counts of at least 1, comma-separated", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// busyCounter counts 503 answers passing through a transport, and times
// the requests the server admitted (every answer but a 503), each attempt
// on its own: the client's retries after Retry-After are not in them.
type busyCounter struct {
	next     http.RoundTripper
	n        atomic.Int64
	mu       sync.Mutex
	admitted []time.Duration
}

func (b *busyCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	t0 := time.Now()
	resp, err := b.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusServiceUnavailable {
		b.n.Add(1)
	} else if err == nil {
		resp.Body = &timedBody{ReadCloser: resp.Body, done: func() {
			d := time.Since(t0)
			b.mu.Lock()
			b.admitted = append(b.admitted, d)
			b.mu.Unlock()
		}}
	}
	return resp, err
}

// takeAdmitted returns the admitted requests' times since the last call,
// sorted.
func (b *busyCounter) takeAdmitted() []time.Duration {
	b.mu.Lock()
	d := b.admitted
	b.admitted = nil
	b.mu.Unlock()
	slices.Sort(d)
	return d
}

// timedBody calls done once, when the body is closed: the answer has
// been read.
type timedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (t *timedBody) Close() error {
	t.once.Do(t.done)
	return t.ReadCloser.Close()
}

func ladder(ctx context.Context, c config, steps []int, stdout, stderr io.Writer) (*LadderReport, error) {
	pid := c.serverPID
	if c.start {
		srv, err := startServer(ctx, &c, stderr)
		if err != nil {
			return nil, err
		}
		defer srv.close()
		pid = srv.pid
	}
	trust, err := loadTrust(ctx, c)
	if err != nil {
		return nil, err
	}
	tr := clientTransport(c.tlsClient, 256)
	busy := &busyCounter{next: tr}
	cl, err := client.New(c.endpoint, client.Options{Environment: client.EnvTest, Trust: trust,
		HTTPClient: &http.Client{Timeout: 120 * time.Second, Transport: busy}, BusyRetries: 1000})
	if err != nil {
		return nil, err
	}
	keys := &keyPool{}
	fmt.Fprintf(stderr, "irpkiload: making RSA-2048 test keys from a pool of primes\n")
	if err := keys.fillPrimes(ctx, 64); err != nil {
		return nil, err
	}
	rep := &LadderReport{Mode: c.mode, Database: "SQLite", SigsPerCycle: 3}
	if c.database != "" {
		rep.Database = "PostgreSQL"
	}
	if c.mode == "full" {
		rep.SigsPerCycle = 6
	}
	issuers := &issuerCache{}
	// Keys for a step: for twice the best rate so far (at first 100
	// cycles/s) over its warm-up and window. The next step, with more
	// clients, may well be faster: at 1.3 times, the 4-client step made a
	// third of its keys while it was measured. Making one costs
	// about two signatures, so the pool is bounded (maxReadyKeys); a step
	// that runs out makes its own and says how many (late keys).
	rate := 100.0
	perCycle := 1
	if c.mode == "full" {
		perCycle = 2 // keys
	}
	rep.Rounds = max(c.rounds, 1)
	for round := 1; round <= rep.Rounds; round++ {
		for _, n := range steps {
			want := min(int(2*rate*(c.duration+warmupFor(c)).Seconds())*perCycle+2*n, maxReadyKeys)
			st, err := step(ctx, c, cl, keys, issuers, busy, pid, n, want, stderr)
			rate = max(rate, st.CyclesPerS)
			if err != nil {
				return nil, err
			}
			st.Round = round
			if st.CPUmsPerCycle > 0 {
				st.SigShare = float64(rep.SigsPerCycle) * st.SigMs / st.CPUmsPerCycle
			}
			fmt.Fprintf(stderr, "irpkiload: round %d/%d, %d clients: %.1f cycles/s, %.2f ms CPU per cycle, signature share %.2f, p99 %.1f ms, %d busy answers\n",
				round, rep.Rounds, n, st.CyclesPerS, st.CPUmsPerCycle, st.SigShare, st.CycleP99, st.Busy)
			rep.Steps = append(rep.Steps, st)
		}
	}
	if rep.Rounds > 1 {
		rep.Medians = medians(rep.Steps)
	}
	return rep, nil
}

// onEach runs f for every customer, at most par at once, and returns the
// first error.
func onEach(ctx context.Context, customers []string, par int, f func(i int, id string) error) error {
	var wg sync.WaitGroup
	errc := make(chan error, len(customers))
	sem := make(chan struct{}, par)
	for i, id := range customers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				errc <- ctx.Err()
				return
			}
			if err := f(i, id); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// maxOrderCount is irpkid order's largest --count.
const maxOrderCount = 10000

// maxReadyKeys bounds the keys made before a step.
const maxReadyKeys = 4000

// counters are what a step reads at each edge of its window: CPU times
// (the server's, the database server's, the load generator's with its
// children, the server threads' run-queue wait, the machine's idle time)
// and counts (503s, keys and orders made late). The step's figures are
// their differences across the window (since).
type counters struct {
	cpu, db, self, wait, idle time.Duration
	busy, late, lateOrders    int64
}

// readCounters reads the counters; only the server's CPU must be
// readable (--server-pid), the others are 0 where they cannot be read.
func readCounters(c config, pid int, busy *busyCounter, keys *keyPool, lateOrders *atomic.Int64) (counters, error) {
	cpu, err := processCPU(pid)
	if err != nil {
		return counters{}, err
	}
	k := counters{cpu: cpu}
	if c.databasePID != 0 {
		k.db = postgresCPU(c.databasePID)
	}
	k.self, _ = statCPU(os.Getpid(), true) // with the irpkid order processes of full mode
	k.wait = runQueueWait(pid)
	k.idle, _ = machineIdle()
	k.busy, k.late, k.lateOrders = busy.n.Load(), keys.late.Load(), lateOrders.Load()
	return k, nil
}

// since is what the counters grew by from before to k.
func (k counters) since(before counters) counters {
	return counters{cpu: k.cpu - before.cpu, db: k.db - before.db, self: k.self - before.self, wait: k.wait - before.wait,
		idle: k.idle - before.idle, busy: k.busy - before.busy, late: k.late - before.late, lateOrders: k.lateOrders - before.lateOrders}
}

// warmupFor is how long a ladder step's clients run before its window
// opens: --warmup, or a fifth of --duration up to 2s.
func warmupFor(c config) time.Duration {
	if c.warmup >= 0 {
		return c.warmup
	}
	return min(c.duration/5, 2*time.Second)
}

// step runs n clients, once all are set up, for a warm-up and then
// c.duration, which it measures.
//
// keysWanted is how many keys with their CSRs to have ready before the
// clock starts (more are made during the step if they run out, and
// counted).
func step(ctx context.Context, c config, cl *client.Client, keys *keyPool, issuers *issuerCache, busy *busyCounter, pid, n, keysWanted int, stderr io.Writer) (StepReport, error) {
	rec := &recorder{lat: map[string][]time.Duration{}, errs: map[string]int{}, keys: keys, issuers: issuers}
	customers, err := newOrgs(ctx, c, n)
	if err != nil {
		return StepReport{}, err
	}
	// Setup: in renew mode every client holds a certificate first; in
	// enrol mode it holds the credentials of its orders for the step.
	held := make([]*holding, n)
	creds := make([][]credentials, n)
	if c.mode == "enrol" {
		// Twice each client's share of the keys: the queue serves clients
		// unevenly (those turned away with 503 wait), and at an even
		// share a 256-client step made orders in its cycles, each an
		// irpkid order process writing to the server's database.
		per := min(2*((keysWanted+n-1)/n), maxOrderCount)
		err := onEach(ctx, customers, 4, func(i int, id string) (err error) {
			creds[i], err = order(ctx, c, id, per)
			return err
		})
		if err != nil {
			return StepReport{}, fmt.Errorf("ordering for %d clients: %w", n, err)
		}
	}
	if c.mode == "renew" {
		err := onEach(ctx, customers, 8, func(i int, id string) (err error) {
			held[i], err = enrol(ctx, c, cl, rec, id)
			return err
		})
		if err != nil {
			return StepReport{}, fmt.Errorf("setting up %d clients: %w", n, err)
		}
		rec = &recorder{lat: map[string][]time.Duration{}, errs: map[string]int{}, keys: keys, issuers: issuers}
	}
	if err := keys.prepare(ctx, keysWanted); err != nil {
		return StepReport{}, err
	}
	runtime.GC()
	load := loadAverage()
	// The clients run for the warm-up and then the window. Only what the
	// window holds is measured: the cycles that end in it, the server's
	// CPU, the idle cores and the 503s. The cycles in flight when it
	// closes end after it, uncounted, so that neither the start (every
	// client sending at once) nor the end (clients still backing off after
	// a 503, for seconds) is taken for the service's pace.
	rec.count(false)
	warmup := warmupFor(c)
	start := time.Now()
	from := start.Add(warmup)
	var closed atomic.Bool // the window has closed: start no more cycles
	if warmup > 0 {
		fmt.Fprintf(stderr, "irpkiload: %d clients set up; warming up for %s, then measuring for %s\n", n, warmup, c.duration)
	} else {
		fmt.Fprintf(stderr, "irpkiload: %d clients set up; measuring for %s\n", n, c.duration)
	}
	var lateOrders atomic.Int64
	var wg sync.WaitGroup
	for i, id := range customers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := held[i]
			for ctx.Err() == nil && !closed.Load() {
				t0 := time.Now()
				var err error
				switch {
				case c.mode == "renew":
					h, err = renewOnce(ctx, cl, rec, id, h)
				case c.mode == "enrol" && len(creds[i]) > 0:
					_, err = enrolWith(ctx, cl, rec, id, creds[i][0])
					creds[i] = creds[i][1:]
				case c.mode == "enrol":
					lateOrders.Add(1) // ordered in the cycle, with a process
					_, err = enrol(ctx, c, cl, rec, id)
				default:
					_, err = cycle(ctx, c, cl, rec, id)
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					var done recorded
					if !errors.As(err, &done) {
						rec.fail(opOther, err)
					}
					rec.fail(opCycle, err)
					if c.mode == "renew" {
						return // its certificate is in an unknown state
					}
					continue
				}
				rec.ok(opCycle, time.Since(t0))
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	// until waits for t, or for the clients to end (all failed) or ctx.
	until := func(t time.Time) {
		timer := time.NewTimer(time.Until(t))
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-finished:
		case <-ctx.Done():
		}
	}
	until(from)
	read := func() (counters, error) { return readCounters(c, pid, busy, keys, &lateOrders) }
	at0, err := read()
	if err != nil {
		// The clients stop too: otherwise, unless they fail, they run on
		// and the step never returns (a wrong --server-pid).
		closed.Store(true)
		<-finished
		return StepReport{}, err
	}
	busy.takeAdmitted()
	sampling := make(chan struct{})
	signs := make(chan []time.Duration, 1)
	go func() { signs <- sampleSignatures(sampling) }()
	type shareResult struct {
		share float64
		err   error
	}
	var profiled chan shareResult
	if c.serverPprof != "" {
		profiled = make(chan shareResult, 1)
		// net/http/pprof profiles whole seconds: the window's, so that the
		// profile ends before the cycles in flight at its close do.
		go func() {
			share, err := profileShare(ctx, c.serverPprof, max(1, int(c.duration/time.Second)))
			profiled <- shareResult{share, err}
		}()
	}
	opened := time.Now()
	rec.count(true)
	until(opened.Add(c.duration))
	rec.count(false)
	closed.Store(true)
	elapsed := time.Since(opened)
	close(sampling)
	at1, err := read()
	d := at1.since(at0)
	admitted := busy.takeAdmitted()
	rss, _ := procRSS(pid)
	var profShare float64
	if profiled != nil {
		if r := <-profiled; r.err != nil && ctx.Err() == nil {
			fmt.Fprintf(stderr, "irpkiload: %d clients: no signature share from the server's profile: %v\n", n, r.err)
		} else {
			profShare = r.share
		}
	}
	select {
	case <-finished:
	case <-time.After(time.Second):
		fmt.Fprintf(stderr, "irpkiload: measured; waiting for the cycles in flight to end (after a 503 a client may back off for seconds)\n")
		<-finished
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return StepReport{}, ctxErr
	}
	if err != nil {
		return StepReport{}, err
	}
	r := rec.report(n, elapsed)
	st := StepReport{Clients: n, Cycles: r.Cycles, Errors: r.Errors, Busy: d.busy, Seconds: elapsed.Seconds(),
		CyclesPerS: r.CyclesPerS, RSSMiB: float64(rss) / (1 << 20), FirstErrors: r.FirstErrors,
		IdleCores: d.idle.Seconds() / elapsed.Seconds(), LoadAvg: load, LateKeys: d.late, LateOrders: d.lateOrders,
		ProfileSigShare: profShare}
	if len(admitted) > 0 {
		st.AdmittedP50, st.AdmittedP99 = ms(pct(admitted, 50)), ms(pct(admitted, 99))
	}
	s := <-signs
	if len(s) == 0 {
		// A step too short (or a CPU too starved) for the sampler's
		// ticker: time a few signatures now.
		s = signNow(8)
	}
	if len(s) > 0 {
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		st.SigMs = ms(pct(s, 50))
	}
	cpu := (d.cpu + d.db).Seconds()
	st.ServerCPUShare = cpu / elapsed.Seconds()
	if d.db > 0 && cpu > 0 {
		// The profile is irpkid's alone; the share is of the server's CPU
		// with the database server's.
		st.ProfileSigShare *= d.cpu.Seconds() / cpu
	}
	if r.Cycles > 0 {
		st.CPUmsPerCycle = cpu * 1000 / float64(r.Cycles)
		st.ClientCPUmsPerCycle = d.self.Seconds() * 1000 / float64(r.Cycles)
		st.DatabaseCPUmsPerCycle = d.db.Seconds() * 1000 / float64(r.Cycles)
		st.RunQueueMsPerCycle = d.wait.Seconds() * 1000 / float64(r.Cycles)
	}
	for _, o := range r.Ops {
		switch o.Op {
		case opCycle:
			st.CycleP50, st.CycleP99 = o.P50, o.P99
		case opRenew, opGet, opSignNew:
			st.RequestP99 = max(st.RequestP99, o.P99)
		}
	}
	return st, nil
}

// newOrgs registers n fresh organisations, a few operator commands at once.
func newOrgs(ctx context.Context, c config, n int) ([]string, error) {
	base, err := rand.Int(rand.Reader, big.NewInt(9_000_000))
	if err != nil {
		return nil, err
	}
	var ids []string
	for k := int(base.Int64()) + 1_000_000; len(ids) < n; k++ {
		if id, err := businessid.Complete(fmt.Sprintf("%07d", k%10_000_000)); err == nil {
			ids = append(ids, id)
		}
	}
	return ids, onEach(ctx, ids, 4, func(_ int, id string) error {
		_, err := irpkid(ctx, c, "org", "add", "--customer-id", id, "--name", "Load "+id, "--contact-email", "load@example.fi")
		return err
	})
}

// processCPU is the CPU time (user and system) of process pid so far.
func processCPU(pid int) (time.Duration, error) {
	d, err := statCPU(pid, false)
	if err != nil {
		return 0, fmt.Errorf("server CPU: %w (is --server-pid right? /proc is Linux's)", err)
	}
	return d, nil
}

// procCPU is processCPU, 0 if unknown (a process that has ended).
func procCPU(pid int) time.Duration {
	d, _ := statCPU(pid, false)
	return d
}

// statCPU is the user and system CPU time of process pid, with that of its
// waited-for children if children is set, from /proc/PID/stat.
func statCPU(pid int, children bool) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	// The command name may hold spaces: fields start after its ')'.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return 0, errors.New("/proc/PID/stat has too few fields")
	}
	fields := f[11:13] // utime stime
	if children {
		fields = f[11:15] // and cutime cstime
	}
	var ticks int64
	for _, v := range fields {
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ticks) * time.Second / hz, nil
}

// postgresCPU is the CPU time of a PostgreSQL server: the postmaster with
// its ended children, and its live children (the backends serving irpkid,
// the WAL writer, the checkpointer).
func postgresCPU(postmaster int) time.Duration {
	total, _ := statCPU(postmaster, true)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		if len(f) > 1 && f[1] == strconv.Itoa(postmaster) {
			total += procCPU(pid)
		}
	}
	return total
}

// machineIdle is the CPU time all the machine's CPUs have spent idle
// since boot (/proc/stat: idle and iowait).
func machineIdle() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: no cpu line")
	}
	idle, _ := strconv.ParseInt(f[4], 10, 64)
	iowait, _ := strconv.ParseInt(f[5], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(idle+iowait) * time.Second / ticks, nil
}

// runQueueWait is the time the threads of process pid now alive have spent
// ready to run, waiting for a CPU (the second field of each thread's
// /proc/PID/task/TID/schedstat); 0 where that is not available.
func runQueueWait(pid int) time.Duration {
	dirs, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var sum time.Duration
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			ns, _ := strconv.ParseInt(f[1], 10, 64)
			sum += time.Duration(ns)
		}
	}
	return sum
}

// loadAverage is the machine's load average over the last minute; 0 if
// unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// procRSS is the resident memory of process pid.
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// server is an irpkid serve that irpkiload started.
type server struct {
	cmd *exec.Cmd
	pid int
	// temp are the directories startServer made for it (the TLS key, a
	// data directory not given with --data-dir), removed by close.
	temp []string
	// pprof is the base URL of its profiler, when launch gave it one.
	pprof string
}

// close stops the server and removes the directories made for it.
func (s *server) close() {
	s.stop()
	removeAll(s.temp)
}

func removeAll(dirs []string) {
	for _, d := range dirs {
		os.RemoveAll(d)
	}
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
	}
}

// startServer starts irpkid serve on a new data directory (--data-dir, or
// a temporary one), HTTPS on a loopback port with a certificate made for
// it, and sets c's endpoint, data directory and TLS trust.
func startServer(ctx context.Context, c *config, stderr io.Writer) (_ *server, err error) {
	var temp []string
	defer func() {
		if err != nil {
			removeAll(temp)
		}
	}()
	if c.dataDir == "" {
		d, err := os.MkdirTemp("", "irpkiload-")
		if err != nil {
			return nil, err
		}
		temp = append(temp, d)
		c.dataDir = filepath.Join(d, "data")
	}
	tlsDir, err := os.MkdirTemp("", "irpkiload-tls-")
	if err != nil {
		return nil, err
	}
	temp = append(temp, tlsDir)
	certFile, keyFile, pool, err := loopbackCert(tlsDir)
	if err != nil {
		return nil, err
	}
	var srv *server
	var addr string
	for attempt := 1; ; attempt++ {
		srv, addr, err = launch(ctx, c, certFile, keyFile, pool, stderr)
		if !errors.Is(err, errAddrInUse) || attempt == 5 {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	srv.temp = temp
	if srv.pprof != "" {
		c.serverPprof = srv.pprof
	}
	c.endpoint = "https://" + addr + "/2017/10/CertificateServices"
	c.tlsClient = &tls.Config{RootCAs: pool}
	where := c.dataDir
	if len(temp) > 1 {
		where += " (removed when irpkiload ends)"
	}
	fmt.Fprintf(stderr, "irpkiload: started irpkid (pid %d) at %s, data in %s\n", srv.pid, c.endpoint, where)
	return srv, nil
}

// errAddrInUse is launch's answer when another process took the port
// between its pick and serve's bind.
var errAddrInUse = errors.New("the port was taken before irpkid serve bound it")

// launch starts irpkid serve on a free loopback port and waits until it
// answers /healthz over TLS with the certificate made for it (so never
// another process on a reused port). The port is picked here, so that the
// endpoint is known whatever the server logs; when another process takes
// it before serve binds it, launch answers errAddrInUse and startServer
// tries another.
func launch(ctx context.Context, c *config, certFile, keyFile string, pool *x509.CertPool, stderr io.Writer) (*server, string, error) {
	// --log-level warn keeps its access log off the CPU.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{"serve", "--data-dir", c.dataDir, "--listen", addr, "--environment", "TEST",
		"--tls-cert", certFile, "--tls-key", keyFile, "--log-level", "warn"}
	if c.database != "" {
		args = append(args, "--database", c.database)
	}
	args = append(args, c.serveFlags...)
	var pprofBase string
	if c.ladder != "" && c.serverPprof == "" && !givesMetricsListen(c.serveFlags) {
		// The profiler, for the signatures' share read off the server's
		// own CPU profile; on loopback, like the service.
		ml, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, "", err
		}
		maddr := ml.Addr().String()
		ml.Close()
		args = append(args, "--metrics-listen", maddr, "--pprof")
		pprofBase = "http://" + maddr
	}
	cmd := exec.Command(c.irpkid, args...)
	var logs strings.Builder
	var logMu sync.Mutex
	pr, pw := io.Pipe()
	cmd.Stderr, cmd.Stdout = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s serve: %w", c.irpkid, err)
	}
	srv := &server{cmd: cmd, pid: cmd.Process.Pid, pprof: pprofBase}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			logMu.Lock()
			if logs.Len() < 1<<16 {
				logs.WriteString(sc.Text() + "\n")
			}
			logMu.Unlock()
			if strings.Contains(sc.Text(), "level=ERROR") {
				fmt.Fprintln(stderr, "irpkid:", sc.Text())
			}
		}
	}()
	exited := make(chan struct{})
	go func() { cmd.Process.Wait(); close(exited) }()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if resp, err := hc.Get("https://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			logMu.Lock()
			defer logMu.Unlock()
			if strings.Contains(logs.String(), "address already in use") {
				return nil, "", fmt.Errorf("%w: %s", errAddrInUse, addr)
			}
			return nil, "", fmt.Errorf("irpkid serve exited:\n%s", logs.String())
		case <-ctx.Done():
			srv.stop()
			return nil, "", ctx.Err()
		case <-time.After(100 * time.Millisecond): // another process starting; nothing to inject
		}
		if time.Now().After(deadline) {
			srv.stop()
			return nil, "", errors.New("irpkid serve did not answer /healthz within 2 minutes")
		}
	}
	return srv, addr, nil
}

// givesMetricsListen reports whether serveFlags (--serve-flag) set irpkid
// serve's --metrics-listen, which is then the user's to profile.
func givesMetricsListen(serveFlags []string) bool {
	return slices.ContainsFunc(serveFlags, func(f string) bool { return strings.HasPrefix(strings.TrimLeft(f, "-"), "metrics-listen") })
}

// loopbackCert makes a self-signed ECDSA certificate for 127.0.0.1.
func loopbackCert(dir string) (certFile, keyFile string, pool *x509.CertPool, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", nil, err
	}
	t := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "irpkiload"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(7 * 24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, t, t, &k.PublicKey, k)
	if err != nil {
		return "", "", nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", "", nil, err
	}
	certFile, keyFile = filepath.Join(dir, "tls.pem"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return "", "", nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool, nil
}

// fillPrimes makes n 1024-bit primes on all CPUs; key then builds RSA-2048
// keys from pairs of them (n·(n−1)/2 keys, more primes as needed), each
// key distinct and a thousand times cheaper than rsa.GenerateKey. Such
// keys are for load tests only: keys sharing a prime give each other away.
func (p *keyPool) fillPrimes(ctx context.Context, n int) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if ctx.Err() != nil {
					return
				}
				q, err := rsaPrime()
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					p.primes = append(p.primes, q)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(p.primes, func(i, j int) bool { return p.primes[i].Cmp(p.primes[j]) < 0 })
	p.pj = 1
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

var e65537 = big.NewInt(65537)

// rsaPrime is a 1024-bit prime usable with e = 65537.
func rsaPrime() (*big.Int, error) {
	for {
		q, err := rand.Prime(rand.Reader, 1024)
		if err != nil {
			return nil, err
		}
		if new(big.Int).Mod(new(big.Int).Sub(q, big.NewInt(1)), e65537).Sign() != 0 {
			return q, nil
		}
	}
}

// pairKey is the next key from the pool of primes, without its
// precomputed values (finishPairKey); the caller holds p.mu.
func (p *keyPool) pairKey() (*rsa.PrivateKey, error) {
	for {
		if p.pi >= p.pj {
			p.pi, p.pj = 0, p.pj+1
		}
		if p.pj >= len(p.primes) {
			q, err := rsaPrime()
			if err != nil {
				return nil, err
			}
			p.primes = append(p.primes, q)
		}
		a, b := p.primes[p.pi], p.primes[p.pj]
		p.pi++
		one := big.NewInt(1)
		phi := new(big.Int).Mul(new(big.Int).Sub(a, one), new(big.Int).Sub(b, one))
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Mul(a, b), E: 65537}, Primes: []*big.Int{a, b},
			D: new(big.Int).ModInverse(e65537, phi)}
		if k.D != nil && k.N.BitLen() == 2048 {
			return k, nil
		}
	}
}

// finishPairKey precomputes and checks a key of pairKey's, outside the
// pool's lock (it costs about a signature).
func finishPairKey(k *rsa.PrivateKey) (*rsa.PrivateKey, error) {
	k.Precompute()
	if err := k.Validate(); err != nil {
		return nil, err
	}
	return k, nil
}

// signNow times n RSA-2048 signatures, each in CPU time of its own locked
// thread, as sampleSignatures does.
func signNow(n int) []time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil
	}
	digest := sha256.Sum256([]byte("irpkiload"))
	var out []time.Duration
	for range n {
		if d, ok := timeSignature(key, digest[:]); ok {
			out = append(out, d)
		}
	}
	return out
}
