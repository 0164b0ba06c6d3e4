package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/wire"
)

var update = flag.Bool("update", false, "regenerate the golden files in testdata")

// goldenNow is the time the golden messages are checked at; the testdata
// PKI is valid from 2020 to 2045.
var goldenNow = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

const goldenCustomer = "1234567-1"

// goldenPKI is a fixed test PKI in testdata/pki.pem: a root, the service's
// response signer, and a customer certificate with its key. Test keys only.
type goldenPKI struct {
	root, signer, cust       *x509.Certificate
	rootKey, signerKey, cKey *rsa.PrivateKey
}

func loadPKI(t *testing.T) goldenPKI {
	t.Helper()
	path := filepath.Join("testdata", "pki.pem")
	if *update {
		writePKI(t, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./client -run Golden -update)", err)
	}
	var certs []*x509.Certificate
	var keys []*rsa.PrivateKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			certs = append(certs, c)
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
	}
	if len(certs) != 3 || len(keys) != 3 {
		t.Fatalf("testdata/pki.pem: %d certificates, %d keys", len(certs), len(keys))
	}
	return goldenPKI{root: certs[0], signer: certs[1], cust: certs[2], rootKey: keys[0], signerKey: keys[1], cKey: keys[2]}
}

func writePKI(t *testing.T, path string) {
	t.Helper()
	nb, na := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	key := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	rootKey, signerKey, cKey := key(), key(), key()
	mk := func(tmpl, parent *x509.Certificate, pub *rsa.PublicKey, signer *rsa.PrivateKey) *x509.Certificate {
		tmpl.NotBefore, tmpl.NotAfter = nb, na
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	root := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Golden Test Root CA", Country: []string{"FI"}},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	root = mk(root, root, &rootKey.PublicKey, rootKey)
	signer := mk(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Golden Test Certificate Service Signing"},
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}, root, &signerKey.PublicKey, rootKey)
	cust := mk(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: goldenCustomer, Organization: []string{"Acme Oy"}, Country: []string{"FI"}},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, BasicConstraintsValid: true}, root, &cKey.PublicKey, rootKey)
	for _, c := range []*x509.Certificate{root, signer, cust} {
		pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	for _, k := range []*rsa.PrivateKey{rootKey, signerKey, cKey} {
		pem.Encode(&out, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./client -run Golden -update)", err)
	}
	return want
}

// wrap76 breaks base64 into 76-character lines ending in CR LF, as the
// real service does.
func wrap76(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	out.WriteString(s)
	return out.String()
}

// realStyleResponse builds a response the way the real service writes it:
// the operation element with an ns2 prefix and unqualified children, base64
// broken into lines with &#13;, signed with the given canonicalisation, in
// a SOAP-ENV envelope with an empty SOAP-ENV:Header and extra namespace
// declarations the signed element inherits.
func realStyleResponse(t *testing.T, p goldenPKI, op wire.Operation, inclusive bool, dsPrefix string, fill func(el *etree.Element)) []byte {
	t.Helper()
	el := etree.NewElement("ns2:" + op.ResponseElement())
	el.CreateAttr("xmlns:ns2", wire.Namespace)
	fill(el)
	ctx, err := dsig.NewSigningContext(p.signerKey, [][]byte{p.signer.Raw})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Prefix = dsPrefix
	ctx.IdAttribute = "\x00"
	if inclusive {
		ctx.Canonicalizer = dsig.MakeC14N10RecCanonicalizer()
	} else {
		ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	}
	if err := ctx.SetSignatureMethod(wire.AlgRSASHA256); err != nil {
		t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.WriteSettings = etree.WriteSettings{CanonicalEndTags: true, CanonicalText: true, CanonicalAttrVal: true}
	doc.SetRoot(signed)
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	s = strings.ReplaceAll(s, "&#xD;", "&#13;")
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` + "\n" +
		`<SOAP-ENV:Header/>` + "\n" + `<SOAP-ENV:Body>` + "\n" + s + "\n" + `</SOAP-ENV:Body>` + "\n" + `</SOAP-ENV:Envelope>` + "\n")
}

func okResult(el *etree.Element) {
	r := el.CreateElement("Result")
	r.CreateElement("Status").SetText("OK")
}

// goldenResponses are the response fixtures, generated with -update.
func goldenResponses(t *testing.T, p goldenPKI) map[string][]byte {
	t.Helper()
	gen := map[string]func() []byte{
		"response-get-inclusive.xml": func() []byte {
			return realStyleResponse(t, p, wire.OpGet, true, "ds", func(el *etree.Element) {
				el.CreateElement("Certificate").SetText(wrap76(p.cust.Raw))
				okResult(el)
			})
		},
		"response-get-exclusive.xml": func() []byte {
			return realStyleResponse(t, p, wire.OpGet, false, "ns3", func(el *etree.Element) {
				el.CreateElement("Certificate").SetText(wrap76(p.cust.Raw))
				okResult(el)
			})
		},
		"response-signnew-default-ns.xml": func() []byte {
			return realStyleResponse(t, p, wire.OpSignNew, false, "", func(el *etree.Element) {
				el.CreateElement("RetrievalId").SetText("0123456789abcdef0123456789abcdef")
				okResult(el)
			})
		},
		"response-renew-fail.xml": func() []byte {
			return realStyleResponse(t, p, wire.OpRenew, true, "ds", func(el *etree.Element) {
				r := el.CreateElement("Result")
				r.CreateElement("Status").SetText("FAIL")
				ei := r.CreateElement("ErrorInfo")
				ei.CreateElement("ErrorCode").SetText("WINDOW_NOT_OPEN")
				ei.CreateElement("ErrorMessage").SetText("The certificate can be renewed at the earliest 60 days before it expires.")
			})
		},
	}
	out := map[string][]byte{}
	for name, f := range gen {
		var b []byte
		if *update {
			b = f()
		}
		out[name] = golden(t, name, b)
	}
	return out
}

// serveBytes answers every POST with body and records the request.
type recorded struct {
	action, contentType string
	body                []byte
}

func serveBytes(t *testing.T, body []byte, status int, rec *recorded) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if rec != nil {
			*rec = recorded{r.Header.Get("SOAPAction"), r.Header.Get("Content-Type"), b}
		}
		w.Header().Set("Content-Type", "text/xml;charset=utf-8")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}

func goldenClient(t *testing.T, p goldenPKI, url string) *client.Client {
	t.Helper()
	c, err := client.New(url, client.Options{Environment: client.EnvTest, Trust: []*x509.Certificate{p.root}, Now: func() time.Time { return goldenNow }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGoldenResponses feeds the client responses written the way the real
// service writes them: SOAP-ENV prefix and empty header, unqualified
// children, base64 with line breaks and &#13;, inclusive or exclusive c14n,
// ds / ns3 / default-namespace signature prefixes.
func TestGoldenResponses(t *testing.T) {
	p := loadPKI(t)
	resp := goldenResponses(t, p)
	ctx := context.Background()
	for _, name := range []string{"response-get-inclusive.xml", "response-get-exclusive.xml"} {
		t.Run(name, func(t *testing.T) {
			b := resp[name]
			if !bytes.Contains(b, []byte("&#13;")) || !bytes.Contains(b, []byte("<SOAP-ENV:Header/>")) || !bytes.Contains(b, []byte("<Certificate>")) {
				t.Fatal("fixture lacks the real service's quirks")
			}
			cert, err := goldenClient(t, p, serveBytes(t, b, 200, nil)).GetCertificate(ctx, goldenCustomer, "0123456789abcdef0123456789abcdef")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(cert.Raw, p.cust.Raw) {
				t.Error("decoded certificate differs")
			}
		})
	}
	t.Run("signnew default namespace", func(t *testing.T) {
		rid, err := goldenClient(t, p, serveBytes(t, resp["response-signnew-default-ns.xml"], 200, nil)).SignNewCertificate(ctx, goldenCustomer, "tid", "pw", []byte{1})
		if err != nil || rid != "0123456789abcdef0123456789abcdef" {
			t.Fatalf("rid %q, %v", rid, err)
		}
	})
	t.Run("renew FAIL", func(t *testing.T) {
		_, err := goldenClient(t, p, serveBytes(t, resp["response-renew-fail.xml"], 200, nil)).RenewCertificate(ctx, goldenCustomer, []byte{1}, p.cKey, p.cust)
		var se *client.ServiceError
		if !errors.As(err, &se) || se.Code != client.CodeWindowNotOpen || !strings.Contains(se.Message, "60 days") {
			t.Fatalf("err = %v, want ServiceError WINDOW_NOT_OPEN", err)
		}
	})
}

// TestGoldenResponsesRefused: a broken signature, a response signed by a
// certificate outside the trust bundle, an unsigned response, and a
// signature moved away from the values used are all refused.
func TestGoldenResponsesRefused(t *testing.T) {
	p := loadPKI(t)
	resp := goldenResponses(t, p)
	good := resp["response-get-inclusive.xml"]
	ctx := context.Background()
	flip := func(b []byte, marker string) []byte {
		out := bytes.Clone(b)
		i := bytes.Index(out, []byte(marker)) + len(marker) + 10
		if out[i] == 'A' {
			out[i] = 'B'
		} else {
			out[i] = 'A'
		}
		return out
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherRoot := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "Other"}, NotBefore: goldenNow.AddDate(-1, 0, 0), NotAfter: goldenNow.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, _ := x509.CreateCertificate(rand.Reader, otherRoot, otherRoot, &other.PublicKey, other)
	otherCert, _ := x509.ParseCertificate(der)

	unsigned := etree.NewDocument()
	if err := unsigned.ReadFromBytes(good); err != nil {
		t.Fatal(err)
	}
	for _, s := range unsigned.FindElements("//Signature") {
		s.Parent().RemoveChild(s)
	}
	unsignedB, _ := unsigned.WriteToBytes()

	for _, tc := range []struct {
		name  string
		body  []byte
		trust []*x509.Certificate
	}{
		{"certificate value changed", flip(good, "<Certificate>"), nil},
		{"signature value changed", flip(good, "SignatureValue>"), nil},
		{"digest changed", flip(good, "DigestValue>"), nil},
		{"signer not trusted", good, []*x509.Certificate{otherCert}},
		{"unsigned", unsignedB, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trust := tc.trust
			if trust == nil {
				trust = []*x509.Certificate{p.root}
			}
			c, err := client.New(serveBytes(t, tc.body, 200, nil), client.Options{Environment: client.EnvTest, Trust: trust, Now: func() time.Time { return goldenNow }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetCertificate(ctx, goldenCustomer, "0123456789abcdef0123456789abcdef")
			if !errors.Is(err, client.ErrUntrustedResponse) {
				t.Fatalf("err = %v, want ErrUntrustedResponse", err)
			}
			if !client.Definite(err) {
				t.Error("an untrusted response is retried")
			}
		})
	}
}

// TestGoldenRequests pins what the client sends: a SOAP-ENV envelope with
// an empty header, the operation element qualified and its children
// unqualified, base64 without line breaks, a quoted SOAPAction, and for
// renewal an enveloped signature made before the envelope was added.
func TestGoldenRequests(t *testing.T) {
	p := loadPKI(t)
	resp := goldenResponses(t, p)
	ctx := context.Background()
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: goldenCustomer, Country: []string{"FI"}}}, p.signerKey)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		os.WriteFile(filepath.Join("testdata", "csr.der"), csr, 0o644)
	}
	if csr, err = os.ReadFile(filepath.Join("testdata", "csr.der")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, action string
		response     string
		call         func(c *client.Client) error
	}{
		{"request-get.xml", `"getCertificate"`, "response-get-exclusive.xml", func(c *client.Client) error {
			_, err := c.GetCertificate(ctx, goldenCustomer, "0123456789abcdef0123456789abcdef")
			return err
		}},
		{"request-signnew.xml", `"signNewCertificate"`, "response-signnew-default-ns.xml", func(c *client.Client) error {
			_, err := c.SignNewCertificate(ctx, goldenCustomer, "TRANSFERID0123456789", "Pa55word", csr)
			return err
		}},
		{"request-renew.xml", `"renewCertificate"`, "response-renew-fail.xml", func(c *client.Client) error {
			_, err := c.RenewCertificate(ctx, goldenCustomer, csr, p.cKey, p.cust)
			var se *client.ServiceError
			if errors.As(err, &se) {
				return nil
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorded
			c := goldenClient(t, p, serveBytes(t, resp[tc.response], 200, &rec))
			if err := tc.call(c); err != nil {
				t.Fatal(err)
			}
			if rec.action != tc.action || rec.contentType != "text/xml; charset=utf-8" {
				t.Errorf("SOAPAction %s, Content-Type %s", rec.action, rec.contentType)
			}
			want := golden(t, tc.name, rec.body)
			if !bytes.Equal(rec.body, want) {
				t.Errorf("request differs from testdata/%s:\n got %s\nwant %s", tc.name, rec.body, want)
			}
			// Structure, independent of the golden bytes.
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(rec.body); err != nil {
				t.Fatal(err)
			}
			body := doc.Root().SelectElement("Body")
			if h := doc.Root().SelectElement("Header"); h == nil || len(h.Child) != 0 {
				t.Error("no empty SOAP header")
			}
			op := body.ChildElements()[0]
			if op.NamespaceURI() != wire.Namespace {
				t.Errorf("operation element in %q", op.NamespaceURI())
			}
			for _, k := range op.ChildElements() {
				if k.Tag != "Signature" && k.NamespaceURI() != "" {
					t.Errorf("child %s is qualified (%s)", k.Tag, k.NamespaceURI())
				}
			}
			if tc.name == "request-renew.xml" {
				// The signature verifies on the element as sent.
				cert, err := wire.SignatureCertificate(wire.Detach(op))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := wire.Verify(wire.Detach(op), cert, goldenNow); err != nil {
					t.Fatalf("renewal signature: %v", err)
				}
			}
		})
	}
}
