package renewal

import (
	"math/big"
	"strings"
	"testing"
	"time"
)

// TestNext is Next's decision table: every branch, and its boundaries at
// the window's start, at the renewal moment, at expiry, at the end of a
// refusal's backoff, with a revocation, a pending request and a pending
// enrolment that blocks the renewal.
func TestNext(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	na := nb.Add(730 * 24 * time.Hour)
	opens := na.Add(-DefaultWindow)
	serial := big.NewInt(0x1234567890)
	renewAt := RenewAt(nb, na, serial, DefaultWindow)
	if !renewAt.After(opens) || !renewAt.Before(opens.Add(DefaultWindow/jitterFraction)) {
		t.Fatalf("RenewAt %v is not inside the first sixth of the window from %v", renewAt, opens)
	}
	const ns = time.Nanosecond
	cert := Situation{NotBefore: nb, NotAfter: na, Serial: serial, Window: DefaultWindow}
	atStart := cert // renewal moment at the window's start
	atStart.Serial = nil
	with := func(s Situation, f func(*Situation)) Situation { f(&s); return s }
	refusedRenew := func(s Situation, retryAt time.Time) Situation {
		return with(s, func(s *Situation) {
			s.Pending, s.Refused = opRenew, &Refusal{At: retryAt.Add(-time.Hour), Code: "X", Count: 1, RetryAt: retryAt}
		})
	}
	lostRenew := func(s Situation) Situation { return with(s, func(s *Situation) { s.Pending = opRenew }) }
	enrol := func(s Situation) Situation { return with(s, func(s *Situation) { s.Pending = opEnroll }) }
	refusedEnrol := func(s Situation) Situation {
		return with(s, func(s *Situation) { s.Pending, s.Refused = opEnroll, &Refusal{At: nb, Code: "X", Count: 1} })
	}
	revoked := func(s Situation) Situation { return with(s, func(s *Situation) { s.Revoked = true }) }
	short := Situation{NotBefore: nb, NotAfter: nb.Add(30 * time.Minute), Window: DefaultWindow}

	tests := []struct {
		name  string
		s     Situation
		now   time.Time
		state State
		want  Decision
	}{
		// Nothing enrolled.
		{"none", Situation{Window: DefaultWindow}, nb, StateNone, Decision{Action: ActionOrder, Reason: ReasonNoCertificate, Failing: true}},
		{"none, enrolment pending", enrol(Situation{}), nb, StateNone, Decision{Action: ActionBlocked, Reason: ReasonEnrollmentPending, Failing: true}},
		{"none, refused enrolment pending", refusedEnrol(Situation{}), nb, StateNone, Decision{Action: ActionBlocked, Reason: ReasonEnrollmentPending, Failing: true}},
		{"none, renewal pending, answer lost", lostRenew(Situation{}), nb, StateNone, Decision{Action: ActionRenew, Reason: ReasonResume}},
		{"none, refused renewal pending", refusedRenew(Situation{}, nb), nb, StateNone, Decision{Action: ActionOrder, Reason: ReasonNoCertificate, Failing: true}},

		// Valid, the window's start and the renewal moment.
		{"valid, long before the window", cert, nb.Add(time.Hour), StateValid, Decision{Action: ActionWait, Reason: ReasonNotDue, At: renewAt}},
		{"just before the window opens", atStart, opens.Add(-ns), StateValid, Decision{Action: ActionWait, Reason: ReasonNotDue, At: opens}},
		{"the window opens, renewal moment at its start", atStart, opens, StateWindowOpen, Decision{Action: ActionRenew, Reason: ReasonDue}},
		{"the window opens, renewal moment later", cert, opens, StateWindowOpen, Decision{Action: ActionWait, Reason: ReasonNotDue, At: renewAt}},
		{"just before the renewal moment", cert, renewAt.Add(-ns), StateWindowOpen, Decision{Action: ActionWait, Reason: ReasonNotDue, At: renewAt}},
		{"at the renewal moment", cert, renewAt, StateWindowOpen, Decision{Action: ActionRenew, Reason: ReasonDue}},
		{"short-lived: last third", short, short.NotAfter.Add(-10 * time.Minute), StateWindowOpen, Decision{Action: ActionRenew, Reason: ReasonDue}},
		{"short-lived: before its last third", short, short.NotAfter.Add(-10*time.Minute - ns), StateValid, Decision{Action: ActionWait, Reason: ReasonNotDue, At: short.NotAfter.Add(-10 * time.Minute)}},

		// Expiry.
		{"just before expiry", cert, na.Add(-ns), StateWindowOpen, Decision{Action: ActionRenew, Reason: ReasonDue}},
		{"at expiry", cert, na, StateExpired, Decision{Action: ActionOrder, Reason: ReasonExpired, Failing: true}},
		{"expired, renewal pending, answer lost", lostRenew(cert), na, StateExpired, Decision{Action: ActionRenew, Reason: ReasonResume}},
		{"expired, refused renewal pending", refusedRenew(cert, na), na.Add(time.Hour), StateExpired, Decision{Action: ActionOrder, Reason: ReasonExpired, Failing: true}},
		{"expired, enrolment pending", enrol(cert), na, StateExpired, Decision{Action: ActionBlocked, Reason: ReasonEnrollmentPending, Failing: true}},
		{"expired, enrolment installed", with(enrol(cert), func(s *Situation) { s.PendingInstalled = true }), na, StateExpired, Decision{Action: ActionBlocked, Reason: ReasonEnrollmentPending, Failing: true}},

		// Revocation, whatever the window.
		{"revoked, before the window", revoked(cert), nb.Add(time.Hour), StateRevoked, Decision{Action: ActionOrder, Reason: ReasonRevoked, Failing: true}},
		{"revoked, at the renewal moment", revoked(cert), renewAt, StateRevoked, Decision{Action: ActionOrder, Reason: ReasonRevoked, Failing: true}},
		{"revoked and expired", revoked(cert), na, StateRevoked, Decision{Action: ActionOrder, Reason: ReasonRevoked, Failing: true}},
		{"revoked, renewal pending, answer lost", lostRenew(revoked(cert)), nb, StateRevoked, Decision{Action: ActionRenew, Reason: ReasonResume}},
		{"revoked, refused renewal pending", refusedRenew(revoked(cert), renewAt), renewAt, StateRevoked, Decision{Action: ActionOrder, Reason: ReasonRevoked, Failing: true}},
		{"revoked, enrolment pending", enrol(revoked(cert)), nb, StateRevoked, Decision{Action: ActionBlocked, Reason: ReasonEnrollmentPending, Failing: true}},

		// A pending renewal whose answer was lost resumes at once.
		{"renewal pending, answer lost, before the window", lostRenew(cert), nb.Add(time.Hour), StateValid, Decision{Action: ActionRenew, Reason: ReasonResume}},
		{"enrolment installed, only pending.json left", with(enrol(cert), func(s *Situation) { s.PendingInstalled = true }), nb.Add(time.Hour), StateValid, Decision{Action: ActionRenew, Reason: ReasonResume}},

		// A refused renewal: the later of the renewal moment and its backoff.
		{"refused, backoff ends before the renewal moment", refusedRenew(cert, renewAt.Add(-time.Hour)), nb.Add(time.Hour), StateValid, Decision{Action: ActionWait, Reason: ReasonRefusedNotDue, At: renewAt}},
		{"refused, backoff ends after the renewal moment", refusedRenew(cert, renewAt.Add(time.Hour)), renewAt.Add(-ns), StateWindowOpen, Decision{Action: ActionWait, Reason: ReasonRefusedNotDue, At: renewAt.Add(time.Hour)}},
		{"refused, due, backing off", refusedRenew(cert, renewAt.Add(time.Hour)), renewAt, StateWindowOpen, Decision{Action: ActionWait, Reason: ReasonBackoff, At: renewAt.Add(time.Hour), Failing: true}},
		{"refused, due, just before the backoff ends", refusedRenew(cert, renewAt.Add(time.Hour)), renewAt.Add(time.Hour - ns), StateWindowOpen, Decision{Action: ActionWait, Reason: ReasonBackoff, At: renewAt.Add(time.Hour), Failing: true}},
		{"refused, due, the backoff ends", refusedRenew(cert, renewAt.Add(time.Hour)), renewAt.Add(time.Hour), StateWindowOpen, Decision{Action: ActionRenew, Reason: ReasonRetry}},
		{"refused, backoff over long ago, at the renewal moment", refusedRenew(cert, nb), renewAt, StateWindowOpen, Decision{Action: ActionRenew, Reason: ReasonRetry}},

		// A pending enrolment blocks the renewal of a usable certificate.
		{"blocked by an interrupted enrolment, not due", enrol(cert), nb.Add(time.Hour), StateValid, Decision{Action: ActionBlocked, Reason: ReasonRenewalBlocked, At: renewAt, Failing: true}},
		{"blocked by a refused enrolment, not due", refusedEnrol(cert), renewAt.Add(-ns), StateWindowOpen, Decision{Action: ActionBlocked, Reason: ReasonRenewalBlocked, At: renewAt}},
		{"blocked by a refused enrolment, at the renewal moment", refusedEnrol(cert), renewAt, StateWindowOpen, Decision{Action: ActionBlocked, Reason: ReasonRenewalBlocked, Failing: true}},
		{"blocked by an interrupted enrolment, due", enrol(cert), renewAt, StateWindowOpen, Decision{Action: ActionBlocked, Reason: ReasonRenewalBlocked, Failing: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.State(tt.now); got != tt.state {
				t.Errorf("State = %s, want %s", got, tt.state)
			}
			got := Next(tt.s, tt.now)
			if got != tt.want {
				t.Errorf("Next = %+v, want %+v", got, tt.want)
			}
			if blocked := tt.want.Reason == ReasonRenewalBlocked; tt.s.RenewalBlocked(tt.now) != blocked {
				t.Errorf("RenewalBlocked = %v, want %v", !blocked, blocked)
			}
			msg := got.String()
			if msg == "" || msg == string(got.Action) {
				t.Errorf("String() = %q says nothing of the reason", msg)
			}
			if !got.At.IsZero() && !strings.Contains(msg, got.At.UTC().Format("2006-01-02 15:04")) {
				t.Errorf("String() = %q does not name %v", msg, got.At)
			}
		})
	}
}

// TestNextOfStatus: a Status's Next is Next of the situation it read, its
// State and RenewalBlocked those of that situation at the time it was
// taken.
func TestNextOfStatus(t *testing.T) {
	e := newEnv(t)
	e.enroll(t, 0)
	st, err := e.manager(t).Status()
	if err != nil {
		t.Fatal(err)
	}
	sit := st.Situation()
	now := e.s.Clock.Now()
	if sit.State(now) != st.State || sit.RenewalBlocked(now) != st.RenewalBlocked || !sit.RenewAt().Equal(st.RenewAt) {
		t.Errorf("situation %+v does not match status %+v", sit, st)
	}
	if d := st.Next(now); d.Action != ActionWait || d.Reason != ReasonNotDue || !d.At.Equal(st.RenewAt) {
		t.Errorf("fresh certificate: Next = %+v, want to wait until %v", d, st.RenewAt)
	}
	if d := st.Next(st.RenewAt); d.Action != ActionRenew || d.Reason != ReasonDue {
		t.Errorf("at the renewal moment: Next = %+v, want renew", d)
	}
	if d := st.Next(st.NotAfter); d.Action != ActionOrder || d.Reason != ReasonExpired {
		t.Errorf("at expiry: Next = %+v, want a new order", d)
	}
}
