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
	if p.RetrievalID == "" && cred.TransferPassword == "" {
		return nil, ErrNeedCredentials
	}
	err := m.send(ctx, p, func() (string, error) {
		m.progress(Event{Kind: EventRequest, Message: "sending SignNewCertificate to " + s.Endpoint})
		return c.SignNewCertificate(ctx, s.CustomerID, p.TransferID, cred.TransferPassword, p.CSR)
	})
	if err != nil {
		return nil, err
	}
	return m.complete(ctx, c, s, p)
}

// shownCustomer is a customer id read from a file, for a message: itself
// if it is a business ID, else not shown (a message never quotes a file).
func shownCustomer(id string) string {
	if businessid.Validate(id) == nil {
		return "customer " + id
	}
	return "another customer"
}
