package renewal

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/serial"
)

// AbandonOptions adjust Abandon.
type AbandonOptions struct {
	// Force gives the request up even when the service may have issued a
	// certificate for its key (see ErrCertificateMayBeIssued); never a
	// renewal whose successor was delivered (see ErrSuccessorDelivered).
	Force bool
}

// Abandoned says what Abandon gave up.
type Abandoned struct {
	Operation   string    // "enroll" or "renew"
	Created     time.Time // when the request was begun
	RetrievalID string    // the service's RetrievalId, if it answered
	Refused     *Refusal  // its last refusal, if it was refused
	Path        string    // where pending.json went, key included
	// MayHoldCertificate, when forced, says why the service may hold a
	// certificate for the request's key (which nothing will install now);
	// "" when it cannot.
	MayHoldCertificate string
	// SettingsRestored: a re-enrolment was given up, and settings.json
	// holds again the settings of the certificate that was current when
	// it began (endpoint, trust, key size, organisation), with which that
	// certificate goes on renewing.
	SettingsRestored bool
	// Completed is the serial of the request's certificate when it was
	// current already (a run died after installing it, before removing
	// pending.json): its installation was finished (the top-level file
	// links, the last renewal) before pending.json was moved; "" otherwise.
	Completed string
}

// Abandon gives the pending request up: pending.json, with its key, is
// moved into archive/abandoned, as a request the service refused for good
// is, under the directory lock. With nothing pending it returns nil, nil.
// A re-enrolment given up puts back the settings the current certificate
// renews with (see pending.PreviousSettings), as Enroll does when the
// service refuses one for good.
//
// Without opt.Force it refuses, with ErrCertificateMayBeIssued, a request
// for whose key the service may have issued a certificate: one whose
// RetrievalId is known, one whose certificate was delivered (saved in
// pending.json, verified or not) and not installed, and one whose last
// answer is unknown (interrupted rather than refused: the service may have
// accepted it). The error says what finishes such a request instead.
//
// A renewal of the current certificate whose successor was delivered it
// refuses even with opt.Force, with ErrSuccessorDelivered: see there.
func (m *Manager) Abandon(ctx context.Context, opt AbandonOptions) (*Abandoned, error) {
	if err := m.checkDir(); err != nil {
		return nil, err
	}
	// Nothing pending: do not create the lock file of a directory that may
	// never have been enrolled.
	if p, err := m.loadPending(); err != nil || p == nil {
		return nil, err
	}
	lk, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	// Read again under the lock: the holder we waited for may have
	// finished or replaced it.
	p, err := m.loadPending()
	if err != nil || p == nil {
		return nil, err
	}
	cur, err := m.current()
	if err != nil {
		return nil, err
	}
	curSerial := ""
	if cur != nil {
		curSerial = cur.Serial()
	}
	why, finish := p.mayHoldCertificate(m.dir, curSerial)
	if why != "" && p.Operation == opRenew && p.Predecessor == curSerial && (p.CertPEM != "" || p.UnverifiedCertPEM != "") {
		if c := p.savedCert(); c != nil && !m.opt.Now().Before(c.NotAfter) {
			return nil, fmt.Errorf("%w: %w: giving the request up would not make certificate %s renewable, so irpki does not, even with --force: %w",
				ErrCertificateMayBeIssued, ErrSuccessorDelivered, serial.Pad(curSerial), deliveredExpired(m.dir, p.Operation, serialHex(c), c.NotAfter, p.Predecessor))
		}
		return nil, fmt.Errorf("%w: %w: %s; giving it up would leave certificate %s unrenewable (the service refuses every later renewal of it: ALREADY_RENEWED), so irpki does not, even with --force; finish it instead: %s; if it can never be installed, order a new certificate in the e-service and run irpki enroll --dir %s with its TransferId and TransferPassword, which moves this request to %s",
			ErrCertificateMayBeIssued, ErrSuccessorDelivered, why, serial.Pad(curSerial), finish, m.dir, filepath.Join(m.dir, archiveDir, abandonedDir)+string(filepath.Separator))
	}
	if why != "" && !opt.Force {
		return nil, fmt.Errorf("%w: %s; finish it instead: %s; or give it up all the same, and with it that certificate: irpki abandon --dir %s --force",
			ErrCertificateMayBeIssued, why, finish, m.dir)
	}
	completed := ""
	if cur != nil && p.CertPEM != "" && p.certSerial() == curSerial {
		// Its certificate is current already: the run died after the
		// swap, maybe before the cert.pem, key.pem, chain.pem and
		// fullchain.pem links and the last renewal were made. Finish
		// those (each step is safe to repeat) rather than leave the
		// directory without its files.
		if _, err := m.install(cur.Cert, cur.Chain, []byte(p.KeyPEM)); err != nil {
			return nil, fmt.Errorf("finishing the installation of certificate %s: %w", serial.Pad(curSerial), err)
		}
		m.record(nil)
		completed = serial.Pad(curSerial)
	}
	// A re-enrolment given up leaves the current certificate renewing
	// with its own settings, unless it is that enrolment's (installed,
	// only pending.json left). Settings first: a run that dies between
	// the two leaves pending.json, with the previous settings, to abandon
	// again.
	restored := false
	if p.Operation == opEnroll && p.PreviousSettings != nil && (p.CertPEM == "" || p.certSerial() != curSerial) {
		if err := m.restoreSettings(p); err != nil {
			return nil, err
		}
		restored = true
	}
	path, err := m.abandon(p.Operation + "-abandoned")
	if err != nil {
		return nil, err
	}
	m.opt.Log.Warn("abandoned the pending request", "operation", p.Operation, "created", p.Created, "path", path, "forced", why != "")
	return &Abandoned{Operation: p.Operation, Created: p.Created, RetrievalID: p.RetrievalID, Refused: p.refusal(), Path: path, MayHoldCertificate: why, SettingsRestored: restored, Completed: completed}, nil
}

// mayHoldCertificate says why the service may have issued a certificate
// for p's key that is not installed (current is the installed one's
// serial), and what finishes p instead; "" when it cannot have.
func (p *pending) mayHoldCertificate(dir, current string) (why, finish string) {
	finish = fmt.Sprintf("irpki renew --dir %s installs it", dir)
	if p.Operation == opEnroll {
		finish = fmt.Sprintf("irpki enroll --dir %s installs it", dir)
	}
	switch {
	case p.CertPEM != "" && p.certSerial() == current:
		return "", "" // installed already; only pending.json was left
	case p.CertPEM != "":
		return fmt.Sprintf("pending.json holds certificate %s, delivered and verified but not yet installed", serial.Pad(p.certSerial())), finish
	case p.UnverifiedCertPEM != "":
		return fmt.Sprintf("pending.json holds certificate %s, delivered but not yet verified", p.unverifiedSerial()),
			fmt.Sprintf("fix --issuer-trust / --trust and run %s --issuer-trust FILE, which verifies and installs it", strings.TrimSuffix(finish, " installs it"))
	case p.RetrievalID != "":
		return fmt.Sprintf("the service accepted the request (RetrievalId %s)", p.RetrievalID),
			strings.Replace(finish, "installs it", "fetches and installs it", 1)
	case p.refusal() == nil:
		again := fmt.Sprintf("irpki renew --dir %s sends it again with the same key and gets that certificate if there is one", dir)
		if p.Operation == opEnroll {
			again = fmt.Sprintf("irpki enroll --dir %s with the order's TransferPassword sends it again with the same key and gets that certificate if there is one", dir)
		}
		return "the request was interrupted, not refused, so its answer is unknown and the service may have accepted it", again
	}
	return "", ""
}
