// Package irpkidtest starts a real irpkid certificate service for tests:
// the server irpkid serve runs, assembled by server.New (store, SQLite in
// a temp dir unless told otherwise, service, signer, SOAP handler, CRLs),
// behind an httptest server, with a settable clock and captured logs. A CA
// hierarchy is minted once per test binary and shared, since it is
// immutable.
package irpkidtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/ca/catest"
	"github.com/irpki/irpki/internal/certapi"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/server"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// Epoch is the time test clocks start at.
var Epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

var (
	caOnce sync.Once
	caH    map[string]*ca.Hierarchy
	caErr  error
)

// Hierarchy returns the shared test CA for env, valid from well before Epoch.
func Hierarchy(t testing.TB, env string) *ca.Hierarchy {
	t.Helper()
	caOnce.Do(func() {
		caH = map[string]*ca.Hierarchy{}
		for _, e := range []string{wire.EnvTest, wire.EnvProduction} {
			h, _, err := ca.Create(e, Epoch.AddDate(-1, 0, 0), catest.Options())
			if err != nil {
				caErr = err
				return
			}
			caH[e] = h
		}
	})
	if caErr != nil {
		t.Fatal(caErr)
	}
	return caH[env]
}

// Server is a running test service.
type Server struct {
	URL     string // the SOAP endpoint
	Base    string // scheme://host
	Service *service.Service
	DB      *store.DB
	CA      *ca.Hierarchy
	Clock   *clock.Fixed
	Logs    *SyncBuffer
	Log     *slog.Logger
	Dir     string
	HTTP    *httptest.Server
	API     *certapi.Handler
	// Signers are the response signers the server follows.
	Signers *ca.SignerWatch
}

// Config adjusts a test server.
type Config struct {
	Environment string // default TEST
	Mutate      func(*service.Config)
	Limits      *wire.Limits
	// Database is the store to use (what store.Open takes); default a
	// SQLite file in the test's temporary directory. Servers given one
	// PostgreSQL URL are replicas.
	Database string
	// Clock is the clock to use; default a new one at Epoch. Replicas
	// share one.
	Clock *clock.Fixed
	// API adjusts the SOAP handler's settings.
	API func(*certapi.Config)
	// CA, if set, is the hierarchy to serve instead of the shared one:
	// one loaded from a directory, whose response signers the server then
	// follows as irpkid serve does (Server.Signers; the test calls
	// Signers.Refresh where serve would look again).
	CA *ca.Hierarchy
}

// Start starts a server; it stops when the test ends.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Environment == "" {
		cfg.Environment = wire.EnvTest
	}
	dir := t.TempDir()
	logs := &SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := cfg.CA
	if h == nil {
		h = Hierarchy(t, cfg.Environment)
	}
	clk := cfg.Clock
	if clk == nil {
		clk = clock.NewFixed(Epoch)
	}
	lim := wire.DefaultLimits
	if cfg.Limits != nil {
		lim = *cfg.Limits
	}
	acfg := certapi.Config{Limits: lim}
	if cfg.API != nil {
		cfg.API(&acfg)
	}
	srv, err := server.New(context.Background(), server.Config{
		CoreConfig: server.CoreConfig{Environment: cfg.Environment, DataDir: dir, Database: cfg.Database, CA: h, Clock: clk, Log: log, Rules: cfg.Mutate},
		SOAP:       acfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &Server{URL: hs.URL + certapi.Path, Base: hs.URL, Service: srv.Service, DB: srv.DB, CA: h, Clock: clk, Logs: logs, Log: log, Dir: dir, HTTP: hs, API: srv.API, Signers: srv.Signers}
}

// Trust returns the client trust bundle.
func (s *Server) Trust() []*x509.Certificate {
	return []*x509.Certificate{s.CA.Root, s.CA.Issuing, s.CA.Signing}
}

// TrustFile writes the PEM trust bundle (what irpkid trust prints) to a
// file in a test temp dir and returns its path.
func (s *Server) TrustFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trust.pem")
	if err := os.WriteFile(p, s.CA.Bundle(s.Clock.Now()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Client returns a client of this server using its clock.
func (s *Server) Client(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(s.URL, client.Options{Environment: s.CA.Environment, Trust: s.Trust(), Now: s.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// AddOrg registers an organisation.
func (s *Server) AddOrg(t testing.TB, customerID, name string) {
	t.Helper()
	if err := s.Service.AddOrg(context.Background(), store.Org{CustomerID: customerID, Name: name, ContactEmail: "tech@example.fi", Language: "en"}, "test"); err != nil {
		t.Fatal(err)
	}
}

// Order creates an order and returns its credentials.
func (s *Server) Order(t testing.TB, customerID string, validity time.Duration) service.Credentials {
	t.Helper()
	cred, err := s.Service.CreateOrder(context.Background(), service.OrderRequest{CustomerID: customerID, Validity: validity}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// Enrolled is a certificate and its key, as a client holds them.
type Enrolled struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
}

// Enroll runs SignNewCertificate and GetCertificate for a new organisation
// order and returns the key and certificate.
func (s *Server) Enroll(t testing.TB, customerID string, validity time.Duration) Enrolled {
	t.Helper()
	cred := s.Order(t, customerID, validity)
	key := NewKey(t)
	c := s.Client(t)
	ctx := context.Background()
	rid, err := c.SignNewCertificate(ctx, customerID, cred.TransferID, cred.TransferPassword, CSR(t, key, customerID))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.GetCertificate(ctx, customerID, rid)
	if err != nil {
		t.Fatal(err)
	}
	return Enrolled{Key: key, Cert: cert}
}

var (
	keyMu   sync.Mutex
	keyPool []*rsa.PrivateKey
)

// NewKey returns a fresh RSA-2048 key, never returned before in this process.
func NewKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	keyMu.Lock()
	if n := len(keyPool); n > 0 {
		k := keyPool[n-1]
		keyPool = keyPool[:n-1]
		keyMu.Unlock()
		return k
	}
	keyMu.Unlock()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// CSR makes a DER PKCS#10 request for key with CN = customerID.
func CSR(t testing.TB, key crypto.Signer, customerID string) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: customerID, Organization: []string{"Test Oy"}, Country: []string{"FI"}},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers (log handlers).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Answer is what the service answered a request a test proxy forwarded.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Forward sends body to url with r's method and headers, as a test proxy in
// front of the service does, and returns the whole answer.
func Forward(ctx context.Context, r *http.Request, url string, body []byte) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, url, bytes.NewReader(body))
	if err != nil {
		return Answer{}, err
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return Answer{Status: resp.StatusCode, Header: resp.Header, Body: out}, err
}

// Send sends the answer's status and body on to w.
func (a Answer) Send(w http.ResponseWriter) {
	w.WriteHeader(a.Status)
	w.Write(a.Body)
}

// Proxy starts a test HTTP server in front of url. intercept, if not nil,
// sees each request's body first and may answer the request itself,
// returning true; the others are forwarded to url and their answers passed
// back.
func Proxy(t testing.TB, url string, intercept func(w http.ResponseWriter, body []byte) bool) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if intercept != nil && intercept(w, body) {
			return
		}
		a, err := Forward(r.Context(), r, url, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		a.Send(w)
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}

// Unavailable answers w with HTTP 503, as a service down for maintenance
// does: the request's answer is lost.
func Unavailable(w http.ResponseWriter) {
	http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
}

// GetDownProxy is a Proxy in front of url that answers GetCertificate with
// HTTP 503 while down is set.
func GetDownProxy(t testing.TB, url string, down *atomic.Bool) string {
	t.Helper()
	return Proxy(t, url, func(w http.ResponseWriter, body []byte) bool {
		if down.Load() && bytes.Contains(body, []byte("GetCertificateRequest")) {
			Unavailable(w)
			return true
		}
		return false
	})
}

// RefusingProxy is a Proxy in front of s. While refuse is set it answers
// RenewCertificate with a FAIL correctly signed by s's signing key, with
// the code E1001, outside irpkid's catalogue as the real service's codes
// are; while lose is set (when not nil), with HTTP 503. renews, when not
// nil, counts the RenewCertificate requests that reach it.
func (s *Server) RefusingProxy(t testing.TB, refuse, lose *atomic.Bool, renews *atomic.Int32) string {
	t.Helper()
	signer, err := wire.NewSigner(s.CA.SigningKey, s.CA.SigningChain())
	if err != nil {
		t.Fatal(err)
	}
	return Proxy(t, s.URL, func(w http.ResponseWriter, body []byte) bool {
		if !bytes.Contains(body, []byte("RenewCertificateRequest")) {
			return false
		}
		if renews != nil {
			renews.Add(1)
		}
		switch {
		case lose != nil && lose.Load():
			Unavailable(w)
			return true
		case refuse.Load():
			WriteFail(w, signer, wire.OpRenew, "E1001", "Renewal not possible.")
			return true
		}
		return false
	})
}

// WriteFail answers w with a FAIL response to op, one error of code and
// message, signed by signer as the service signs its answers.
func WriteFail(w http.ResponseWriter, signer *wire.Signer, op wire.Operation, code, message string) {
	signed, err := signer.Sign(wire.EncodeResponse(&wire.Response{Operation: op,
		Result: wire.Result{Status: wire.StatusFail, Errors: []wire.ErrorInfo{{Code: wire.Code(code), Message: message}}}}))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Write(wire.Envelope(signed))
}
