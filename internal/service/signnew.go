package service

import (
	"context"
	"errors"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// SignNew handles SignNewCertificate: with valid one-time transfer
// credentials and a valid CSR it issues a certificate and returns its
// RetrievalId. Exactly one of two racing requests for the same credentials
// wins. A retry with the same credentials and the same key after a success
// (a client that lost the answer) gets the same RetrievalId back.
func (s *Service) SignNew(ctx context.Context, r *wire.SignNewCertificateRequest) (string, error) {
	rid, owner, err := s.signNew(ctx, r)
	if err != nil {
		outcome, code := auditOutcome(err)
		s.audit(ctx, refusalEntry("sign_new", owner, r.CustomerID, "", outcome, code))
	}
	return rid, err
}

// signNew returns the RetrievalId, and the customer whose order the
// request named ("" when it named none of this service's orders).
func (s *Service) signNew(ctx context.Context, r *wire.SignNewCertificateRequest) (rid, owner string, err error) {
	if err := s.checkEnvironment(r.Environment); err != nil {
		return "", "", err
	}
	if err := businessid.Validate(r.CustomerID); err != nil {
		return "", "", refuse(wire.CodeCustomerInvalid, "CustomerId %q is not a valid business ID (1234567-8 with a correct check digit).", r.CustomerID)
	}
	csr, fp, err := s.checkCSR(r.CertificateRequest)
	if err != nil {
		return "", "", err
	}
	now := s.clock.Now()
	var refusal error
	var issued store.Certificate
	invalid := refuse(wire.CodeTransferInvalid, "The TransferId or TransferPassword is wrong. Check the credentials from the e-service delivery.")
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		refusal = nil
		if _, err := tx.Org(ctx, r.CustomerID); errors.Is(err, store.ErrNotFound) {
			refusal = refuse(wire.CodeUnknownCustomer, "Customer %s is not an organisation of this certificate service. Check the CustomerId, or order a certificate in the e-service first.", r.CustomerID)
			return nil
		} else if err != nil {
			return err
		}
		o, err := tx.Order(ctx, transferKey(r.TransferID))
		if errors.Is(err, store.ErrNotFound) {
			// An order made before TransferIds were stored hashed. The
			// wire allows at most 32 characters, so this never matches a
			// stored hash (64).
			o, err = tx.Order(ctx, r.TransferID)
		}
		if errors.Is(err, store.ErrNotFound) {
			refusal = invalid
			return nil
		}
		if err != nil {
			return err
		}
		owner = o.CustomerID
		if o.Status == store.OrderLocked {
			refusal = refuse(wire.CodeTransferLocked, "These transfer credentials are locked after too many wrong passwords. Order a new certificate in the e-service.")
			return nil
		}
		if o.CustomerID != r.CustomerID || o.Environment != s.cfg.Environment || !passwordMatches(o.PasswordSalt, o.PasswordHash, r.TransferPassword) {
			if o.Status == store.OrderOpen {
				o.FailedAttempts++
				if o.FailedAttempts >= s.cfg.MaxPasswordAttempts {
					o.Status = store.OrderLocked
				}
				if err := tx.UpdateOrderState(ctx, o); err != nil {
					return err
				}
			}
			refusal = invalid
			if o.Status == store.OrderLocked {
				refusal = refuse(wire.CodeTransferLocked, "These transfer credentials are now locked after too many wrong passwords. Order a new certificate in the e-service.")
			}
			return nil
		}
		if o.Status == store.OrderUsed {
			prev, err := tx.Certificate(ctx, o.CertificateSerial)
			if err == nil && prev.KeyFingerprint == fp {
				issued = prev // the same client retrying with the same key
				return nil
			}
			refusal = refuse(wire.CodeTransferUsed, "These transfer credentials have already been used. Order a new certificate in the e-service.")
			return nil
		}
		if !now.Before(o.ExpiresAt) {
			refusal = refuse(wire.CodeTransferExpired, "These transfer credentials expired on %s. Order a new certificate in the e-service.", o.ExpiresAt.UTC().Format("2006-01-02"))
			return nil
		}
		if err := keyUnused(ctx, tx, fp); err != nil {
			refusal = err
			return nil
		}
		org, err := tx.Org(ctx, o.CustomerID)
		if err != nil {
			return err
		}
		issued, err = s.issue(ctx, tx, org, csr, fp, now, o.Validity, store.Certificate{
			OrderID: o.TransferID, ContactName: o.ContactName, ContactEmail: o.ContactEmail, ContactLanguage: o.ContactLanguage,
			Purpose: o.Purpose, Description: o.Description,
		})
		if err != nil {
			return err
		}
		o.Status, o.UsedAt, o.CertificateSerial = store.OrderUsed, now, issued.Serial
		if err := tx.UpdateOrderState(ctx, o); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: "soap", Action: "sign_new", CustomerID: o.CustomerID, Serial: issued.Serial, Outcome: "ok"})
	})
	if err != nil {
		s.log.ErrorContext(ctx, "sign new certificate failed", "customer", r.CustomerID, "err", err)
		return "", "", unavailable()
	}
	if refusal != nil {
		return "", owner, refusal
	}
	s.log.InfoContext(ctx, "certificate issued", "customer", issued.CustomerID, "serial", issued.Serial, "not_after", issued.NotAfter)
	return issued.RetrievalID, owner, nil
}
