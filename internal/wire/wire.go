// Package wire is the codec of the certificate service's SOAP interface as
// docs/protocol.md describes it: the six messages, the SOAP 1.1
// envelope and faults, the hostile-input limits of the parser, and the
// enveloped XML-DSig profile used for RenewCertificateRequest and for every
// response. It decides nothing: which signer to trust, which customer may do
// what, belongs to the callers (internal/service on the server, client on the
// organisation's side).
//
// Both sides sign and verify the operation element as a standalone document,
// never in place inside the envelope: Sign returns the bytes to splice into
// Envelope, and Detach makes the standalone copy a verifier needs.
package wire

import "errors"

// Namespace is the target namespace of the service's schema. Only the six
// operation elements are qualified; their children are unqualified.
const Namespace = "http://certificates.vero.fi/2017/10/certificateservices"

// SOAPNamespace is the SOAP 1.1 envelope namespace.
const SOAPNamespace = "http://schemas.xmlsoap.org/soap/envelope/"

// DSigNamespace is the XML-DSig namespace.
const DSigNamespace = "http://www.w3.org/2000/09/xmldsig#"

// Environment values.
const (
	EnvTest       = "TEST"
	EnvProduction = "PRODUCTION"
)

// Result status values.
const (
	StatusOK   = "OK"
	StatusFail = "FAIL"
)

// Operation names one of the service's three operations.
type Operation string

// The three operations, named by their SOAPAction values.
const (
	OpSignNew Operation = "signNewCertificate"
	OpRenew   Operation = "renewCertificate"
	OpGet     Operation = "getCertificate"
)

// RequestElement returns the local name of the operation's request element.
func (o Operation) RequestElement() string {
	switch o {
	case OpSignNew:
		return "SignNewCertificateRequest"
	case OpRenew:
		return "RenewCertificateRequest"
	case OpGet:
		return "GetCertificateRequest"
	}
	return ""
}

// ResponseElement returns the local name of the operation's response element.
func (o Operation) ResponseElement() string {
	switch o {
	case OpSignNew:
		return "SignNewCertificateResponse"
	case OpRenew:
		return "RenewCertificateResponse"
	case OpGet:
		return "GetCertificateResponse"
	}
	return ""
}

// OperationOf returns the operation whose request element has this local
// name, or false.
func OperationOf(requestElement string) (Operation, bool) {
	for _, o := range []Operation{OpSignNew, OpRenew, OpGet} {
		if o.RequestElement() == requestElement {
			return o, true
		}
	}
	return "", false
}

// SignNewCertificateRequest enrols with one-time transfer credentials.
type SignNewCertificateRequest struct {
	Environment        string
	CustomerID         string
	CustomerName       string // optional
	TransferID         string
	TransferPassword   string
	CertificateRequest []byte // DER PKCS#10
}

// RenewCertificateRequest asks for a successor of the signing certificate.
// Its signature is handled by Sign and Verify, not by these fields.
type RenewCertificateRequest struct {
	Environment        string
	CustomerID         string
	CustomerName       string // optional
	CertificateRequest []byte // DER PKCS#10
}

// GetCertificateRequest fetches the certificate behind a RetrievalId.
type GetCertificateRequest struct {
	Environment  string
	CustomerID   string
	CustomerName string // optional
	RetrievalID  string
}

// ErrorInfo is one reason for a FAIL.
type ErrorInfo struct {
	Code    Code
	Message string
}

// Result is the outcome of an operation.
type Result struct {
	Status string // StatusOK or StatusFail
	Errors []ErrorInfo
}

// OK reports whether the result is a success.
func (r Result) OK() bool { return r.Status == StatusOK }

// Response is the answer to any of the three operations: RetrievalID for
// SignNewCertificate and RenewCertificate, Certificate for GetCertificate.
type Response struct {
	Operation   Operation
	RetrievalID string
	Certificate []byte // DER
	Result      Result
}

// Errors returned by the decoder and verifier. They are wrapped with detail;
// compare with errors.Is.
var (
	ErrMalformed      = errors.New("malformed request")
	ErrTooLarge       = errors.New("request body too large")
	ErrUnknownOp      = errors.New("unknown operation")
	ErrSchema         = errors.New("schema violation")
	ErrMustUnderstand = errors.New("header entry must be understood")
	ErrSigMissing     = errors.New("signature missing")
	ErrSigAlgorithm   = errors.New("signature algorithm or profile not allowed")
	ErrSigInvalid     = errors.New("signature invalid")
	ErrNotSOAPFault   = errors.New("not a SOAP fault")
	ErrResponseFormat = errors.New("malformed response")
)
