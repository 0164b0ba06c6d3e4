package wire_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

func TestDetachNamespaces(t *testing.T) {
	body := []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ser="` + wire.Namespace + `"` +
		` xmlns:unused="urn:unused" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="urn:default-of-envelope">` +
		`<s:Header/><s:Body xmlns:more="urn:more"><ser:GetCertificateRequest>` +
		`<Environment xmlns="">TEST</Environment><x xmlns="" xsi:type="y"/></ser:GetCertificateRequest></s:Body></s:Envelope>`)
	el, err := wire.ParseEnvelope(body, wire.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	d := wire.Detach(el)
	if d.Parent() != nil {
		t.Error("detached element still has a parent")
	}
	got := string(serialize(t, d))
	for _, want := range []string{`xmlns:ser="` + wire.Namespace + `"`, `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"`} {
		if !strings.Contains(got, want) {
			t.Errorf("detached copy lacks %s:\n%s", want, got)
		}
	}
	for _, not := range []string{"urn:unused", "urn:more", "urn:default-of-envelope", "soap/envelope"} {
		if strings.Contains(got, not) {
			t.Errorf("detached copy carries %s:\n%s", not, got)
		}
	}
	if el.Parent() == nil || len(el.Attr) != 0 {
		t.Error("Detach modified the element in its envelope")
	}
	// The detached copy resolves names as the original did.
	if d.NamespaceURI() != wire.Namespace || d.SelectElement("Environment").NamespaceURI() != "" {
		t.Errorf("namespaces after Detach: %q %q", d.NamespaceURI(), d.SelectElement("Environment").NamespaceURI())
	}

	// An element in a default namespace declared on the envelope keeps it.
	body = []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns="` + wire.Namespace + `"><s:Body><GetCertificateRequest/></s:Body></s:Envelope>`)
	el, err = wire.ParseEnvelope(body, wire.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if d := wire.Detach(el); d.NamespaceURI() != wire.Namespace || !strings.Contains(string(serialize(t, d)), `xmlns="`+wire.Namespace+`"`) {
		t.Errorf("default namespace lost: %s", serialize(t, d))
	}
}

// A request signed as a standalone document verifies after it travelled in
// an envelope that declares namespaces of its own, on Envelope and Body,
// including the service namespace under another prefix and a default one.
func TestSignVerifyInsideEnvelope(t *testing.T) {
	signed := signedRenew(t)
	s := testSigner(t)
	for _, head := range []string{
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Header/><SOAP-ENV:Body>`,
		`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ser="` + wire.Namespace + `" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:cer="urn:other-meaning" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Header><x/></soapenv:Header><soapenv:Body xmlns:y="urn:y">`,
	} {
		tail := `</SOAP-ENV:Body></SOAP-ENV:Envelope>`
		if strings.HasPrefix(head, "<soapenv") {
			tail = `</soapenv:Body></soapenv:Envelope>`
		}
		el := parse(t, []byte(head+string(signed)+tail))
		cert, err := wire.SignatureCertificate(el)
		if err != nil {
			t.Fatal(err)
		}
		if !cert.Equal(s.cert) {
			t.Fatal("KeyInfo certificate is not the signer's")
		}
		v, err := wire.Verify(el, cert, now)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		r, err := wire.DecodeRenew(v, false)
		if err != nil {
			t.Fatal(err)
		}
		if r.CustomerID != customer || string(r.CertificateRequest) != string(s.csr) || r.Environment != wire.EnvTest {
			t.Errorf("verified request = %+v", r)
		}
	}
}

func TestVerifyRefusesTampering(t *testing.T) {
	signed := string(signedRenew(t))
	s := testSigner(t)
	for _, tc := range []struct {
		name string
		edit func(string) string
	}{
		{"value changed", func(x string) string {
			return strings.Replace(x, "<CustomerId>1234567-1<", "<CustomerId>7654321-1<", 1)
		}},
		{"element added", func(x string) string {
			return strings.Replace(x, "<CertificateRequest>", "<CustomerName>Evil</CustomerName><CertificateRequest>", 1)
		}},
		{"signature value changed", func(x string) string {
			i := strings.Index(x, "<ds:SignatureValue>") + len("<ds:SignatureValue>")
			c := "A"
			if x[i] == 'A' {
				c = "B"
			}
			return x[:i] + c + x[i+1:]
		}},
		{"digest changed", func(x string) string {
			i := strings.Index(x, "<ds:DigestValue>") + len("<ds:DigestValue>")
			c := "A"
			if x[i] == 'A' {
				c = "B"
			}
			return x[:i] + c + x[i+1:]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			el := parse(t, envelope(tc.edit(signed)))
			if _, err := wire.Verify(el, s.cert, now); !errors.Is(err, wire.ErrSigInvalid) {
				t.Fatalf("Verify = %v, want ErrSigInvalid", err)
			}
		})
	}
	// Verifying with another certificate than the signer's fails.
	h := irpkidtest.Hierarchy(t, wire.EnvTest)
	if _, err := wire.Verify(parse(t, envelope(signed)), h.Signing, now); !errors.Is(err, wire.ErrSigInvalid) {
		t.Errorf("Verify with a foreign certificate = %v", err)
	}
	// Verify ignores the certificate's validity period (the service checks
	// it with its own refusal code), but never panics on odd times.
	if _, err := wire.Verify(parse(t, envelope(signed)), s.cert, now.AddDate(10, 0, 0)); err != nil && !errors.Is(err, wire.ErrSigInvalid) {
		t.Errorf("Verify far in the future = %v", err)
	}
}

// Profile violations, made by editing the signed request's tree: the
// structure is checked before any cryptography.
func TestSignatureProfile(t *testing.T) {
	signed := signedRenew(t)
	dsig := func(el *etree.Element, path string) *etree.Element {
		e := el.FindElement(path)
		if e == nil {
			t.Fatalf("no %s", path)
		}
		return e
	}
	for _, tc := range []struct {
		name string
		edit func(el *etree.Element)
		want error
	}{
		{"unchanged", func(el *etree.Element) {}, nil},
		{"no signature", func(el *etree.Element) { el.RemoveChild(dsig(el, "Signature")) }, wire.ErrSigMissing},
		{"two signatures", func(el *etree.Element) { el.AddChild(dsig(el, "Signature").Copy()) }, wire.ErrSigInvalid},
		{"signature nested", func(el *etree.Element) {
			s := dsig(el, "Signature")
			el.RemoveChild(s)
			el.SelectElement("CustomerId").AddChild(s)
		}, wire.ErrSigInvalid},
		{"signature not last", func(el *etree.Element) { el.CreateElement("Extra") }, wire.ErrSigInvalid},
		{"SHA-1 digest", func(el *etree.Element) {
			dsig(el, "Signature/SignedInfo/Reference/DigestMethod").CreateAttr("Algorithm", "http://www.w3.org/2000/09/xmldsig#sha1")
		}, wire.ErrSigAlgorithm},
		{"RSA-SHA1", func(el *etree.Element) {
			dsig(el, "Signature/SignedInfo/SignatureMethod").CreateAttr("Algorithm", "http://www.w3.org/2000/09/xmldsig#rsa-sha1")
		}, wire.ErrSigAlgorithm},
		{"inclusive c14n", func(el *etree.Element) {
			dsig(el, "Signature/SignedInfo/CanonicalizationMethod").CreateAttr("Algorithm", wire.AlgC14N)
		}, wire.ErrSigAlgorithm},
		{"c14n with comments", func(el *etree.Element) {
			dsig(el, "Signature/SignedInfo/CanonicalizationMethod").CreateAttr("Algorithm", "http://www.w3.org/2001/10/xml-exc-c14n#WithComments")
		}, wire.ErrSigAlgorithm},
		{"two references", func(el *etree.Element) {
			r := dsig(el, "Signature/SignedInfo/Reference")
			r.Parent().AddChild(r.Copy())
		}, wire.ErrSigAlgorithm},
		{"reference to an id", func(el *etree.Element) { dsig(el, "Signature/SignedInfo/Reference").CreateAttr("URI", "#body") }, wire.ErrSigAlgorithm},
		{"reference without URI", func(el *etree.Element) {
			r := dsig(el, "Signature/SignedInfo/Reference")
			r.RemoveAttr("URI")
		}, wire.ErrSigAlgorithm},
		{"reference with Type", func(el *etree.Element) { dsig(el, "Signature/SignedInfo/Reference").CreateAttr("Type", "x") }, wire.ErrSigAlgorithm},
		{"XPath transform", func(el *etree.Element) {
			ts := dsig(el, "Signature/SignedInfo/Reference/Transforms")
			ts.CreateElement("ds:Transform").CreateAttr("Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116")
		}, wire.ErrSigAlgorithm},
		{"no enveloped transform", func(el *etree.Element) {
			ts := dsig(el, "Signature/SignedInfo/Reference/Transforms")
			ts.RemoveChildAt(0)
		}, wire.ErrSigAlgorithm},
		{"no KeyInfo", func(el *etree.Element) { s := dsig(el, "Signature"); s.RemoveChild(s.SelectElement("KeyInfo")) }, wire.ErrSigInvalid},
		{"KeyValue instead of X509Data", func(el *etree.Element) { dsig(el, "Signature/KeyInfo/X509Data").Tag = "KeyValue" }, wire.ErrSigInvalid},
		{"certificate not base64", func(el *etree.Element) { dsig(el, "Signature/KeyInfo/X509Data/X509Certificate").SetText("!!") }, wire.ErrSigInvalid},
		{"certificate not DER", func(el *etree.Element) { dsig(el, "Signature/KeyInfo/X509Data/X509Certificate").SetText("QUJD") }, wire.ErrSigInvalid},
		{"Object in Signature", func(el *etree.Element) { dsig(el, "Signature").CreateElement("ds:Object") }, wire.ErrSigInvalid},
		{"signature in another namespace", func(el *etree.Element) {
			s := dsig(el, "Signature")
			s.CreateAttr("xmlns:ds", "urn:not-dsig")
		}, wire.ErrSigMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			el := reparse(t, signed)
			tc.edit(el)
			_, err := wire.SignatureCertificate(el)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("SignatureCertificate = %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("SignatureCertificate = %v, want %v", err, tc.want)
			}
			if _, err := wire.Verify(el, testSigner(t).cert, now); err == nil {
				t.Fatal("Verify accepted it")
			}
		})
	}
}

func TestSignerNeedsRSA(t *testing.T) {
	if _, err := wire.NewSigner(testSigner(t).key, nil); err == nil {
		t.Error("NewSigner without a certificate: no error")
	}
}

func TestResponseRoundTrip(t *testing.T) {
	h := irpkidtest.Hierarchy(t, wire.EnvTest)
	for _, r := range []*wire.Response{
		{Operation: wire.OpSignNew, RetrievalID: "0123456789abcdef0123456789abcdef", Result: wire.Result{Status: wire.StatusOK}},
		{Operation: wire.OpRenew, Result: wire.Result{Status: wire.StatusFail, Errors: []wire.ErrorInfo{{Code: wire.CodeWindowNotOpen, Message: "Not yet."}, {Code: wire.CodeKeyReused, Message: "And a reused key."}}}},
		{Operation: wire.OpGet, Certificate: h.Issuing.Raw, Result: wire.Result{Status: wire.StatusOK}},
	} {
		el := parse(t, wire.Envelope(signedResponse(t, r)))
		cert, err := wire.ResponseSignatureCertificate(el)
		if err != nil {
			t.Fatal(err)
		}
		if !cert.Equal(h.Signing) {
			t.Fatal("response not signed by the service signing certificate")
		}
		v, err := wire.VerifyResponse(el, cert, now)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.DecodeResponse(v, r.Operation, false)
		if err != nil {
			t.Fatal(err)
		}
		if got.RetrievalID != r.RetrievalID || string(got.Certificate) != string(r.Certificate) || got.Result.Status != r.Result.Status || len(got.Result.Errors) != len(r.Result.Errors) {
			t.Errorf("decoded %+v, want %+v", got, r)
		}
		for i := range r.Result.Errors {
			if got.Result.Errors[i] != r.Result.Errors[i] {
				t.Errorf("ErrorInfo %d = %+v, want %+v", i, got.Result.Errors[i], r.Result.Errors[i])
			}
		}
		if _, err := wire.DecodeResponse(el, r.Operation, true); err != nil {
			t.Errorf("DecodeResponse(signed element): %v", err)
		}
	}
}

// The real service's shape: SOAP-ENV prefix, empty header, base64 broken
// into lines with &#13;, inclusive c14n allowed for responses.
func TestDecodeResponseRealShape(t *testing.T) {
	h := irpkidtest.Hierarchy(t, wire.EnvTest)
	b64 := base64.StdEncoding.EncodeToString(h.Issuing.Raw)
	var lines []string
	for len(b64) > 76 {
		lines = append(lines, b64[:76])
		b64 = b64[76:]
	}
	lines = append(lines, b64)
	body := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Header/><SOAP-ENV:Body>` +
		`<ns2:GetCertificateResponse xmlns:ns2="` + wire.Namespace + `">` + "\n" +
		`<Certificate>` + strings.Join(lines, "&#13;\n") + `</Certificate>` + "\n" +
		`<Result><Status>OK</Status></Result></ns2:GetCertificateResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>`
	el := parse(t, []byte(body))
	r, err := wire.DecodeResponse(el, wire.OpGet, false)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Certificate) != string(h.Issuing.Raw) || !r.Result.OK() {
		t.Errorf("decoded %+v", r)
	}
	if _, err := wire.DecodeResponse(el, wire.OpGet, true); !errors.Is(err, wire.ErrSigMissing) {
		t.Errorf("unsigned response accepted as signed: %v", err)
	}
	for _, bad := range []string{
		`<ns2:GetCertificateResponse xmlns:ns2="` + wire.Namespace + `"><Result><Status>OK</Status></Result></ns2:GetCertificateResponse>`,
		`<ns2:GetCertificateResponse xmlns:ns2="` + wire.Namespace + `"><Result><Status>MAYBE</Status></Result></ns2:GetCertificateResponse>`,
		`<ns2:GetCertificateResponse xmlns:ns2="` + wire.Namespace + `"><Certificate>QUJD</Certificate></ns2:GetCertificateResponse>`,
		`<ns2:GetCertificateResponse xmlns:ns2="` + wire.Namespace + `"><Result><Status>FAIL</Status><ErrorInfo><ErrorCode>` + repeat("X", 17) + `</ErrorCode><ErrorMessage>m</ErrorMessage></ErrorInfo></Result></ns2:GetCertificateResponse>`,
		`<ns2:SignNewCertificateResponse xmlns:ns2="` + wire.Namespace + `"><Result><Status>OK</Status></Result></ns2:SignNewCertificateResponse>`,
		`<ns2:GetCertificateResponse xmlns:ns2="urn:other"><Result><Status>FAIL</Status></Result></ns2:GetCertificateResponse>`,
	} {
		el := parse(t, envelope(bad))
		if _, err := wire.DecodeResponse(el, wire.OpGet, false); !errors.Is(err, wire.ErrResponseFormat) {
			t.Errorf("DecodeResponse(%s) = %v, want ErrResponseFormat", bad, err)
		}
	}
}

func TestFaultRoundTrip(t *testing.T) {
	for _, c := range wire.FaultCodes {
		b := wire.EncodeFault(&wire.Fault{Client: true, Code: c, String: "why <&>"})
		el := parse(t, b)
		f, err := wire.DecodeFault(el)
		if err != nil {
			t.Fatal(err)
		}
		if f.Code != c || !f.Client || f.String != "why <&>" {
			t.Errorf("fault %+v", f)
		}
	}
	el := parse(t, envelope(getInner))
	if _, err := wire.DecodeFault(el); !errors.Is(err, wire.ErrNotSOAPFault) {
		t.Errorf("DecodeFault(request) = %v", err)
	}
}

func TestCodesCatalogue(t *testing.T) {
	seen := map[wire.Code]bool{}
	for _, c := range append(append([]wire.Code{}, wire.FaultCodes...), wire.FailCodes...) {
		if seen[c] {
			t.Errorf("code %s listed twice", c)
		}
		seen[c] = true
		if len(c) < 1 || len(c) > 16 {
			t.Errorf("code %s: %d characters, ErrorCode is String16", c, len(c))
		}
	}
}

// TestSignedDigest: the digest is that of the exclusive-canonical request
// without its signature (as goxmldsig canonicalises it), and there is none
// without a signature.
func TestSignedDigest(t *testing.T) {
	el := parse(t, wire.Envelope(signedRenew(t)))
	got, err := wire.SignedDigest(el)
	if err != nil {
		t.Fatal(err)
	}
	bare := el.Copy()
	bare.RemoveChildAt(bare.ChildElements()[len(bare.ChildElements())-1].Index())
	canon, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(bare)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(canon); !bytes.Equal(got, want[:]) {
		t.Errorf("SignedDigest = %x, want SHA-256 of the canonical request %x", got, want)
	}
	if _, err := wire.Verify(el, testSigner(t).cert, now); err != nil {
		t.Fatal(err)
	}

	if _, err := wire.SignedDigest(parse(t, envelope(`<ser:RenewCertificateRequest><Environment>TEST</Environment></ser:RenewCertificateRequest>`))); !errors.Is(err, wire.ErrSigMissing) {
		t.Errorf("unsigned: %v, want ErrSigMissing", err)
	}
}

// TestParseSignedVerify: the two-step path the service takes verifies like
// Verify, refuses a tampered request, and leaves the element as it was.
func TestParseSignedVerify(t *testing.T) {
	el := parse(t, wire.Envelope(signedRenew(t)))
	before := serialize(t, el)
	sg, err := wire.ParseSigned(el)
	if err != nil {
		t.Fatal(err)
	}
	if !sg.Cert.Equal(testSigner(t).cert) {
		t.Fatal("ParseSigned returned another certificate than KeyInfo's")
	}
	v, err := sg.Verify(now)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := wire.DecodeRenew(v, false); err != nil || r.CustomerID != customer {
		t.Errorf("verified request: %+v, %v", r, err)
	}
	if after := serialize(t, el); !bytes.Equal(before, after) {
		t.Errorf("Verify changed the element:\n%s\n%s", before, after)
	}

	tampered := parse(t, wire.Envelope(signedRenew(t)))
	tampered.FindElement("./CustomerId").SetText("7654321-6")
	sg, err = wire.ParseSigned(tampered)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sg.Verify(now); !errors.Is(err, wire.ErrSigInvalid) {
		t.Errorf("tampered: %v, want ErrSigInvalid", err)
	}
}
