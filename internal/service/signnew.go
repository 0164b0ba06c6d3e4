package service

import (
	"context"
	"errors"
	"time"

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
		return "", "", customerInvalid()
	}
	csr, fp, err := s.checkCSR(r.CertificateRequest)
	if err != nil {
		return "", "", err
	}
	now := s.clock.Now()
	const what = "sign new certificate"
	for attempt := 1; ; attempt++ {
		// What the request would get on the committed state, decided
		// without the write lock.
		var d signNewDecision
		if err := s.db.View(ctx, func(tx *store.Tx) (err error) {
			d, err = s.decideSignNew(ctx, tx, r, fp, now)
			return err
		}); err != nil {
			return "", "", s.failed(ctx, what, r.CustomerID, err)
		}
		switch {
		case d.wrong:
			// counted in the write transaction below
		case d.refusal != nil:
			return "", d.owner, d.refusal
		case d.replay != nil:
			return d.replay.RetrievalID, d.owner, nil
		}
		var pre *presigned
		if d.issue {
			if pre, err = s.sign(d.org, csr, fp, now, d.order.Validity, d.template(), ""); err != nil {
				return "", d.owner, s.failed(ctx, what, r.CustomerID, err)
			}
		}
		var again bool
		refusal, err := s.update(ctx, what, r.CustomerID, func(tx *store.Tx) error {
			again = false
			if err := lock(ctx, tx, lockOrder(r.TransferID), lockKey(fp)); err != nil {
				return err
			}
			var err error
			if d, err = s.decideSignNew(ctx, tx, r, fp, now); err != nil {
				return err
			}
			switch {
			case d.wrong:
				return s.countWrong(ctx, tx, d)
			case !d.issue:
				return d.refusal // or a replay: nothing to write
			case !pre.fits(basisOf(d.org, d.order.Validity, d.template(), "")):
				again = true // signed for another state, or not signed: discard
				return nil
			}
			return recordSignNew(ctx, tx, d.order, pre, now)
		})
		switch {
		case err != nil:
			return "", d.owner, err
		case refusal != nil:
			return "", d.owner, refusal
		case again && attempt < maxSignAttempts:
			continue
		case again:
			s.log.ErrorContext(ctx, "sign new certificate: the order kept changing while its certificate was signed", "customer", r.CustomerID)
			return "", d.owner, Unavailable()
		case d.replay != nil:
			return d.replay.RetrievalID, d.owner, nil
		}
		s.issued(false)
		s.log.InfoContext(ctx, "certificate issued", "customer", pre.cert.CustomerID, "serial", pre.cert.Serial, "not_after", pre.cert.NotAfter)
		return pre.cert.RetrievalID, d.owner, nil
	}
}

// countWrong counts wrong credentials on the open order of d, as it is in
// tx, and returns the refusal to answer: committed with the count, and
// TRANSFER_LOCKED when this attempt was one too many.
func (s *Service) countWrong(ctx context.Context, tx *store.Tx, d signNewDecision) error {
	o, refusal := d.order, d.refusal
	o.FailedAttempts++
	if o.FailedAttempts >= s.cfg.MaxPasswordAttempts {
		o.Status = store.OrderLocked
		refusal = transferLocked(true)
	}
	if err := tx.UpdateOrderState(ctx, o); err != nil {
		return err
	}
	return refusal
}

// recordSignNew records in tx the certificate pre signed for order o, and
// marks the order used.
func recordSignNew(ctx context.Context, tx *store.Tx, o store.Order, pre *presigned, now time.Time) error {
	if err := record(ctx, tx, pre); err != nil {
		return err
	}
	o.Status, o.UsedAt, o.CertificateSerial = store.OrderUsed, now, pre.cert.Serial
	if err := tx.UpdateOrderState(ctx, o); err != nil {
		return err
	}
	return tx.Audit(ctx, store.AuditEntry{At: now, Actor: "soap", Action: "sign_new", CustomerID: o.CustomerID, Serial: pre.cert.Serial, Outcome: "ok"})
}

// signNewDecision is what a SignNewCertificate request gets on a state of
// the store: exactly one of a refusal, a replay (the certificate this
// order already gave the same key), wrong credentials to count on an open
// order (with the refusal to answer), or a certificate to issue for order
// and org.
type signNewDecision struct {
	owner   string // the customer whose order the request named, or ""
	refusal error
	replay  *store.Certificate
	wrong   bool
	issue   bool
	order   store.Order
	org     store.Org
}

// template is the certificate record an issued certificate starts from.
func (d signNewDecision) template() store.Certificate {
	o := d.order
	return store.Certificate{
		OrderID: o.TransferID, ContactName: o.ContactName, ContactEmail: o.ContactEmail, ContactLanguage: o.ContactLanguage,
		Purpose: o.Purpose, Description: o.Description,
	}
}

// decideSignNew decides a SignNewCertificate request on tx's state; it
// writes nothing.
func (s *Service) decideSignNew(ctx context.Context, tx *store.Tx, r *wire.SignNewCertificateRequest, fp string, now time.Time) (d signNewDecision, err error) {
	org, err := tx.Org(ctx, r.CustomerID)
	if errors.Is(err, store.ErrNotFound) {
		d.refusal = unknownCustomer()
		return d, nil
	} else if err != nil {
		return d, err
	}
	o, err := tx.Order(ctx, transferKey(r.TransferID))
	if errors.Is(err, store.ErrNotFound) {
		// An order made before TransferIds were stored hashed. The wire
		// allows at most 32 characters, so this never matches a stored
		// hash (64).
		o, err = tx.Order(ctx, r.TransferID)
	}
	if errors.Is(err, store.ErrNotFound) {
		d.refusal = transferInvalid()
		return d, nil
	}
	if err != nil {
		return d, err
	}
	d.owner, d.order = o.CustomerID, o
	if o.Status == store.OrderLocked {
		d.refusal = transferLocked(false)
		return d, nil
	}
	if o.CustomerID != r.CustomerID || o.Environment != s.cfg.Environment || !passwordMatches(o.PasswordSalt, o.PasswordHash, r.TransferPassword) {
		d.refusal = transferInvalid()
		d.wrong = o.Status == store.OrderOpen
		return d, nil
	}
	if o.Status == store.OrderCancelled {
		d.refusal = orderCancelled()
		return d, nil
	}
	if o.Status == store.OrderUsed {
		prev, err := tx.Certificate(ctx, o.CertificateSerial)
		if err == nil && prev.KeyFingerprint == fp {
			d.replay = &prev // the same client retrying with the same key
			return d, nil
		}
		d.refusal = transferUsed()
		return d, nil
	}
	if !now.Before(o.ExpiresAt) {
		d.refusal = transferExpired(o.ExpiresAt)
		return d, nil
	}
	if err := keyUnused(ctx, tx, fp); err != nil {
		if CodeOf(err) == wire.CodeKeyReused {
			d.refusal = err
			return d, nil
		}
		return d, err
	}
	// The order is the request's customer's (checked above), whose
	// organisation was read first.
	d.org = org
	d.issue = true
	return d, nil
}
