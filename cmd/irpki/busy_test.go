package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/certapi"
	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// TestEnrollAgainstASaturatedService: the service serves one request at a
// time and lets none wait, and that one place is taken: irpki enroll's
// SignNewCertificate is answered 503 SERVICE_BUSY with Retry-After: 1. It
// waits at least that long (jittered, between 1 and 2 s), sends the same
// request again once the service has room, and completes.
func TestEnrollAgainstASaturatedService(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{API: func(c *certapi.Config) { c.MaxInFlight, c.MaxQueued = 1, -1 }})
	s.AddOrg(t, customer, "Acme Oy")
	h := &harness{s: s, dir: filepath.Join(t.TempDir(), "irpki"), trust: s.TrustFile(t), env: map[string]string{}}
	release, err := s.API.Admission().Enter(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var waits []time.Duration
	sleep := func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		if len(waits) == 1 {
			release() // the service has room again while irpki waits
		}
		mu.Unlock()
		return ctx.Err()
	}
	cred := s.Order(t, customer, 0)
	r := h.runCtx(t, context.Background(), sleep, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--customer-id", customer,
		"--organization", "Acme Oy", "--transfer-id", cred.TransferID, "--transfer-password-stdin", "--endpoint", s.URL, "--trust", h.trust)
	if r.code != 0 {
		t.Fatalf("enroll against a saturated service: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if len(waits) == 0 || waits[0] < time.Second || waits[0] > 2*time.Second {
		t.Fatalf("waits %v: want a first wait of 1–2 s (Retry-After: 1, jittered)", waits)
	}
	if !strings.Contains(s.Logs.String(), "SERVICE_BUSY") {
		t.Error("the service's log shows no SERVICE_BUSY answer")
	}
	h.current(t)
}
