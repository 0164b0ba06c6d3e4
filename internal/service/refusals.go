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

// fixed returns the constructor of a refusal whose message takes no value:
// each call makes a new *Error.
func fixed(code wire.Code, message string) func() *Error {
	return func() *Error { return &Error{Code: code, Message: message} }
}

// Unavailable is the answer when the service itself failed (the store, the
// CA): INTERNAL, and the caller may try again later. It is also the answer
// to any error that is not an *Error.
func Unavailable() *Error {
	return refuse(wire.CodeInternal, "The service could not complete the request. Try again later.")
}

// The refusals whose message takes no value, by operation; those that
// take values are the functions below.
var (
	// Requests in general.
	// customerInvalid: CustomerId is no business ID, by form or check digit.
	customerInvalid = fixed(wire.CodeCustomerInvalid, "CustomerId is not a valid business ID (1234567-8 with a correct check digit).")

	// SignNewCertificate: the order and its transfer credentials.
	// unknownCustomer: CustomerId is a business ID, but of no organisation
	// of this service.
	unknownCustomer = fixed(wire.CodeUnknownCustomer, "The CustomerId is not an organisation of this certificate service. Check it, or order a certificate in the e-service first.")
	// transferInvalid: no open order of this customer has this TransferId
	// and TransferPassword. It is the one answer for an unknown TransferId, a
	// wrong password and another customer's order, so that it tells nothing.
	transferInvalid = fixed(wire.CodeTransferInvalid, "The TransferId or TransferPassword is wrong. Check the credentials from the e-service delivery.")
	// orderCancelled: the right credentials of an order cancelled in the
	// e-service, or whose credentials were sent anew.
	orderCancelled = fixed(wire.CodeOrderCancelled, "This order was cancelled in the e-service, or its credentials were sent anew; these transfer credentials no longer work. Use the latest credentials, or order a new certificate in the e-service.")
	// transferUsed: the order already gave a certificate, for another key (the
	// same key gets its RetrievalId again).
	transferUsed = fixed(wire.CodeTransferUsed, "These transfer credentials have already been used. Order a new certificate in the e-service.")

	// The certificate signing request and its key.
	// csrWeakHash: the CSR is signed with SHA-1 or weaker.
	csrWeakHash = fixed(wire.CodeCSRWeakHash, "The certificate signing request is signed with SHA-1 or a weaker algorithm. Sign it with SHA256withRSA.")
	// csrSignature: the CSR's signature does not verify with its own key,
	// so it proves no possession of the key.
	csrSignature = fixed(wire.CodeCSRSignature, "The signature of the certificate signing request does not verify; sign it with the new private key.")
	// keyExponent: an RSA key whose public exponent is not 65537.
	keyExponent = fixed(wire.CodeKeyExponent, "The RSA public exponent must be 65537. Generate a new key pair with the standard exponent.")
	// keySmallPrime: an RSA modulus with a prime factor below 2^20.
	keySmallPrime = fixed(wire.CodeKeySmallPrime, "The RSA modulus has a small prime factor, so anyone can factor it. Generate a new key pair with a sound key generator.")
	// keyIsCA: the CSR's key is one of the service's own: a CA's or the
	// response signer's.
	keyIsCA = fixed(wire.CodeKeyIsCA, "The key is one of this service's own CA or signing keys. Generate a new key pair of your own.")
	// keyReused: this service has certified the CSR's key before; every
	// certificate needs a new one.
	keyReused = fixed(wire.CodeKeyReused, "This public key has been certified before. Generate a new key pair for every certificate.")

	// RenewCertificate: the request's signature and its signer.
	// signerUnknown: the renewal is signed with a certificate that is not,
	// byte for byte, one this service issued in its environment.
	signerUnknown = fixed(wire.CodeSignerUnknown, "The request is signed with a certificate that this service did not issue. Sign it with the key of your current certificate from this service.")
	// signerRevoked: the signing certificate has been revoked.
	signerRevoked = fixed(wire.CodeSignerRevoked, "The signing certificate has been revoked and cannot be renewed. Order a new certificate in the e-service.")
	// signerCustomer: the signing certificate was issued to another customer
	// than the request's CustomerId.
	signerCustomer = fixed(wire.CodeSignerCustomer, "The signing certificate belongs to another customer than the request's CustomerId.")
	// alreadyRenewed: the signing certificate's successor has been retrieved,
	// so it cannot be replaced.
	alreadyRenewed = fixed(wire.CodeAlreadyRenewed, "This certificate has already been renewed and its successor retrieved. Use the successor.")

	// GetCertificate.
	// retrievalUnknown: no certificate of this customer and environment
	// under this RetrievalId within the retention time. The one answer for
	// unknown, foreign and expired ids.
	retrievalUnknown = fixed(wire.CodeRetrievalUnknown, "No certificate is waiting under this RetrievalId for this customer. Check the RetrievalId, or enrol again.")
	// superseded: a later renewal request of the same predecessor replaced
	// this certificate before it was retrieved.
	superseded = fixed(wire.CodeSuperseded, "This certificate was replaced by a later renewal request; retrieve the certificate of that request instead.")
	// certRevoked: the certificate was revoked before it was retrieved, or
	// for key compromise.
	certRevoked = fixed(wire.CodeCertRevoked, "This certificate has been revoked. Order a new certificate in the e-service.")
)

// Requests in general.

// envMismatch: the request is for the environment asked, this instance
// serves the one served (each has its own endpoint and CA).
func envMismatch(served, asked string) *Error {
	return refuse(wire.CodeEnvironment, "This service is the %s environment; the request is for %s. Use the endpoint of that environment.", served, asked)
}

// SignNewCertificate: the order and its transfer credentials.
// transferLocked: justNow tells that this request's wrong password locked
// the order, rather than one before it.
func transferLocked(justNow bool) *Error {
	if justNow {
		return refuse(wire.CodeTransferLocked, "These transfer credentials are now locked after too many wrong passwords. Order a new certificate in the e-service.")
	}
	return refuse(wire.CodeTransferLocked, "These transfer credentials are locked after too many wrong passwords. Order a new certificate in the e-service.")
}

// transferExpired: the credentials were valid until at.
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

// keyNotAllowed: sizes are the key sizes the profile allows, as text.
func keyNotAllowed(sizes string) *Error {
	return refuse(wire.CodeKeyNotAllowed, "The key is not allowed: this service certifies only RSA keys of %s bits.", sizes)
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

// signerExpired: the signing certificate is outside its validity, which
// ends at notAfter.
func signerExpired(notAfter time.Time) *Error {
	return refuse(wire.CodeSignerExpired, "The signing certificate expired on %s; an expired certificate cannot be renewed. Order a new certificate in the e-service.", notAfter.UTC().Format("2006-01-02"))
}

// windowNotOpen: the window is days long and opens at opens.
func windowNotOpen(days int, opens time.Time) *Error {
	return refuse(wire.CodeWindowNotOpen, "The certificate can be renewed at the earliest %d days before it expires, from %s.", days, opens.UTC().Format("2006-01-02 15:04 MST"))
}

// GetCertificate.
// notReady: the certificate is ready at ready, wait from now.
func notReady(wait time.Duration, ready time.Time) *Error {
	return refuse(wire.CodeNotReady, "The certificate is not ready yet. Try again in %d seconds, at %s, with the same RetrievalId.", int(wait/time.Second), ready.UTC().Format(time.RFC3339))
}
