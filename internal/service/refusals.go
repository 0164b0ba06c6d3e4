package service

import (
	"errors"
	"fmt"
	"time"

	"github.com/irpki/irpki/internal/wire"
)

// The refusals of the SOAP operations: one constructor per catalogue code
// (internal/wire/codes.go, docs/error-codes.md), and nowhere else is an
// *Error built. Each message tells the caller what to do next and never
// contains a secret; certapi answers it unchanged. A new refusal gets its
// code in the catalogue and its constructor here.

// Error is a refusal with its catalogue code and a message that tells the
// caller what to do next. Messages never contain secrets.
type Error struct {
	Code    wire.Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// CodeOf returns the catalogue code of err: its own for an *Error, INTERNAL
// for anything else.
func CodeOf(err error) wire.Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return wire.CodeInternal
}

func refuse(code wire.Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Unavailable is the answer when the service itself failed (the store, the
// CA): INTERNAL, and the caller may try again later. It is also the answer
// to any error that is not an *Error.
func Unavailable() *Error {
	return refuse(wire.CodeInternal, "The service could not complete the request. Try again later.")
}

// Requests in general.

func envMismatch(served, asked string) *Error {
	return refuse(wire.CodeEnvironment, "This service is the %s environment; the request is for %s. Use the endpoint of that environment.", served, asked)
}

func customerInvalid() *Error {
	return refuse(wire.CodeCustomerInvalid, "CustomerId is not a valid business ID (1234567-8 with a correct check digit).")
}

// SignNewCertificate: the order and its transfer credentials.

func unknownCustomer() *Error {
	return refuse(wire.CodeUnknownCustomer, "The CustomerId is not an organisation of this certificate service. Check it, or order a certificate in the e-service first.")
}

func transferInvalid() *Error {
	return refuse(wire.CodeTransferInvalid, "The TransferId or TransferPassword is wrong. Check the credentials from the e-service delivery.")
}

// transferLocked: justNow tells that this request's wrong password locked
// the order, rather than one before it.
func transferLocked(justNow bool) *Error {
	if justNow {
		return refuse(wire.CodeTransferLocked, "These transfer credentials are now locked after too many wrong passwords. Order a new certificate in the e-service.")
	}
	return refuse(wire.CodeTransferLocked, "These transfer credentials are locked after too many wrong passwords. Order a new certificate in the e-service.")
}

func orderCancelled() *Error {
	return refuse(wire.CodeOrderCancelled, "This order was cancelled in the e-service, or its credentials were sent anew; these transfer credentials no longer work. Use the latest credentials, or order a new certificate in the e-service.")
}

func transferUsed() *Error {
	return refuse(wire.CodeTransferUsed, "These transfer credentials have already been used. Order a new certificate in the e-service.")
}

func transferExpired(at time.Time) *Error {
	return refuse(wire.CodeTransferExpired, "These transfer credentials expired on %s. Order a new certificate in the e-service.", at.UTC().Format("2006-01-02"))
}

// The certificate signing request and its key.

// csrInvalid: keyUnreadable tells that the request parsed but its public
// key could not be read.
func csrInvalid(keyUnreadable bool) *Error {
	if keyUnreadable {
		return refuse(wire.CodeCSRInvalid, "The public key of the certificate signing request cannot be read.")
	}
	return refuse(wire.CodeCSRInvalid, "CertificateRequest is not a DER PKCS#10 certificate signing request.")
}

func csrWeakHash() *Error {
	return refuse(wire.CodeCSRWeakHash, "The certificate signing request is signed with SHA-1 or a weaker algorithm. Sign it with SHA256withRSA.")
}

func csrSignature() *Error {
	return refuse(wire.CodeCSRSignature, "The signature of the certificate signing request does not verify; sign it with the new private key.")
}

// keyNotAllowed: sizes are the key sizes the profile allows, as text.
func keyNotAllowed(sizes string) *Error {
	return refuse(wire.CodeKeyNotAllowed, "The key is not allowed: this service certifies only RSA keys of %s bits.", sizes)
}

func keyExponent() *Error {
	return refuse(wire.CodeKeyExponent, "The RSA public exponent must be 65537. Generate a new key pair with the standard exponent.")
}

func keySmallPrime() *Error {
	return refuse(wire.CodeKeySmallPrime, "The RSA modulus has a small prime factor, so anyone can factor it. Generate a new key pair with a sound key generator.")
}

func keyIsCA() *Error {
	return refuse(wire.CodeKeyIsCA, "The key is one of this service's own CA or signing keys. Generate a new key pair of your own.")
}

func keyReused() *Error {
	return refuse(wire.CodeKeyReused, "This public key has been certified before. Generate a new key pair for every certificate.")
}

// RenewCertificate: the request's signature and its signer.

// sigRefusal is the refusal for a signature that wire did not accept: its
// error wraps ErrSignedContent, ErrSigMissing, ErrSigAlgorithm or (any
// other) ErrSigInvalid.
func sigRefusal(err error) *Error {
	switch {
	case errors.Is(err, wire.ErrSignedContent):
		return refuse(wire.CodeSigInvalid, "The signed content is not a valid RenewCertificateRequest.")
	case errors.Is(err, wire.ErrSigMissing):
		return refuse(wire.CodeSigMissing, "RenewCertificateRequest must be signed: an enveloped ds:Signature as its last child, made with the key of the current certificate.")
	case errors.Is(err, wire.ErrSigAlgorithm):
		return refuse(wire.CodeSigAlgorithm, "The signature does not follow the profile: one Reference with URI=\"\", enveloped-signature and exclusive c14n transforms, RSA-SHA256 and SHA-256.")
	default:
		return refuse(wire.CodeSigInvalid, "The signature does not verify. Sign the RenewCertificateRequest element as a standalone document before wrapping it in the envelope.")
	}
}

func signerUnknown() *Error {
	return refuse(wire.CodeSignerUnknown, "The request is signed with a certificate that this service did not issue. Sign it with the key of your current certificate from this service.")
}

func signerExpired(notAfter time.Time) *Error {
	return refuse(wire.CodeSignerExpired, "The signing certificate expired on %s; an expired certificate cannot be renewed. Order a new certificate in the e-service.", notAfter.UTC().Format("2006-01-02"))
}

func signerRevoked() *Error {
	return refuse(wire.CodeSignerRevoked, "The signing certificate has been revoked and cannot be renewed. Order a new certificate in the e-service.")
}

func signerCustomer() *Error {
	return refuse(wire.CodeSignerCustomer, "The signing certificate belongs to another customer than the request's CustomerId.")
}

// windowNotOpen: the window is days long and opens at opens.
func windowNotOpen(days int, opens time.Time) *Error {
	return refuse(wire.CodeWindowNotOpen, "The certificate can be renewed at the earliest %d days before it expires, from %s.", days, opens.UTC().Format("2006-01-02 15:04 MST"))
}

func alreadyRenewed() *Error {
	return refuse(wire.CodeAlreadyRenewed, "This certificate has already been renewed and its successor retrieved. Use the successor.")
}

// GetCertificate.

func retrievalUnknown() *Error {
	return refuse(wire.CodeRetrievalUnknown, "No certificate is waiting under this RetrievalId for this customer. Check the RetrievalId, or enrol again.")
}

func superseded() *Error {
	return refuse(wire.CodeSuperseded, "This certificate was replaced by a later renewal request; retrieve the certificate of that request instead.")
}

func certRevoked() *Error {
	return refuse(wire.CodeCertRevoked, "This certificate has been revoked. Order a new certificate in the e-service.")
}

// notReady: the certificate is ready at ready, wait from now.
func notReady(wait time.Duration, ready time.Time) *Error {
	return refuse(wire.CodeNotReady, "The certificate is not ready yet. Try again in %d seconds, at %s, with the same RetrievalId.", int(wait/time.Second), ready.UTC().Format(time.RFC3339))
}
