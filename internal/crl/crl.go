// Package crl publishes the certificate revocation lists of irpkid's
// issuing CAs: one DER-encoded X.509 CRL per issuing CA whose key is
// online, signed by it, listing every certificate it issued that was
// revoked. Publisher.Publish writes them to a directory (atomically);
// Handler serves that directory at /crl/NAME.crl. irpkid publishes at start,
// after each revocation and every hour; each CRL's nextUpdate is two days
// after its thisUpdate, so one missed run does not leave clients with an
// expired list.
package crl

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/irpki/irpki/internal/atomicfile"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/store"
)

// PathPrefix is where Handler serves the lists: /crl/NAME.crl.
const PathPrefix = "/crl/"

// Validity is how long a published list is valid (nextUpdate - thisUpdate).
const Validity = 48 * time.Hour

// Store is what the publisher reads: the certificates.
type Store interface {
	View(ctx context.Context, fn func(*store.Tx) error) error
}

// Publisher builds and writes the lists.
type Publisher struct {
	mu    sync.Mutex // one Publish at a time in this process
	ca    *ca.Hierarchy
	db    Store
	dir   string
	clock clock.Clock
	log   *slog.Logger
}

// New returns a publisher writing into dir (created 0700 if missing).
func New(h *ca.Hierarchy, db Store, dir string, clk clock.Clock, log *slog.Logger) *Publisher {
	return &Publisher{ca: h, db: db, dir: dir, clock: clk, log: log}
}

// reasons maps irpkid's revocation reasons to RFC 5280 CRLReason codes.
var reasons = map[string]int{
	"key_compromise":      1, // keyCompromise
	"organisation_merged": 3, // affiliationChanged
	"no_longer_needed":    5, // cessationOfOperation
}

// Publish builds the list of every issuing CA whose key is online and
// writes it to the directory; it returns the files written.
//
// The time is read before the certificates: a list is as new as the
// snapshot it was built from, and a list is not written over one built
// from a later snapshot (by another process: irpkid revoke publishes too),
// so a slow run never puts back a list without a newer revocation.
func (p *Publisher) Publish(ctx context.Context) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	var certs []store.Certificate
	if err := p.db.View(ctx, func(tx *store.Tx) (err error) {
		certs, err = tx.Certificates(ctx, store.CertFilter{Environment: p.ca.Environment})
		return err
	}); err != nil {
		return nil, err
	}
	if err := atomicfile.MkdirPrivate(p.dir); err != nil {
		return nil, err
	}
	var written []string
	seen := map[*x509.Certificate]bool{}
	for _, is := range append(append([]*ca.Issuer{}, p.ca.Issuers...), p.ca.Services) {
		if is == nil || is.Key == nil || seen[is.Cert] {
			continue
		}
		seen[is.Cert] = true
		der, err := p.build(is, certs, now)
		if err != nil {
			return written, fmt.Errorf("crl: %s: %w", is.Cert.Subject.CommonName, err)
		}
		// 0600 like every file of the data directory (itself 0700): a
		// CRL is public, but is published over HTTP, not from here.
		path := filepath.Join(p.dir, is.CRLName())
		if newer(path, now) {
			continue
		}
		if err := atomicfile.WriteFile(path, der, 0o600); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

// newer reports whether the list at path was built from a snapshot taken
// after now (its CRL number is the snapshot's time in milliseconds).
func newer(path string, now time.Time) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	l, err := x509.ParseRevocationList(b)
	return err == nil && l.Number != nil && l.Number.Cmp(big.NewInt(now.UnixMilli())) > 0
}

func (p *Publisher) build(is *ca.Issuer, certs []store.Certificate, now time.Time) ([]byte, error) {
	var entries []x509.RevocationListEntry
	for _, c := range certs {
		if c.Status != store.CertRevoked {
			continue
		}
		cert, err := x509.ParseCertificate(c.DER)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", c.Serial, err)
		}
		if cert.CheckSignatureFrom(is.Cert) != nil {
			continue // another issuing CA's
		}
		e := x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: c.RevokedAt.UTC()}
		if code, ok := reasons[c.RevokeReason]; ok {
			e.ReasonCode = code
		}
		entries = append(entries, e)
	}
	tmpl := &x509.RevocationList{
		RevokedCertificateEntries: entries,
		// A CRL number that grows with time: every list published later
		// has a larger one, on every replica, without a counter to keep.
		Number:     big.NewInt(now.UnixMilli()),
		ThisUpdate: now.UTC(),
		NextUpdate: now.Add(Validity).UTC(),
	}
	return x509.CreateRevocationList(rand.Reader, tmpl, is.Cert, is.Key)
}

// Run publishes at once and then every interval until ctx ends; failures
// are logged.
func (p *Publisher) Run(ctx context.Context, interval time.Duration) {
	for {
		p.PublishLogged(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// PublishLogged publishes and logs a failure instead of returning it (a
// revocation is committed whether or not its list could be written).
func (p *Publisher) PublishLogged(ctx context.Context) {
	if _, err := p.Publish(ctx); err != nil && ctx.Err() == nil {
		p.log.ErrorContext(ctx, "publishing the revocation lists failed", "err", err)
	}
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]+\.crl$`)

// Handler serves the published lists from the directory:
// GET /crl/NAME.crl answers the DER with Content-Type
// application/pkix-crl. A list revoked by an operator command (another
// process) is served as soon as that command has written it.
func (p *Publisher) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Path[len(PathPrefix):]
		if !validName.MatchString(name) {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(p.dir, name))
		if errors.Is(err, os.ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			p.log.ErrorContext(r.Context(), "reading a revocation list failed", "err", err)
			http.Error(w, "revocation list unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(b)
	})
}
