package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

// TestWatchRefusedWhileWaitingForLock: another run records a refusal
// between watch's look at the status (due, nothing refused) and its Renew
// (which then backs off and returns RetryAt without an error). watch must
// report the refusal and exit 1, as irpki renew does in that state, not
// take it for "window not open" and exit 0 (found in review).
func TestWatchRefusedWhileWaitingForLock(t *testing.T) {
	h := newHarness(t)
	var refuse atomic.Bool
	var renews atomic.Int32
	proxy := h.s.RefusingProxy(t, &refuse, nil, &renews)
	if r, _ := h.enrollThrough(t, proxy, 0); r.code != 0 {
		t.Fatalf("enroll: %s", r.stderr)
	}
	st, _ := h.status(t)
	h.s.Clock.Set(st.RenewAt)
	refuse.Store(true)
	// The other run's refusal, set aside until watch has read the status.
	if r := h.run(t, "", "renew", "--dir", h.dir); r.code != exitError || renews.Load() != 1 {
		t.Fatalf("refused renew: exit %d, %d requests\n%s", r.code, renews.Load(), r.stderr)
	}
	pending := filepath.Join(h.dir, "pending.json")
	aside := filepath.Join(t.TempDir(), "pending.json")
	if err := os.Rename(pending, aside); err != nil {
		t.Fatal(err)
	}
	// The other run holds the lock while watch reads the status.
	fl := flock.New(filepath.Join(h.dir, "lock"), flock.SetFlag(os.O_RDWR))
	if ok, err := fl.TryLock(); err != nil || !ok {
		t.Fatalf("lock: %v, %v", ok, err)
	}
	defer fl.Unlock()
	var waited atomic.Bool
	sleep := func(ctx context.Context, d time.Duration) error {
		if !waited.Swap(true) {
			// watch waits for the lock: the other run records its
			// refusal and finishes.
			if err := os.Rename(aside, pending); err != nil {
				t.Error(err)
			}
			fl.Unlock()
		}
		return ctx.Err()
	}
	r := h.runCtx(t, context.Background(), sleep, "", "watch", "--dir", h.dir, "--once")
	if !waited.Load() {
		t.Fatal("watch did not wait for the lock: the test tests nothing")
	}
	if r.code != exitError || !strings.Contains(r.stderr, "refused") || !strings.Contains(r.stderr, "E1001") {
		t.Errorf("watch --once refused while waiting for the lock: exit %d, want %d and the refusal\n%s", r.code, exitError, r.stderr)
	}
	if n := renews.Load(); n != 1 {
		t.Errorf("%d RenewCertificate requests, want 1 (the refused one; the backoff holds)", n)
	}
}
