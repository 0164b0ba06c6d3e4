package main

import (
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// TestFleetRetriesSpreadOut: many installations whose renewal failed in
// the same outage do not retry at the same instant. One directory is
// enrolled and its renewal started against a service that is down (its
// key and CSR saved in pending.json); 60 copies of it are 60
// installations, each a watch that fails against the down service and
// reports the wait before its retry. The waits must be within the jittered
// backoff step ([--retry-initial/2, --retry-initial]), all different, and
// spread over the whole range (a distribution check, no sleeping).
func TestFleetRetriesSpreadOut(t *testing.T) {
	const fleet = 60
	h := newHarness(t)
	var down atomic.Bool
	proxy := irpkidtest.Proxy(t, h.s.URL, func(w http.ResponseWriter, body []byte) bool {
		if down.Load() && bytes.Contains(body, []byte("RenewCertificateRequest")) {
			irpkidtest.Unavailable(w)
			return true
		}
		return false
	})
	if r, _ := h.enrollThrough(t, proxy, 30*24*time.Hour); r.code != 0 {
		t.Fatalf("enroll: %s", r.stderr)
	}
	st, _ := h.status(t)
	h.s.Clock.Set(st.RenewAt)
	// The outage: the renewal is begun (key and CSR saved), its answer
	// lost; every copy resumes the same saved request.
	down.Store(true)
	if r := h.run(t, "", "renew", "--dir", h.dir); r.code != exitError {
		t.Fatalf("renew during the outage: exit %d, want %d\n%s", r.code, exitError, r.stderr)
	}
	const step = 10 * time.Minute
	var waits []time.Duration
	base := t.TempDir()
	for i := range fleet {
		dir := filepath.Join(base, strconv.Itoa(i))
		if out, err := exec.Command("cp", "-a", h.dir, dir).CombinedOutput(); err != nil {
			t.Fatalf("copy: %v\n%s", err, out)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wait time.Duration
		sleep := func(ctx context.Context, d time.Duration) error {
			wait = d
			cancel()
			return ctx.Err()
		}
		r := h.runCtx(t, ctx, sleep, "", "watch", "--dir", dir, "--retry-initial", step.String(), "--retry-max", "1h")
		cancel()
		if r.code != exitOK || wait == 0 {
			t.Fatalf("installation %d: watch exit %d, wait %v\n%s", i, r.code, wait, r.stderr)
		}
		waits = append(waits, wait)
	}
	slices.Sort(waits)
	if waits[0] < step/2 || waits[fleet-1] > step {
		t.Fatalf("waits from %v to %v, want within [%v, %v]", waits[0], waits[fleet-1], step/2, step)
	}
	for i := 1; i < fleet; i++ {
		if waits[i] == waits[i-1] {
			t.Errorf("two installations retry at the same instant: after %v", waits[i])
		}
	}
	// Each quarter of [step/2, step] gets its share: 15 expected; fewer
	// than 3 is about 1e-5 likely for a uniform spread.
	var quarters [4]int
	for _, w := range waits {
		quarters[min(int((w-step/2)*4/(step/2)), 3)]++
	}
	for q, n := range quarters {
		if n < 3 {
			t.Errorf("quarter %d of the backoff step holds %d of %d retries: %v (not spread)", q, n, fleet, quarters)
		}
	}
	// Without jitter they would all retry after exactly the step.
	if waits[fleet-1]-waits[0] < step/4 {
		t.Errorf("retries spread over only %v", waits[fleet-1]-waits[0])
	}
}
