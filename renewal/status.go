package renewal

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/serial"
)

// State is the condition of a state directory's certificate.
type State string

// States, from best to worst.
const (
	StateValid      State = "valid"               // valid, renewal window not open
	StateWindowOpen State = "renewal_window_open" // renew now
	StateExpired    State = "expired"
	StateRevoked    State = "revoked" // the service refused a renewal: SIGNER_REVOKED
	StateNone       State = "none"    // nothing enrolled
)

// Status describes the current certificate and the directory's last run.
type Status struct {
	State       State     `json:"state"`
	Dir         string    `json:"dir"`
	CustomerID  string    `json:"customer_id,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	Serial      string    `json:"serial,omitempty"`
	NotBefore   time.Time `json:"not_before,omitzero"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	DaysLeft    int       `json:"days_left"`
	WindowOpens time.Time `json:"window_opens,omitzero"` // the client's window (see EffectiveWindow)
	RenewAt     time.Time `json:"renew_at,omitzero"`     // when irpki watch renews (see RenewAt)
	CertFile    string    `json:"cert_file,omitempty"`
	KeyFile     string    `json:"key_file,omitempty"`
	ChainFile   string    `json:"chain_file,omitempty"`
	Pending     string    `json:"pending,omitempty"` // an interrupted enrol or renew: "renew", "renew (RetrievalId known)"
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastResult  string    `json:"last_result,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	LastRenewal time.Time `json:"last_renewal,omitzero"` // the last successful renewal, or enrolment if later
	RevokedSeen time.Time `json:"revoked_seen,omitzero"`
	// Refused: the service refused the pending request's last attempt with
	// a code that may not be final. A renewal is sent again only inside the
	// window and from Refused.RetryAt (irpki renew --force sends it now); an
	// enrolment only by irpki enroll.
	Refused *Refusal `json:"refused,omitempty"`
	// DeliveredUnverified is the serial of a certificate the service
	// delivered for the pending request that is saved in pending.json but
	// not yet verified (refused for its chain: a wrong or missing issuer
	// trust bundle); the run that verifies it installs it, without asking
	// the service again. "(unreadable)" if it cannot be parsed.
	DeliveredUnverified string `json:"delivered_unverified,omitempty"`
	// DeliveredNotAfter is the expiry of the certificate the service
	// delivered for the pending request, saved in pending.json (verified
	// or not) and not installed; zero when there is none. Once it has
	// passed, that certificate can never be installed (see
	// ErrDeliveredExpired and Message).
	DeliveredNotAfter time.Time `json:"delivered_not_after,omitzero"`
	// RenewalBlocked: the certificate is valid, but an enrolment is
	// pending (interrupted, or refused with a code that may not be final),
	// and renew and watch do not renew it until irpki enroll finishes the
	// enrolment or it is given up (see Message).
	RenewalBlocked bool `json:"renewal_blocked,omitempty"`

	at          time.Time // the time the status was taken
	situation   Situation // what the state, and Next, are decided from
	delivered   string    // serial of the saved delivered certificate (see DeliveredNotAfter)
	predecessor string    // of a pending renewal: the serial of the certificate it renews
}

// Delivered returns the serial of the certificate delivered for the
// pending request and saved in pending.json, verified or not, that is not
// installed; "" when there is none.
func (s *Status) Delivered() string {
	if s.delivered == "" {
		return ""
	}
	return serial.Pad(s.delivered)
}

// DeliveredExpired reports whether the certificate delivered for the
// pending request and saved in pending.json has expired uninstalled: it can
// never be installed (see ErrDeliveredExpired).
func (s *Status) DeliveredExpired() bool {
	return s.delivered != "" && !s.at.Before(s.DeliveredNotAfter)
}

// Status reads the directory's state at the Manager's now. It takes no
// lock: the files it reads are replaced atomically.
func (m *Manager) Status() (*Status, error) {
	if err := m.checkDir(); err != nil {
		return nil, err
	}
	st := &Status{State: StateNone, Dir: m.dir, at: m.opt.Now(), situation: Situation{Window: m.opt.Window}}
	if s, err := m.Settings(); err == nil {
		st.CustomerID = s.CustomerID
	} else if errors.Is(err, ErrUnsafe) {
		return nil, err
	}
	s, err := m.loadState()
	if err != nil {
		return nil, err
	}
	st.LastAttempt, st.LastResult, st.LastError, st.LastRenewal = s.LastAttempt, s.LastResult, s.LastError, s.LastRenewal
	p, err := m.loadPending()
	if err != nil {
		return nil, err
	} else if p != nil {
		st.Pending = p.Operation
		if p.RetrievalID != "" {
			st.Pending += " (RetrievalId known)"
		}
		st.Refused = p.refusal()
		st.DeliveredUnverified = p.unverifiedSerial()
		if c := p.savedCert(); c != nil {
			st.delivered, st.DeliveredNotAfter = serialHex(c), c.NotAfter.UTC()
		}
		st.predecessor = p.Predecessor
		st.situation.Pending, st.situation.Refused = p.Operation, st.Refused
	}
	cur, err := m.current()
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return st, nil
	}
	if st.delivered == cur.Serial() {
		// Installed already; only pending.json was left.
		st.delivered, st.DeliveredNotAfter = "", time.Time{}
	}
	now := m.opt.Now()
	c := cur.Cert
	sit := &st.situation
	sit.NotBefore, sit.NotAfter, sit.Serial = c.NotBefore, c.NotAfter, c.SerialNumber
	sit.Revoked = s.RevokedSerial == cur.Serial()
	sit.PendingInstalled = p != nil && p.certSerial() == cur.Serial()
	st.Subject = c.Subject.String()
	st.Serial = cur.SerialText()
	st.NotBefore, st.NotAfter = c.NotBefore.UTC(), c.NotAfter.UTC()
	if left := c.NotAfter.Sub(now); left > 0 {
		st.DaysLeft = int(left / (24 * time.Hour))
	}
	st.WindowOpens = WindowOpens(c.NotAfter, sit.window()).UTC()
	st.RenewAt = sit.RenewAt().UTC()
	st.CertFile, st.KeyFile, st.ChainFile = filepath.Join(m.dir, CertFile), filepath.Join(m.dir, KeyFile), filepath.Join(m.dir, ChainFile)
	st.State = sit.State(now)
	if st.State == StateRevoked {
		st.RevokedSeen = s.RevokedSeen
	}
	// An enrolment whose certificate is already current (a run died
	// before removing pending.json) is finished by the next renew.
	st.RenewalBlocked = sit.RenewalBlocked(now)
	return st, nil
}

// Situation returns what the status was decided from, for Next.
func (s *Status) Situation() Situation { return s.situation }

// Next is what a renewer does next at now (see Next).
func (s *Status) Next(now time.Time) Decision { return Next(s.situation, now) }

// Message is a one-line explanation of the state for people. Without a
// usable certificate (none, expired or revoked) an interrupted enrolment
// is what to finish: irpki enroll --dir DIR, not a new order.
//
// A renewal of the current certificate whose successor was delivered and
// saved, or accepted by the service (its RetrievalId known, not refused),
// is finished by irpki renew even once the current certificate has
// expired or was revoked; a saved certificate that has expired itself can
// never be installed, and only a new order helps.
func (s *Status) Message() string {
	pendingEnroll := strings.HasPrefix(s.Pending, opEnroll)
	if s.DeliveredExpired() {
		op := opRenew
		if pendingEnroll {
			op = opEnroll
		}
		why := deliveredExpired(s.Dir, op, s.delivered, s.DeliveredNotAfter, s.predecessor).Error()
		switch s.State {
		case StateExpired:
			return "expired on " + s.NotAfter.Format("2006-01-02 15:04 MST") + "; " + why
		case StateRevoked:
			return "revoked; " + why
		case StateValid, StateWindowOpen:
			return fmt.Sprintf("valid for %s (expires %s), but %s", s.left(), s.NotAfter.Format("2006-01-02 15:04 MST"), why)
		}
		return why
	}
	// A pending renewal of the current certificate resumes whatever its
	// state unless the service refused it (see Renew): its successor,
	// saved or still with the service, is installed by irpki renew.
	if s.Pending != "" && !pendingEnroll && serial.Same(s.predecessor, s.Serial) && (s.State == StateExpired || s.State == StateRevoked) {
		what := "expired on " + s.NotAfter.Format("2006-01-02 15:04 MST")
		if s.State == StateRevoked {
			what = "revoked"
		}
		switch {
		case s.delivered != "":
			finish := fmt.Sprintf("was delivered and verified and is saved in pending.json, not installed: run irpki renew --dir %s, which installs it", s.Dir)
			if s.DeliveredUnverified != "" {
				finish = fmt.Sprintf("was delivered and is saved in pending.json, awaiting verification: fix --issuer-trust / --trust and run irpki renew --dir %s --issuer-trust FILE, which verifies and installs it", s.Dir)
			}
			return fmt.Sprintf("%s, but its successor %s (valid until %s) %s (no new order is needed)", what, s.Delivered(), s.DeliveredNotAfter.Format("2006-01-02 15:04 MST"), finish)
		case s.Refused == nil && strings.Contains(s.Pending, "RetrievalId known"):
			// The service accepted the renewal; only GetCertificate's
			// answer was lost. Fetching needs no signature, so the
			// expiry (or revocation) of the current certificate does
			// not stop it; the service keeps the certificate for a
			// limited time (irpkid: 30 days), and renew says when not.
			return fmt.Sprintf("%s, but the service has issued a successor (it accepted the pending renewal; the RetrievalId is saved in pending.json): run irpki renew --dir %s to fetch it, which verifies and installs it; no new order is needed (unless the service no longer holds it: renew then says so)", what, s.Dir)
		}
	}
	var enrolment string
	if pendingEnroll {
		enrolment = enrollmentPending(s.Dir, strings.Contains(s.Pending, "RetrievalId known"), s.Refused).Error()
	}
	if pendingEnroll {
		switch s.State {
		case StateExpired:
			return "expired on " + s.NotAfter.Format("2006-01-02 15:04 MST") + "; " + enrolment
		case StateRevoked:
			return "revoked; " + enrolment
		}
	}
	if s.RenewalBlocked {
		blocked := renewalBlocked(s.Dir, s.Serial, s.NotAfter, strings.Contains(s.Pending, "RetrievalId known"), s.Refused).Error()
		if s.State == StateWindowOpen {
			return fmt.Sprintf("the renewal window is open (expires %s, in %s), but %s", s.NotAfter.Format("2006-01-02 15:04 MST"), s.left(), blocked)
		}
		return fmt.Sprintf("valid for %s (the renewal window opens %s), but %s", s.left(), s.WindowOpens.Format("2006-01-02 15:04 MST"), blocked)
	}
	switch s.State {
	case StateValid:
		return fmt.Sprintf("valid for %s; the renewal window opens %s", s.left(), s.WindowOpens.Format("2006-01-02 15:04 MST"))
	case StateWindowOpen:
		return fmt.Sprintf("the renewal window is open: renew now (expires %s, in %s)", s.NotAfter.Format("2006-01-02 15:04 MST"), s.left())
	case StateExpired:
		return "expired on " + s.NotAfter.Format("2006-01-02 15:04 MST") + ": " + ErrExpired.Error()
	case StateRevoked:
		return ErrRevoked.Error()
	}
	if pendingEnroll {
		return enrolment
	}
	return ErrNoCertificate.Error()
}

// left says how long the certificate is still valid: in days, or for a
// short-lived TEST certificate in hours and minutes.
func (s *Status) left() string {
	if s.DaysLeft >= 2 {
		return fmt.Sprintf("%d more days", s.DaysLeft)
	}
	return s.NotAfter.Sub(s.at).Round(time.Minute).String()
}
