package service

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// Renew handles RenewCertificate: r is the request as received, its
// signature parsed but neither trusted nor verified (wire.ParseRenew). The
// signer must be a certificate of this service in the store, of the same
// customer, unexpired, unrevoked and inside its renewal window; the CSR
// must carry a key never certified before. A certificate gets at most one
// successor: an exact replay returns the same RetrievalId; a new request
// may replace a successor that was never retrieved, never one that was.
func (s *Service) Renew(ctx context.Context, r *wire.SignedRenew) (string, error) {
	rid, customer, serial, err := s.renew(ctx, r)
	if err != nil {
		outcome, code := auditOutcome(err)
		claimed := ""
		if customer == "" && r.Claimed != nil {
			claimed = r.Claimed.CustomerID
		}
		s.audit(ctx, refusalEntry("renew", customer, claimed, serial, outcome, code))
	}
	return rid, err
}

// renew returns the RetrievalId, and the customer and serial to file a
// refusal under ("" when the request did not prove them).
func (s *Service) renew(ctx context.Context, r *wire.SignedRenew) (rid, customer, serial string, err error) {
	q, customer, serial, err := s.checkRenew(ctx, r)
	if err != nil {
		return "", customer, serial, err
	}
	return s.issueRenewal(ctx, q)
}

// renewal is a renewal request that passed every check made before the
// transaction: its signature verified with the key of a certificate that
// this service issued (unexpired, in its renewal window), for the customer
// that certificate names, with a CSR the profile accepts.
type renewal struct {
	signer       *x509.Certificate
	customer     string // the signer's customer, the request's CustomerId
	signerSerial string
	csr          *x509.CertificateRequest
	fp           string // the CSR key's fingerprint
	reqHash      string // the signed content's digest: the same for an exact replay
	now          time.Time
}

// checkRenew makes the checks of a renewal request that need no write
// transaction, in the order its refusals take precedence. On a refusal,
// customer and serial are the signer's only when the request proved them.
func (s *Service) checkRenew(ctx context.Context, r *wire.SignedRenew) (q renewal, customer, serial string, err error) {
	cert, err := r.Signer()
	if err != nil {
		return q, "", "", sigRefusal(err)
	}
	// The signer is trusted only as a certificate this service issued: its
	// exact DER must be in the store (checked, with its status and owner,
	// inside the write transaction), which is a stronger proof than its
	// signature by our CA and makes checking that signature redundant.
	// Before that, only what the certificate itself tells sorts requests
	// out early: that it names one of our issuing CAs, that its key is one
	// we may have certified (which bounds the cost of verifying with it: anyone can
	// copy our CA's name into a certificate for a 65536-bit key), and its
	// dates. Its CN is the customer it was issued to.
	if !s.ca.NamesUsAsIssuer(cert) || ca.CheckSignerKey(cert.PublicKey) != nil {
		return q, "", "", s.foreignSigner(r)
	}
	q = renewal{signer: cert, customer: cert.Subject.CommonName, signerSerial: SerialHex(cert), now: s.clock.Now()}
	// Until the store has the signer's exact DER, its customer and serial
	// are only what the request claims: anyone can copy our CA's name and a
	// victim's name and serial into a certificate of their own. A refusal
	// before then is answered with the certificate's own faults (such as
	// its expiry) only if the certificate is ours, and filed under its
	// customer and serial only if the request's signature also verified
	// with its key: the certificate itself is public, sent with every
	// renewal, so holding it proves nothing (found in review).
	early := func(refusal error, verified bool) (renewal, string, string, error) {
		ours, err := s.issuedHere(ctx, cert)
		switch {
		case err != nil:
			s.log.ErrorContext(ctx, "renew: signer lookup failed", "err", err)
			return q, "", "", Unavailable()
		case !ours:
			return q, "", "", s.foreignSigner(r)
		case !verified:
			return q, "", "", refusal
		}
		return q, q.customer, q.signerSerial, refusal
	}
	now := q.now
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return early(signerExpired(cert.NotAfter), false)
	}
	// Every value used from here on comes from the verified request.
	req, err := r.Verify(now)
	switch {
	case errors.Is(err, wire.ErrSignedContent):
		return early(sigRefusal(err), true)
	case err != nil:
		return early(sigRefusal(err), false)
	}
	if err := s.checkVerifiedRenew(&q, r, req); err != nil {
		return early(err, true)
	}
	return q, q.customer, q.signerSerial, nil
}

// checkVerifiedRenew makes the checks of a renewal request whose signature
// verified with the key of q's signer, and completes q with its CSR and
// the digest that identifies an exact replay.
func (s *Service) checkVerifiedRenew(q *renewal, r *wire.SignedRenew, req *wire.VerifiedRenew) error {
	if err := s.checkEnvironment(req.Environment); err != nil {
		return err
	}
	if err := businessid.Validate(req.CustomerID); err != nil {
		return customerInvalid()
	}
	if req.CustomerID != q.customer {
		return signerCustomer()
	}
	if opens := q.signer.NotAfter.Add(-s.cfg.RenewalWindow); q.now.Before(opens) {
		return windowNotOpen(int(s.cfg.RenewalWindow.Hours()/24), opens)
	}
	var err error
	if q.csr, q.fp, err = s.checkCSR(req.CertificateRequest); err != nil {
		return err
	}
	// An exact replay is the same signed content: the verified digest of
	// the canonical request identifies it.
	digest, err := r.Digest()
	if err != nil {
		return sigRefusal(err)
	}
	q.reqHash = hex.EncodeToString(digest)
	return nil
}

// issueRenewal issues the successor of a checked renewal request: decided
// on the committed state, signed with no lock held, and recorded by a
// write transaction that decides again and discards the certificate if it
// was signed for another state (issue.go). It returns the RetrievalId, and
// the customer and serial to file a refusal under.
func (s *Service) issueRenewal(ctx context.Context, q renewal) (rid, customer, serial string, err error) {
	customer, signerSerial := q.customer, q.signerSerial
	const what = "renew"
	for attempt := 1; ; attempt++ {
		// What the request would get on the committed state, decided
		// without the write lock.
		var d renewDecision
		if err := s.db.View(ctx, func(tx *store.Tx) (err error) {
			d, err = s.decideRenew(ctx, tx, q)
			return err
		}); err != nil {
			return "", customer, signerSerial, s.failed(ctx, what, customer, err)
		}
		if d.refusal != nil || d.replay != nil {
			return s.renewAnswer(d, customer, signerSerial)
		}
		pre, err := s.sign(d.org, q.csr, q.fp, q.now, d.validity, d.template(q.reqHash), d.state())
		if err != nil {
			return "", customer, signerSerial, s.failed(ctx, what, customer, err)
		}
		var again bool
		refusal, err := s.update(ctx, what, customer, func(tx *store.Tx) error {
			again = false
			if err := lock(ctx, tx, lockCert(signerSerial), lockKey(q.fp)); err != nil {
				return err
			}
			var err error
			if d, err = s.decideRenew(ctx, tx, q); err != nil {
				return err
			}
			switch {
			case d.refusal != nil:
				return d.refusal // every refusal comes before the first change
			case d.replay != nil:
				return nil
			case !pre.fits(basisOf(d.org, d.validity, d.template(q.reqHash), d.state())):
				again = true // signed for another state: discard
				return nil
			}
			return recordRenewal(ctx, tx, d, pre, q.now)
		})
		switch {
		case err != nil:
			return "", customer, signerSerial, err
		case again && attempt < maxSignAttempts:
			continue
		case again:
			s.log.ErrorContext(ctx, "renew: the predecessor kept changing while its successor was signed", "customer", customer, "serial", signerSerial)
			return "", customer, signerSerial, Unavailable()
		case refusal != nil || d.replay != nil:
			return s.renewAnswer(d, customer, signerSerial)
		}
		s.issued(true)
		s.log.InfoContext(ctx, "certificate renewed", "customer", pre.cert.CustomerID, "serial", pre.cert.Serial, "predecessor", signerSerial, "not_after", pre.cert.NotAfter)
		return pre.cert.RetrievalID, customer, pre.cert.Serial, nil
	}
}

// recordRenewal records in tx the successor pre of d's predecessor,
// superseding the successor never retrieved that it replaces, if any.
func recordRenewal(ctx context.Context, tx *store.Tx, d renewDecision, pre *presigned, now time.Time) error {
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
func (s *Service) decideRenew(ctx context.Context, tx *store.Tx, q renewal) (d renewDecision, err error) {
	// One statement reads what Certificate, Successor, keyUnused and Org
	// would: the decision is the same, in the same order.
	st, err := tx.RenewalState(ctx, q.signerSerial, q.signer.Raw, q.fp)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !s.pinned(st.Cert, st.SameDER)) {
		d.refusal = signerUnknown()
		return d, nil
	}
	if err != nil {
		return d, err
	}
	cur := st.Cert
	d.cur = cur
	if cur.CustomerID != q.customer {
		d.refusal = signerCustomer()
		return d, nil
	}
	if cur.Status == store.CertRevoked {
		d.refusal = signerRevoked()
		return d, nil
	}
	switch succ := st.Successor; {
	case succ != nil && succ.RequestHash == q.reqHash:
		d.replay = succ // exact replay
		return d, nil
	case succ != nil && !succ.RetrievedAt.IsZero():
		d.refusal = alreadyRenewed()
		return d, nil
	case succ != nil:
		d.successor = succ
	}
	if st.KeyCertified {
		d.refusal = keyReused()
		return d, nil
	}
	if st.Org.CustomerID == "" {
		return d, fmt.Errorf("organisation %s: %w", cur.CustomerID, store.ErrNotFound)
	}
	d.org = st.Org
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
	return s.pinned(c, bytes.Equal(c.DER, cert.Raw))
}

// pinned is storedAs for a certificate read without its DER, sameDER
// telling whether the DER stored is the signer's.
func (s *Service) pinned(c store.Certificate, sameDER bool) bool {
	return sameDER && c.Environment == s.cfg.Environment
}

// foreignSigner is the refusal of a request signed with a certificate this
// service did not issue. One meant for the other environment (whose CA is
// another) is told to use that environment's endpoint: its Environment is
// unverified, but the answer is a refusal either way.
func (s *Service) foreignSigner(r *wire.SignedRenew) error {
	if r.Claimed != nil && r.Claimed.Environment != s.cfg.Environment {
		return s.checkEnvironment(r.Claimed.Environment)
	}
	return signerUnknown()
}
