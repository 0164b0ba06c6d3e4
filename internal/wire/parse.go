package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// Limits bound what the parser accepts before it builds a tree.
type Limits struct {
	MaxBytes      int // whole body
	MaxDepth      int // element nesting
	MaxElements   int // elements in the document
	MaxAttributes int // attributes (namespace declarations included) on one element
	MaxTokenBytes int // one text node or attribute value
}

// DefaultLimits fit every valid message with room to spare: the largest
// valid request (a 10 KiB CSR as base64, a signature with a certificate
// chain) is well under 64 KiB and has fewer than 40 elements.
var DefaultLimits = Limits{
	MaxBytes:      256 << 10,
	MaxDepth:      24,
	MaxElements:   512,
	MaxAttributes: 32,
	MaxTokenBytes: 96 << 10,
}

// maxMarkup bounds the markup ('<') in a body before any tree is built:
// every element, end tag, comment, CDATA section and processing instruction
// starts with one, so a body within it cannot make the tree builder
// allocate more than about this many nodes, whatever the input. Valid
// messages use under a hundred.
func (lim Limits) maxMarkup() int { return 2*lim.MaxElements + 64 }

// precheck refuses, before any parsing, a body that is too large, is not
// UTF-8 or holds more markup than the limits allow.
func precheck(body []byte, lim Limits) error {
	if len(body) > lim.MaxBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(body), lim.MaxBytes)
	}
	if !utf8.Valid(body) {
		return fmt.Errorf("%w: body is not valid UTF-8", ErrMalformed)
	}
	if n := bytes.Count(body, []byte{'<'}); n > lim.maxMarkup() {
		return fmt.Errorf("%w: more than %d elements (%d tags)", ErrMalformed, lim.MaxElements, n)
	}
	// Every attribute has its '=': this bounds the attributes any body can
	// make, which hold no '<', as the elements' limits would.
	if n := bytes.Count(body, []byte{'='}); n > lim.maxEquals() {
		return fmt.Errorf("%w: more than %d attributes in all (%d '=')", ErrMalformed, lim.MaxElements*lim.MaxAttributes, n)
	}
	return nil
}

// maxEquals bounds the '=' in a body: the attributes the element limits
// allow, plus room for base64 padding and '=' in values.
func (lim Limits) maxEquals() int { return lim.MaxElements*lim.MaxAttributes + 64 }

// readSettings parse with encoding/xml's strict rules, refuse any declared
// encoding but UTF-8 and stop at the depth limit while the tree is built.
func (lim Limits) readSettings() etree.ReadSettings {
	return etree.ReadSettings{
		MaxDepth: lim.MaxDepth,
		// Kept so that checkTree refuses them: etree would otherwise keep
		// the last of two equal attributes, and a reader that kept the
		// first would see another document.
		PreserveDuplicateAttrs: true,
		CharsetReader: func(charset string, _ io.Reader) (io.Reader, error) {
			return nil, errCharset
		},
	}
}

// checkTree refuses what the tree must not hold: a DOCTYPE or other
// directive (encoding/xml expands no entities, but none belongs in a
// message), processing instructions other than the XML declaration, text
// outside the root, and anything beyond the limits.
func checkTree(doc *etree.Document, lim Limits) error {
	elements, roots := 0, 0
	var walk func(tokens []etree.Token, depth int) error
	walk = func(tokens []etree.Token, depth int) error {
		for _, tok := range tokens {
			switch t := tok.(type) {
			case *etree.Element:
				elements++
				if depth == 0 {
					roots++
				}
				if elements > lim.MaxElements {
					return fmt.Errorf("%w: more than %d elements", ErrMalformed, lim.MaxElements)
				}
				if len(t.Attr) > lim.MaxAttributes {
					return fmt.Errorf("%w: %s has more than %d attributes", ErrMalformed, nameOf(t), lim.MaxAttributes)
				}
				// A prefix must be declared (Namespaces in XML, 5): etree
				// would read an undeclared one as no namespace at all.
				if t.Space != "" && t.NamespaceURI() == "" {
					return fmt.Errorf("%w: %s uses an undeclared namespace prefix", ErrMalformed, nameOf(t))
				}
				for i, a := range t.Attr {
					if len(a.Value) > lim.MaxTokenBytes {
						return fmt.Errorf("%w: an attribute of %s is longer than %d bytes", ErrMalformed, nameOf(t), lim.MaxTokenBytes)
					}
					if a.Space != "" && a.Space != "xmlns" && a.Space != "xml" && a.NamespaceURI() == "" {
						return fmt.Errorf("%w: an attribute of %s uses an undeclared namespace prefix", ErrMalformed, nameOf(t))
					}
					for _, b := range t.Attr[:i] {
						if a.Space == b.Space && a.Key == b.Key {
							return fmt.Errorf("%w: %s has an attribute twice", ErrMalformed, nameOf(t))
						}
					}
				}
				if err := walk(t.Child, depth+1); err != nil {
					return err
				}
			case *etree.CharData:
				if len(t.Data) > lim.MaxTokenBytes {
					return fmt.Errorf("%w: text longer than %d bytes", ErrMalformed, lim.MaxTokenBytes)
				}
				if depth == 0 && strings.TrimSpace(t.Data) != "" {
					return fmt.Errorf("%w: text outside the root element", ErrMalformed)
				}
			case *etree.Directive:
				return fmt.Errorf("%w: DOCTYPE and other directives are not allowed", ErrMalformed)
			case *etree.ProcInst:
				if t.Target != "xml" || depth > 0 {
					return fmt.Errorf("%w: processing instructions are not allowed", ErrMalformed)
				}
			case *etree.Comment:
				if len(t.Data) > lim.MaxTokenBytes {
					return fmt.Errorf("%w: comment longer than %d bytes", ErrMalformed, lim.MaxTokenBytes)
				}
			}
		}
		return nil
	}
	if err := walk(doc.Child, 0); err != nil {
		return err
	}
	if roots != 1 {
		return fmt.Errorf("%w: expected one root element, found %d", ErrMalformed, roots)
	}
	return nil
}

// ParseEnvelope checks body against the limits, parses it as a SOAP 1.1
// envelope and returns the single element inside soap:Body. The header, if
// present, is ignored.
func ParseEnvelope(body []byte, lim Limits) (*etree.Element, error) {
	// XML allows UTF-8 text to begin with a byte order mark (XML 1.0,
	// 4.3.3), and .NET writes one by default; etree would keep it as text
	// before the root.
	body = bytes.TrimPrefix(body, []byte("\uFEFF"))
	if err := precheck(body, lim); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.ReadSettings = lim.readSettings()
	if err := doc.ReadFromBytes(body); err != nil {
		if errors.Is(err, etree.ErrMaxDepth) {
			return nil, fmt.Errorf("%w: elements nested deeper than %d", ErrMalformed, lim.MaxDepth)
		}
		return nil, fmt.Errorf("%w: %s", ErrMalformed, syntaxError(err))
	}
	if err := checkTree(doc, lim); err != nil {
		return nil, err
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != SOAPNamespace {
		return nil, fmt.Errorf("%w: root element is not a SOAP 1.1 Envelope", ErrMalformed)
	}
	kids, err := elementChildren(env, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(kids) > 0 && kids[0].Tag == "Header" && kids[0].NamespaceURI() == SOAPNamespace {
		if err := checkHeader(kids[0]); err != nil {
			return nil, err
		}
		kids = kids[1:]
	}
	if len(kids) != 1 || kids[0].Tag != "Body" || kids[0].NamespaceURI() != SOAPNamespace {
		return nil, fmt.Errorf("%w: Envelope must hold an optional Header and one Body", ErrMalformed)
	}
	inner, err := elementChildren(kids[0], false)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(inner) != 1 {
		return nil, fmt.Errorf("%w: Body must hold exactly one element, found %d", ErrMalformed, len(inner))
	}
	return inner[0], nil
}

// actorNext is the SOAP 1.1 actor URI meaning "the next recipient".
const actorNext = "http://schemas.xmlsoap.org/soap/actor/next"

// checkHeader refuses a header entry meant for this service (no actor, or
// the "next" actor) with mustUnderstand="1": the service processes no
// header entries, and SOAP 1.1 (4.2.3) requires a MustUnderstand fault
// rather than silently ignoring one. Other entries are ignored.
func checkHeader(h *etree.Element) error {
	for _, e := range h.ChildElements() {
		mu, actor := "", ""
		for _, a := range e.Attr {
			if a.Space == "" || a.NamespaceURI() != SOAPNamespace {
				continue
			}
			switch a.Key {
			case "mustUnderstand":
				mu = strings.TrimSpace(a.Value)
			case "actor":
				actor = strings.TrimSpace(a.Value)
			}
		}
		if mu == "1" && (actor == "" || actor == actorNext) {
			return fmt.Errorf("%w: a header entry has mustUnderstand=\"1\"; this service processes no SOAP header entries", ErrMustUnderstand)
		}
	}
	return nil
}

// elementChildren returns el's child elements, refusing non-whitespace text
// and, when strict, comments and processing instructions between them.
func elementChildren(el *etree.Element, strict bool) ([]*etree.Element, error) {
	var out []*etree.Element
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Element:
			out = append(out, t)
		case *etree.CharData:
			if strings.TrimSpace(t.Data) != "" {
				return nil, fmt.Errorf("text is not allowed inside %s", nameOf(el))
			}
		case *etree.Comment:
			if strict {
				return nil, fmt.Errorf("comments are not allowed inside %s", nameOf(el))
			}
		default:
			if strict {
				return nil, fmt.Errorf("processing instructions are not allowed inside %s", nameOf(el))
			}
		}
	}
	return out, nil
}

// textOf returns the character content of a simple-typed element, refusing
// child elements, comments (which canonicalisation would drop, letting a
// signed value differ from the used one) and processing instructions.
func textOf(el *etree.Element) (string, error) {
	var b strings.Builder
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.CharData:
			b.WriteString(t.Data)
		case *etree.Element:
			return "", fmt.Errorf("%w: %s must hold text, not %s", ErrSchema, nameOf(el), nameOf(t))
		case *etree.Comment:
			return "", fmt.Errorf("%w: comments are not allowed inside %s", ErrSchema, nameOf(el))
		default:
			return "", fmt.Errorf("%w: processing instructions are not allowed inside %s", ErrSchema, nameOf(el))
		}
	}
	if len(el.Attr) > 0 {
		for _, a := range el.Attr {
			if a.Space != "xmlns" && a.Key != "xmlns" {
				return "", fmt.Errorf("%w: %s must have no attributes", ErrSchema, nameOf(el))
			}
		}
	}
	return b.String(), nil
}

// kind is the simple type of a field.
type kind int

const (
	kNormalized kind = iota // xs:normalizedString with max length
	kEnvironment
	kStatus
	kBase64
)

type field struct {
	name     string
	kind     kind
	max      int // characters for strings, decoded octets for base64
	optional bool
	set      func(s string, b []byte)
}

// decodeSequence checks el's children against fields, in order, each
// unqualified, at most once, present unless optional, and calls set with the
// value. A trailing ds:Signature is allowed (and required) when sig is true.
func decodeSequence(el *etree.Element, fields []field, sig bool) error {
	if err := checkAttrs(el); err != nil {
		return err
	}
	kids, err := elementChildren(el, true)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSchema, err)
	}
	if sig {
		n := len(kids)
		if n == 0 || !isDSig(kids[n-1], "Signature") {
			return fmt.Errorf("%w: ds:Signature must be the last child of %s", ErrSigMissing, nameOf(el))
		}
		kids = kids[:n-1]
	}
	i := 0
	for _, f := range fields {
		if i < len(kids) && kids[i].Tag == f.name {
			c := kids[i]
			if ns := c.NamespaceURI(); ns != "" {
				return fmt.Errorf("%w: %s must be unqualified, has a namespace", ErrSchema, f.name)
			}
			if err := decodeValue(c, f); err != nil {
				return err
			}
			i++
			continue
		}
		if !f.optional {
			if i < len(kids) {
				return fmt.Errorf("%w: expected %s in %s, found %s", ErrSchema, f.name, nameOf(el), nameOf(kids[i]))
			}
			return fmt.Errorf("%w: %s is missing from %s", ErrSchema, f.name, nameOf(el))
		}
	}
	if i < len(kids) {
		return fmt.Errorf("%w: unexpected %s in %s", ErrSchema, nameOf(kids[i]), nameOf(el))
	}
	return nil
}

func checkAttrs(el *etree.Element) error {
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		return fmt.Errorf("%w: %s must have no attributes but namespace declarations", ErrSchema, nameOf(el))
	}
	return nil
}

func decodeValue(el *etree.Element, f field) error {
	s, err := textOf(el)
	if err != nil {
		return err
	}
	switch f.kind {
	case kNormalized:
		// xs:normalizedString: tab, CR and LF read as spaces.
		s = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, s)
		n := utf8.RuneCountInString(s)
		if n < 1 || n > f.max {
			return fmt.Errorf("%w: %s must be 1 to %d characters, is %d", ErrSchema, f.name, f.max, n)
		}
		f.set(s, nil)
	case kEnvironment:
		if s != EnvTest && s != EnvProduction {
			return fmt.Errorf("%w: %s must be TEST or PRODUCTION", ErrSchema, f.name)
		}
		f.set(s, nil)
	case kStatus:
		if s != StatusOK && s != StatusFail {
			return fmt.Errorf("%w: %s must be OK or FAIL", ErrSchema, f.name)
		}
		f.set(s, nil)
	case kBase64:
		b, err := DecodeBase64(s)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrSchema, f.name, err)
		}
		if len(b) < 1 || len(b) > f.max {
			return fmt.Errorf("%w: %s must be 1 to %d octets, is %d", ErrSchema, f.name, f.max, len(b))
		}
		f.set("", b)
	}
	return nil
}

// DecodeBase64 decodes xs:base64Binary, ignoring the whitespace (line breaks,
// &#13;) that real messages put inside values.
func DecodeBase64(s string) ([]byte, error) {
	if !strings.ContainsAny(s, " \t\n\r") {
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil {
			return nil, errors.New("not valid base64")
		}
		return b, nil
	}
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
	b, err := base64.StdEncoding.Strict().DecodeString(clean)
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	return b, nil
}

func isDSig(el *etree.Element, local string) bool {
	return el.Tag == local && el.NamespaceURI() == DSigNamespace
}

// checkOperation verifies el is the request element of an operation in the
// service namespace and returns the operation.
func checkOperation(el *etree.Element) (Operation, error) {
	op, ok := OperationOf(el.Tag)
	if !ok || el.NamespaceURI() != Namespace {
		return "", fmt.Errorf("%w: the body holds %s", ErrUnknownOp, nameOf(el))
	}
	return op, nil
}

// RequestOperation returns the operation whose request element el is.
func RequestOperation(el *etree.Element) (Operation, error) { return checkOperation(el) }

func commonFields(env, cid, cname *string) []field {
	return []field{
		{name: "Environment", kind: kEnvironment, set: func(s string, _ []byte) { *env = s }},
		{name: "CustomerId", kind: kNormalized, max: 30, set: func(s string, _ []byte) { *cid = s }},
		{name: "CustomerName", kind: kNormalized, max: 100, optional: true, set: func(s string, _ []byte) { *cname = s }},
	}
}

// DecodeSignNew decodes a SignNewCertificateRequest element.
func DecodeSignNew(el *etree.Element) (*SignNewCertificateRequest, error) {
	if op, err := checkOperation(el); err != nil || op != OpSignNew {
		return nil, fmt.Errorf("%w: expected SignNewCertificateRequest", ErrUnknownOp)
	}
	r := &SignNewCertificateRequest{}
	fs := append(commonFields(&r.Environment, &r.CustomerID, &r.CustomerName),
		field{name: "TransferId", kind: kNormalized, max: 32, set: func(s string, _ []byte) { r.TransferID = s }},
		field{name: "TransferPassword", kind: kNormalized, max: 16, set: func(s string, _ []byte) { r.TransferPassword = s }},
		field{name: "CertificateRequest", kind: kBase64, max: 10240, set: func(_ string, b []byte) { r.CertificateRequest = b }},
	)
	if err := decodeSequence(el, fs, false); err != nil {
		return nil, err
	}
	return r, nil
}

// DecodeRenew decodes a RenewCertificateRequest element. When signed is true
// the element must end with its ds:Signature (the element as received);
// when false it must not have one (the verified element that Verify returns).
func DecodeRenew(el *etree.Element, signed bool) (*RenewCertificateRequest, error) {
	if op, err := checkOperation(el); err != nil || op != OpRenew {
		return nil, fmt.Errorf("%w: expected RenewCertificateRequest", ErrUnknownOp)
	}
	r := &RenewCertificateRequest{}
	fs := append(commonFields(&r.Environment, &r.CustomerID, &r.CustomerName),
		field{name: "CertificateRequest", kind: kBase64, max: 10240, set: func(_ string, b []byte) { r.CertificateRequest = b }},
	)
	if err := decodeSequence(el, fs, signed); err != nil {
		return nil, err
	}
	return r, nil
}

// DecodeGet decodes a GetCertificateRequest element.
func DecodeGet(el *etree.Element) (*GetCertificateRequest, error) {
	if op, err := checkOperation(el); err != nil || op != OpGet {
		return nil, fmt.Errorf("%w: expected GetCertificateRequest", ErrUnknownOp)
	}
	r := &GetCertificateRequest{}
	fs := append(commonFields(&r.Environment, &r.CustomerID, &r.CustomerName),
		field{name: "RetrievalId", kind: kNormalized, max: 32, set: func(s string, _ []byte) { r.RetrievalID = s }},
	)
	if err := decodeSequence(el, fs, false); err != nil {
		return nil, err
	}
	return r, nil
}

// DecodeResponse decodes a response element of op. The element must carry
// its ds:Signature as the last child when signed is true; verifying it is the
// caller's business (see Verify).
func DecodeResponse(el *etree.Element, op Operation, signed bool) (*Response, error) {
	if el.Tag != op.ResponseElement() || el.NamespaceURI() != Namespace {
		return nil, fmt.Errorf("%w: expected %s, got {%s}%s", ErrResponseFormat, op.ResponseElement(), el.NamespaceURI(), el.Tag)
	}
	resp := &Response{Operation: op}
	var resultEl *etree.Element
	fs := []field{}
	if op == OpGet {
		fs = append(fs, field{name: "Certificate", kind: kBase64, max: 32768, optional: true, set: func(_ string, b []byte) { resp.Certificate = b }})
	} else {
		fs = append(fs, field{name: "RetrievalId", kind: kNormalized, max: 32, optional: true, set: func(s string, _ []byte) { resp.RetrievalID = s }})
	}
	kids, err := elementChildren(el, true)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrResponseFormat, err)
	}
	// Result is complex; decode the simple fields around it by hand.
	var rest []*etree.Element
	for _, k := range kids {
		if k.Tag == "Result" && k.NamespaceURI() == "" {
			if resultEl != nil {
				return nil, fmt.Errorf("%w: two Result elements", ErrResponseFormat)
			}
			resultEl = k
			continue
		}
		if resultEl != nil && !(signed && isDSig(k, "Signature")) {
			return nil, fmt.Errorf("%w: unexpected %s after Result", ErrResponseFormat, k.FullTag())
		}
		if resultEl == nil {
			rest = append(rest, k)
		}
	}
	if resultEl == nil {
		return nil, fmt.Errorf("%w: Result is missing", ErrResponseFormat)
	}
	if signed && (len(kids) == 0 || !isDSig(kids[len(kids)-1], "Signature")) {
		return nil, fmt.Errorf("%w: response is not signed", ErrSigMissing)
	}
	tmp := etree.NewElement(el.Tag)
	for _, k := range rest {
		tmp.AddChild(k.Copy())
	}
	if err := decodeSequence(tmp, fs, false); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrResponseFormat, err)
	}
	rkids, err := elementChildren(resultEl, true)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrResponseFormat, err)
	}
	if len(rkids) == 0 || rkids[0].Tag != "Status" {
		return nil, fmt.Errorf("%w: Result/Status is missing", ErrResponseFormat)
	}
	st, err := textOf(rkids[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrResponseFormat, err)
	}
	st = strings.TrimSpace(st)
	if st != StatusOK && st != StatusFail {
		return nil, fmt.Errorf("%w: Result/Status %q", ErrResponseFormat, st)
	}
	resp.Result.Status = st
	for _, ei := range rkids[1:] {
		if ei.Tag != "ErrorInfo" {
			return nil, fmt.Errorf("%w: unexpected %s in Result", ErrResponseFormat, ei.Tag)
		}
		var info ErrorInfo
		err := decodeSequence(ei, []field{
			{name: "ErrorCode", kind: kNormalized, max: 16, set: func(s string, _ []byte) { info.Code = Code(strings.TrimSpace(s)) }},
			{name: "ErrorMessage", kind: kNormalized, max: 255, set: func(s string, _ []byte) { info.Message = s }},
		}, false)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrResponseFormat, err)
		}
		resp.Result.Errors = append(resp.Result.Errors, info)
	}
	if st == StatusOK && op == OpGet && resp.Certificate == nil {
		return nil, fmt.Errorf("%w: OK without Certificate", ErrResponseFormat)
	}
	if st == StatusOK && op != OpGet && resp.RetrievalID == "" {
		return nil, fmt.Errorf("%w: OK without RetrievalId", ErrResponseFormat)
	}
	return resp, nil
}
