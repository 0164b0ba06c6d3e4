package wire

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/beevik/etree"
)

// ErrSignedContent is the error of a RenewCertificateRequest whose
// signature verified but whose signed content is not a valid request.
var ErrSignedContent = errors.New("signed content is not a valid request")

// SignedRenew is a RenewCertificateRequest as received, as a standalone
// element (Detach): the fields it claims, and its signature parsed (the
// profile checked, the signer's certificate read) but neither trusted nor
// verified. Its reader decides whether to trust the signer's certificate,
// then calls Verify, and acts only on what Verify returns.
type SignedRenew struct {
	// Claimed are the request's fields as received, not verified; nil
	// when the request is not signed.
	Claimed *RenewCertificateRequest
	signed  *Signed
	sigErr  error
	el      *etree.Element
}

// ParseRenew reads the standalone RenewCertificateRequest el. It fails
// only when el is not a RenewCertificateRequest of the schema (a fault);
// a signature that is missing or outside the profile is kept for Signer
// to report, as that is the operation's refusal, not a fault.
func ParseRenew(el *etree.Element) (*SignedRenew, error) {
	claimed, err := DecodeRenew(el, true)
	if err != nil && !errors.Is(err, ErrSigMissing) {
		return nil, err
	}
	r := &SignedRenew{Claimed: claimed, el: el}
	r.signed, r.sigErr = ParseSigned(el)
	return r, nil
}

// Signer returns the certificate the request's KeyInfo names as its signer,
// not yet trusted, or why the signature is missing or outside the profile
// (ErrSigMissing, ErrSigAlgorithm, ErrSigInvalid).
func (r *SignedRenew) Signer() (*x509.Certificate, error) {
	if r.sigErr != nil {
		return nil, r.sigErr
	}
	return r.signed.Cert, nil
}

// VerifiedRenew is a RenewCertificateRequest whose signature verified with
// its signer's certificate: every field comes from the canonical bytes
// that the signature covers.
type VerifiedRenew struct {
	RenewCertificateRequest
	Signer *x509.Certificate
}

// Verify checks the signature with the signer's certificate, which the
// caller has decided to trust, at now, and decodes what it covers. The
// error wraps ErrSigInvalid (or Signer's error) when the signature does
// not verify, ErrSignedContent when what it covers is not a valid
// RenewCertificateRequest. Verify must not run beside another call on r.
func (r *SignedRenew) Verify(now time.Time) (*VerifiedRenew, error) {
	if r.sigErr != nil {
		return nil, r.sigErr
	}
	verified, err := r.signed.Verify(now)
	if err != nil {
		return nil, err
	}
	req, err := DecodeRenew(verified, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignedContent, err)
	}
	return &VerifiedRenew{RenewCertificateRequest: *req, Signer: r.signed.Cert}, nil
}

// Digest is SignedDigest of the request: once Verify has accepted it, the
// digest of the signed content, the same for two requests with the same
// content however they were formatted; before that, a claim.
func (r *SignedRenew) Digest() ([]byte, error) { return SignedDigest(r.el) }
