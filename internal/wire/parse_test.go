package wire_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/irpki/irpki/internal/wire"
)

const getInner = `<ser:GetCertificateRequest><Environment>TEST</Environment><CustomerId>1234567-1</CustomerId><RetrievalId>abc</RetrievalId></ser:GetCertificateRequest>`

func TestParseEnvelopeLimits(t *testing.T) {
	lim := wire.DefaultLimits
	nested := func(n int) []byte {
		return envelope(strings.Repeat("<a>", n) + strings.Repeat("</a>", n))
	}
	many := func(n int) []byte {
		return envelope("<ser:GetCertificateRequest>" + strings.Repeat("<x/>", n) + "</ser:GetCertificateRequest>")
	}
	attrs := func(n int) []byte {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, ` a%d="v"`, i)
		}
		return envelope("<ser:GetCertificateRequest" + b.String() + "/>")
	}
	for _, tc := range []struct {
		name string
		body []byte
		want error
	}{
		{"DOCTYPE", append([]byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>`), envelope(getInner)...), wire.ErrMalformed},
		{"DOCTYPE external", append([]byte(`<!DOCTYPE x SYSTEM "file:///etc/passwd">`), envelope(getInner)...), wire.ErrMalformed},
		{"entity reference", envelope(`<ser:GetCertificateRequest><Environment>&a;</Environment></ser:GetCertificateRequest>`), wire.ErrMalformed},
		{"too deep", nested(lim.MaxDepth), wire.ErrMalformed}, // plus Envelope and Body
		{"too many elements", many(lim.MaxElements), wire.ErrMalformed},
		{"too many attributes", attrs(lim.MaxAttributes + 1), wire.ErrMalformed},
		// Refused by counting '<' before any tree is built: comments are
		// not elements, but each would be a node.
		{"too much markup", envelope(strings.Repeat("<!---->", 2*lim.MaxElements+64) + getInner), wire.ErrMalformed},

		{"huge text", envelope("<ser:GetCertificateRequest>" + strings.Repeat("A", lim.MaxTokenBytes+1) + "</ser:GetCertificateRequest>"), wire.ErrMalformed},
		{"huge attribute", envelope(`<ser:GetCertificateRequest a="` + strings.Repeat("A", lim.MaxTokenBytes+1) + `"/>`), wire.ErrMalformed},
		{"huge comment", envelope("<!--" + strings.Repeat("A", lim.MaxTokenBytes+1) + "-->" + getInner), wire.ErrMalformed},
		{"too large", envelope(getInner + "<!--" + strings.Repeat(" ", lim.MaxBytes) + "-->"), wire.ErrTooLarge},
		{"invalid UTF-8", envelope("<ser:GetCertificateRequest><CustomerId>\xff\xfe</CustomerId></ser:GetCertificateRequest>"), wire.ErrMalformed},
		{"ISO-8859-1 declaration", append([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?>`), envelope(getInner)...), wire.ErrMalformed},
		{"UTF-16 declaration", append([]byte(`<?xml version="1.0" encoding="UTF-16"?>`), envelope(getInner)...), wire.ErrMalformed},
		{"processing instruction", envelope(`<?evil x?>` + getInner), wire.ErrMalformed},
		{"not XML", []byte("hello"), wire.ErrMalformed},
		{"empty", nil, wire.ErrMalformed},
		{"unclosed", envelope(getInner)[:100], wire.ErrMalformed},
		{"two roots", append(envelope(getInner), envelope(getInner)...), wire.ErrMalformed},
		{"text after root", append(envelope(getInner), "junk"...), wire.ErrMalformed},
		{"not an envelope", []byte(getInner), wire.ErrMalformed},
		{"SOAP 1.2", []byte(`<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>` + getInner + `</e:Body></e:Envelope>`), wire.ErrMalformed},
		{"empty body", envelope(""), wire.ErrMalformed},
		{"two body elements", envelope(getInner + getInner), wire.ErrMalformed},
		{"text in body", envelope("hi" + getInner), wire.ErrMalformed},
		{"no body", []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/></s:Envelope>`), wire.ErrMalformed},
		{"header after body", []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + getInner + `</s:Body><s:Header/></s:Envelope>`), wire.ErrMalformed},
		{"undeclared prefix", []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x:Get/></s:Body></s:Envelope>`), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			el, err := wire.ParseEnvelope(tc.body, lim)
			if tc.want == nil {
				if err != nil && !errors.Is(err, wire.ErrMalformed) {
					t.Fatalf("ParseEnvelope = %v", err)
				}
				if err == nil {
					if _, err := wire.RequestOperation(el); !errors.Is(err, wire.ErrUnknownOp) {
						t.Fatalf("RequestOperation = %v, want ErrUnknownOp", err)
					}
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseEnvelope = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseEnvelopeAtLimits(t *testing.T) {
	lim := wire.DefaultLimits
	// Exactly at the depth limit: Envelope, Body and MaxDepth-2 nested.
	n := lim.MaxDepth - 2
	body := envelope(strings.Repeat("<a>", n) + strings.Repeat("</a>", n))
	if _, err := wire.ParseEnvelope(body, lim); err != nil {
		t.Errorf("depth at the limit: %v", err)
	}
	for _, ok := range [][]byte{
		append([]byte(`<?xml version="1.0" encoding="UTF-8"?>`), envelope(getInner)...),
		append([]byte(`<?xml version="1.0" encoding="utf-8"?>`+"\n"), envelope(getInner)...),
		[]byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><c:GetCertificateRequest xmlns:c="` + wire.Namespace + `"/></s:Body></s:Envelope>`),
		append(envelope("<!-- a comment in the body -->"+getInner), "\n"...),
	} {
		if _, err := wire.ParseEnvelope(ok, lim); err != nil {
			t.Errorf("ParseEnvelope(%s) = %v", ok, err)
		}
	}
}

func decodeGet(t *testing.T, inner string) (*wire.GetCertificateRequest, error) {
	t.Helper()
	el, err := wire.ParseEnvelope(envelope(inner), wire.DefaultLimits)
	if err != nil {
		t.Fatalf("ParseEnvelope: %v", err)
	}
	return wire.DecodeGet(wire.Detach(el))
}

func signNew(fields string) string {
	return `<ser:SignNewCertificateRequest>` + fields + `</ser:SignNewCertificateRequest>`
}

func TestDecodeSchema(t *testing.T) {
	csr := base64.StdEncoding.EncodeToString([]byte("0123456789"))
	env, cid, tid, tpw, cr := `<Environment>TEST</Environment>`, `<CustomerId>1234567-1</CustomerId>`, `<TransferId>T</TransferId>`, `<TransferPassword>P</TransferPassword>`, `<CertificateRequest>`+csr+`</CertificateRequest>`
	valid := env + cid + tid + tpw + cr
	big := base64.StdEncoding.EncodeToString(make([]byte, 10241))
	for _, tc := range []struct {
		name  string
		inner string
		want  error // nil: accepted
	}{
		{"valid", signNew(valid), nil},
		{"with CustomerName", signNew(env + cid + `<CustomerName>Acme Oy</CustomerName>` + tid + tpw + cr), nil},
		{"order swapped", signNew(cid + env + tid + tpw + cr), wire.ErrSchema},
		{"TransferId after password", signNew(env + cid + tpw + tid + cr), wire.ErrSchema},
		{"missing Environment", signNew(cid + tid + tpw + cr), wire.ErrSchema},
		{"missing CertificateRequest", signNew(env + cid + tid + tpw), wire.ErrSchema},
		{"duplicate CustomerId", signNew(env + cid + cid + tid + tpw + cr), wire.ErrSchema},
		{"duplicate CertificateRequest", signNew(valid + cr), wire.ErrSchema},
		{"unknown element", signNew(valid + `<Extra>x</Extra>`), wire.ErrSchema},
		{"qualified child", signNew(`<ser:Environment>TEST</ser:Environment>` + cid + tid + tpw + cr), wire.ErrSchema},
		{"child in default namespace", `<GetCertificateRequest xmlns="` + wire.Namespace + `"><Environment>TEST</Environment><CustomerId>1234567-1</CustomerId><RetrievalId>a</RetrievalId></GetCertificateRequest>`, wire.ErrSchema},
		{"empty CustomerName", signNew(env + cid + `<CustomerName></CustomerName>` + tid + tpw + cr), wire.ErrSchema},
		{"CustomerId 31 characters", signNew(env + `<CustomerId>` + repeat("1", 31) + `</CustomerId>` + tid + tpw + cr), wire.ErrSchema},
		{"CustomerId 30 characters", signNew(env + `<CustomerId>` + repeat("1", 30) + `</CustomerId>` + tid + tpw + cr), nil},
		{"CustomerName 100 runes", signNew(env + cid + `<CustomerName>` + repeat("ä", 100) + `</CustomerName>` + tid + tpw + cr), nil},
		{"CustomerName 101 runes", signNew(env + cid + `<CustomerName>` + repeat("ä", 101) + `</CustomerName>` + tid + tpw + cr), wire.ErrSchema},
		{"TransferId 33", signNew(env + cid + `<TransferId>` + repeat("A", 33) + `</TransferId>` + tpw + cr), wire.ErrSchema},
		{"TransferPassword 17", signNew(env + cid + tid + `<TransferPassword>` + repeat("A", 17) + `</TransferPassword>` + cr), wire.ErrSchema},
		{"TransferPassword 16", signNew(env + cid + tid + `<TransferPassword>` + repeat("A", 16) + `</TransferPassword>` + cr), nil},
		{"Environment lower case", signNew(`<Environment>test</Environment>` + cid + tid + tpw + cr), wire.ErrSchema},
		{"Environment with space", signNew(`<Environment> TEST</Environment>` + cid + tid + tpw + cr), wire.ErrSchema},
		{"Environment STAGING", signNew(`<Environment>STAGING</Environment>` + cid + tid + tpw + cr), wire.ErrSchema},
		{"PRODUCTION", signNew(`<Environment>PRODUCTION</Environment>` + cid + tid + tpw + cr), nil},
		{"comment inside value", signNew(env + `<CustomerId>1234567<!-- x -->-1</CustomerId>` + tid + tpw + cr), wire.ErrSchema},
		{"comment between elements", signNew(env + `<!-- x -->` + cid + tid + tpw + cr), wire.ErrSchema},
		{"text between elements", signNew(env + `junk` + cid + tid + tpw + cr), wire.ErrSchema},
		{"element inside value", signNew(env + `<CustomerId><b>1</b></CustomerId>` + tid + tpw + cr), wire.ErrSchema},
		{"attribute on request", `<ser:SignNewCertificateRequest id="x">` + valid + `</ser:SignNewCertificateRequest>`, wire.ErrSchema},
		{"attribute on child", signNew(`<Environment a="b">TEST</Environment>` + cid + tid + tpw + cr), wire.ErrSchema},
		{"xsi:nil on child", signNew(env + cid + `<CustomerName xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>` + tid + tpw + cr), wire.ErrSchema},
		{"bad base64", signNew(env + cid + tid + tpw + `<CertificateRequest>!!!!</CertificateRequest>`), wire.ErrSchema},
		{"base64 bad padding", signNew(env + cid + tid + tpw + `<CertificateRequest>QUJD=</CertificateRequest>`), wire.ErrSchema},
		{"empty CertificateRequest", signNew(env + cid + tid + tpw + `<CertificateRequest></CertificateRequest>`), wire.ErrSchema},
		{"CertificateRequest 10241 octets", signNew(env + cid + tid + tpw + `<CertificateRequest>` + big + `</CertificateRequest>`), wire.ErrSchema},
		{"base64 with line breaks and &#13;", signNew(env + cid + tid + tpw + `<CertificateRequest>` + csr[:4] + "&#13;\n" + csr[4:8] + "\r\n  \t" + csr[8:] + "&#13;\n</CertificateRequest>"), nil},
		{"base64 in CDATA", signNew(env + cid + tid + tpw + `<CertificateRequest><![CDATA[` + csr + `]]></CertificateRequest>`), nil},
		{"unknown operation", `<ser:Nope/>`, wire.ErrUnknownOp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			el, err := wire.ParseEnvelope(envelope(tc.inner), wire.DefaultLimits)
			if err != nil {
				t.Fatalf("ParseEnvelope: %v", err)
			}
			st := wire.Detach(el)
			switch st.Tag {
			case "SignNewCertificateRequest":
				var r *wire.SignNewCertificateRequest
				r, err = wire.DecodeSignNew(st)
				if err == nil && string(r.CertificateRequest) != "0123456789" && tc.name != "CertificateRequest 10241 octets" {
					t.Errorf("CertificateRequest = %q", r.CertificateRequest)
				}
			case "GetCertificateRequest":
				_, err = wire.DecodeGet(st)
			default:
				_, err = wire.DecodeSignNew(st)
			}
			if tc.want == nil && err != nil {
				t.Fatalf("decode = %v, want success", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("decode = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeValues(t *testing.T) {
	r, err := decodeGet(t, `<ser:GetCertificateRequest><Environment>TEST</Environment><CustomerId>1234567-1</CustomerId><CustomerName>Acme&#9;Oy&#10;Ab</CustomerName><RetrievalId>0123456789abcdef0123456789abcdef</RetrievalId></ser:GetCertificateRequest>`)
	if err != nil {
		t.Fatal(err)
	}
	want := wire.GetCertificateRequest{Environment: "TEST", CustomerID: "1234567-1", CustomerName: "Acme Oy Ab", RetrievalID: "0123456789abcdef0123456789abcdef"}
	if *r != want {
		t.Errorf("got %+v, want %+v (normalizedString turns tab and line feed into spaces)", *r, want)
	}
	if _, err := decodeGet(t, `<ser:SignNewCertificateRequest/>`); !errors.Is(err, wire.ErrUnknownOp) {
		t.Errorf("DecodeGet of another operation: %v", err)
	}
}

func TestDecodeRenewSignaturePlacement(t *testing.T) {
	signed := string(signedRenew(t))
	el := parse(t, envelope(signed))
	if _, err := wire.DecodeRenew(el, true); err != nil {
		t.Fatalf("DecodeRenew(signed): %v", err)
	}
	if _, err := wire.DecodeRenew(el, false); !errors.Is(err, wire.ErrSchema) {
		t.Errorf("DecodeRenew(signed, false) = %v, want ErrSchema (no signature expected)", err)
	}
	unsigned := `<ser:RenewCertificateRequest><Environment>TEST</Environment><CustomerId>1234567-1</CustomerId><CertificateRequest>QUJD</CertificateRequest></ser:RenewCertificateRequest>`
	if _, err := wire.DecodeRenew(parse(t, envelope(unsigned)), true); !errors.Is(err, wire.ErrSigMissing) {
		t.Errorf("unsigned: %v, want ErrSigMissing", err)
	}
	// Signature first, not last.
	i := strings.Index(signed, "<ds:Signature")
	j := strings.Index(signed, "</ds:Signature>") + len("</ds:Signature>")
	k := strings.Index(signed, "<Environment>")
	moved := signed[:k] + signed[i:j] + signed[k:i] + signed[j:]
	if _, err := wire.DecodeRenew(parse(t, envelope(moved)), true); !errors.Is(err, wire.ErrSigMissing) {
		t.Errorf("signature first: %v, want ErrSigMissing", err)
	}
}

// attrList is n distinct attributes.
func attrList(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, ` a%d=""`, i)
	}
	return b.String()
}

// TestParseEnvelopeAttributes: which check refuses what (found in review:
// etree keeps only the last of equal attributes, so thousands of copies of
// one passed the per-element limit, and attributes hold no '<' to count).
func TestParseEnvelopeAttributes(t *testing.T) {
	lim := wire.DefaultLimits
	for _, tc := range []struct {
		name, body, want string
	}{
		{"duplicate attribute", `<ser:GetCertificateRequest a="1" a="2"/>`, "GetCertificateRequest has an attribute twice"},
		{"duplicate namespace declaration", `<ser:GetCertificateRequest xmlns:p="urn:a" xmlns:p="urn:b"/>`, "GetCertificateRequest has an attribute twice"},
		{"many copies of one attribute", "<ser:GetCertificateRequest" + strings.Repeat(` a=""`, 50000) + "/>", "attributes in all"},
		{"many distinct attributes", "<ser:GetCertificateRequest" + attrList(lim.MaxElements*lim.MaxAttributes+100) + "/>", "attributes in all"},
		{"too many on one element", "<ser:GetCertificateRequest" + attrList(lim.MaxAttributes+1) + "/>", "more than 32 attributes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wire.ParseEnvelope(envelope(tc.body), lim)
			if !errors.Is(err, wire.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseEnvelope = %v, want ErrMalformed saying %q", err, tc.want)
			}
		})
	}
}

// A UTF-8 byte order mark may begin an XML document (XML 1.0, 4.3.3), with
// or without an XML declaration after it; .NET writes one by default (found
// in review: refused as text outside the root). Only at the very start.
func TestParseEnvelopeByteOrderMark(t *testing.T) {
	inner := `<ser:GetCertificateRequest><Environment>TEST</Environment><CustomerId>1234567-1</CustomerId><RetrievalId>abc</RetrievalId></ser:GetCertificateRequest>`
	for name, body := range map[string][]byte{
		"BOM":                 append([]byte("\uFEFF"), envelope(inner)...),
		"BOM and declaration": append([]byte("\uFEFF<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"), envelope(inner)...),
	} {
		r, err := wire.DecodeGet(parse(t, body))
		if err != nil || r.RetrievalID != "abc" {
			t.Errorf("%s: %+v, %v", name, r, err)
		}
	}
	if _, err := wire.ParseEnvelope(append([]byte(" \uFEFF"), envelope(inner)...), wire.DefaultLimits); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("a byte order mark after a space: %v, want malformed", err)
	}
}

// An undeclared namespace prefix makes a document not namespace-well-formed;
// etree would read <foo:Environment> as an unqualified Environment (found
// in review).
func TestParseEnvelopeUndeclaredPrefix(t *testing.T) {
	for name, inner := range map[string]string{
		"element":   `<ser:GetCertificateRequest><foo:Environment>TEST</foo:Environment><CustomerId>1234567-1</CustomerId><RetrievalId>abc</RetrievalId></ser:GetCertificateRequest>`,
		"attribute": `<ser:GetCertificateRequest foo:x="1"><Environment>TEST</Environment><CustomerId>1234567-1</CustomerId><RetrievalId>abc</RetrievalId></ser:GetCertificateRequest>`,
	} {
		if _, err := wire.ParseEnvelope(envelope(inner), wire.DefaultLimits); !errors.Is(err, wire.ErrMalformed) || !strings.Contains(err.Error(), "undeclared namespace prefix") || strings.Contains(err.Error(), "foo") {
			t.Errorf("%s: %v, want malformed: undeclared prefix, not naming it", name, err)
		}
	}
	// Declared prefixes, xml:lang and a prefix declared on an ancestor pass.
	ok := `<ser:GetCertificateRequest xmlns:foo="urn:x" xml:lang="fi"><Environment foo:x="1">TEST</Environment><CustomerId>1234567-1</CustomerId><RetrievalId>abc</RetrievalId></ser:GetCertificateRequest>`
	if _, err := wire.ParseEnvelope(envelope(ok), wire.DefaultLimits); err != nil {
		t.Errorf("declared prefixes: %v", err)
	}
}
