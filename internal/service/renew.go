package service

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"time"

	"github.com/beevik/etree"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// Renew handles RenewCertificate. el is the RenewCertificateRequest as a
// standalone element (wire.Detach), signature included. The signer must be a
// certificate of this service in the store, of the same customer, unexpired,
// unrevoked and inside its renewal window; the CSR must carry a key never
// certified before. A certificate gets at most one successor: an exact replay
// returns the same RetrievalId; a new request may replace a successor that
// was never retrieved, never one that was.
func (s *Service) Renew(ctx context.Context, el *etree.Element) (string, error) {
	rid, customer, serial, err := s.renew(ctx, el)
	if err != nil {
		outcome, code := auditOutcome(err)
		claimed := ""
		if customer == "" {
			if req, derr := wire.DecodeRenew(el, true); derr == nil {
				claimed = req.CustomerID
			}
		}
		s.audit(ctx, refusalEntry("renew", customer, claimed, serial, outcome, code))
	}
	return rid, err
}

func (s *Service) renew(ctx context.Context, el *etree.Element) (rid, customer, signerSerial string, err error) {
	signed, err := wire.ParseSigned(el)
	if err != nil {
		return "", "", "", sigRefusal(err)
	}
	cert := signed.Cert
	// The signer is trusted only as a certificate this service issued: its
	// exact DER must be in the store (checked, with its status and owner,
	// inside the write transaction below), which is a stronger proof than
	// its signature by our CA and makes checking that signature redundant.
	// Before that, only what the certificate itself tells sorts requests
	// out early: that it names one of our issuing CAs, that its key is one
	// we may have certified (which bounds the cost of verifying with it: anyone can
	// copy our CA's name into a certificate for a 65536-bit key), and its
	// dates. Its CN is the customer it was issued to.
	if !s.ca.NamesUsAsIssuer(cert) || ca.CheckSignerKey(cert.PublicKey) != nil {
		return "", "", "", s.foreignSigner(el)
	}
	customer, signerSerial = cert.Subject.CommonName, SerialHex(cert)
	// Until the store has the signer's exact DER, its customer and serial
	// are only what the request claims: anyone can copy our CA's name and a
	// victim's name and serial into a certificate of their own. A refusal
	// before then is answered with the certificate's own faults (such as
	// its expiry) only if the certificate is ours, and filed under its
	// customer and serial only if the request's signature also verified
	// with its key: the certificate itself is public, sent with every
	// renewal, so holding it proves nothing (found in review).
	early := func(refusal error, verified bool) (string, string, string, error) {
		ours, err := s.issuedHere(ctx, cert)
		switch {
		case err != nil:
			s.log.ErrorContext(ctx, "renew: signer lookup failed", "err", err)
			return "", "", "", unavailable()
		case !ours:
			return "", "", "", s.foreignSigner(el)
		case !verified:
			return "", "", "", refusal
		}
		return "", customer, signerSerial, refusal
	}
	now := s.clock.Now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return early(refuse(wire.CodeSignerExpired, "The signing certificate expired on %s; an expired certificate cannot be renewed. Order a new certificate in the e-service.", cert.NotAfter.UTC().Format("2006-01-02")), false)
	}
	verified, err := signed.Verify(now)
	if err != nil {
		return early(sigRefusal(err), false)
	}
	// Every value used from here on comes from the verified element.
	req, err := wire.DecodeRenew(verified, false)
	if err != nil {
		return early(refuse(wire.CodeSigInvalid, "The signed content is not a valid RenewCertificateRequest."), true)
	}
	if err := s.checkEnvironment(req.Environment); err != nil {
		return early(err, true)
	}
	if err := businessid.Validate(req.CustomerID); err != nil {
		return early(refuse(wire.CodeCustomerInvalid, "CustomerId is not a valid business ID (1234567-8 with a correct check digit)."), true)
	}
	if req.CustomerID != customer {
		return early(signerCustomer(), true)
	}
	opens := cert.NotAfter.Add(-s.cfg.RenewalWindow)
	if now.Before(opens) {
		return early(refuse(wire.CodeWindowNotOpen, "The certificate can be renewed at the earliest %d days before it expires, from %s.", int(s.cfg.RenewalWindow.Hours()/24), opens.UTC().Format("2006-01-02 15:04 MST")), true)
	}
	csr, fp, err := s.checkCSR(req.CertificateRequest)
	if err != nil {
		return early(err, true)
	}
	// An exact replay is the same signed content: the verified digest of
	// the canonical request identifies it.
	digest, err := wire.SignedDigest(el)
	if err != nil {
		return early(sigRefusal(err), true)
	}
	reqHash := hex.EncodeToString(digest)

	for attempt := 1; ; attempt++ {
		// What the request would get on the committed state, decided
		// without the write lock.
		var d renewDecision
		if err := s.db.View(ctx, func(tx *store.Tx) (err error) {
			d, err = s.decideRenew(ctx, tx, cert, req.CustomerID, signerSerial, fp, reqHash)
			return err
		}); err != nil {
			s.log.ErrorContext(ctx, "renew failed", "customer", customer, "err", err)
			return "", customer, signerSerial, unavailable()
		}
		if d.refusal != nil || d.replay != nil {
			return s.renewAnswer(d, customer, signerSerial)
		}
		pre, err := s.sign(d.org, csr, fp, now, d.validity, d.template(reqHash), d.state())
		if err != nil {
			s.log.ErrorContext(ctx, "renew failed", "customer", customer, "err", err)
			return "", customer, signerSerial, unavailable()
		}
		var again bool
		err = s.db.UpdateKeyed(ctx, func(tx *store.Tx) error {
			again = false
			if err := lock(ctx, tx, lockCert(signerSerial), lockKey(fp)); err != nil {
				return err
			}
			var err error
			if d, err = s.decideRenew(ctx, tx, cert, req.CustomerID, signerSerial, fp, reqHash); err != nil {
				return err
			}
			if d.refusal != nil || d.replay != nil {
				return nil // every refusal comes before the first change
			}
			if !pre.fits(basisOf(d.org, d.validity, d.template(reqHash), d.state())) {
				again = true // signed for another state: discard
				return nil
			}
			if succ := d.successor; succ != nil {
				// A successor revoked before anyone retrieved it keeps the
				// time and reason of its revocation beside the supersession.
				at, reason := now, "superseded by a new renewal request"
				if succ.Status == store.CertRevoked {
					at, reason = succ.RevokedAt, "revoked ("+succ.RevokeReason+"), then "+reason
				}
				if err := tx.SetCertificateStatus(ctx, succ.Serial, store.CertSuperseded, at, reason); err != nil {
					return err
				}
				if err := tx.Audit(ctx, store.AuditEntry{At: now, Actor: "soap", Action: "supersede", CustomerID: succ.CustomerID, Serial: succ.Serial, Outcome: "ok", Detail: "never retrieved; replaced by a new renewal request"}); err != nil {
					return err
				}
			}
			if err := record(ctx, tx, pre); err != nil {
				return err
			}
			return tx.Audit(ctx, store.AuditEntry{At: now, Actor: "soap", Action: "renew", CustomerID: d.cur.CustomerID, Serial: pre.cert.Serial, Outcome: "ok", Detail: "predecessor=" + d.cur.Serial})
		})
		if err != nil {
			s.log.ErrorContext(ctx, "renew failed", "customer", customer, "err", err)
			return "", customer, signerSerial, unavailable()
		}
		switch {
		case again && attempt < maxSignAttempts:
			continue
		case again:
			s.log.ErrorContext(ctx, "renew: the predecessor kept changing while its successor was signed", "customer", customer, "serial", signerSerial)
			return "", customer, signerSerial, unavailable()
		case d.refusal != nil || d.replay != nil:
			return s.renewAnswer(d, customer, signerSerial)
		}
		s.issued(true)
		s.log.InfoContext(ctx, "certificate renewed", "customer", pre.cert.CustomerID, "serial", pre.cert.Serial, "predecessor", signerSerial, "not_after", pre.cert.NotAfter)
		return pre.cert.RetrievalID, customer, pre.cert.Serial, nil
	}
}

// renewAnswer answers a renewal decided as a refusal or a replay.
func (s *Service) renewAnswer(d renewDecision, customer, signerSerial string) (rid, cust, serial string, err error) {
	switch {
	case d.replay != nil:
		return d.replay.RetrievalID, customer, d.replay.Serial, nil
	case CodeOf(d.refusal) == wire.CodeSignerUnknown:
		return "", "", "", d.refusal // not ours: its names are a claim
	}
	return "", customer, signerSerial, d.refusal
}

// renewDecision is what a RenewCertificate request gets on a state of the
// store: a refusal, a replay (the successor this exact request was
// answered before), or a successor of cur to issue for org, superseding
// successor (a successor never retrieved) if not nil.
type renewDecision struct {
	refusal   error
	replay    *store.Certificate
	cur       store.Certificate
	successor *store.Certificate
	org       store.Org
	validity  time.Duration
}

// template is the certificate record a successor starts from.
func (d renewDecision) template(reqHash string) store.Certificate {
	cur := d.cur
	return store.Certificate{
		Predecessor: cur.Serial, RequestHash: reqHash, OrderID: cur.OrderID,
		ContactName: cur.ContactName, ContactEmail: cur.ContactEmail, ContactLanguage: cur.ContactLanguage,
		Purpose: cur.Purpose, Description: cur.Description,
	}
}

// state is the predecessor's state the decision to issue was taken on. A
// successor never retrieved that appeared meanwhile is no change: the
// request supersedes it as it would have superseded the one before; one
// retrieved meanwhile makes the decision a refusal.
func (d renewDecision) state() string { return string(d.cur.Status) }

// decideRenew decides a verified renewal request on tx's state; it writes
// nothing.
func (s *Service) decideRenew(ctx context.Context, tx *store.Tx, cert *x509.Certificate, customerID, signerSerial, fp, reqHash string) (d renewDecision, err error) {
	cur, err := tx.Certificate(ctx, signerSerial)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.storedAs(cur, cert)) {
		d.refusal = signerUnknown()
		return d, nil
	}
	if err != nil {
		return d, err
	}
	d.cur = cur
	if cur.CustomerID != customerID {
		d.refusal = signerCustomer()
		return d, nil
	}
	if cur.Status == store.CertRevoked {
		d.refusal = refuse(wire.CodeSignerRevoked, "The signing certificate has been revoked and cannot be renewed. Order a new certificate in the e-service.")
		return d, nil
	}
	succ, err := tx.Successor(ctx, signerSerial)
	switch {
	case err == nil && succ.RequestHash == reqHash:
		d.replay = &succ // exact replay
		return d, nil
	case err == nil && !succ.RetrievedAt.IsZero():
		d.refusal = refuse(wire.CodeAlreadyRenewed, "This certificate has already been renewed and its successor retrieved. Use the successor.")
		return d, nil
	case err == nil:
		d.successor = &succ
	case !errors.Is(err, store.ErrNotFound):
		return d, err
	}
	if err := keyUnused(ctx, tx, fp); err != nil {
		if CodeOf(err) == wire.CodeKeyReused {
			d.refusal = err
			return d, nil
		}
		return d, err
	}
	if d.org, err = tx.Org(ctx, cur.CustomerID); err != nil {
		return d, err
	}
	// A renewal keeps the validity its predecessor was issued with: two
	// years, or a TEST order's short validity.
	d.validity = s.renewalValidity(cur)
	return d, nil
}

// renewalValidity is the validity a successor of c gets: 0 (the profile's
// default) unless c was issued shorter, as a TEST order may ask.
func (s *Service) renewalValidity(c store.Certificate) time.Duration {
	life := c.NotAfter.Sub(c.NotBefore.Add(s.cfg.Profile.Backdate))
	def := c.NotBefore.Add(s.cfg.Profile.Backdate).AddDate(s.cfg.Profile.ValidityYears, 0, 0).Sub(c.NotBefore.Add(s.cfg.Profile.Backdate))
	if s.cfg.Environment == wire.EnvTest && life < def {
		return life
	}
	return 0
}

// issuedHere tells whether cert is, byte for byte, a certificate this
// service issued in its environment.
func (s *Service) issuedHere(ctx context.Context, cert *x509.Certificate) (bool, error) {
	var ours bool
	err := s.db.View(ctx, func(tx *store.Tx) error {
		c, err := tx.Certificate(ctx, SerialHex(cert))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		ours = s.storedAs(c, cert)
		return nil
	})
	return ours, err
}

// storedAs tells whether c, a certificate in the store, is cert byte for
// byte and of this service's environment: the pin on a renewal's signer.
func (s *Service) storedAs(c store.Certificate, cert *x509.Certificate) bool {
	return bytes.Equal(c.DER, cert.Raw) && c.Environment == s.cfg.Environment
}

// foreignSigner is the refusal of a request signed with a certificate this
// service did not issue. One meant for the other environment (whose CA is
// another) is told to use that environment's endpoint: its Environment is
// unverified, but the answer is a refusal either way.
func (s *Service) foreignSigner(el *etree.Element) error {
	if req, err := wire.DecodeRenew(el, true); err == nil && req.Environment != s.cfg.Environment {
		return s.checkEnvironment(req.Environment)
	}
	return signerUnknown()
}

func signerUnknown() error {
	return refuse(wire.CodeSignerUnknown, "The request is signed with a certificate that this service did not issue. Sign it with the key of your current certificate from this service.")
}

func signerCustomer() error {
	return refuse(wire.CodeSignerCustomer, "The signing certificate belongs to another customer than the request's CustomerId.")
}

func sigRefusal(err error) error {
	switch {
	case errors.Is(err, wire.ErrSigMissing):
		return refuse(wire.CodeSigMissing, "RenewCertificateRequest must be signed: an enveloped ds:Signature as its last child, made with the key of the current certificate.")
	case errors.Is(err, wire.ErrSigAlgorithm):
		return refuse(wire.CodeSigAlgorithm, "The signature does not follow the profile: one Reference with URI=\"\", enveloped-signature and exclusive c14n transforms, RSA-SHA256 and SHA-256.")
	default:
		return refuse(wire.CodeSigInvalid, "The signature does not verify. Sign the RenewCertificateRequest element as a standalone document before wrapping it in the envelope.")
	}
}
