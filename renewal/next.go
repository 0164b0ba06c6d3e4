package renewal

import (
	"fmt"
	"math/big"
	"time"
)

// Action is what a renewer does next about a state directory's
// certificate (see Next).
type Action string

// Actions of a Decision.
const (
	// ActionRenew: renew now (Renew), or resume or send again the pending
	// renewal.
	ActionRenew Action = "renew"
	// ActionWait: nothing to do before Decision.At.
	ActionWait Action = "wait"
	// ActionOrder: there is no usable certificate and nothing in flight
	// gives one: order a new certificate in the e-service and run irpki
	// enroll.
	ActionOrder Action = "order"
	// ActionBlocked: a pending enrolment holds things up, and only a
	// person clears it (irpki enroll finishes it, irpki abandon gives it
	// up); nothing is sent by itself.
	ActionBlocked Action = "blocked"
)

// Reason says why Next decided as it did.
type Reason string

// Reasons of a Decision, with the action each goes with.
const (
	// ReasonNotDue (wait): the certificate is valid and its renewal
	// moment (RenewAt) is ahead.
	ReasonNotDue Reason = "not_due"
	// ReasonDue (renew): the renewal moment has come.
	ReasonDue Reason = "due"
	// ReasonResume (renew): a request is pending whose answer was lost
	// (not refused): it resumes at once, whatever the window, and even
	// once the certificate has expired or was revoked (the service may
	// have issued its successor). Also a request whose certificate is
	// current already, whose last steps the next renewal finishes.
	ReasonResume Reason = "resume"
	// ReasonRefusedNotDue (wait): the service refused the pending renewal
	// with a code that may not be final; it is sent again once the
	// renewal moment has come and its backoff (Refusal.RetryAt) has
	// passed, whichever is later.
	ReasonRefusedNotDue Reason = "refused_not_due"
	// ReasonBackoff (wait, failing): the renewal is due, but the service
	// refused the pending renewal and its backoff has not passed.
	ReasonBackoff Reason = "refused_backoff"
	// ReasonRetry (renew): the refused renewal is due and its backoff has
	// passed: it is sent again, with the same key.
	ReasonRetry Reason = "refused_retry"
	// ReasonNoCertificate (order): nothing is enrolled.
	ReasonNoCertificate Reason = "no_certificate"
	// ReasonExpired (order): the certificate has expired.
	ReasonExpired Reason = "expired"
	// ReasonRevoked (order): the certificate was revoked, as a revocation
	// list or the service said.
	ReasonRevoked Reason = "revoked"
	// ReasonEnrollmentPending (blocked, failing): there is no usable
	// certificate, but an enrolment is pending: irpki enroll finishes it,
	// no new order is needed.
	ReasonEnrollmentPending Reason = "enrollment_pending"
	// ReasonRenewalBlocked (blocked): the certificate is valid, but a
	// pending enrolment keeps it from being renewed (one request at a
	// time).
	ReasonRenewalBlocked Reason = "renewal_blocked"
)

// Decision is what Next decided.
type Decision struct {
	Action Action `json:"action"`
	Reason Reason `json:"reason"`
	// At is, for ActionWait, when the next step is due: the renewal
	// moment, or the end of a refused request's backoff. For
	// ActionBlocked, the renewal moment while it is still ahead. Zero
	// otherwise.
	At time.Time `json:"at,omitzero"`
	// Failing says that a person should hear of it now (irpki watch logs
	// an error, and watch --once exits non-zero): always for ActionOrder;
	// for ActionBlocked, unless the renewal moment is still ahead and the
	// enrolment was refused rather than interrupted (an interrupted one
	// waits to be finished); for ActionWait, while a refused renewal that
	// is due backs off.
	Failing bool `json:"failing"`
}

// String says the decision in one line for people.
func (d Decision) String() string {
	at := d.At.UTC().Format("2006-01-02 15:04 MST")
	switch d.Reason {
	case ReasonNotDue:
		return "wait until " + at + ", the renewal moment"
	case ReasonDue:
		return "renew now: the renewal moment has come"
	case ReasonResume:
		return "renew now: resume the pending request"
	case ReasonRefusedNotDue:
		return "wait until " + at + ": the renewal moment, and the end of the backoff after the service refused the pending renewal"
	case ReasonBackoff:
		return "wait until " + at + ": the service refused the pending renewal, and it is sent again after a backoff"
	case ReasonRetry:
		return "renew now: send the refused renewal again, its backoff has passed"
	case ReasonNoCertificate, ReasonExpired, ReasonRevoked:
		return fmt.Sprintf("order a new certificate in the e-service and run irpki enroll (%s)", stateOf(d.Reason))
	case ReasonEnrollmentPending:
		return "irpki enroll finishes the pending enrolment (no new order is needed)"
	case ReasonRenewalBlocked:
		if !d.At.IsZero() {
			return "blocked by the pending enrolment (irpki enroll finishes it, irpki abandon gives it up); the renewal is due " + at
		}
		return "blocked by the pending enrolment (irpki enroll finishes it, irpki abandon gives it up); the renewal is due"
	}
	return string(d.Action)
}

// stateOf is the state an ActionOrder reason stands for.
func stateOf(r Reason) State {
	switch r {
	case ReasonExpired:
		return StateExpired
	case ReasonRevoked:
		return StateRevoked
	}
	return StateNone
}

// Situation is what Next decides from: a snapshot of a state directory
// (Status.Situation reads one), with no I/O behind it.
type Situation struct {
	// NotBefore and NotAfter are the current certificate's validity;
	// NotAfter is zero when there is no certificate.
	NotBefore, NotAfter time.Time
	// Serial is the certificate's serial number, which picks its renewal
	// moment in the window (see RenewAt); nil: the window's start.
	Serial *big.Int
	// Window is the service's renewal window (Options.Window); the
	// client's is at most the last third of the lifetime (see
	// EffectiveWindow).
	Window time.Duration
	// Revoked: the certificate was revoked, as a revocation list
	// (CheckRevocation) or the service (a refused renewal) said.
	Revoked bool
	// Pending is the operation of the pending request: "" (none),
	// "enroll" or "renew".
	Pending string
	// PendingInstalled: the pending request's certificate is current
	// already (a run died before removing pending.json).
	PendingInstalled bool
	// Refused is the pending request's last refusal, by a code that may
	// not be final (nil when it was not refused).
	Refused *Refusal
}

// State returns the condition of the certificate at now.
func (s Situation) State(now time.Time) State {
	switch {
	case s.NotAfter.IsZero():
		return StateNone
	case s.Revoked:
		return StateRevoked
	case !now.Before(s.NotAfter):
		return StateExpired
	case InWindow(s.NotBefore, s.NotAfter, now, s.window()):
		return StateWindowOpen
	}
	return StateValid
}

// window is the client's renewal window of the certificate.
func (s Situation) window() time.Duration {
	return EffectiveWindow(s.NotBefore, s.NotAfter, s.Window)
}

// RenewAt returns the certificate's renewal moment (see RenewAt).
func (s Situation) RenewAt() time.Time {
	return RenewAt(s.NotBefore, s.NotAfter, s.Serial, s.Window)
}

// RenewalBlocked reports whether, at now, a pending enrolment keeps the
// certificate, still usable, from being renewed: only one request is
// pending at a time. An enrolment whose certificate is current already
// does not: the next renewal finishes it.
func (s Situation) RenewalBlocked(now time.Time) bool {
	st := s.State(now)
	return s.Pending == opEnroll && !s.PendingInstalled && (st == StateValid || st == StateWindowOpen)
}

// Next decides what a renewer does about the certificate at now: renew
// (or resume the pending request), wait until a moment, order a new
// certificate, or nothing until a person finishes or gives up a pending
// enrolment. It is irpki watch's policy:
//
//   - with no usable certificate (none, expired or revoked), a pending
//     enrolment is finished by irpki enroll alone (blocked); a pending
//     renewal whose answer was lost resumes (the service may have issued
//     its successor); otherwise only a new order helps;
//   - a pending enrolment blocks the renewal of a usable certificate;
//   - a pending request whose answer was lost resumes at once;
//   - otherwise the certificate is renewed from its renewal moment
//     (RenewAt), and a renewal the service refused with a code that may
//     not be final is sent again from then on, once its backoff has passed.
//
// Renew applies the same rules under the directory's lock, but inside the
// whole window (from WindowOpens) rather than from the renewal moment, and
// not at all to a request forced with RenewOptions.Force.
func Next(s Situation, now time.Time) Decision {
	state := s.State(now)
	if state != StateValid && state != StateWindowOpen {
		switch {
		case s.Pending == opEnroll:
			return Decision{Action: ActionBlocked, Reason: ReasonEnrollmentPending, Failing: true}
		case s.Pending == "" || s.Refused != nil:
			reason := ReasonNoCertificate
			switch state {
			case StateExpired:
				reason = ReasonExpired
			case StateRevoked:
				reason = ReasonRevoked
			}
			return Decision{Action: ActionOrder, Reason: reason, Failing: true}
		}
		return Decision{Action: ActionRenew, Reason: ReasonResume}
	}
	renewAt := s.RenewAt()
	due := !now.Before(renewAt)
	switch {
	case s.RenewalBlocked(now):
		d := Decision{Action: ActionBlocked, Reason: ReasonRenewalBlocked, Failing: true}
		if !due {
			d.At, d.Failing = renewAt, s.Refused == nil
		}
		return d
	case s.Pending != "" && s.Refused == nil:
		return Decision{Action: ActionRenew, Reason: ReasonResume}
	case s.Refused == nil && !due:
		return Decision{Action: ActionWait, Reason: ReasonNotDue, At: renewAt}
	case s.Refused == nil:
		return Decision{Action: ActionRenew, Reason: ReasonDue}
	case !due:
		return Decision{Action: ActionWait, Reason: ReasonRefusedNotDue, At: later(renewAt, s.Refused.RetryAt)}
	case now.Before(s.Refused.RetryAt):
		return Decision{Action: ActionWait, Reason: ReasonBackoff, At: s.Refused.RetryAt, Failing: true}
	}
	return Decision{Action: ActionRenew, Reason: ReasonRetry}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
