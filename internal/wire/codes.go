package wire

// Code is an ErrorCode of the certificate service's error catalogue. The real
// service's codes are not public; these are irpki's, documented in
// docs/error-codes.md, one per distinct cause, each at most 16 characters.
type Code string

// Codes answered as SOAP Faults: the request could not be read as a request.
const (
	CodeMalformed      Code = "XML_MALFORMED"   // not well-formed XML, not a SOAP 1.1 envelope, a DTD, limits exceeded, invalid UTF-8
	CodeTooLarge       Code = "BODY_TOO_LARGE"  // body over the size limit (HTTP 413)
	CodeContentType    Code = "CONTENT_TYPE"    // not text/xml (HTTP 415)
	CodeUnknownOp      Code = "UNKNOWN_OP"      // the body element is no operation of this service
	CodeActionMismatch Code = "ACTION_MISMATCH" // SOAPAction header names another operation than the body
	CodeSchema         Code = "SCHEMA_INVALID"  // element order, cardinality, length, enumeration or base64 wrong
	CodeMustUnderstand Code = "MUST_UNDERSTAND" // a SOAP header entry with mustUnderstand="1" that this service does not process
	CodeBusy           Code = "SERVICE_BUSY"    // too many requests being received at once (HTTP 503); try again shortly
)

// Codes answered inside a signed response with Result FAIL: the request was
// understood and refused.
const (
	CodeEnvironment      Code = "ENV_MISMATCH"     // request for the other environment
	CodeCustomerInvalid  Code = "CUSTOMER_INVALID" // CustomerId is not a valid business ID
	CodeUnknownCustomer  Code = "UNKNOWN_CUSTOMER" // no such organisation
	CodeTransferInvalid  Code = "TRANSFER_INVALID" // TransferId/TransferPassword wrong or not this customer's
	CodeTransferExpired  Code = "TRANSFER_EXPIRED" // transfer credentials older than their validity
	CodeTransferUsed     Code = "TRANSFER_USED"    // transfer credentials already used
	CodeTransferLocked   Code = "TRANSFER_LOCKED"  // too many wrong passwords; the order is locked
	CodeOrderCancelled   Code = "ORDER_CANCELLED"  // the order was cancelled (or its credentials resent) in the e-service
	CodeCSRInvalid       Code = "CSR_INVALID"      // not a DER PKCS#10 request
	CodeCSRSignature     Code = "CSR_SIGNATURE"    // proof of possession failed
	CodeKeyNotAllowed    Code = "KEY_NOT_ALLOWED"  // key type or size outside the profile
	CodeKeyReused        Code = "KEY_REUSED"       // key already certified by this service
	CodeCSRWeakHash      Code = "CSR_WEAK_HASH"    // CSR signed with SHA-1 or weaker
	CodeKeyExponent      Code = "KEY_EXPONENT"     // RSA public exponent other than 65537
	CodeKeySmallPrime    Code = "KEY_SMALL_PRIME"  // RSA modulus with a small prime factor
	CodeKeyIsCA          Code = "KEY_IS_CA"        // the key is one of the service's own CA or signing keys
	CodeSigMissing       Code = "SIG_MISSING"      // RenewCertificateRequest without ds:Signature
	CodeSigAlgorithm     Code = "SIG_ALGORITHM"    // algorithm, transform or reference outside the profile
	CodeSigInvalid       Code = "SIG_INVALID"      // signature structure or value does not verify
	CodeSignerUnknown    Code = "SIGNER_UNKNOWN"   // signer certificate not issued by this service
	CodeSignerExpired    Code = "SIGNER_EXPIRED"   // signer certificate expired or not yet valid
	CodeSignerRevoked    Code = "SIGNER_REVOKED"   // signer certificate revoked
	CodeSignerCustomer   Code = "SIGNER_CUSTOMER"  // signer certificate belongs to another customer
	CodeWindowNotOpen    Code = "WINDOW_NOT_OPEN"  // renewal window not open yet
	CodeAlreadyRenewed   Code = "ALREADY_RENEWED"  // a successor was already issued and retrieved
	CodeRetrievalUnknown Code = "RETRIEVAL_ID"     // unknown, foreign or expired RetrievalId
	CodeSuperseded       Code = "SUPERSEDED"       // RetrievalId replaced by a later renewal request
	CodeCertRevoked      Code = "CERT_REVOKED"     // certificate revoked before it was retrieved
	CodeNotReady         Code = "NOT_READY"        // certificate not issued yet (serve --issue-delay); try again later
	CodeInternal         Code = "INTERNAL"         // the service failed; try again later
)

// FaultCodes lists the codes answered as SOAP Faults.
var FaultCodes = []Code{CodeMalformed, CodeTooLarge, CodeContentType, CodeUnknownOp, CodeActionMismatch, CodeSchema, CodeMustUnderstand, CodeBusy}

// FailCodes lists the codes answered with Result FAIL.
var FailCodes = []Code{
	CodeEnvironment, CodeCustomerInvalid, CodeUnknownCustomer, CodeTransferInvalid,
	CodeTransferExpired, CodeTransferUsed, CodeTransferLocked, CodeOrderCancelled, CodeCSRInvalid,
	CodeCSRSignature, CodeKeyNotAllowed, CodeKeyReused, CodeCSRWeakHash, CodeKeyExponent,
	CodeKeySmallPrime, CodeKeyIsCA, CodeSigMissing, CodeSigAlgorithm,
	CodeSigInvalid, CodeSignerUnknown, CodeSignerExpired, CodeSignerRevoked,
	CodeSignerCustomer, CodeWindowNotOpen, CodeAlreadyRenewed, CodeRetrievalUnknown,
	CodeSuperseded, CodeCertRevoked, CodeNotReady, CodeInternal,
}
