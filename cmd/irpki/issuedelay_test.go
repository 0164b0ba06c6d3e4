package main

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
)

// TestEnrollAndRenewWithIssueDelay: against a service whose certificates
// are ready only 40 s after the request (serve --issue-delay 40s), irpki
// enroll and irpki renew wait for them: a few GetCertificate calls with
// backoff (5 s, then 10 s, then 20 s, each jittered to between half and
// all of it), told NOT_READY in between, never a busy loop, and the
// certificate installed in the end.
func TestEnrollAndRenewWithIssueDelay(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{Mutate: func(c *service.Config) { c.IssueDelay = 40 * time.Second }})
	s.AddOrg(t, customer, "Acme Oy")
	h := &harness{s: s, dir: t.TempDir() + "/irpki", trust: s.TrustFile(t), env: map[string]string{}}
	var sleeps atomic.Int32
	var slept atomic.Int64
	sleep := func(ctx context.Context, d time.Duration) error {
		if d <= 0 {
			t.Errorf("a wait of %v: a busy loop", d)
		}
		sleeps.Add(1)
		slept.Add(int64(d))
		s.Clock.Advance(d) // the wait passes on the service's clock
		return ctx.Err()
	}
	cred := s.Order(t, customer, 30*24*time.Hour)
	r := h.runCtx(t, context.Background(), sleep, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--customer-id", customer,
		"--transfer-id", cred.TransferID, "--transfer-password-stdin", "--endpoint", s.URL, "--trust", h.trust)
	if r.code != 0 {
		t.Fatalf("enroll: exit %d\n%s", r.code, r.stderr)
	}
	check := func(what string, r result) {
		t.Helper()
		n, d := sleeps.Swap(0), time.Duration(slept.Swap(0))
		if n < 2 || n > 5 || d < 40*time.Second {
			t.Errorf("%s: %d waits of %v in all; want a few that cover the 40 s delay", what, n, d)
		}
		if !strings.Contains(r.stderr, "NOT_READY") {
			t.Errorf("%s does not show the NOT_READY answers:\n%s", what, r.stderr)
		}
	}
	check("enroll", r)
	first := h.current(t).Serial()
	// irpki's own window of a 30-day certificate opens later: --force.
	r = h.runCtx(t, context.Background(), sleep, "", "renew", "--dir", h.dir, "--force")
	if r.code != 0 {
		t.Fatalf("renew: exit %d\n%s", r.code, r.stderr)
	}
	check("renew", r)
	if h.current(t).Serial() == first {
		t.Error("renew installed nothing")
	}
}
