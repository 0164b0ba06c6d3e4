package main

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRenewRefusedNotResentBeforeWindow is the reviewer's case: the service
// (like the real one, with a code outside irpkid's catalogue) refuses a
// forced renewal; later plain renew and watch --once runs must not send it
// again before the window opens, and inside the window watch backs off
// between refused attempts instead of sending at every run.
func TestRenewRefusedNotResentBeforeWindow(t *testing.T) {
	h := newHarness(t)
	var refuse atomic.Bool
	var renews atomic.Int32
	proxy := h.s.RefusingProxy(t, &refuse, nil, &renews)
	if r, _ := h.enrollThrough(t, proxy, 0); r.code != 0 {
		t.Fatalf("enroll: %s", r.stderr)
	}
	old := h.current(t)
	h.s.Clock.Set(old.Cert.NotAfter.Add(-61 * 24 * time.Hour))
	refuse.Store(true)

	r := h.run(t, "", "renew", "--dir", h.dir, "--force")
	if r.code != exitError || !strings.Contains(r.stderr, "E1001") || renews.Load() != 1 {
		t.Fatalf("renew --force: exit %d, %d requests\n%s%s", r.code, renews.Load(), r.stdout, r.stderr)
	}
	h.s.Clock.Advance(time.Hour)
	r = h.run(t, "", "renew", "--dir", h.dir)
	if r.code != exitOK || !strings.Contains(r.stdout, "not renewed") || !strings.Contains(r.stderr, "E1001") {
		t.Errorf("renew after the refusal: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for i := 0; i < 3; i++ {
		h.s.Clock.Advance(time.Hour)
		if r := h.run(t, "", "watch", "--dir", h.dir, "--once"); r.code != exitOK {
			t.Errorf("watch --once before the window: exit %d\n%s", r.code, r.stderr)
		}
	}
	if n := renews.Load(); n != 1 {
		t.Fatalf("%d RenewCertificate requests before the window opened, want 1 (the forced one)", n)
	}
	if r := h.run(t, "", "status", "--dir", h.dir); !strings.Contains(r.stdout, "E1001") {
		t.Errorf("status does not report the refusal:\n%s", r.stdout)
	}
	st, _ := h.status(t)

	// At the renewal moment watch sends it again; refused again, the next
	// hourly runs back off (2 h after a second refusal).
	h.s.Clock.Set(st.RenewAt)
	if r := h.run(t, "", "watch", "--dir", h.dir, "--once"); r.code != exitError || renews.Load() != 2 {
		t.Fatalf("watch --once at the renewal moment: exit %d, %d requests\n%s", r.code, renews.Load(), r.stderr)
	}
	h.s.Clock.Advance(time.Hour)
	if r := h.run(t, "", "watch", "--dir", h.dir, "--once"); r.code != exitError || renews.Load() != 2 || !strings.Contains(r.stderr, "backing off") {
		t.Fatalf("watch --once an hour after a refusal: exit %d, %d requests\n%s", r.code, renews.Load(), r.stderr)
	}
	refuse.Store(false)
	h.s.Clock.Advance(time.Hour)
	if r := h.run(t, "", "watch", "--dir", h.dir, "--once"); r.code != exitOK || renews.Load() != 3 || h.current(t).Serial() == old.Serial() {
		t.Fatalf("watch --once after the backoff: exit %d, %d requests\n%s", r.code, renews.Load(), r.stderr)
	}
}
