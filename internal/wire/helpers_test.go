package wire_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/beevik/etree"

	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

const customer = "1234567-1"

var now = irpkidtest.Epoch

// signer is an organisation key with its certificate and a CSR for
// another key, fixed in testdata so that signatures (PKCS #1 v1.5, hence
// deterministic) and fuzz seeds are the same in every process.
type signer struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
	csr  []byte
}

var (
	signerOnce sync.Once
	theSigner  signer
	signerErr  error
)

func testSigner(t testing.TB) signer {
	t.Helper()
	signerOnce.Do(func() {
		theSigner, signerErr = loadSigner()
	})
	if signerErr != nil {
		t.Fatal(signerErr)
	}
	return theSigner
}

func loadSigner() (signer, error) {
	var s signer
	kb, err := os.ReadFile("testdata/signer.key")
	if err != nil {
		return s, err
	}
	blk, _ := pem.Decode(kb)
	if blk == nil {
		return s, errors.New("testdata/signer.key: no PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return s, err
	}
	s.key = k.(*rsa.PrivateKey)
	cb, err := os.ReadFile("testdata/signer.crt")
	if err != nil {
		return s, err
	}
	blk, _ = pem.Decode(cb)
	if blk == nil {
		return s, errors.New("testdata/signer.crt: no PEM")
	}
	if s.cert, err = x509.ParseCertificate(blk.Bytes); err != nil {
		return s, err
	}
	s.csr, err = os.ReadFile("testdata/csr.der")
	return s, err
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
