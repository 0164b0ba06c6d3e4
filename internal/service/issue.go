package service

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// checkCSR maps the CA's CSR errors to refusals.
func (s *Service) checkCSR(der []byte) (*x509.CertificateRequest, string, error) {
	csr, err := s.cfg.Profile.CheckCSR(der)
	switch {
	case errors.Is(err, ca.ErrCSRInvalid):
		return nil, "", refuse(wire.CodeCSRInvalid, "CertificateRequest is not a DER PKCS#10 certificate signing request.")
	case errors.Is(err, ca.ErrCSRSignature):
		return nil, "", refuse(wire.CodeCSRSignature, "The signature of the certificate signing request does not verify; sign it with the new private key.")
	case errors.Is(err, ca.ErrKeyNotAllowed):
		return nil, "", refuse(wire.CodeKeyNotAllowed, "The key is not allowed: use an RSA key of %d to %d bits.", s.cfg.Profile.MinRSABits, s.cfg.Profile.MaxRSABits)
	case err != nil:
		return nil, "", err
	}
	fp, err := ca.KeyFingerprint(csr.PublicKey)
	if err != nil {
		return nil, "", refuse(wire.CodeCSRInvalid, "The public key of the certificate signing request cannot be read.")
	}
	return csr, fp, nil
}

// keyUnused refuses a key this service has certified before.
func keyUnused(ctx context.Context, tx *store.Tx, fp string) error {
	_, err := tx.CertificateByKey(ctx, fp)
	if err == nil {
		return refuse(wire.CodeKeyReused, "This public key has been certified before. Generate a new key pair for every certificate.")
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// issue signs a certificate for an organisation and records it in tx with a
// fresh RetrievalId. The certificate leaves the service only after tx
// commits.
func (s *Service) issue(ctx context.Context, tx *store.Tx, org store.Org, csr *x509.CertificateRequest, fp string, now time.Time, validity time.Duration, c store.Certificate) (store.Certificate, error) {
	var notAfter time.Time
	if validity > 0 {
		notAfter = now.Add(validity)
	}
	cert, err := s.ca.IssueDER(s.rand, s.cfg.Profile, csr.PublicKey, ca.Subject{CustomerID: org.CustomerID, Name: org.Name, Channel: c.Purpose}, now, notAfter)
	if err != nil {
		return store.Certificate{}, err
	}
	rid, err := randomHex(s.rand, 16)
	if err != nil {
		return store.Certificate{}, err
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
	if err := tx.InsertCertificate(ctx, c); err != nil {
		if errors.Is(err, store.ErrExists) {
			return store.Certificate{}, fmt.Errorf("service: record certificate: %w", err)
		}
		return store.Certificate{}, err
	}
	return c, nil
}

// SerialHex is the store's key of a certificate: its serial, lower-case hex.
func SerialHex(c *x509.Certificate) string { return serialHex(c.SerialNumber) }

func serialHex(n *big.Int) string { return fmt.Sprintf("%x", n) }
