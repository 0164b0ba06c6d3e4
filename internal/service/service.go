// Package service holds the certificate service's use cases: organisations,
// orders with one-time transfer credentials, SignNewCertificate,
// GetCertificate, RenewCertificate and revocation, under the rules of
// docs/rules.md. It speaks in wire messages but knows nothing of
// HTTP; refusals are *Error values carrying the catalogue code, which the
// SOAP layer renders in one place.
package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// Store is what the service needs of storage: write and read transactions.
// The SOAP operations write with UpdateKeyed, locking (store.Tx.Lock) the
// order, certificate and key their rules are about, so that on PostgreSQL
// requests about different ones commit side by side.
type Store interface {
	Update(ctx context.Context, fn func(*store.Tx) error) error
	UpdateKeyed(ctx context.Context, fn func(*store.Tx) error) error
	View(ctx context.Context, fn func(*store.Tx) error) error
}

var _ Store = (*store.DB)(nil)

// Config holds the service's rules; DefaultConfig has the seed's values.
type Config struct {
	Environment         string        // TEST or PRODUCTION: the one this instance serves
	Profile             ca.Profile    // organisation certificate profile
	TransferValidity    time.Duration // how long transfer credentials work
	MaxPasswordAttempts int           // wrong TransferPasswords before the order locks
	RenewalWindow       time.Duration // renewal allowed this long before NotAfter
	RetrievalRetention  time.Duration // how long a RetrievalId answers
	MinTestValidity     time.Duration // shortest validity a TEST order may ask for
	// IssueDelay makes a certificate retrievable only this long after its
	// request was accepted, as the real service's certificate is not
	// always ready at once; before that GetCertificate answers NOT_READY.
	IssueDelay time.Duration
	// Observer, if not nil, is told of every certificate issued.
	Observer Observer
	// AfterRevoke, if not nil, is called after each committed revocation
	// (to publish the revocation lists again).
	AfterRevoke func(ctx context.Context)
}

// Observer is told of each certificate durably recorded (for metrics):
// renewal tells a renewal's successor from a new enrolment's certificate.
type Observer interface {
	CertificateIssued(renewal bool)
}

// issued tells the observer, if any.
func (s *Service) issued(renewal bool) {
	if s.cfg.Observer != nil {
		s.cfg.Observer.CertificateIssued(renewal)
	}
}

// DefaultConfig returns the rules of the seed: 14-day credentials, 5 tries,
// a 60 × 24 h window, two-year certificates; RetrievalIds answer 30 days.
func DefaultConfig(env string) Config {
	return Config{
		Environment:         env,
		Profile:             ca.DefaultProfile,
		TransferValidity:    14 * 24 * time.Hour,
		MaxPasswordAttempts: 5,
		RenewalWindow:       60 * 24 * time.Hour,
		RetrievalRetention:  30 * 24 * time.Hour,
		MinTestValidity:     10 * time.Minute,
	}
}

// Service runs the use cases.
type Service struct {
	cfg   Config
	ca    *ca.Hierarchy
	db    Store
	clock clock.Clock
	log   *slog.Logger
	rand  io.Reader
	// signed, if not nil, is called with the serial of every certificate
	// signed, before its write transaction (tests).
	signed func(serial string)
	// caKeys are the fingerprints of the hierarchy's own keys, which no
	// organisation certificate may certify.
	caKeys map[string]bool
}

// New returns a Service.
func New(cfg Config, h *ca.Hierarchy, db Store, clk clock.Clock, log *slog.Logger) (*Service, error) {
	if cfg.Environment != wire.EnvTest && cfg.Environment != wire.EnvProduction {
		return nil, fmt.Errorf("service: environment must be TEST or PRODUCTION, not %q", cfg.Environment)
	}
	if h.Environment != cfg.Environment {
		return nil, fmt.Errorf("service: CA is for %s, service for %s", h.Environment, cfg.Environment)
	}
	caKeys := map[string]bool{}
	for _, k := range h.PublicKeys() {
		fp, err := ca.KeyFingerprint(k)
		if err != nil {
			return nil, fmt.Errorf("service: CA key: %w", err)
		}
		caKeys[fp] = true
	}
	return &Service{cfg: cfg, ca: h, db: db, clock: clk, log: log, rand: rand.Reader, caKeys: caKeys}, nil
}

// Config returns the service's rules.
func (s *Service) Config() Config { return s.cfg }

// CA returns the service's CA hierarchy.
func (s *Service) CA() *ca.Hierarchy { return s.ca }

// Error is a refusal with its catalogue code and a message that tells the
// caller what to do next. Messages never contain secrets.
type Error struct {
	Code    wire.Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

func refuse(code wire.Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the catalogue code of err: its own for an *Error, INTERNAL
// for anything else.
func CodeOf(err error) wire.Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return wire.CodeInternal
}

func (s *Service) checkEnvironment(env string) error {
	if env != s.cfg.Environment {
		return refuse(wire.CodeEnvironment, "This service is the %s environment; the request is for %s. Use the endpoint of that environment.", s.cfg.Environment, env)
	}
	return nil
}

// audit writes an audit entry in its own transaction; used for refusals,
// whose own transaction (if any) was rolled back or has committed (a
// counted wrong password). It is written even if the caller has hung up
// meanwhile.
func (s *Service) audit(ctx context.Context, e store.AuditEntry) {
	ctx = context.WithoutCancel(ctx)
	e.At = s.clock.Now()
	if err := s.db.UpdateKeyed(ctx, func(tx *store.Tx) error { return tx.Audit(ctx, e) }); err != nil {
		s.log.ErrorContext(ctx, "audit write failed", "action", e.Action, "err", err)
	}
}

// refusalEntry is the audit entry of a refused SOAP request. It is filed
// under owner, the customer whose order or certificate the request
// matched (for a renewal: whose certificate's key signed it). A request
// that matched nothing is anybody's claim (business IDs and certificates
// are public), so it is filed under no customer, lest anyone could fill an
// organisation's audit trail; the claimed business ID, if it is one, goes
// in the detail for the operator.
func refusalEntry(action, owner, claimed, serial, outcome, code string) store.AuditEntry {
	e := store.AuditEntry{Actor: "soap", Action: action, CustomerID: owner, Serial: serial, Outcome: outcome, Code: code}
	if owner == "" && businessid.Validate(claimed) == nil {
		e.Detail = "claimed customer " + claimed + ", not verified"
	}
	return e
}

// unavailable is the refusal when the service itself failed (the store):
// the caller may try again later.
func unavailable() error {
	return refuse(wire.CodeInternal, "The service could not complete the request. Try again later.")
}

func auditOutcome(err error) (string, string) {
	if err == nil {
		return "ok", ""
	}
	return "fail", string(CodeOf(err))
}

// Lock keys of the SOAP operations' rules (store.Tx.Lock), taken in this
// order: the order or the certificate, then the public key.
func lockOrder(transferID string) string { return "order " + transferID }
func lockCert(serial string) string      { return "cert " + serial }
func lockKey(fp string) string           { return "key " + fp }

// lock takes the locks of keys in order.
func lock(ctx context.Context, tx *store.Tx, keys ...string) error {
	for _, k := range keys {
		if err := tx.Lock(ctx, k); err != nil {
			return err
		}
	}
	return nil
}
