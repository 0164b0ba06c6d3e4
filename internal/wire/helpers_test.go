package wire_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

const customer = "1234567-1"

var now = irpkidtest.Epoch

// signer is an organisation key with a certificate of the shared test CA.
type signer struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
	csr  []byte // a CSR for another key, to put in requests
}

var (
	signerOnce sync.Once
	theSigner  signer
)

func testSigner(t testing.TB) signer {
	t.Helper()
	signerOnce.Do(func() {
		h := irpkidtest.Hierarchy(t, wire.EnvTest)
		key := irpkidtest.NewKey(t)
		cert, err := h.Issue(nil, ca.DefaultProfile, &key.PublicKey, ca.Subject{CustomerID: customer, Name: "Acme Oy"}, now.AddDate(0, -1, 0), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: customer}}, irpkidtest.NewKey(t))
		if err != nil {
			t.Fatal(err)
		}
		theSigner = signer{key: key, cert: cert, csr: csr}
	})
	return theSigner
}

// signedRenew returns a signed RenewCertificateRequest element's bytes.
func signedRenew(t testing.TB) []byte {
	t.Helper()
	s := testSigner(t)
	sg, err := wire.NewSigner(s.key, [][]byte{s.cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	b, err := sg.Sign(wire.EncodeRenew(&wire.RenewCertificateRequest{Environment: wire.EnvTest, CustomerID: customer, CertificateRequest: s.csr}))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signedResponse returns a response signed like the service signs them.
func signedResponse(t testing.TB, r *wire.Response) []byte {
	t.Helper()
	h := irpkidtest.Hierarchy(t, wire.EnvTest)
	sg, err := wire.NewSigner(h.SigningKey, h.SigningChain())
	if err != nil {
		t.Fatal(err)
	}
	b, err := sg.Sign(wire.EncodeResponse(r))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func serialize(t testing.TB, el *etree.Element) []byte {
	t.Helper()
	b, err := wire.Serialize(el)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// envelope wraps an inner element's XML in a plain SOAP envelope.
func envelope(inner string) []byte {
	return []byte(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ser="` + wire.Namespace + `"><soapenv:Header/><soapenv:Body>` + inner + `</soapenv:Body></soapenv:Envelope>`)
}

// parse parses an envelope and returns the standalone body element.
func parse(t testing.TB, body []byte) *etree.Element {
	t.Helper()
	el, err := wire.ParseEnvelope(body, wire.DefaultLimits)
	if err != nil {
		t.Fatalf("ParseEnvelope: %v\n%s", err, body)
	}
	return wire.Detach(el)
}

func reparse(t testing.TB, b []byte) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

func repeat(s string, n int) string { return strings.Repeat(s, n) }
