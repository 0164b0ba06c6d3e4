package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/internal/store"
)

// Revocation reasons an organisation or operator may give.
const (
	ReasonKeyCompromise = "key_compromise" // key lost or leaked
	ReasonNotNeeded     = "no_longer_needed"
	ReasonMerged        = "organisation_merged"
)

// RevocationReasons lists the accepted reasons.
var RevocationReasons = []string{ReasonKeyCompromise, ReasonNotNeeded, ReasonMerged}

// reasonSynonyms are the RFC 5280 CRLReason names (section 5.3.1) that
// mean one of our reasons: people who know X.509 write keyCompromise.
var reasonSynonyms = map[string]string{
	"keycompromise":        ReasonKeyCompromise,
	"cessationofoperation": ReasonNotNeeded,
	"superseded":           ReasonNotNeeded,
	"affiliationchanged":   ReasonMerged,
}

// ParseRevocationReason returns the reason named by s: one of
// RevocationReasons, written in any case and with - or _ (key-compromise),
// or its RFC 5280 name (keyCompromise, cessationOfOperation, superseded,
// affiliationChanged). It returns false for anything else.
func ParseRevocationReason(s string) (string, bool) {
	k := strings.ToLower(strings.TrimSpace(s))
	for _, r := range RevocationReasons {
		if k == r || k == strings.ReplaceAll(r, "_", "-") {
			return r, true
		}
	}
	r, ok := reasonSynonyms[k]
	return r, ok
}

// RevocationReasonHelp names the reasons and their RFC 5280 synonyms, for
// help texts and errors.
const RevocationReasonHelp = "key_compromise (RFC 5280: keyCompromise), no_longer_needed (cessationOfOperation, superseded) or organisation_merged (affiliationChanged)"

// Revoke revokes a valid certificate and returns the serials revoked. A
// revocation for key compromise also revokes every successor that was
// requested with a signature by that key, and their successors in turn
// (whoever held the key could have made them): RevocationPlan names them
// beforehand. All are revoked in one transaction, each audited.
// customerID, when not "", must own the certificate (the e-service passes
// the representative's organisation). expect, if not nil, are the serials
// the caller showed (RevocationPlan's): if the plan has changed since, for
// instance by a renewal meanwhile, nothing is revoked and the error says
// to look again.
func (s *Service) Revoke(ctx context.Context, written, reason, customerID, actor string, expect []string) ([]string, error) {
	key, reason, err := revocationInput(written, reason)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var done []string
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		done = nil
		plan, err := revocationPlan(ctx, tx, key, reason, customerID)
		if err != nil {
			return err
		}
		if expect != nil {
			var got []string
			for _, c := range plan {
				got = append(got, c.Serial)
			}
			if !slices.Equal(got, expect) {
				return fmt.Errorf("%w: %w", ErrInput, ErrPlanChanged)
			}
		}
		for i, c := range plan {
			detail := "reason=" + reason
			if i > 0 {
				// The cascade: revoked because a key up its renewal
				// chain, which signed a renewal request, is compromised.
				detail += " cascade_from=" + key
			}
			if err := tx.SetCertificateStatus(ctx, c.Serial, store.CertRevoked, now, reason); err != nil {
				return err
			}
			if err := tx.Audit(ctx, store.AuditEntry{At: now, Actor: actor, Action: "revoke", CustomerID: c.CustomerID, Serial: c.Serial, Outcome: "ok", Detail: detail}); err != nil {
				return err
			}
			done = append(done, c.Serial)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.cfg.AfterRevoke != nil {
		s.cfg.AfterRevoke(ctx)
	}
	return done, nil
}

// ErrPlanChanged: the certificates a revocation would revoke are no longer
// those the caller showed.
var ErrPlanChanged = errors.New("the certificates this revocation revokes have changed since they were shown; look at them again")

// RevocationPlan returns the certificates Revoke would revoke, the named
// one first, without revoking anything: the named one alone, or for key
// compromise with every valid successor down its renewal chain.
func (s *Service) RevocationPlan(ctx context.Context, written, reason, customerID string) ([]CertificateView, error) {
	key, reason, err := revocationInput(written, reason)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var out []CertificateView
	err = s.db.View(ctx, func(tx *store.Tx) error {
		plan, err := revocationPlan(ctx, tx, key, reason, customerID)
		if err != nil {
			return err
		}
		out = out[:0]
		for _, c := range plan {
			out = append(out, s.view(c, false, now))
		}
		return nil
	})
	return out, err
}

// revocationInput normalises a revocation's serial and reason.
func revocationInput(written, reason string) (string, string, error) {
	r, ok := ParseRevocationReason(reason)
	if !ok {
		return "", "", fmt.Errorf("%w: reason must be %s", ErrInput, RevocationReasonHelp)
	}
	return serial.Key(written), r, nil
}

// revocationPlan finds what revoking serial for reason revokes.
func revocationPlan(ctx context.Context, tx *store.Tx, key, reason, customerID string) ([]store.Certificate, error) {
	c, err := tx.Certificate(ctx, key)
	if errors.Is(err, store.ErrNotFound) || (err == nil && customerID != "" && c.CustomerID != customerID) {
		return nil, fmt.Errorf("%w: no certificate with serial %s", ErrInput, serial.Pad(key))
	}
	if err != nil {
		return nil, err
	}
	if c.Status != store.CertValid {
		return nil, fmt.Errorf("%w: certificate %s is %s, not valid", ErrInput, serial.Pad(key), c.Status)
	}
	plan := []store.Certificate{c}
	if reason != ReasonKeyCompromise {
		return plan, nil
	}
	// A certificate has at most one live successor, so the chain is a
	// line; it ends at a certificate without one. A successor already
	// revoked is passed over, its own successor still followed.
	for cur := c.Serial; ; {
		succ, err := tx.Successor(ctx, cur)
		if errors.Is(err, store.ErrNotFound) {
			return plan, nil
		}
		if err != nil {
			return nil, err
		}
		if succ.Status == store.CertValid {
			plan = append(plan, succ)
		}
		cur = succ.Serial
	}
}

// State is a certificate's state as people see it.
type State string

// Certificate states shown in listings.
const (
	StateValid      State = "valid"
	StateWindowOpen State = "renewal_window_open"
	StateRenewed    State = "renewed"
	StateExpired    State = "expired"
	StateRevoked    State = "revoked"
	StateSuperseded State = "superseded"
)

// CertificateView is a certificate with its derived state.
type CertificateView struct {
	store.Certificate
	State         State
	DaysLeft      int
	Renewed       bool      // has a live successor
	RenewableFrom time.Time // when RenewCertificate first accepts it: see RenewableFrom
}

// RenewableFrom is when a certificate can first be renewed: window before
// it expires, or when it was issued if that is later. A certificate shorter
// than the window (a TEST order) is renewable from its issue, never from a
// date before it existed.
func RenewableFrom(notBefore, notAfter time.Time, window time.Duration) time.Time {
	return later(notBefore, notAfter.Add(-window))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Certificates lists certificates with their state; customerID "" for all.
func (s *Service) Certificates(ctx context.Context, customerID string) ([]CertificateView, error) {
	now := s.clock.Now()
	var out []CertificateView
	err := s.db.View(ctx, func(tx *store.Tx) error {
		cs, err := tx.Certificates(ctx, store.CertFilter{CustomerID: customerID})
		if err != nil {
			return err
		}
		hasSucc := map[string]bool{}
		for _, c := range cs {
			if c.Predecessor != "" && c.Status != store.CertSuperseded {
				hasSucc[c.Predecessor] = true
			}
		}
		for _, c := range cs {
			out = append(out, s.view(c, hasSucc[c.Serial], now))
		}
		return nil
	})
	return out, err
}

func (s *Service) view(c store.Certificate, renewed bool, now time.Time) CertificateView {
	v := CertificateView{Certificate: c, Renewed: renewed, RenewableFrom: RenewableFrom(c.NotBefore, c.NotAfter, s.cfg.RenewalWindow)}
	left := c.NotAfter.Sub(now)
	if left > 0 {
		v.DaysLeft = int(left / (24 * time.Hour))
	}
	switch {
	case c.Status == store.CertRevoked:
		v.State = StateRevoked
	case c.Status == store.CertSuperseded:
		v.State = StateSuperseded
	case !now.Before(c.NotAfter):
		v.State = StateExpired
	case renewed:
		v.State = StateRenewed
	case !now.Before(v.RenewableFrom):
		v.State = StateWindowOpen
	default:
		v.State = StateValid
	}
	return v
}

// AuditLog returns the newest audit entries; customerID "" for all.
func (s *Service) AuditLog(ctx context.Context, customerID string, limit int) ([]store.AuditEntry, error) {
	var out []store.AuditEntry
	err := s.db.View(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.AuditLog(ctx, customerID, limit)
		return err
	})
	return out, err
}
