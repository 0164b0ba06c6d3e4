package renewal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/serial"
)

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
	err := m.send(ctx, p, func() (string, error) {
		m.progress(Event{Kind: EventRequest, Message: fmt.Sprintf("sending RenewCertificate for %s, signed with the current key, to %s", cur.SerialText(), s.Endpoint)})
		return c.RenewCertificate(ctx, s.CustomerID, p.CSR, cur.Key, cur.Cert)
	})
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
	if err != nil {
		return nil, err
	}
	return m.complete(ctx, c, s, p)
}
