package certapi_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/certapi"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// httpResult is a raw HTTP answer.
type httpResult struct {
	status     int
	ctype      string
	body       []byte
	retryAfter string
	// length is the declared Content-Length (-1 if none), encoding the
	// Transfer-Encoding ("chunked" or none).
	length   int64
	encoding []string
}

// post sends body to url with a SOAPAction header (none if action is "-")
// and the given Content-Type.
func post(t testing.TB, url, action, ctype string, body []byte) httpResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	if action != "-" {
		req.Header.Set("SOAPAction", action)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpResult{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b, retryAfter: resp.Header.Get("Retry-After"),
		length: resp.ContentLength, encoding: resp.TransferEncoding}
}

const textXML = "text/xml; charset=utf-8"

// faultCode reads a SOAP fault answer and returns its catalogue code.
func faultCode(t testing.TB, r httpResult) wire.Code {
	t.Helper()
	el, err := wire.ParseEnvelope(r.body, wire.DefaultLimits)
	if err != nil {
		t.Fatalf("fault answer does not parse: %v\n%s", err, r.body)
	}
	f, err := wire.DecodeFault(el)
	if err != nil {
		t.Fatalf("answer (HTTP %d) is not a fault: %v\n%s", r.status, err, r.body)
	}
	if r.ctype != textXML {
		t.Errorf("fault Content-Type %q", r.ctype)
	}
	return f.Code
}

// response verifies a signed response answer against the server's signing
// certificate and decodes it.
func response(t testing.TB, s *irpkidtest.Server, op wire.Operation, r httpResult) *wire.Response {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("HTTP %d, want 200:\n%s", r.status, r.body)
	}
	el, err := wire.ParseEnvelope(r.body, wire.DefaultLimits)
	if err != nil {
		t.Fatalf("response does not parse: %v", err)
	}
	st := wire.Detach(el)
	cert, err := wire.SignatureCertificate(st) // our server signs with the strict profile
	if err != nil {
		t.Fatalf("response signature: %v\n%s", err, r.body)
	}
	if !cert.Equal(s.CA.Signing) {
		t.Fatalf("response signed by %s, not the service signing certificate", cert.Subject)
	}
	v, err := wire.Verify(st, cert, s.Clock.Now())
	if err != nil {
		t.Fatalf("response signature does not verify: %v", err)
	}
	resp, err := wire.DecodeResponse(v, op, false)
	if err != nil {
		t.Fatalf("response: %v", err)
	}
	return resp
}

// failCode returns the code of a FAIL response (or "" for OK).
func failCode(t testing.TB, s *irpkidtest.Server, op wire.Operation, r httpResult) wire.Code {
	t.Helper()
	resp := response(t, s, op, r)
	if resp.Result.OK() {
		return ""
	}
	if len(resp.Result.Errors) != 1 {
		t.Fatalf("FAIL with %d ErrorInfo", len(resp.Result.Errors))
	}
	if resp.RetrievalID != "" || resp.Certificate != nil {
		t.Fatal("FAIL response carries a RetrievalId or Certificate")
	}
	if m := resp.Result.Errors[0].Message; m == "" || len(m) > 255 {
		t.Fatalf("ErrorMessage %q", m)
	}
	return resp.Result.Errors[0].Code
}

// codeOf returns the catalogue code of a client error: a refusal's code, a
// fault's code, or "" for success.
func codeOf(t testing.TB, err error) wire.Code {
	t.Helper()
	if err == nil {
		return ""
	}
	var se *client.ServiceError
	if errors.As(err, &se) {
		return wire.Code(se.Code)
	}
	var fe *client.FaultError
	if errors.As(err, &fe) {
		return wire.Code(fe.Code)
	}
	t.Fatalf("not a service answer: %v", err)
	return ""
}

func wantCode(t testing.TB, err error, want wire.Code) {
	t.Helper()
	if got := codeOf(t, err); got != want {
		t.Fatalf("code %q (%v), want %q", got, err, want)
	}
}

// golden fills a request template from testdata.
func golden(t testing.TB, name string, data any) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := template.New(name).Option("missingkey=error").Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tm.Execute(&out, data); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// envelope wraps an element's bytes in the envelope the client sends.
func envelope(el []byte) []byte { return wire.Envelope(el) }

// renewBody returns a signed RenewCertificateRequest in an envelope.
func renewBody(t testing.TB, customerID string, csr []byte, key crypto.Signer, cert *x509.Certificate) []byte {
	t.Helper()
	el, err := client.SignRenewRequest(wire.EnvTest, customerID, "", csr, key, cert)
	if err != nil {
		t.Fatal(err)
	}
	return envelope(el)
}

// selfSigned returns a certificate for key that this service did not issue.
func selfSigned(t testing.TB, key *rsa.PrivateKey, cn string, now time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// serve starts another handler on s's CA and clock over db: a restarted
// server (db reopened from s.Dir) or one with a failing store.
func serve(t testing.TB, s *irpkidtest.Server, db service.Store, health func(context.Context) error) string {
	t.Helper()
	svc, err := service.New(s.Service.Config(), s.CA, db, s.Clock, s.Log)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := wire.NewSigner(s.CA.SigningKey, s.CA.SigningChain())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	certapi.New(svc, signer, certapi.Config{Limits: wire.DefaultLimits, Log: s.Log, Health: health}).Register(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs.URL + certapi.Path
}

// restart stops s's HTTP server and store and serves the same data
// directory again; it returns a client of the new server.
func restart(t testing.TB, s *irpkidtest.Server) *client.Client {
	t.Helper()
	s.HTTP.Close()
	if err := s.DB.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), filepath.Join(s.Dir, "irpki.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	url := serve(t, s, db, db.Ping)
	c, err := client.New(url, client.Options{Environment: s.CA.Environment, Trust: s.Trust(), Now: s.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
