package renewal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/serial"
)

// Errors after which only a new order helps. They are wrapped with detail;
// compare with errors.Is.
var (
	ErrNoCertificate = errors.New("no certificate in the state directory: order a certificate in the e-service and run irpki enroll")
	ErrExpired       = errors.New("the certificate has expired and cannot be renewed: order a new certificate in the e-service and run irpki enroll")
	ErrRevoked       = errors.New("the certificate has been revoked and cannot be renewed: order a new certificate in the e-service and run irpki enroll")
)

// ErrDeliveredExpired is returned (by Renew, Enroll and in Status's
// message) when the certificate the service delivered for the pending
// request, saved in pending.json and not installed, has expired: no trust
// bundle makes it installable, and the service counts it as retrieved (a
// renewal's predecessor is not renewed again; an enrolment's credentials
// are used), so only a new order and irpki enroll help.
var ErrDeliveredExpired = errors.New("the certificate the service delivered for the pending request expired before it was installed and can never be installed")

// deliveredExpired says that the saved certificate of the pending request
// op (predecessor: the certificate a renewal renews) has expired, and what
// helps instead.
func deliveredExpired(dir, op, delivered string, notAfter time.Time, predecessor string) error {
	what := fmt.Sprintf("(certificate %s, saved in pending.json, expired %s)", serial.Pad(delivered), notAfter.UTC().Format("2006-01-02 15:04 MST"))
	if op == opEnroll {
		return fmt.Errorf("%w %s; the order's transfer credentials are used: order a new certificate in the e-service and run irpki enroll --dir %s with the new TransferId and TransferPassword (which moves this request to %s)",
			ErrDeliveredExpired, what, dir, filepath.Join(dir, archiveDir, abandonedDir)+string(filepath.Separator))
	}
	return fmt.Errorf("%w %s; the service counts it as the retrieved successor of certificate %s, which can therefore not be renewed again: order a new certificate in the e-service and run irpki enroll --dir %s with its TransferId and TransferPassword (which moves this request to %s)",
		ErrDeliveredExpired, what, serial.Pad(predecessor), dir, filepath.Join(dir, archiveDir, abandonedDir)+string(filepath.Separator))
}

// ErrEnrollmentPending is returned by Renew when the directory has no
// certificate yet but an interrupted enrolment: irpki enroll finishes it.
var ErrEnrollmentPending = errors.New("an interrupted enrolment is pending in the state directory")

// noCertificate explains why there is no current certificate: the
// directory does not exist, an enrolment is pending, or none was made.
func (m *Manager) noCertificate() error {
	if err := m.checkDir(); err != nil {
		return err
	}
	if p, err := m.loadPending(); err != nil {
		return err
	} else if p != nil && p.Operation == opEnroll {
		return enrollmentPending(m.dir, p.RetrievalID != "", p.refusal())
	}
	return ErrNoCertificate
}

// enrollmentPending says what finishes an interrupted enrolment: only
// irpki enroll does, whether its answer was lost or it was refused with a
// code that may not be final (no window or backoff sends it again).
func enrollmentPending(dir string, retrievalKnown bool, refused *Refusal) error {
	if retrievalKnown {
		return fmt.Errorf("%w: the service has accepted it; run irpki enroll --dir %s to fetch and install its certificate (no new order is needed)", ErrEnrollmentPending, dir)
	}
	if refused != nil {
		return fmt.Errorf("%w: %s; only irpki enroll sends it again: run irpki enroll --dir %s with the order's TransferPassword once the cause is dealt with, or, if the refusal says these credentials cannot be used, order a new certificate in the e-service and run irpki enroll --dir %s with the new TransferId and TransferPassword", ErrEnrollmentPending, refused, dir, dir)
	}
	return fmt.Errorf("%w: run irpki enroll --dir %s again with the order's TransferPassword to finish it (no new order is needed)", ErrEnrollmentPending, dir)
}

// renewalBlocked says that the pending enrolment keeps the current
// certificate (still valid) from being renewed, and what clears it: only
// one request is pending at a time. Giving the enrolment up (irpki abandon)
// keeps its key in archive/abandoned; it needs --force when the service may
// have issued a certificate for it (see Abandon).
func renewalBlocked(dir, current string, notAfter time.Time, retrievalKnown bool, refused *Refusal) error {
	giveUp := fmt.Sprintf("irpki abandon --dir %s", dir)
	if retrievalKnown || refused == nil {
		giveUp += " --force (the service may have issued a certificate for it, which is then given up too)"
	}
	return fmt.Errorf("renewal of the current certificate %s (expires %s) is blocked while an enrolment is pending: %w; or, to give the enrolment up, run %s: its key is kept in %s, and renewal resumes",
		serial.Pad(current), notAfter.UTC().Format("2006-01-02 15:04 MST"), enrollmentPending(dir, retrievalKnown, refused),
		giveUp, filepath.Join(dir, archiveDir, abandonedDir)+string(filepath.Separator))
}

// RenewOptions adjust Renew.
type RenewOptions struct {
	// Force renews outside the client's window (the service still refuses
	// outside its own).
	Force bool
}

// RenewResult says what Renew did.
type RenewResult struct {
	Renewed     bool
	Installed   *Installed // the successor, when Renewed
	Previous    *Installed // the certificate renewed (or not)
	WindowOpens time.Time  // when not Renewed outside the window: when it opens
	// Refused is the service's refusal of the pending renewal request, when
	// its last attempt was refused (see Renew).
	Refused *Refusal
	// RetryAt, when not Renewed inside the window, is when the refused
	// request may be sent again (Force sends it now).
	RetryAt time.Time
}

// Renew renews the current certificate if it is inside its renewal window
// (or opt.Force): a new key pair and CSR (saved before anything is sent),
// RenewCertificate signed with the current key and carrying the current
// certificate, GetCertificate polled until the successor comes, then
// verification (chain, our key, our customer id) and installation; the
// previous certificate and key stay in archive/.
//
// Outside the window it does nothing and says when the window opens. An
// interrupted renewal whose answer was lost (no response, a transport
// error, an untrusted response, INTERNAL) resumes, whatever the window:
// with the same key and CSR (the service answers the repeated request with
// the same RetrievalId) and, once known, the same RetrievalId. A request
// the service refused with a code that may not be final (a code outside
// irpkid's catalogue: the real service's codes are not public) is kept, but
// sent again only as a new one would be (inside the window, not expired or
// revoked) and not before a backoff of an hour, doubling per refusal in a
// row up to a day, each step jittered (RenewResult.RetryAt), unless opt.Force. An expired certificate gives
// ErrExpired; one the service reports revoked gives ErrRevoked and is
// remembered as revoked.
func (m *Manager) Renew(ctx context.Context, opt RenewOptions) (*RenewResult, error) {
	if _, err := m.Settings(); err != nil {
		return nil, err // before creating the lock file in a directory never enrolled
	}
	lk, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	// Read again under the lock: the holder we waited for may have changed
	// them.
	s, err := m.Settings()
	if err != nil {
		return nil, err
	}
	if err := m.checkLinks(); err != nil {
		return nil, err
	}

	cur, err := m.current()
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, m.noCertificate()
	}
	res := &RenewResult{Previous: cur}
	p, err := m.loadPending()
	if err != nil {
		return nil, err
	}
	if p != nil && p.Operation == opEnroll {
		if p.certSerial() != cur.Serial() {
			return nil, renewalBlocked(m.dir, cur.Serial(), cur.Cert.NotAfter, p.RetrievalID != "", p.refusal())
		}
		// The enrolment died after making its certificate current and
		// before removing pending.json: finish its last steps.
		c, err := m.newClient(s)
		if err != nil {
			return nil, err
		}
		m.progress(Event{Kind: EventResume, Message: "finishing the installation of " + cur.SerialText()})
		if _, err := m.finish(ctx, c, s, p); err != nil {
			return nil, err
		}
		p = nil
	}
	if p != nil && p.Predecessor != cur.Serial() {
		if p.certSerial() == cur.Serial() {
			// The previous run died after making the successor current
			// and before removing pending.json: finish its last steps.
			if !isSerial(p.Predecessor) {
				return nil, fmt.Errorf("%w: %s names no certificate of the archive as the one it renews: move it out of the state directory", ErrUnsafe, m.path(pendingFile))
			}
			prev, err := m.readInstalled(archiveDir + "/" + p.Predecessor)
			if err != nil {
				return nil, err
			}
			c, err := m.newClient(s)
			if err != nil {
				return nil, err
			}
			m.progress(Event{Kind: EventResume, Message: "finishing the installation of " + cur.SerialText()})
			inst, err := m.finish(ctx, c, s, p)
			m.record(err)
			if err != nil {
				return nil, err
			}
			return &RenewResult{Renewed: true, Installed: inst, Previous: prev}, nil
		}
		m.opt.Log.Warn("abandoning a renewal of another certificate", "predecessor", serial.Pad(p.Predecessor), "current", cur.SerialText())
		if _, err := m.abandon("renew-stale"); err != nil {
			return nil, err
		}
		p = nil
	}
	now := m.opt.Now()
	na := cur.Cert.NotAfter
	// A request the service answered with a refusal is sent again only
	// when a new one would be, and after a backoff; a request whose answer
	// was lost resumes whatever the window.
	refused := p.refusal()
	if p == nil || refused != nil {
		res.Refused = refused
		st, err := m.loadState()
		if err != nil {
			return nil, err
		}
		if st.RevokedSerial == cur.Serial() {
			return nil, fmt.Errorf("%w (certificate %s; the service refused its renewal on %s)", ErrRevoked, cur.SerialText(), st.RevokedSeen.UTC().Format("2006-01-02"))
		}
		if !now.Before(na) {
			return nil, fmt.Errorf("%w (certificate %s expired %s)", ErrExpired, cur.SerialText(), na.UTC().Format(time.RFC3339))
		}
		w := EffectiveWindow(cur.Cert.NotBefore, na, m.opt.Window)
		if !InWindow(cur.Cert.NotBefore, na, now, w) && !opt.Force {
			res.WindowOpens = WindowOpens(na, w)
			return res, nil
		}
		if refused != nil && now.Before(refused.RetryAt) && !opt.Force {
			res.RetryAt = refused.RetryAt
			return res, nil
		}
	}
	if refused != nil {
		m.progress(Event{Kind: EventResume, Message: fmt.Sprintf("%s; sending the renewal begun %s again with the same key", refused, p.Created.UTC().Format(time.RFC3339))})
	} else if p != nil {
		m.progress(Event{Kind: EventResume, Message: fmt.Sprintf("resuming the renewal begun %s with the same key", p.Created.UTC().Format(time.RFC3339))})
	}
	c, err := m.newClient(s)
	if err != nil {
		return nil, err
	}
	if p == nil {
		var err error
		if p, err = m.beginPending(s, &pending{Operation: opRenew, Created: now, CustomerID: s.CustomerID, Predecessor: cur.Serial()}, nil); err != nil {
			return nil, err
		}
	}
	inst, err := m.renew(ctx, c, s, cur, p)
	m.record(err)
	if err != nil {
		return nil, err
	}
	res.Renewed, res.Installed = true, inst
	return res, nil
}

func (m *Manager) renew(ctx context.Context, c *client.Client, s Settings, cur *Installed, p *pending) (*Installed, error) {
	if p.RetrievalID == "" {
		if err := m.sendingAgain(p); err != nil {
			return nil, err
		}
		m.progress(Event{Kind: EventRequest, Message: fmt.Sprintf("sending RenewCertificate for %s, signed with the current key, to %s", cur.SerialText(), s.Endpoint)})
		rid, err := c.RenewCertificate(ctx, s.CustomerID, p.CSR, cur.Key, cur.Cert)
		if err != nil {
			err = m.refused(p, err)
			m.noteRequestFailure(ctx, p, err)
			var se *client.ServiceError
			if errors.As(err, &se) {
				switch se.Code {
				case client.CodeSignerRevoked:
					m.markRevoked(cur, se.Message)
					return nil, fmt.Errorf("%w (certificate %s): %v", ErrRevoked, cur.SerialText(), err)
				case client.CodeSignerExpired:
					return nil, fmt.Errorf("%w (certificate %s): %v", ErrExpired, cur.SerialText(), err)
				}
			}
			return nil, err
		}
		if err := m.saveRetrievalID(p, rid); err != nil {
			return nil, err
		}
	}
	inst, err := m.finish(ctx, c, s, p)
	if err != nil {
		return nil, m.refused(p, err)
	}
	return inst, nil
}

func (m *Manager) markRevoked(cur *Installed, msg string) {
	st, err := m.loadState()
	if err != nil {
		// Saving now would write a state with every other field lost
		// over the one that could not be read; the revocation is reported
		// to the caller all the same, and seen again on the next run.
		m.opt.Log.Error("read state; the revocation is not remembered", "err", err)
		return
	}
	st.RevokedSerial, st.RevokedSeen, st.RevokedMessage = cur.Serial(), m.opt.Now(), msg
	if err := m.saveState(st); err != nil {
		m.opt.Log.Error("write state", "err", err)
	}
}
