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
		return nil, "", refuse(wire.CodeCustomerInvalid, "CustomerId is not a valid business ID (1234567-8 with a correct check digit).")
	}
	now := s.clock.Now()
	unknown := refuse(wire.CodeRetrievalUnknown, "No certificate is waiting under this RetrievalId for this customer. Check the RetrievalId, or enrol again.")
	var refusal error
	var c store.Certificate
	err := s.db.UpdateKeyed(ctx, func(tx *store.Tx) error {
		var err error
		c, err = tx.CertificateByRetrievalID(ctx, r.RetrievalID)
		if errors.Is(err, store.ErrNotFound) {
			refusal = unknown
			return nil
		}
		if err != nil {
			return err
		}
		if c.Predecessor != "" {
			// A renewal of the predecessor may supersede this successor
			// unless it has been retrieved: one decides after the other.
			if err := tx.Lock(ctx, lockCert(c.Predecessor)); err != nil {
				return err
			}
			if c, err = tx.CertificateByRetrievalID(ctx, r.RetrievalID); err != nil {
				return err
			}
		}
		if c.CustomerID != r.CustomerID || c.Environment != s.cfg.Environment || now.After(c.CreatedAt.Add(s.cfg.RetrievalRetention)) {
			refusal = unknown
			return nil
		}
		switch c.Status {
		case store.CertSuperseded:
			refusal = refuse(wire.CodeSuperseded, "This certificate was replaced by a later renewal request; retrieve the certificate of that request instead.")
			return nil
		case store.CertRevoked:
			// One revoked before it was retrieved never leaves the
			// service; nor, retrieved or not, one revoked for key
			// compromise (its renewal may have been requested by
			// whoever held a predecessor's key).
			if c.RetrievedAt.IsZero() || c.RevokeReason == ReasonKeyCompromise {
				refusal = refuse(wire.CodeCertRevoked, "This certificate has been revoked. Order a new certificate in the e-service.")
				return nil
			}
		}
		if ready := c.CreatedAt.Add(s.cfg.IssueDelay); now.Before(ready) {
			wait := ready.Sub(now).Round(time.Second)
			if wait < time.Second {
				wait = time.Second
			}
			refusal = refuse(wire.CodeNotReady, "The certificate is not ready yet. Try again in %d seconds, at %s, with the same RetrievalId.", int(wait/time.Second), ready.UTC().Format(time.RFC3339))
			return nil
		}
		if c.RetrievedAt.IsZero() {
			if err := tx.MarkRetrieved(ctx, c.Serial, now); err != nil {
				return err
			}
			return tx.Audit(ctx, store.AuditEntry{At: now, Actor: "soap", Action: "get", CustomerID: c.CustomerID, Serial: c.Serial, Outcome: "ok"})
		}
		return nil
	})
	if err != nil {
		s.log.ErrorContext(ctx, "get certificate failed", "customer", r.CustomerID, "err", err)
		return nil, "", unavailable()
	}
	if refusal == unknown {
		return nil, "", refusal // the serial may be another customer's
	}
	if refusal != nil {
		return nil, c.Serial, refusal
	}
	return c.DER, c.Serial, nil
}
