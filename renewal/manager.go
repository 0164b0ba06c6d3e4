package renewal

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/clock"
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

// Current returns the installed certificate, or nil if there is none.
func (m *Manager) Current() (*Installed, error) { return m.current() }
