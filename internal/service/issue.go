package service

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/store"
)

// checkCSR maps the CA's CSR errors to refusals, and refuses a key that is
// one of the service's own.
func (s *Service) checkCSR(der []byte) (*x509.CertificateRequest, string, error) {
	csr, err := s.cfg.Profile.CheckCSR(der)
	switch {
	case errors.Is(err, ca.ErrCSRInvalid):
		return nil, "", csrInvalid(false)
	case errors.Is(err, ca.ErrCSRWeakHash):
		return nil, "", csrWeakHash()
	case errors.Is(err, ca.ErrCSRSignature):
		return nil, "", csrSignature()
	case errors.Is(err, ca.ErrKeyNotAllowed):
		return nil, "", keyNotAllowed(s.cfg.Profile.SizesText())
	case errors.Is(err, ca.ErrKeyExponent):
		return nil, "", keyExponent()
	case errors.Is(err, ca.ErrKeySmallPrime):
		return nil, "", keySmallPrime()
	case err != nil:
		return nil, "", err
	}
	fp, err := ca.KeyFingerprint(csr.PublicKey)
	if err != nil {
		return nil, "", csrInvalid(true)
	}
	if s.caKeys[fp] {
		return nil, "", keyIsCA()
	}
	return csr, fp, nil
}

// keyUnused refuses a key this service has certified before.
func keyUnused(ctx context.Context, tx *store.Tx, fp string) error {
	used, err := tx.KeyCertified(ctx, fp)
	switch {
	case err != nil:
		return err
	case used:
		return keyReused()
	}
	return nil
}

// Issuance is split around the write transaction, so that the store's
// write lock is held only for SQL and the commit (docs/rules.md,
// "Racing requests"). A request first reads the state it depends on (order,
// organisation, predecessor and its successor) in a read transaction and
// decides; if the decision is to issue, the certificate is built and signed
// with no lock held (the CA's RSA signature and x509.CreateCertificate's
// check of it are most of a request's CPU). The write transaction then
// decides again on the state as it is now, and records the signed
// certificate only if that decision is the same one on the same basis;
// otherwise the certificate is discarded unseen (a wasted signature, never
// a wrong answer) and the request starts over. The certificate leaves the
// service only after the transaction that recorded it has committed.

// maxSignAttempts bounds how often a request starts over because the state
// it signed for changed before its write transaction.
const maxSignAttempts = 4

// presigned is a certificate signed outside the write transaction, with the
// basis it was signed for: everything that went into it and the state of
// the rule that allowed it.
type presigned struct {
	cert  store.Certificate
	basis string
}

// fits tells whether p was signed on basis; a nil p fits nothing.
func (p *presigned) fits(basis string) bool { return p != nil && p.basis == basis }

// basisOf describes what a certificate for org, validity and template c is
// made of, with state: the rule's state it was decided on.
func basisOf(org store.Org, validity time.Duration, c store.Certificate, state string) string {
	return strings.Join([]string{org.CustomerID, org.Name, validity.String(), c.OrderID, c.Predecessor, c.RequestHash,
		c.ContactName, c.ContactEmail, c.ContactLanguage, c.Purpose, c.Description, state}, "\x00")
}

// sign builds and signs a certificate for an organisation, with a fresh
// RetrievalId, outside any transaction; record stores it.
func (s *Service) sign(org store.Org, csr *x509.CertificateRequest, fp string, now time.Time, validity time.Duration, c store.Certificate, state string) (*presigned, error) {
	basis := basisOf(org, validity, c, state)
	var notAfter time.Time
	if validity > 0 {
		notAfter = now.Add(validity)
	}
	cert, err := s.ca.IssueDER(s.rand, s.cfg.Profile, csr.PublicKey, ca.Subject{CustomerID: org.CustomerID, Name: org.Name, Channel: c.Purpose}, now, notAfter)
	if err != nil {
		return nil, err
	}
	rid, err := randomHex(s.rand, 16)
	if err != nil {
		return nil, err
	}
	c.Serial = serialHex(cert.Serial)
	c.CustomerID = org.CustomerID
	c.Environment = s.cfg.Environment
	c.NotBefore = cert.NotBefore
	c.NotAfter = cert.NotAfter
	c.DER = cert.DER
	c.KeyFingerprint = fp
	c.Status = store.CertValid
	c.RetrievalID = rid
	c.CreatedAt = now
	if s.signed != nil {
		s.signed(c.Serial)
	}
	return &presigned{cert: c, basis: basis}, nil
}

// record stores a certificate signed by sign in tx.
func record(ctx context.Context, tx *store.Tx, p *presigned) error {
	if err := tx.InsertCertificate(ctx, p.cert); err != nil {
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("service: record certificate: %w", err)
		}
		return err
	}
	return nil
}

// SerialHex is the store's key of a certificate: its serial, lower-case hex
// without leading zeros (serial.Key). People see it at full width
// (serial.Text, serial.Pad).
func SerialHex(c *x509.Certificate) string { return serialHex(c.SerialNumber) }

func serialHex(n *big.Int) string { return fmt.Sprintf("%x", n) }
