package membudget

import (
	"math"
	"runtime/debug"
	"sync"
	"testing"
)

// recorder stands in for debug.SetMemoryLimit: it keeps the limits set.
type recorder struct {
	mu     sync.Mutex
	limits []int64
}

func (r *recorder) set(n int64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.limits = append(r.limits, n)
	return 0
}

func (r *recorder) last(t *testing.T) int64 {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.limits) == 0 {
		t.Fatal("no limit was set")
	}
	return r.limits[len(r.limits)-1]
}

func TestReserveRaisesTheLimitUntilReleased(t *testing.T) {
	var r recorder
	b := newBudget(64<<20, r.set)
	if len(r.limits) != 0 {
		t.Fatal("New set a limit before Apply")
	}
	b.Apply()
	if got := r.last(t); got != 64<<20 {
		t.Fatalf("after Apply the limit is %d, want the budget %d", got, 64<<20)
	}
	release := b.Reserve(8 << 20)
	if got := r.last(t); got != 72<<20 {
		t.Errorf("during a reservation of 8 MiB the limit is %d, want %d", got, 72<<20)
	}
	if got := b.Reserved(); got != 8<<20 {
		t.Errorf("Reserved = %d, want %d", got, 8<<20)
	}
	release()
	if got := r.last(t); got != 64<<20 {
		t.Errorf("after the release the limit is %d, want the budget %d", got, 64<<20)
	}
	n := len(r.limits)
	release() // twice: nothing happens
	if len(r.limits) != n || b.Reserved() != 0 {
		t.Errorf("a second release changed the limit (%v) or the reservations (%d)", r.limits[n:], b.Reserved())
	}
	// Apply after reservations keeps them.
	other := b.Reserve(1 << 20)
	b.Apply()
	if got := r.last(t); got != 65<<20 {
		t.Errorf("Apply during a reservation set %d, want %d", got, 65<<20)
	}
	other()
	if b.Size() != 64<<20 {
		t.Errorf("Size = %d, want the budget without reservations", b.Size())
	}
}

func TestConcurrentReservations(t *testing.T) {
	var r recorder
	b := newBudget(64<<20, r.set)
	b.Apply()
	const n = 16
	releases := make([]func(), n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { releases[i] = b.Reserve(64 << 20) })
	}
	wg.Wait()
	if got, want := r.last(t), int64(64<<20+n*64<<20); got != want {
		t.Errorf("with %d reservations of 64 MiB in force the limit is %d, want %d", n, got, want)
	}
	// Released concurrently, each twice: the limit comes back to the
	// budget, whatever order the releases ran in.
	for _, rel := range releases {
		wg.Go(rel)
		wg.Go(rel)
	}
	wg.Wait()
	if got := r.last(t); got != 64<<20 {
		t.Errorf("after every release the limit is %d, want the budget", got)
	}
	if got := b.Reserved(); got != 0 {
		t.Errorf("Reserved = %d after every release, want 0", got)
	}
	// The limits set never went below the budget nor above the sum.
	for _, l := range r.limits {
		if l < 64<<20 || l > 64<<20+n*64<<20 {
			t.Errorf("a limit of %d was set, outside [budget, budget + all reservations]", l)
		}
	}
}

func TestReserveNothing(t *testing.T) {
	var nilBudget *Budget
	nilBudget.Reserve(1 << 20)() // no panic, nothing to set
	var r recorder
	b := newBudget(64<<20, r.set)
	b.Reserve(0)()
	b.Reserve(-5)()
	if len(r.limits) != 0 {
		t.Errorf("empty reservations set limits %v", r.limits)
	}
}

func TestReserveNeverWraps(t *testing.T) {
	var r recorder
	b := newBudget(math.MaxInt64-10, r.set)
	release := b.Reserve(100)
	if got := r.last(t); got != math.MaxInt64 {
		t.Errorf("a limit past the largest was set as %d, want math.MaxInt64", got)
	}
	release()
}

// TestApplySetsTheProcessLimit reads back the limit New's Budget sets in
// this process (debug.SetMemoryLimit(-1) reads without setting).
func TestApplySetsTheProcessLimit(t *testing.T) {
	was := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(was)
	b := New(3 << 30)
	b.Apply()
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Fatalf("after Apply the process's memory limit is %d, want %d", got, int64(3<<30))
	}
	release := b.Reserve(1 << 30)
	if got := debug.SetMemoryLimit(-1); got != 4<<30 {
		t.Errorf("during a reservation the limit is %d, want %d", got, int64(4<<30))
	}
	release()
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Errorf("after the release the limit is %d, want %d", got, int64(3<<30))
	}
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"100", 100}, {"100B", 100}, {"64KiB", 64 << 10}, {"64MiB", 64 << 20},
		{"2GiB", 2 << 30}, {"1TiB", 1 << 40}, {"0MiB", 0},
	} {
		got, err := ParseSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "12xyz", "-5MiB", "-1", "64 MiB", "64mib", "64MB", "1.5GiB", "MiB", "1e9", "99999999TiB", "9223372036854775808"} {
		if n, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, n)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 100: "100B", 64 << 20: "64MiB", 1536 << 10: "1536KiB", 3 << 30: "3GiB", 1 << 40: "1TiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
		if back, err := ParseSize(FormatSize(n)); err != nil || back != n {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", n, back, err)
		}
	}
}
