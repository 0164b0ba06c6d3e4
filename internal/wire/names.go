package wire

import (
	"encoding/xml"
	"errors"
	"fmt"

	"github.com/beevik/etree"
)

// Errors about a request name only what this service's schema and the
// SOAP 1.1 and XML-DSig vocabularies define. Anything else in a request
// (text, values, element and attribute names, namespace URIs, processing
// instruction targets) is never quoted: a refusal or fault goes back to the
// caller and into the server's log, and a request may hold a password typed
// into the wrong element, or text chosen to be echoed to someone else.

// vocabulary are the element names an error may quote.
var vocabulary = map[string]bool{}

func init() {
	for _, n := range []string{
		// SOAP 1.1
		"Envelope", "Header", "Body", "Fault",
		// the service's messages
		"Environment", "CustomerId", "CustomerName", "TransferId", "TransferPassword",
		"CertificateRequest", "RetrievalId", "Result", "Status", "ErrorInfo", "ErrorCode",
		"ErrorMessage", "Certificate",
		// XML-DSig
		"Signature", "SignedInfo", "CanonicalizationMethod", "SignatureMethod", "Reference",
		"Transforms", "Transform", "DigestMethod", "DigestValue", "SignatureValue", "KeyInfo",
		"X509Data", "X509Certificate", "InclusiveNamespaces",
	} {
		vocabulary[n] = true
	}
	for _, op := range []Operation{OpSignNew, OpRenew, OpGet} {
		vocabulary[op.RequestElement()] = true
		vocabulary[op.ResponseElement()] = true
	}
}

// nameOf names el for an error message: its name if the vocabulary has
// it, otherwise a description that quotes nothing of the request.
func nameOf(el *etree.Element) string {
	if vocabulary[el.Tag] {
		return el.Tag
	}
	return "an element outside the schema"
}

// errCharset refuses a declared encoding other than UTF-8 (without naming
// it).
var errCharset = errors.New("an encoding other than UTF-8 is declared")

// syntaxError describes a parse error without the request text that
// encoding/xml quotes (names of mismatched tags, entities, charsets).
func syntaxError(err error) string {
	var se *xml.SyntaxError
	switch {
	case errors.Is(err, errCharset):
		return errCharset.Error()
	case errors.As(err, &se):
		return fmt.Sprintf("not well-formed XML (line %d)", se.Line)
	}
	return "not well-formed XML"
}
