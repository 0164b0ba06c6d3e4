package renewal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
)

// refusingEnv holds the switches of a RefusingProxy in front of the
// service.
type refusingEnv struct {
	refuse, lose atomic.Bool
	renews       atomic.Int32 // RenewCertificate requests that reached the proxy
}

// newRefusingEnv is an environment with a certificate of validity (0: two
// years) whose settings send every request through a RefusingProxy.
func newRefusingEnv(t *testing.T, validity time.Duration) (*env, *Installed, *refusingEnv) {
	t.Helper()
	e := newEnv(t)
	old := e.enroll(t, validity)
	p := &refusingEnv{}
	e.url = e.s.RefusingProxy(t, &p.refuse, &p.lose, &p.renews)
	if err := writeJSON(filepath.Join(e.dir, settingsFile), e.settings(), 0o600); err != nil {
		t.Fatal(err)
	}
	return e, old, p
}

// TestRenewRefusedRespectsWindow: a renewal the service refused with a code
// that may not be final (forced, before the window) stays pending, but is
// not sent again before the window opens, nor more often than the backoff
// allows inside it; a lost answer still resumes at once, whatever the
// window.
func TestRenewRefusedRespectsWindow(t *testing.T) {
	e, old, p := newRefusingEnv(t, 0)
	refuse, lose, renews := &p.refuse, &p.lose, &p.renews
	ctx := context.Background()
	na := old.Cert.NotAfter
	refuse.Store(true)
	e.s.Clock.Set(na.Add(-61 * 24 * time.Hour))

	_, err := e.manager(t).Renew(ctx, RenewOptions{Force: true})
	var se *client.ServiceError
	if !errors.As(err, &se) || se.Code != "E1001" {
		t.Fatalf("forced renewal: %v, want the refusal E1001", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, pendingFile)); err != nil {
		t.Fatalf("a refusal whose code may not be final abandoned the request: %v", err)
	}
	// Later plain runs before the window: nothing sent.
	for _, d := range []time.Duration{time.Minute, 2 * time.Hour, 20 * time.Hour} {
		e.s.Clock.Set(na.Add(-61*24*time.Hour + d))
		res, err := e.manager(t).Renew(ctx, RenewOptions{})
		if err != nil || res.Renewed || res.WindowOpens.IsZero() || res.Refused == nil || res.Refused.Code != "E1001" {
			t.Fatalf("plain renew %v after the refusal: %+v %v, want not renewed, window not open, the refusal reported", d, res, err)
		}
	}
	if n := renews.Load(); n != 1 {
		t.Fatalf("%d RenewCertificate requests before the window opened, want 1 (the forced one)", n)
	}
	st, err := e.manager(t).Status()
	if err != nil || st.Refused == nil || st.Refused.Code != "E1001" {
		t.Fatalf("status does not report the refusal: %+v %v", st, err)
	}

	// Inside the window it is sent again (the backoff has passed), refused
	// again; the next run within the backoff sends nothing.
	e.s.Clock.Set(na.Add(-50 * 24 * time.Hour))
	if _, err := e.manager(t).Renew(ctx, RenewOptions{}); !errors.As(err, &se) || se.Code != "E1001" {
		t.Fatalf("inside the window: %v, want E1001 again", err)
	}
	if n := renews.Load(); n != 2 {
		t.Fatalf("%d RenewCertificate requests, want 2", n)
	}
	e.s.Clock.Set(na.Add(-50*24*time.Hour + 90*time.Minute))
	res, err := e.manager(t).Renew(ctx, RenewOptions{})
	if err != nil || res.Renewed || res.RetryAt.IsZero() || renews.Load() != 2 {
		t.Fatalf("90 min after the second refusal: %+v %v, %d requests; want backing off (2 h)", res, err, renews.Load())
	}
	// 1 h doubled, jittered to between 3/4 of it and all of it.
	if at := na.Add(-50*24*time.Hour + 2*time.Hour); res.RetryAt.After(at) || !res.RetryAt.After(at.Add(-30*time.Minute)) {
		t.Errorf("RetryAt %v, want 1 h doubled, jittered: from %v to %v", res.RetryAt, at.Add(-30*time.Minute), at)
	}

	// A lost answer (HTTP 503) clears the refusal: the next run resumes at
	// once, even outside the window (the service may have accepted it).
	e.s.Clock.Set(na.Add(-50*24*time.Hour + 2*time.Hour))
	lose.Store(true)
	if _, err := e.manager(t).Renew(ctx, RenewOptions{}); err == nil || errors.As(err, &se) {
		t.Fatalf("lost answer: %v", err)
	}
	n := renews.Load()
	lose.Store(false)
	refuse.Store(false)
	e.s.Clock.Set(na.Add(-50*24*time.Hour + 2*time.Hour + time.Minute))
	res, err = e.manager(t).Renew(ctx, RenewOptions{})
	if err != nil || !res.Renewed || renews.Load() != n+1 {
		t.Fatalf("after a lost answer: %+v %v", res, err)
	}
	if c := e.successors(t, old.Serial()); c != 1 {
		t.Errorf("%d successors, want 1", c)
	}
}

// TestRenewRefusedBacksOff: refusals inside the window in a row wait 1 h,
// 2 h, 4 h … up to a day between attempts (each jittered by up to a
// quarter); --force sends at once.
func TestRenewRefusedBacksOff(t *testing.T) {
	e, old, p := newRefusingEnv(t, 0)
	refuse, renews := &p.refuse, &p.renews
	refuse.Store(true)
	ctx := context.Background()
	e.s.Clock.Set(old.Cert.NotAfter.Add(-55 * 24 * time.Hour))
	var gaps []time.Duration
	last := e.s.Clock.Now()
	// Try every 10 minutes for 3 days, as an impatient cron job would.
	for i := 0; i < 3*24*6; i++ {
		before := renews.Load()
		e.manager(t).Renew(ctx, RenewOptions{})
		if renews.Load() != before {
			if before > 0 {
				gaps = append(gaps, e.s.Clock.Now().Sub(last))
			}
			last = e.s.Clock.Now()
		}
		e.s.Clock.Advance(10 * time.Minute)
	}
	want := []time.Duration{time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 16 * time.Hour, 24 * time.Hour}
	if len(gaps) < len(want) {
		t.Fatalf("gaps between requests %v, want %v…", gaps[:min(len(gaps), 8)], want)
	}
	// Each step is jittered to between 3/4 of it and all of it (the
	// moment derived from the request); the checks every 10 minutes
	// round up to the next check.
	for i, w := range want {
		if gaps[i] <= w*3/4 || gaps[i] >= w+10*time.Minute {
			t.Fatalf("gaps between requests %v, want %v…, each jittered to (3/4 of it, all of it]", gaps[:min(len(gaps), 8)], want)
		}
	}
	if n := renews.Load(); n > 10 {
		t.Errorf("%d requests in 3 days", n)
	}
	before := renews.Load()
	if _, err := e.manager(t).Renew(ctx, RenewOptions{Force: true}); err == nil || renews.Load() != before+1 {
		t.Errorf("--force did not send the refused request at once: %v", err)
	}
}

// TestRenewLostAnswerBreaksRefusalRow: the backoff doubles with each
// refusal in a row; a lost answer in between breaks the row, so the next
// refusal waits an hour again, not the 4 h of a third refusal.
func TestRenewLostAnswerBreaksRefusalRow(t *testing.T) {
	e, old, p := newRefusingEnv(t, 0)
	refuse, lose, renews := &p.refuse, &p.lose, &p.renews
	ctx := context.Background()
	refuse.Store(true)
	e.s.Clock.Set(old.Cert.NotAfter.Add(-55 * 24 * time.Hour))
	var se *client.ServiceError
	for i, d := range []time.Duration{0, time.Hour} {
		e.s.Clock.Advance(d)
		if _, err := e.manager(t).Renew(ctx, RenewOptions{}); !errors.As(err, &se) || se.Code != "E1001" {
			t.Fatalf("refusal %d: %v", i+1, err)
		}
	}
	e.s.Clock.Advance(2 * time.Hour)
	lose.Store(true)
	if _, err := e.manager(t).Renew(ctx, RenewOptions{}); err == nil || errors.As(err, &se) {
		t.Fatalf("lost answer: %v", err)
	}
	lose.Store(false)
	if _, err := e.manager(t).Renew(ctx, RenewOptions{}); !errors.As(err, &se) || se.Code != "E1001" {
		t.Fatalf("refusal after the lost answer: %v", err)
	}
	if n := renews.Load(); n != 4 {
		t.Fatalf("%d RenewCertificate requests, want 4", n)
	}
	st, err := e.manager(t).Status()
	if err != nil || st.Refused == nil {
		t.Fatalf("status: %+v %v", st, err)
	}
	if at := e.s.Clock.Now().Add(time.Hour); st.Refused.Count != 1 || st.Refused.RetryAt.After(at) || !st.Refused.RetryAt.After(at.Add(-15*time.Minute)) {
		t.Errorf("after refused, refused, lost, refused: %d refusal(s) in a row, retry at %v; want 1 and 1 h, jittered: from %v to %v", st.Refused.Count, st.Refused.RetryAt, at.Add(-15*time.Minute), at)
	}
}

// TestRenewRefusedResendCrash: a refused request sent again (here with
// --force, outside the client's window but inside the service's) is no
// longer refused once sent: the refusal is cleared on disk before sending,
// so a run that dies after the service accepted it and before the
// RetrievalId is saved resumes at once, like a lost answer, instead of
// waiting for the window as a refused request would.
func TestRenewRefusedResendCrash(t *testing.T) {
	e, old, p := newRefusingEnv(t, 30*24*time.Hour) // TEST: the client's window is its last 10 days
	refuse, renews := &p.refuse, &p.renews
	ctx := context.Background()
	e.s.Clock.Set(old.Cert.NotBefore.Add(24 * time.Hour))
	refuse.Store(true)
	var se *client.ServiceError
	if _, err := e.manager(t).Renew(ctx, RenewOptions{Force: true}); !errors.As(err, &se) || se.Code != "E1001" {
		t.Fatalf("forced renewal: %v, want E1001", err)
	}
	refuse.Store(false)
	e.s.Clock.Advance(2 * time.Hour) // past the backoff: only --force matters outside the window
	m := e.manager(t)
	m.crash = func(s Step) bool { return s == StepSent }
	if _, err := m.Renew(ctx, RenewOptions{Force: true}); !errors.Is(err, errCrash) {
		t.Fatalf("forced resend: %v, want a crash at %s", err, StepSent)
	}
	if st, err := e.manager(t).Status(); err != nil || st.Refused != nil {
		t.Errorf("after the crash the request is still recorded as refused: %+v %v", st.Refused, err)
	}
	e.s.Clock.Advance(time.Minute)
	res, err := e.manager(t).Renew(ctx, RenewOptions{})
	if err != nil || !res.Renewed || renews.Load() != 3 {
		t.Fatalf("plain renew after the crash: %+v %v, %d requests; want it resumed at once", res, err, renews.Load())
	}
	if c := e.successors(t, old.Serial()); c != 1 {
		t.Errorf("%d successors, want 1", c)
	}
}

// TestEnrollRefusedResendCrash: the same for an enrolment: once a refused
// SignNewCertificate is sent again its refusal is off the disk, so a run
// that dies before the answer is recorded is not reported as refused.
func TestEnrollRefusedResendCrash(t *testing.T) {
	e := newEnv(t)
	cred := e.s.Order(t, customer, 0)
	ctx := context.Background()
	m := e.manager(t)
	m.crash = func(s Step) bool { return s == StepKeySaved }
	if _, err := m.Enroll(ctx, e.settings(), Credentials{cred.TransferID, cred.TransferPassword}); !errors.Is(err, errCrash) {
		t.Fatalf("run 1: %v", err)
	}
	// As noteRequestFailure records a refusal with a code that may not be
	// final.
	p, err := m.loadPending()
	if err != nil || p == nil {
		t.Fatalf("pending: %v %v", p, err)
	}
	p.Refused, p.RefusedCode, p.RefusedMessage, p.Refusals = e.s.Clock.Now(), "E2002", "Certificate not issued.", 1
	if err := m.savePending(p); err != nil {
		t.Fatal(err)
	}
	if st, err := m.Status(); err != nil || st.Refused == nil {
		t.Fatalf("the refusal is not recorded: %+v %v", st, err)
	}
	m = e.manager(t)
	m.crash = func(s Step) bool { return s == StepSent }
	if _, err := m.Enroll(ctx, e.settings(), Credentials{cred.TransferID, cred.TransferPassword}); !errors.Is(err, errCrash) {
		t.Fatalf("resend: %v, want a crash at %s", err, StepSent)
	}
	if st, err := e.manager(t).Status(); err != nil || st.Refused != nil {
		t.Errorf("after the crash the enrolment is still recorded as refused: %+v %v", st.Refused, err)
	}
	inst, err := e.manager(t).Enroll(ctx, e.settings(), Credentials{cred.TransferID, cred.TransferPassword})
	if err != nil || inst.Serial() == "" {
		t.Fatalf("enrol after the crash: %v", err)
	}
}

// TestRefusalBackoffSpreads: requests refused at the same moment are sent
// again at moments spread over the last quarter of the backoff step, each
// request's moment stable (derived from its CSR).
func TestRefusalBackoffSpreads(t *testing.T) {
	at := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	seen := map[time.Time]bool{}
	var quarters [4]int
	for i := range 200 {
		p := &pending{Refused: at, Refusals: 1, CSR: []byte(fmt.Sprintf("csr %d", i))}
		r := p.retryAt()
		if r != p.retryAt() {
			t.Fatal("retryAt differs between calls")
		}
		if r.After(at.Add(time.Hour)) || !r.After(at.Add(45*time.Minute)) {
			t.Fatalf("retry at %v, want within (45 min, 1 h] after the refusal", r.Sub(at))
		}
		seen[r] = true
		quarters[min(int(at.Add(time.Hour).Sub(r)*4/(15*time.Minute)), 3)]++
	}
	if len(seen) < 195 {
		t.Errorf("%d distinct retry moments of 200", len(seen))
	}
	for q, n := range quarters {
		if n < 20 { // 50 expected
			t.Errorf("quarter %d of the jitter holds %d of 200: %v", q, n, quarters)
		}
	}
}
