package renewal

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/atomicfile"
	"github.com/irpki/irpki/internal/serial"
)

// The pending request is an enrolment or a renewal in flight, kept in
// pending.json. Its lifecycle, each step on disk before the next one talks
// to the service, lives in this file:
//
//   - begun (beginPending): a new key and CSR saved, nothing sent yet;
//   - sent (send), and its RetrievalId saved (saveRetrievalID) before any
//     polling;
//   - refused: for good (refused moves it to archive/abandoned), or with a
//     code that may not be final (noteRequestFailure records the refusal,
//     and retryAt says when it is sent again); a lost answer instead
//     clears an earlier refusal, and the next run resumes at once;
//   - sent again (send: sendingAgain clears the refusal on disk first);
//   - finished (complete, finish: the certificate fetched, saved,
//     verified and installed, pending.json removed), or given up
//     (abandon, with restoreSettings for a re-enrolment).
//
// Enroll and Renew (enroll.go, renew.go) decide when to take each step;
// Next (next.go) decides, without I/O, what a renewer does next.

// Operations of a pending request.
const (
	opEnroll = "enroll"
	opRenew  = "renew"
)

// pending is an enrolment or renewal in flight, written before each step
// that talks to the service so that a run killed at any point resumes where
// it stood: with the same key and CSR (so the service recognises the
// repeated request), the RetrievalId once it is known, and the certificate
// once it was fetched.
type pending struct {
	Operation   string    `json:"operation"` // "enroll" or "renew"
	Created     time.Time `json:"created"`
	CustomerID  string    `json:"customer_id"`
	TransferID  string    `json:"transfer_id,omitempty"` // enroll: the credentials this key was sent with
	Predecessor string    `json:"predecessor,omitempty"` // renew: serial of the certificate renewed
	KeyPEM      string    `json:"key_pem"`               // the new private key (file is 0600)
	CSR         []byte    `json:"csr"`                   // DER, sent as is on every retry
	RetrievalID string    `json:"retrieval_id,omitempty"`
	CertPEM     string    `json:"cert_pem,omitempty"` // fetched and verified, not yet installed
	// UnverifiedCertPEM is the certificate GetCertificate delivered, saved
	// before it is verified: the service may answer its RetrievalId only
	// for a while after delivering it, so a certificate refused for its
	// chain (a wrong or missing issuer trust bundle) is kept here and
	// verified again by the next run, without asking the service. It is
	// never installed unverified. Empty in files written before it existed.
	UnverifiedCertPEM string `json:"unverified_cert_pem,omitempty"`
	// PreviousSettings, of a re-enrolment (one begun while a certificate
	// was current), are the settings that certificate renews with, from
	// before the enrolment's own were saved in settings.json: put back
	// when the enrolment is refused for good or given up (see
	// restoreSettings). Nil for a first enrolment, a renewal, and in files
	// written before it existed.
	PreviousSettings *Settings `json:"previous_settings,omitempty"`

	// The last attempt to send the request got a signed FAIL answer whose
	// code is not one of irpkid's definite ones (the real service's codes
	// are not public, so it is kept, not abandoned): when, the code and
	// message, and how many such refusals in a row. Unlike a lost answer
	// (no response, a transport error, an untrusted response, INTERNAL),
	// which resumes at once, a refused request is sent again only inside
	// the renewal window and after a backoff (see retryAt), unless forced.
	// Refused, its code and message are cleared on disk before the request
	// is sent again (its answer is then unknown); Refusals stays until an
	// answer other than such a refusal is recorded.
	// Zero in files written before these fields existed.
	Refused        time.Time `json:"refused,omitzero"`
	RefusedCode    string    `json:"refused_code,omitempty"`
	RefusedMessage string    `json:"refused_message,omitempty"`
	Refusals       int       `json:"refusals,omitempty"`
}

// Backoff between sending again a request the service refused: doubling
// from refusalRetryInitial per refusal in a row, at most refusalRetryMax.
const (
	refusalRetryInitial = time.Hour
	refusalRetryMax     = 24 * time.Hour
)

// refusal returns the last refusal of the request, or nil.
func (p *pending) refusal() *Refusal {
	if p == nil || p.Refused.IsZero() || p.RetrievalID != "" {
		return nil
	}
	r := &Refusal{At: p.Refused, Code: p.RefusedCode, Message: p.RefusedMessage, Count: p.Refusals}
	if p.Operation == opRenew {
		r.RetryAt = p.retryAt() // an enrolment is sent again only by Enroll
	}
	return r
}

// retryAt returns the earliest moment the refused request is sent again
// without --force; zero when it was not refused. The backoff step d (an
// hour doubling per refusal in a row, at most a day) is jittered to
// between 3/4 d and d, by a fraction derived from the request's CSR:
// installations refused at the same moment (say, by a service that
// refused everyone for a while) come back spread over a quarter of the
// step, and each installation's moment is the same at every check and
// restart, so a timer-driven irpki decides the same way every time.
func (p *pending) retryAt() time.Time {
	if p.Refused.IsZero() {
		return time.Time{}
	}
	d := refusalRetryInitial
	for i := 1; i < p.Refusals && d < refusalRetryMax; i++ {
		d *= 2
	}
	d = min(d, refusalRetryMax)
	sum := sha256.Sum256(p.CSR)
	frac := float64(binary.BigEndian.Uint64(sum[:8])>>11) / float64(1<<53)
	return p.Refused.Add(d - time.Duration(frac*float64(d/4)))
}

// Refusal is a signed FAIL answer of the service to a pending request that
// was kept because its code may not be final.
type Refusal struct {
	At      time.Time `json:"at"`
	Code    string    `json:"code"`
	Message string    `json:"message,omitempty"`
	Count   int       `json:"count"` // refusals in a row
	// RetryAt, for a renewal: not sent again before this without --force
	// (nor outside the window). Zero for an enrolment: nothing sends it
	// again by itself, only irpki enroll (Enroll) with its credentials.
	RetryAt time.Time `json:"retry_at,omitzero"`
}

func (r *Refusal) String() string {
	return fmt.Sprintf("the service refused the request on %s (%s: %s)", r.At.UTC().Format("2006-01-02 15:04 MST"), client.CleanText(r.Code), client.CleanText(r.Message))
}

// certSerial returns the serial of the fetched certificate, or "".
func (p *pending) certSerial() string {
	c := pemCert(p.CertPEM)
	if c == nil {
		return ""
	}
	return serialHex(c)
}

// pemCert parses s as exactly one PEM certificate; nil if s is empty or
// anything else.
func pemCert(s string) *x509.Certificate {
	if s == "" {
		return nil
	}
	certs, err := client.ParseCertificates([]byte(s))
	if err != nil || len(certs) != 1 {
		return nil
	}
	return certs[0]
}

// clearRefusal forgets the last refusal of p (Refused, its code and
// message); the count of refusals in a row is the caller's to keep or
// reset.
func (p *pending) clearRefusal() { p.Refused, p.RefusedCode, p.RefusedMessage = time.Time{}, "", "" }

// savedCert returns the delivered certificate saved in p, verified or not,
// or nil.
func (p *pending) savedCert() *x509.Certificate {
	if p.CertPEM != "" {
		return pemCert(p.CertPEM)
	}
	return pemCert(p.UnverifiedCertPEM)
}

// unverifiedSerial returns the serial of the delivered certificate not yet
// verified, for people (full width), "" if there is none, or "(unreadable)".
func (p *pending) unverifiedSerial() string {
	if p.UnverifiedCertPEM == "" {
		return ""
	}
	c := pemCert(p.UnverifiedCertPEM)
	if c == nil {
		return "(unreadable)"
	}
	return serial.Text(c.SerialNumber)
}

func (m *Manager) loadPending() (*pending, error) {
	var p pending
	ok, err := m.readJSON(pendingFile, &p)
	if err != nil || !ok {
		return nil, err
	}
	return &p, nil
}

func (m *Manager) savePending(p *pending) error { return writeJSON(m.path(pendingFile), p, 0o600) }

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

// beginPending makes p's key pair and CSR, saves p with them before any
// request is sent (a crash from here on resumes with the same key), and
// passes stepKeySaved; saved, if not nil, runs between the two (Enroll
// saves its settings there, after pending.json holds the previous ones).
func (m *Manager) beginPending(s Settings, p *pending, saved func() error) (*pending, error) {
	m.progress(Event{Kind: EventKey, Message: fmt.Sprintf("generating an RSA-%d key pair", s.KeySize)})
	keyPEM, csr, err := m.newKeyAndCSR(s)
	if err != nil {
		return nil, err
	}
	p.KeyPEM, p.CSR = keyPEM, csr
	if err := m.savePending(p); err != nil {
		return nil, err
	}
	if saved != nil {
		if err := saved(); err != nil {
			return nil, err
		}
	}
	if err := m.crashPoint(stepKeySaved); err != nil {
		return nil, err
	}
	return p, nil
}

// newKeyAndCSR makes the key pair and CSR of a new certificate: CN = the
// customer id, O = the organisation's name (if known), C = FI.
func (m *Manager) newKeyAndCSR(s Settings) (keyPEM string, csr []byte, err error) {
	key, err := rsa.GenerateKey(m.opt.Rand, s.KeySize)
	if err != nil {
		return "", nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", nil, err
	}
	subj := pkix.Name{CommonName: s.CustomerID, Country: []string{"FI"}}
	if s.Organization != "" {
		subj.Organization = []string{s.Organization}
	}
	csr, err = x509.CreateCertificateRequest(m.opt.Rand, &x509.CertificateRequest{Subject: subj, SignatureAlgorithm: x509.SHA256WithRSA}, key)
	if err != nil {
		return "", nil, fmt.Errorf("create CSR: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), csr, nil
}

// send sends the pending request p, unless its RetrievalId is known: call
// makes the request and returns the RetrievalId the service answered. An
// earlier refusal is cleared on disk before (sendingAgain); a failure is
// recorded in p, or abandons p when the service refused it for good
// (refused, noteRequestFailure), and returned as they return it; the
// RetrievalId is saved before anything else (saveRetrievalID).
func (m *Manager) send(ctx context.Context, p *pending, call func() (string, error)) error {
	if p.RetrievalID != "" {
		return nil
	}
	if err := m.sendingAgain(p); err != nil {
		return err
	}
	rid, err := call()
	if err != nil {
		err = m.refused(p, err)
		m.noteRequestFailure(ctx, p, err)
		return err
	}
	return m.saveRetrievalID(p, rid)
}

// complete finishes the request p once sent (see finish); the service's
// refusal to deliver its certificate for good abandons p (see refused).
func (m *Manager) complete(ctx context.Context, c *client.Client, s Settings, p *pending) (*Installed, error) {
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

// finish polls for, verifies and installs the certificate of a pending
// request whose RetrievalId is known, then removes pending.json.
func (m *Manager) finish(ctx context.Context, c *client.Client, s Settings, p *pending) (*Installed, error) {
	key, err := parseKey([]byte(p.KeyPEM))
	if err != nil {
		return nil, fmt.Errorf("pending key: %w", err)
	}
	var cert *x509.Certificate
	if p.CertPEM != "" || p.UnverifiedCertPEM != "" {
		// Fetched by an earlier run: verified already (CertPEM), or not
		// yet or refused (UnverifiedCertPEM), verified below either way.
		if p.CertPEM == "" {
			m.progress(Event{Kind: EventResume, Message: "verifying the certificate delivered earlier (saved in pending.json)"})
		}
		cert = p.savedCert()
		if cert == nil {
			return nil, errors.New("pending.json: unreadable certificate")
		}
	} else {
		po := m.opt.Poll
		po.Sleep = m.opt.Sleep
		po.Progress = func(attempt int, err error, wait time.Duration) {
			msg := fmt.Sprintf("certificate not ready (attempt %d: %v)", attempt, err)
			if wait > 0 {
				msg += fmt.Sprintf("; asking again in %v", wait)
			}
			m.progress(Event{Kind: EventPoll, Message: msg, Attempt: attempt, Wait: wait, Err: err})
		}
		m.progress(Event{Kind: EventPoll, Message: "fetching the certificate (GetCertificate " + p.RetrievalID + ")"})
		cert, err = c.PollCertificate(ctx, s.CustomerID, p.RetrievalID, po)
		if err != nil {
			return nil, err
		}
		// Saved before it is verified: the service may not deliver it
		// again (its RetrievalId may stop answering), and a refusal for
		// its chain is fixed by the issuer trust bundle, not by the
		// service.
		p.UnverifiedCertPEM = string(certPEM(cert))
		if err := m.savePending(p); err != nil {
			return nil, err
		}
	}
	if !m.opt.Now().Before(cert.NotAfter) {
		// Not a matter of trust: nothing makes it installable, and the
		// service will not deliver another for this request.
		return nil, deliveredExpired(m.dir, p.Operation, serialHex(cert), cert.NotAfter, p.Predecessor)
	}
	chain, err := c.VerifyIssuedChain(cert, key.Public(), s.CustomerID)
	if errors.Is(err, client.ErrIssuerUntrusted) {
		return nil, fmt.Errorf("the delivered certificate was refused: %w; %s", err, issuerHint(s))
	} else if err != nil {
		if p.CertPEM == "" && p.UnverifiedCertPEM != "" {
			// Not our key or not our customer: no trust bundle makes
			// it usable, so the next run asks the service again.
			p.UnverifiedCertPEM = ""
			if serr := m.savePending(p); serr != nil {
				return nil, errors.Join(fmt.Errorf("the delivered certificate was refused: %w", err), serr)
			}
		}
		return nil, fmt.Errorf("the delivered certificate was refused: %w", err)
	}
	bundle := "the trust bundle"
	if s.IssuerTrust != "" {
		bundle = "the issuer trust bundle"
	}
	m.progress(Event{Kind: EventVerified, Message: fmt.Sprintf("certificate %s verified: chains to %s, certifies our key, names %s", serial.Text(cert.SerialNumber), bundle, s.CustomerID)})
	if p.CertPEM == "" {
		if err := m.crashPoint(stepFetched); err != nil {
			return nil, err
		}
		p.CertPEM, p.UnverifiedCertPEM = string(certPEM(cert)), ""
		if err := m.savePending(p); err != nil {
			return nil, err
		}
		if err := m.crashPoint(stepCertSaved); err != nil {
			return nil, err
		}
	}
	inst, err := m.install(cert, chain, []byte(p.KeyPEM))
	if err != nil {
		return nil, err
	}
	if err := m.crashPoint(stepLinked); err != nil {
		return nil, err
	}
	if err := os.Remove(m.path(pendingFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := atomicfile.SyncDir(m.dir); err != nil {
		return nil, err
	}
	m.progress(Event{Kind: EventInstall, Message: fmt.Sprintf("installed certificate %s, valid until %s", inst.SerialText(), cert.NotAfter.UTC().Format(time.RFC3339))})
	return inst, nil
}

// abandon moves the pending file into archive/abandoned and returns its
// new path ("" if there was none): the request it describes was refused
// for good, replaced, or given up (Abandon), but its key is never deleted.
func (m *Manager) abandon(why string) (string, error) {
	dir := m.path(archiveDir, abandonedDir)
	if err := atomicfile.MkdirPrivate(dir); err != nil {
		return "", err
	}
	base := m.opt.Now().UTC().Format("20060102T150405Z") + "-" + sanitize(why)
	name := base + ".json"
	// Never rename over an earlier abandoned request (and its key): the
	// lock keeps other renewers out between this check and the rename.
	for i := 2; ; i++ {
		if _, err := os.Lstat(filepath.Join(dir, name)); errors.Is(err, fs.ErrNotExist) {
			break
		} else if err != nil {
			return "", err
		}
		name = fmt.Sprintf("%s-%d.json", base, i)
	}
	if err := atomicfile.Rename(m.path(pendingFile), filepath.Join(dir, name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", err
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return "", err
	}
	return filepath.Join(dir, name), atomicfile.SyncDir(m.dir)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// restoreSettings puts back in settings.json the settings of the
// certificate that was current when the enrolment p began (its
// PreviousSettings), when p is given up or refused for good: that
// certificate goes on renewing with the settings it was enrolled with, not
// with the abandoned enrolment's endpoint, trust, key size or
// organisation. A first enrolment has none, and nothing is restored.
func (m *Manager) restoreSettings(p *pending) error {
	if p == nil || p.Operation != opEnroll || p.PreviousSettings == nil {
		return nil
	}
	var cur Settings
	if ok, err := m.readJSON(settingsFile, &cur); err == nil && ok && cur == *p.PreviousSettings {
		return nil
	}
	return writeJSON(m.path(settingsFile), *p.PreviousSettings, 0o600)
}
