package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
)

func TestPollDefiniteStopsAtOnce(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, goldenCustomer, "Acme Oy")
	slept := 0
	_, err := s.Client(t).PollCertificate(context.Background(), goldenCustomer, "00000000000000000000000000000000", client.PollOptions{
		Sleep: func(context.Context, time.Duration) error { slept++; return nil },
	})
	var se *client.ServiceError
	if !errors.As(err, &se) || se.Code != "RETRIEVAL_ID" {
		t.Fatalf("err = %v, want RETRIEVAL_ID", err)
	}
	if slept != 0 {
		t.Errorf("slept %d times after a definite refusal", slept)
	}
}

func TestPollGivesUpAfterAttempts(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	defer hs.Close()
	s := irpkidtest.Start(t, irpkidtest.Config{})
	c, err := client.New(hs.URL, client.Options{Environment: client.EnvTest, Trust: s.Trust()})
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	var reports []int
	_, err = c.PollCertificate(context.Background(), goldenCustomer, "rid", client.PollOptions{
		Initial: time.Second, Max: 3 * time.Second, Attempts: 4, Jitter: func(d time.Duration) time.Duration { return d },
		Sleep:    func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil },
		Progress: func(attempt int, err error, wait time.Duration) { reports = append(reports, attempt) },
	})
	if !errors.Is(err, client.ErrBadResponse) || !strings.Contains(err.Error(), "no certificate after 4 attempts") {
		t.Fatalf("err = %v", err)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; len(waits) != 3 || waits[0] != want[0] || waits[1] != want[1] || waits[2] != want[2] {
		t.Errorf("waits = %v, want %v", waits, want)
	}
	if len(reports) != 4 {
		t.Errorf("progress reports = %v", reports)
	}
}

func TestPollCancelled(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer hs.Close()
	s := irpkidtest.Start(t, irpkidtest.Config{})
	c, _ := client.New(hs.URL, client.Options{Environment: client.EnvTest, Trust: s.Trust()})
	ctx, cancel := context.WithCancel(context.Background())
	_, err := c.PollCertificate(ctx, goldenCustomer, "rid", client.PollOptions{
		Sleep: func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() },
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestJitterSpreads: Jitter stays within [d/2, d] and spreads: a thousand
// installations that failed at the same moment do not retry together.
func TestJitterSpreads(t *testing.T) {
	const d = time.Minute
	seen := map[time.Duration]bool{}
	var buckets [10]int
	for range 1000 {
		w := client.Jitter(d)
		if w < d/2 || w > d {
			t.Fatalf("Jitter(%v) = %v, outside [%v, %v]", d, w, d/2, d)
		}
		seen[w] = true
		buckets[min(int((w-d/2)*10/(d/2)), 9)]++
	}
	if len(seen) < 990 {
		t.Errorf("only %d distinct waits of 1000", len(seen))
	}
	for i, n := range buckets {
		// 100 expected in each tenth; fewer than 50 is about 1e-8 likely.
		if n < 50 {
			t.Errorf("tenth %d of [d/2, d] has %d of 1000 waits: %v", i, n, buckets)
		}
	}
	if client.Jitter(1) != 1 || client.Jitter(0) != 0 {
		t.Error("Jitter of less than 2 ns is not that")
	}
}

// busyWaits sends a GetCertificate, with retries more after busy answers,
// to a service that always answers 503 with retryAfter, and returns how
// many requests it got and the waits between them.
func busyWaits(t *testing.T, retryAfter string, retries int) (calls int, waits []time.Duration) {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Retry-After", retryAfter)
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer hs.Close()
	s := irpkidtest.Start(t, irpkidtest.Config{})
	c, err := client.New(hs.URL, client.Options{Environment: client.EnvTest, Trust: s.Trust(), BusyRetries: retries,
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetCertificate(context.Background(), goldenCustomer, "00000000000000000000000000000000"); err == nil {
		t.Fatal("a service that is always busy: no error")
	}
	return calls, waits
}

// TestBusyWaitsDoubleUpToACap: a request answered 503 with Retry-After: 1
// again and again waits at least 1 s, about twice as long each time
// (jittered into [d/2, d]), but never more than 30 s between attempts:
// a client turned away ten times in a row does not sleep for minutes.
func TestBusyWaitsDoubleUpToACap(t *testing.T) {
	calls, waits := busyWaits(t, "1", 10)
	if calls != 11 || len(waits) != 10 {
		t.Fatalf("%d requests and waits %v; want 11 requests and 10 waits", calls, waits)
	}
	step := time.Second
	for i, d := range waits {
		step = min(2*step, 30*time.Second)
		if lo := max(time.Second, step/2); d < lo || d > step {
			t.Errorf("wait %d: %s, want within [%s, %s]", i+1, d, lo, step)
		}
	}
}

// TestBusyWaitsOverTheCapAreJittered: a Retry-After longer than the cap
// (40 s) is waited for, each time between it and twice it, and not all
// waits are the same: clients turned away together do not all come back
// at the same instant.
func TestBusyWaitsOverTheCapAreJittered(t *testing.T) {
	_, waits := busyWaits(t, "40", 8)
	if len(waits) != 8 {
		t.Fatalf("waits %v; want 8", waits)
	}
	for i, d := range waits {
		if d < 40*time.Second || d > 80*time.Second {
			t.Errorf("wait %d: %s, want within [40s, 80s]", i+1, d)
		}
	}
	if slices.Min(waits) == slices.Max(waits) {
		t.Errorf("waits %v: all the same", waits)
	}
}
