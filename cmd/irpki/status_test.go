package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/renewal"
)

// TestExpiredWithIssuedSuccessor: status (text and --json), renew and
// watch --once agree about a renewal the service accepted (RetrievalId
// saved) whose GetCertificate answer was lost, once the current
// certificate has expired: not "order a new certificate" but irpki renew,
// which fetches, verifies and installs the successor.
func TestExpiredWithIssuedSuccessor(t *testing.T) {
	h := newHarness(t)
	var down atomic.Bool
	proxy := irpkidtest.GetDownProxy(t, h.s.URL, &down)
	if r, _ := h.enrollThrough(t, proxy, 0); r.code != exitOK {
		t.Fatalf("enroll: exit %d\n%s", r.code, r.stderr)
	}
	old := h.current(t)
	h.s.Clock.Set(old.Cert.NotAfter.Add(-10 * 24 * time.Hour))
	down.Store(true)
	if r := h.run(t, "", "renew", "--dir", h.dir); r.code != exitError {
		t.Fatalf("renew with GetCertificate down: exit %d\n%s", r.code, r.stderr)
	}
	h.s.Clock.Set(old.Cert.NotAfter.Add(24 * time.Hour))

	want := []string{"the service has issued a successor", "run irpki renew --dir " + h.dir + " to fetch it", "no new order is needed"}
	r := h.run(t, "", "status", "--dir", h.dir)
	state := regexp.MustCompile(`(?m)^State: .*$`).FindString(r.stdout)
	if r.code != statusInvalid || strings.Contains(state, "order a new certificate") {
		t.Errorf("status: exit %d, want %d without a new order\n%s", r.code, statusInvalid, r.stdout)
	}
	r = h.run(t, "", "status", "--dir", h.dir, "--json")
	var js struct {
		Message  string `json:"message"`
		ExitCode int    `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	for _, w := range want {
		if !strings.Contains(state, w) {
			t.Errorf("status's State line does not say %q:\n%s", w, state)
		}
		if !strings.Contains(js.Message, w) {
			t.Errorf("status --json's message does not say %q: %s", w, js.Message)
		}
	}
	if r := h.run(t, "", "status", "--help"); !strings.Contains(r.stdout, "accepted a renewal") {
		t.Errorf("status --help does not document the exception:\n%s", r.stdout)
	}
	// With GetCertificate still down, watch tries (exit 1: run again), and
	// does not send the user to a new order (exit 3).
	if r := h.run(t, "", "watch", "--dir", h.dir, "--once"); r.code != exitError || strings.Contains(r.stderr, "order a new certificate") {
		t.Errorf("watch --once with GetCertificate down: exit %d, want %d\n%s", r.code, exitError, r.stderr)
	}
	down.Store(false)
	if r := h.run(t, "", "watch", "--dir", h.dir, "--once"); r.code != exitOK {
		t.Fatalf("watch --once: exit %d\n%s", r.code, r.stderr)
	}
	if st, code := h.status(t); code != statusValid || st.Pending != "" || st.Serial == old.Serial() {
		t.Errorf("after watch: exit %d %+v", code, st)
	}
}

// TestBlockedRenewalInWindowExitCodes: inside the renewal window but before
// the renewal moment, with a refused re-enrolment blocking the renewal,
// status exits 1 (its state: window open) and watch --once 0 (its outcome:
// nothing due yet, with a warning), then 1 from the renewal moment on;
// docs/client-reference.md explains the difference.
func TestBlockedRenewalInWindowExitCodes(t *testing.T) {
	h := newHarness(t)
	var refuse, down atomic.Bool
	var sent atomic.Int32
	proxy := signNewRefusingProxy(t, h.s, &refuse, &down, &sent)
	h.enroll(t, 0)
	refuse.Store(true)
	if r, _ := h.reenrollThrough(t, proxy); r.code != exitError || !strings.Contains(r.stderr, "E2002") {
		t.Fatalf("refused re-enrolment: exit %d\n%s", r.code, r.stderr)
	}
	st, _ := h.status(t)
	if !st.RenewAt.After(st.WindowOpens) {
		t.Fatalf("renewal moment %s at the window's opening: nothing to test", st.RenewAt)
	}
	h.s.Clock.Set(st.WindowOpens)
	st, code := h.status(t)
	if code != statusRenew || !st.RenewalBlocked || st.State != renewal.StateWindowOpen {
		t.Errorf("status in the window before the renewal moment: exit %d, want %d, blocked: %+v", code, statusRenew, st)
	}
	if r := h.run(t, "", "watch", "--dir", h.dir, "--once"); r.code != exitOK || !strings.Contains(r.stderr, "blocked") {
		t.Errorf("watch --once in the window before the renewal moment: exit %d, want %d with a warning\n%s", r.code, exitOK, r.stderr)
	}
	h.s.Clock.Set(st.RenewAt)
	if _, code := h.status(t); code != statusRenew {
		t.Errorf("status at the renewal moment: exit %d, want %d", code, statusRenew)
	}
	if r := h.run(t, "", "watch", "--dir", h.dir, "--once"); r.code != exitError {
		t.Errorf("watch --once at the renewal moment: exit %d, want %d\n%s", r.code, exitError, r.stderr)
	}
	b, err := os.ReadFile("../../docs/client-reference.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(string(b)), " ")
	for _, want := range []string{"`status` exits 1 (window open) while `watch --once` exits 0 (nothing is due yet)", "(`renewal_blocked`), where `watch --once` logs a warning and exits 0 until the renewal moment and 1 from then on"} {
		if !strings.Contains(doc, want) {
			t.Errorf("docs/client-reference.md does not explain the exit codes: %q", want)
		}
	}
}

// TestStatusSaysWhatWatchDoesNext: status's "irpki watch:" line and its
// --json "next" are renewal.Next, the decision watch takes: wait until the
// renewal moment, also inside the window before it (where status itself
// exits 1); renew from that moment, which watch --once then does; order
// anew once the certificate has expired.
func TestStatusSaysWhatWatchDoesNext(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 0)
	next := func(t *testing.T) (renewal.Decision, string, int) {
		t.Helper()
		r := h.run(t, "", "status", "--dir", h.dir, "--json")
		var js struct {
			Next renewal.Decision `json:"next"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &js); err != nil {
			t.Fatalf("status --json: %v\n%s", err, r.stdout)
		}
		text := h.run(t, "", "status", "--dir", h.dir)
		line := regexp.MustCompile(`(?m)^irpki watch: .*$`).FindString(text.stdout)
		if line == "" || text.code != r.code {
			t.Fatalf("status: exit %d (--json: %d), no \"irpki watch:\" line:\n%s", text.code, r.code, text.stdout)
		}
		return js.Next, line, r.code
	}
	st, _ := h.status(t)
	if !st.RenewAt.After(st.WindowOpens) {
		t.Fatalf("renewal moment %s at the window's opening: nothing to test", st.RenewAt)
	}
	if d, line, code := next(t); code != statusValid || d.Action != renewal.ActionWait || d.Reason != renewal.ReasonNotDue || !d.At.Equal(st.RenewAt) ||
		!strings.Contains(line, "wait until "+st.RenewAt.Format("2006-01-02 15:04")) {
		t.Errorf("fresh certificate: exit %d, next %+v, %q; want to wait until %s", code, d, line, st.RenewAt)
	}
	h.s.Clock.Set(st.WindowOpens)
	if d, _, code := next(t); code != statusRenew || d.Action != renewal.ActionWait || !d.At.Equal(st.RenewAt) {
		t.Errorf("window open, before the renewal moment: exit %d, next %+v; want exit %d and to wait until %s", code, d, statusRenew, st.RenewAt)
	}
	h.s.Clock.Set(st.RenewAt)
	if d, line, _ := next(t); d.Action != renewal.ActionRenew || d.Reason != renewal.ReasonDue || !strings.Contains(line, "renew now") {
		t.Errorf("at the renewal moment: next %+v, %q; want renew", d, line)
	}
	if r := h.run(t, "", "watch", "--dir", h.dir, "--once"); r.code != exitOK || !strings.Contains(r.stderr, "renewed") {
		t.Fatalf("watch --once at the renewal moment: exit %d\n%s", r.code, r.stderr)
	}
	st, _ = h.status(t)
	if d, _, _ := next(t); d.Action != renewal.ActionWait || !d.At.Equal(st.RenewAt) {
		t.Errorf("after the renewal: next %+v; want to wait until %s", d, st.RenewAt)
	}
	h.s.Clock.Set(st.NotAfter)
	if d, line, code := next(t); code != statusInvalid || d.Action != renewal.ActionOrder || d.Reason != renewal.ReasonExpired || !d.Failing ||
		!strings.Contains(line, "order a new certificate") {
		t.Errorf("expired: exit %d, next %+v, %q; want a new order", code, d, line)
	}
}
