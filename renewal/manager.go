package renewal

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/atomicfile"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/serial"
)

// Options configure a Manager. The zero value works: wall clock, real
// sleeps, no progress reports, no waiting for the lock.
type Options struct {
	// Now tells the time; tests inject a clock. Default time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx is done; tests inject one that does not
	// wait. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Progress, if set, receives every step, so that a CLI can show what
	// it is waiting for. Called on the Manager's goroutine.
	Progress func(Event)
	// Log receives diagnostics; default discards.
	Log *slog.Logger
	// HTTPClient for the service; default client's.
	HTTPClient *http.Client
	// Rand is the source of key material; default crypto/rand.
	Rand io.Reader
	// LockWait is how long Enroll and Renew wait for another renewer in the
	// same directory to finish; 0 fails at once with ErrLocked.
	LockWait time.Duration
	// Window is the service's renewal window; default DefaultWindow.
	Window time.Duration
	// Poll configures the GetCertificate polling (its Sleep and Progress
	// are the Manager's).
	Poll client.PollOptions
	// UserAgent is sent with every request; default
	// client.DefaultUserAgent().
	UserAgent string
	// Layout is how "current" and the top-level files are made (see
	// Layout); default DefaultLayout, the platform's. Either layout reads a
	// directory made by the other.
	Layout Layout
}

// Manager owns a state directory: its settings, the current certificate and
// key, their archive, the pending request and the lock. Its methods are safe
// to call from several processes at once (the lock serialises them), and a
// process killed at any point leaves a directory the next run resumes from.
type Manager struct {
	dir string
	opt Options
	// crash, in tests, stops a run at a step as if the process died there.
	crash func(step) bool
}

// step names the points of an enrolment or renewal at which its state on
// disk changes.
type step string

// steps of Enroll and Renew, in order.
const (
	stepKeySaved  step = "key_saved"  // new key and CSR in pending.json
	stepSent      step = "sent"       // the service answered with a RetrievalId, not yet saved
	stepIDSaved   step = "id_saved"   // RetrievalId in pending.json
	stepFetched   step = "fetched"    // certificate fetched and verified, not yet saved
	stepCertSaved step = "cert_saved" // certificate in pending.json
	stepArchived  step = "archived"   // archive/<serial> written
	stepSwapped   step = "swapped"    // "current" points at it
	stepLinked    step = "linked"     // cert.pem etc. link through "current"; pending.json not yet removed
)

// errCrash is what a run stopped by a test's crash point returns.
var errCrash = errors.New("stopped at crash point")

func (m *Manager) crashPoint(s step) error {
	if m.crash != nil && m.crash(s) {
		return fmt.Errorf("%w %s", errCrash, s)
	}
	return nil
}

// EventKind classifies progress events.
type EventKind string

// Progress event kinds.
const (
	EventLockWait EventKind = "lock_wait"
	EventResume   EventKind = "resume"
	EventKey      EventKind = "key"
	EventRequest  EventKind = "request"
	EventPoll     EventKind = "poll"
	EventVerified EventKind = "verified"
	EventInstall  EventKind = "installed"
)

// Event is a progress report.
type Event struct {
	Kind    EventKind
	Message string        // one line for people
	Attempt int           // EventPoll: the GetCertificate attempt
	Wait    time.Duration // EventPoll: wait before the next attempt
	Err     error         // EventPoll: why there was no certificate yet
}

func (m *Manager) progress(e Event) {
	if m.opt.Progress != nil {
		m.opt.Progress(e)
	}
}

// Open returns a Manager of the state directory dir. It reads nothing yet;
// Enroll creates the directory (0700) if it does not exist.
func Open(dir string, opt Options) (*Manager, error) {
	if dir == "" {
		return nil, errors.New("renewal: a state directory is required")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Sleep == nil {
		opt.Sleep = clock.Sleep
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Rand == nil {
		opt.Rand = rand.Reader
	}
	if opt.Window <= 0 {
		opt.Window = DefaultWindow
	}
	if opt.Layout == nil {
		opt.Layout = DefaultLayout
	}
	return &Manager{dir: abs, opt: opt}, nil
}

// Dir returns the state directory's absolute path.
func (m *Manager) Dir() string { return m.dir }

// ErrNoSettings is returned when the directory has not been enrolled.
var ErrNoSettings = errors.New("the state directory is not enrolled (it has no settings.json): run irpki enroll first")

// ErrNoDirectory is returned (wrapping ErrNoSettings too) when the state
// directory does not exist: a mistyped path more often than anything else.
var ErrNoDirectory = errors.New("the state directory does not exist: check the path (irpki enroll creates it)")

// Settings returns the directory's saved settings.
func (m *Manager) Settings() (Settings, error) {
	var s Settings
	ok, err := m.readJSON(settingsFile, &s)
	if err != nil {
		return s, err
	}
	if !ok {
		if err := m.checkDir(); err != nil {
			return s, fmt.Errorf("%w%w", err, noSettings{})
		}
		return s, fmt.Errorf("%w (%s)", ErrNoSettings, m.dir)
	}
	return s, s.Validate()
}

// checkDir returns ErrNoDirectory, with the path, when the state directory
// does not exist.
func (m *Manager) checkDir() error {
	if _, err := os.Stat(m.dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", m.dir, ErrNoDirectory)
	}
	return nil
}

// noSettings makes an error also match ErrNoSettings without adding to its
// text.
type noSettings struct{}

func (noSettings) Error() string        { return "" }
func (noSettings) Is(target error) bool { return target == ErrNoSettings }

// Current returns the installed certificate, or nil if there is none.
func (m *Manager) Current() (*Installed, error) { return m.current() }

// newClient builds a service client from settings.
func (m *Manager) newClient(s Settings) (*client.Client, error) {
	trust, err := loadBundle(s.Trust, "")
	if err != nil {
		return nil, err
	}
	var issuers []*x509.Certificate
	if s.IssuerTrust != "" {
		if issuers, err = loadBundle(s.IssuerTrust, "issuer "); err != nil {
			return nil, err
		}
	}
	return client.New(s.Endpoint, client.Options{Environment: s.Environment, Trust: trust, IssuerTrust: issuers, Now: m.opt.Now, HTTPClient: m.opt.HTTPClient, CustomerName: s.Organization, UserAgent: m.opt.UserAgent, Sleep: m.opt.Sleep})
}

// loadBundle reads the PEM trust bundle at path; kind ("" or "issuer ")
// names it in errors.
func loadBundle(path, kind string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%strust bundle: %w", kind, err)
	}
	certs, err := client.ParseTrustBundle(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %s%w", path, kind, err)
	}
	return certs, nil
}

// SetIssuerTrust saves path as the directory's issuer trust bundle (see
// Settings.IssuerTrust), after checking that it holds certificates, so that
// a pending request whose delivered certificate was refused can finish.
func (m *Manager) SetIssuerTrust(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if _, err := loadBundle(abs, "issuer "); err != nil {
		return err
	}
	if _, err := m.Settings(); err != nil {
		return err
	}
	lk, err := m.lock(ctx)
	if err != nil {
		return err
	}
	defer lk.unlock()
	s, err := m.Settings()
	if err != nil {
		return err
	}
	if s.IssuerTrust == abs {
		return nil
	}
	s.IssuerTrust = abs
	return writeJSON(m.path(settingsFile), s, 0o600)
}

// issuerHint says which bundle to fix when a delivered certificate was
// refused for its chain.
func issuerHint(s Settings) string {
	if s.IssuerTrust != "" {
		return fmt.Sprintf("the issuer trust bundle %s (--issuer-trust) is not the chain of the CA that issued it: give that CA's chain with --issuer-trust; the delivered certificate is kept in pending.json, not installed, and is verified again and installed by that run", s.IssuerTrust)
	}
	return fmt.Sprintf("it was checked against the --trust bundle %s, as no --issuer-trust was given; the real service issues organisation certificates from another CA than its response signatures: give the \"Data Providers Issuing CA v1\" chain (TEST: \"Data Providers Test Issuing CA v1\") with --issuer-trust (irpki renew --dir DIR --issuer-trust FILE, or irpki enroll --dir DIR --issuer-trust FILE for an enrolment); the delivered certificate is kept in pending.json, not installed, and is verified again and installed by that run (the service is not asked for it again)", s.Trust)
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

// sameKey reports whether signer's public key is pub.
func sameKey(signer crypto.Signer, pub crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	k, ok := signer.Public().(equaler)
	return ok && k.Equal(pub)
}
