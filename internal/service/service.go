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

func (s *Service) checkEnvironment(env string) error {
	if env != s.cfg.Environment {
		return envMismatch(s.cfg.Environment, env)
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

// update runs fn in a keyed write transaction (UpdateKeyed) and tells a
// refusal from a failure, the pattern of every SOAP operation:
//
//   - fn returns an *Error: a refusal, which is an answer. The transaction
//     commits what fn wrote before deciding it (a wrong password counted,
//     an order locked; other refusals come before any change), and update
//     returns it as refusal. Its audit entry is the caller's, in its own
//     transaction (audit).
//   - fn returns another error: a failure. The transaction rolls back,
//     the error is logged as "<what> failed" with the request's customer,
//     and update returns Unavailable as err.
//   - fn returns nil: the transaction commits; both are nil.
//
// fn may run more than once (the store begins a transaction again after
// a lost connection), so it sets afresh everything it reports.
func (s *Service) update(ctx context.Context, what, customer string, fn func(*store.Tx) error) (refusal, err error) {
	err = s.db.UpdateKeyed(ctx, func(tx *store.Tx) error {
		refusal = nil
		err := fn(tx)
		if e, ok := err.(*Error); ok {
			refusal = e
			return nil
		}
		return err
	})
	if err != nil {
		return nil, s.failed(ctx, what, customer, err)
	}
	return refusal, nil
}

// failed logs the failure err of what (the store, the CA) and returns the
// answer to it: Unavailable, INTERNAL, as the caller may try again later.
// The log has the error; the answer never does.
func (s *Service) failed(ctx context.Context, what, customer string, err error) error {
	s.log.ErrorContext(ctx, what+" failed", "customer", customer, "err", err)
	return Unavailable()
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
