package service

import (
	"context"
	"errors"
	"time"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// Get handles GetCertificate: the certificate behind a RetrievalId of this
// customer and environment, as often as asked within the retention time.
// Unknown, foreign and expired ids get the same answer.
func (s *Service) Get(ctx context.Context, r *wire.GetCertificateRequest) ([]byte, error) {
	der, serial, err := s.get(ctx, r)
	if err != nil {
		// A serial means the RetrievalId was this customer's.
		owner := ""
		if serial != "" {
			owner = r.CustomerID
		}
		outcome, code := auditOutcome(err)
		s.audit(ctx, refusalEntry("get", owner, r.CustomerID, serial, outcome, code))
	}
	return der, err
}

func (s *Service) get(ctx context.Context, r *wire.GetCertificateRequest) ([]byte, string, error) {
	if err := s.checkEnvironment(r.Environment); err != nil {
		return nil, "", err
	}
	if err := businessid.Validate(r.CustomerID); err != nil {
		return nil, "", customerInvalid()
	}
	now := s.clock.Now()
	var c store.Certificate
	refusal, err := s.update(ctx, "get certificate", r.CustomerID, func(tx *store.Tx) error {
		var err error
		c, err = tx.CertificateByRetrievalID(ctx, r.RetrievalID)
		if errors.Is(err, store.ErrNotFound) {
			return retrievalUnknown()
		}
		if err != nil {
			return err
		}
		if c.Predecessor != "" && tx.Concurrent() {
			// A renewal of the predecessor may supersede this successor
			// unless it has been retrieved: one decides after the other,
			// so what was read before the lock is read again. (A
			// transaction that runs alone among writers saw no change.)
			if err := tx.Lock(ctx, lockCert(c.Predecessor)); err != nil {
				return err
			}
			if c, err = tx.CertificateByRetrievalID(ctx, r.RetrievalID); err != nil {
				return err
			}
		}
		if c.CustomerID != r.CustomerID || c.Environment != s.cfg.Environment || now.After(c.CreatedAt.Add(s.cfg.RetrievalRetention)) {
			return retrievalUnknown()
		}
		switch c.Status {
		case store.CertSuperseded:
			return superseded()
		case store.CertRevoked:
			// One revoked before it was retrieved never leaves the
			// service; nor, retrieved or not, one revoked for key
			// compromise (its renewal may have been requested by
			// whoever held a predecessor's key).
			if c.RetrievedAt.IsZero() || c.RevokeReason == ReasonKeyCompromise {
				return certRevoked()
			}
		}
		if ready := c.CreatedAt.Add(s.cfg.IssueDelay); now.Before(ready) {
			wait := ready.Sub(now).Round(time.Second)
			if wait < time.Second {
				wait = time.Second
			}
			return notReady(wait, ready)
		}
		if c.RetrievedAt.IsZero() {
			if err := tx.MarkRetrieved(ctx, c.Serial, now); err != nil {
				return err
			}
			return tx.Audit(ctx, store.AuditEntry{At: now, Actor: "soap", Action: "get", CustomerID: c.CustomerID, Serial: c.Serial, Outcome: "ok"})
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, "", err
	case CodeOf(refusal) == wire.CodeRetrievalUnknown:
		return nil, "", refusal // the serial may be another customer's
	case refusal != nil:
		return nil, c.Serial, refusal
	}
	return c.DER, c.Serial, nil
}
