package renewal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/atomicfile"
	"github.com/irpki/irpki/internal/businessid"
)

// Credentials are an order's one-time transfer credentials. The password is
// sent to the service and never written to disk or logged.
type Credentials struct {
	TransferID       string
	TransferPassword string
}

// ErrNeedCredentials is returned by Enroll when there is nothing to resume
// and no transfer credentials were given.
var ErrNeedCredentials = errors.New("transfer credentials (TransferId and TransferPassword) are required")

// PendingEnrollment reports whether an interrupted enrolment waits in the
// directory, and whether its RetrievalId is known (then Enroll can finish it
// without the transfer password).
func (m *Manager) PendingEnrollment() (transferID string, resumable bool, err error) {
	p, err := m.loadPending()
	if err != nil || p == nil || p.Operation != opEnroll {
		return "", false, err
	}
	return p.TransferID, p.RetrievalID != "", nil
}

const (
	opEnroll = "enroll"
	opRenew  = "renew"
)

// Enroll gets a new certificate with an order's transfer credentials: a new
// key pair and CSR (saved before anything is sent), SignNewCertificate,
// GetCertificate polled until the certificate comes, verification, and
// installation as the current certificate. The settings are saved in the
// directory first, so that later runs need only the directory; if the
// directory had settings and the service refuses the enrolment for good,
// they are put back.
//
// An enrolment interrupted at any point resumes when Enroll is called again:
// with the same key (the service answers a repeated SignNewCertificate with
// the same credentials and key with the same RetrievalId) and, once known,
// the same RetrievalId (then the credentials are not needed). Enrolling
// with other credentials abandons the interrupted one to archive/abandoned.
//
// An enrolment the service refused with a code that may not be final (a
// code outside irpkid's catalogue) is kept as well, with the refusal, and
// sent again with the same key when Enroll is called again with its
// credentials, at once: enrolling is a person's decision, and nothing
// (neither Renew nor a window or backoff) sends it by itself.
func (m *Manager) Enroll(ctx context.Context, s Settings, cred Credentials) (*Installed, error) {
	if s.KeySize == 0 {
		s.KeySize = 2048
	}
	for _, f := range []*string{&s.Trust, &s.IssuerTrust} {
		if *f != "" {
			abs, err := filepath.Abs(*f)
			if err != nil {
				return nil, err
			}
			*f = abs
		}
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if err := m.checkDirSafe(); err != nil {
		return nil, err
	}
	if err := atomicfile.MkdirPrivate(m.dir); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	lk, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	if err := m.checkLinks(); err != nil {
		return nil, err
	}

	var old Settings
	hadOld, err := m.readJSON(settingsFile, &old)
	if err != nil {
		return nil, err
	} else if hadOld && old.CustomerID != s.CustomerID {
		return nil, fmt.Errorf("%s holds %s's certificate, not %s's: use another directory", m.dir, shownCustomer(old.CustomerID), s.CustomerID)
	}
	c, err := m.newClient(s)
	if err != nil {
		return nil, err
	}
	p, err := m.loadPending()
	if err != nil {
		return nil, err
	}
	// The settings the current certificate renews with, kept in the
	// pending enrolment before its own are saved (see restoreSettings).
	var prev *Settings
	if cur, err := m.current(); err != nil {
		return nil, err
	} else if hadOld && cur != nil {
		prev = &old
	}
	if p != nil {
		resume := p.Operation == opEnroll && p.CustomerID == s.CustomerID &&
			(p.TransferID == cred.TransferID || (cred.TransferID == "" && p.RetrievalID != ""))
		if !resume {
			m.opt.Log.Warn("abandoning an interrupted request for a new enrolment", "operation", p.Operation, "created", p.Created)
			if p.Operation == opEnroll && p.PreviousSettings != nil {
				// settings.json holds the replaced enrolment's.
				prev = p.PreviousSettings
			}
			if _, err := m.abandon(p.Operation + "-replaced-by-enroll"); err != nil {
				return nil, err
			}
			p = nil
		} else if r := p.refusal(); r != nil {
			m.progress(Event{Kind: EventResume, Message: fmt.Sprintf("%s; sending the enrolment begun %s again with the same key", r, p.Created.UTC().Format(time.RFC3339))})
		} else {
			m.progress(Event{Kind: EventResume, Message: fmt.Sprintf("resuming the enrolment begun %s with the same key", p.Created.UTC().Format(time.RFC3339))})
		}
	}
	if p == nil && (cred.TransferID == "" || cred.TransferPassword == "") {
		return nil, ErrNeedCredentials
	}
	saveSettings := func() error { return writeJSON(m.path(settingsFile), s, 0o600) }
	if p == nil {
		// pending.json, with the previous settings, is saved before
		// settings.json is overwritten.
		var err error
		if p, err = m.beginPending(s, &pending{Operation: opEnroll, Created: m.opt.Now(), CustomerID: s.CustomerID, TransferID: cred.TransferID, PreviousSettings: prev}, saveSettings); err != nil {
			return nil, err
		}
	} else if err := saveSettings(); err != nil {
		return nil, err
	}
	inst, err := m.enroll(ctx, c, s, cred, p)
	m.record(err)
	var se *client.ServiceError
	if err != nil && errors.As(err, &se) {
		// Refused for good (nothing left to resume with these settings):
		// the certificate in place keeps renewing with the settings it
		// was enrolled with, not with a mistyped endpoint or environment.
		if left, perr := m.loadPending(); perr == nil && left == nil {
			if werr := m.restoreSettings(p); werr != nil {
				return nil, errors.Join(err, werr)
			}
		}
	}
	return inst, err
}

func (m *Manager) enroll(ctx context.Context, c *client.Client, s Settings, cred Credentials, p *pending) (*Installed, error) {
	if p.RetrievalID == "" {
		if cred.TransferPassword == "" {
			return nil, ErrNeedCredentials
		}
		if err := m.sendingAgain(p); err != nil {
			return nil, err
		}
		m.progress(Event{Kind: EventRequest, Message: "sending SignNewCertificate to " + s.Endpoint})
		rid, err := c.SignNewCertificate(ctx, s.CustomerID, p.TransferID, cred.TransferPassword, p.CSR)
		if err != nil {
			err = m.refused(p, err)
			m.noteRequestFailure(ctx, p, err)
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

// saveRetrievalID puts the RetrievalId the service answered on disk before
// any polling, so that a run killed from here on resumes with it instead of
// asking again.
func (m *Manager) saveRetrievalID(p *pending, rid string) error {
	if err := m.crashPoint(stepSent); err != nil {
		return err
	}
	p.RetrievalID = rid
	p.clearRefusal()
	p.Refusals = 0
	if err := m.savePending(p); err != nil {
		return err
	}
	return m.crashPoint(stepIDSaved)
}

// sendingAgain clears the refusal of p on disk before p is sent again: from
// now on its answer is unknown, so a run that dies before the answer is
// recorded (say, after the service accepted it and before the RetrievalId
// was saved) resumes at once, as after a lost answer, instead of waiting
// for the window and backoff of a refused request. The count of refusals
// in a row is kept: refused again, the backoff goes on doubling.
func (m *Manager) sendingAgain(p *pending) error {
	if p.Refused.IsZero() {
		return nil
	}
	p.clearRefusal()
	return m.savePending(p)
}

// refused abandons the pending request p if err is a definite refusal by
// the service (a signed FAIL whose code asking again cannot change), and
// returns err. An untrusted response keeps it: the trust bundle may be
// what is wrong. So does a SOAP fault: it is unsigned, so anyone on the
// path can forge one, and a fault after the request was sent does not
// prove that the service did not act on it (an order's credentials burnt
// by a forged fault could never be used again); it is a lost answer, and
// the request is sent again with the same key. So does a request whose
// certificate was delivered and saved (a RETRIEVAL_ID refusal then only
// says that the service no longer answers for it): the certificate is
// what finishes it, once it verifies.
func (m *Manager) refused(p *pending, err error) error {
	var se *client.ServiceError
	if p != nil && (p.CertPEM != "" || p.UnverifiedCertPEM != "") {
		return err
	}
	if errors.As(err, &se) && client.Definite(err) {
		if _, aerr := m.abandon(string(se.Code)); aerr != nil {
			return errors.Join(err, aerr)
		}
	}
	return err
}

// noteRequestFailure records in the pending request p how sending it
// failed, when it is kept: a signed FAIL answer (other than INTERNAL) is a
// refusal, after which the request is sent again only inside the window and
// after a backoff; a lost answer (transport error, no or an untrusted
// response, a SOAP fault, INTERNAL) clears an earlier refusal and its count
// (it breaks the row the backoff doubles over), since the service may have
// accepted the request, and the next run resumes at once.
func (m *Manager) noteRequestFailure(ctx context.Context, p *pending, err error) {
	var se *client.ServiceError
	switch {
	case errors.Is(err, errCrash) || ctx.Err() != nil:
		return // nothing was learnt
	case errors.As(err, &se) && client.Definite(err):
		return // abandoned
	case errors.As(err, &se) && se.Code != client.CodeInternal:
		p.Refused, p.RefusedCode, p.RefusedMessage = m.opt.Now(), string(se.Code), se.Message
		p.Refusals++
	case !p.Refused.IsZero() || p.Refusals != 0:
		// The row of refusals is broken: the next one backs off from
		// the start (an hour), not from where the row stood.
		p.clearRefusal()
		p.Refusals = 0
	default:
		return
	}
	if werr := m.savePending(p); werr != nil {
		m.opt.Log.Error("write pending request", "err", werr)
	}
}

// record notes the outcome of an attempt to renew or enrol in state.json;
// a success of either is the last renewal.
func (m *Manager) record(err error) {
	if errors.Is(err, errCrash) {
		return // a test's simulated death writes nothing more
	}
	st, lerr := m.loadState()
	if lerr != nil {
		m.opt.Log.Error("read state", "err", lerr)
	}
	now := m.opt.Now()
	st.LastAttempt = now
	if err != nil {
		st.LastResult, st.LastError = "error", err.Error()
	} else {
		// An enrolment installs a fresh certificate too: the last
		// renewal it replaces (of another, older certificate) would tell
		// a monitor that this one has not been renewed for that long.
		st.LastResult, st.LastError, st.LastRenewal = "ok", "", now
	}
	if werr := m.saveState(st); werr != nil {
		m.opt.Log.Error("write state", "err", werr)
	}
}

// shownCustomer is a customer id read from a file, for a message: itself
// if it is a business ID, else not shown (a message never quotes a file).
func shownCustomer(id string) string {
	if businessid.Validate(id) == nil {
		return "customer " + id
	}
	return "another customer"
}
