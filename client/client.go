// Package client is the organisation's side of the Incomes Register
// certificate service: a typed SOAP client of its three operations that
// works against irpkid and against the Tax Administration's real endpoints.
//
// A Client sends SignNewCertificate, RenewCertificate (signed with the key of
// the current certificate) and GetCertificate, verifies that every response
// is signed by a certificate chaining to the configured trust bundle, and
// returns refusals as *ServiceError carrying the service's ErrorCode, so that
// callers can use errors.As. It writes nothing to disk; the renewal manager
// in package renewal owns the state directory.
package client

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/beevik/etree"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/internal/wire"
)

// Real endpoints of the Tax Administration's certificate service.
const (
	EndpointProduction = "https://pkiws.vero.fi/2017/10/CertificateServices"
	EndpointTest       = "https://pkiws-testi.vero.fi/2017/10/CertificateServices"
)

// Environments.
const (
	EnvTest       = "TEST"
	EnvProduction = "PRODUCTION"
)

// Code is an ErrorCode of the service, or the fault code of a SOAP fault.
// irpkid's catalogue is in docs/error-codes.md; the real service's codes are
// not public.
type Code string

// Some codes callers act on.
const (
	CodeWindowNotOpen  = Code("WINDOW_NOT_OPEN")
	CodeSignerExpired  = Code("SIGNER_EXPIRED")
	CodeSignerRevoked  = Code("SIGNER_REVOKED")
	CodeAlreadyRenewed = Code("ALREADY_RENEWED")
	CodeKeyReused      = Code("KEY_REUSED")
	CodeTransferUsed   = Code("TRANSFER_USED")
	CodeInternal       = Code("INTERNAL")
)

// ErrorInfo is one reason the service gave for a FAIL result.
type ErrorInfo struct {
	Code    Code
	Message string
}

// ServiceError is a FAIL result: the service understood the request and
// refused it.
type ServiceError struct {
	Operation string
	Code      Code   // the first ErrorInfo's code
	Message   string // the first ErrorInfo's message
	All       []ErrorInfo
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("%s refused: %s: %s", e.Operation, e.Code, e.Message)
}

// FaultError is a SOAP Fault: the service says it could not read the
// request. A fault is not signed, so anyone on the path can forge one: it
// does not prove that the service did not act on the request (package
// renewal treats it as a lost answer). Code and Message are as received,
// cleaned by CleanText.
type FaultError struct {
	Operation  string
	HTTPStatus int
	Code       Code
	Message    string
}

func (e *FaultError) Error() string {
	return fmt.Sprintf("%s: SOAP fault (HTTP %d) %s: %s", e.Operation, e.HTTPStatus, e.Code, e.Message)
}

// maxText bounds, in characters, a text of the service's that errors show.
const maxText = 500

// CleanText makes text that came from the service (a fault's faultstring,
// a refusal's message) or from a file safe to print: control characters
// and the invisible formatting characters that reorder or hide text on a
// terminal (bidirectional overrides and isolates, zero-width characters)
// are removed, runs of white space (line breaks included) become one space,
// and it is cut to 500 characters.
func CleanText(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			r = ' '
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError:
			continue
		}
		if n == maxText {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// ErrUntrustedResponse is wrapped when a response is unsigned, badly signed
// or signed by a certificate that does not chain to the trust bundle.
var ErrUntrustedResponse = errors.New("response signature not trusted")

// ErrSignerRotated is wrapped, with ErrUntrustedResponse, when a response
// is signed by a newer signing certificate of the service than the ones
// the trust bundle pins: the service has rotated its response signer
// (irpkid ca rotate-signer), and the client needs the service's current
// trust bundle.
var ErrSignerRotated = errors.New("the service has rotated its response signer")

// ErrBadResponse is wrapped when a response cannot be read.
var ErrBadResponse = errors.New("unreadable response")

// Options configure a Client.
type Options struct {
	// Environment is TEST or PRODUCTION, sent in every request.
	Environment string
	// Trust is the bundle that response signers must chain to: irpkid
	// trust, or for the real service the Tax Administration's "IR Services"
	// CA chain. Issued certificates chain to it too unless IssuerTrust is
	// given.
	Trust []*x509.Certificate
	// IssuerTrust, if set, is the bundle that delivered (organisation)
	// certificates must chain to instead of Trust: for the real service the
	// "Data Providers Issuing CA v1" chain ("Data Providers Test Issuing CA
	// v1" for TEST), which is not the CA of its response signatures.
	// irpkid trust serves both, so irpkid needs none.
	IssuerTrust []*x509.Certificate
	// HTTPClient defaults to a client with a 60 s timeout whose transport
	// takes its proxy from the environment (HTTPS_PROXY for https://
	// endpoints, HTTP_PROXY for http://, NO_PROXY; loopback addresses are
	// never proxied) and names the client to the proxy with the
	// User-Agent too. A caller's client keeps its own transport. The Client uses
	// a copy that never follows redirects, whatever its CheckRedirect: a
	// followed 307 or 308 would resend the request (with the
	// TransferPassword, or the signed renewal) to whatever host and scheme
	// the Location names. A redirect is returned as an error naming it.
	HTTPClient *http.Client
	// Now defaults to time.Now; tests inject a clock.
	Now func() time.Time
	// CustomerName, if set, is sent as CustomerName.
	CustomerName string
	// UserAgent is sent as the User-Agent of every request; default
	// DefaultUserAgent().
	UserAgent string
	// BusyRetries is how often a request answered "busy" (HTTP 503 with
	// Retry-After, as irpkid's SERVICE_BUSY: nothing was done) is sent
	// again, after waiting at least Retry-After, jittered and doubling
	// up to 30 s or twice Retry-After (see Jitter); default 6, negative
	// none. A Retry-After over MaxBusyWait is not waited for here: the
	// busy answer is returned.
	BusyRetries int
	// Sleep waits d or until ctx is done; tests inject one. Default: a
	// timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// MaxBusyWait is the longest Retry-After a request waits for by itself.
const MaxBusyWait = 2 * time.Minute

// maxBusyStep caps the doubling of a busy request's waits: after a few
// refusals in a row it waits between 15 and 30 s. A longer Retry-After is
// waited for, and jittered up to twice itself like any first wait, so
// that the clients turned away together still come back apart.
const maxBusyStep = 30 * time.Second

// DefaultUserAgent is "irpki/VERSION", VERSION the version of this module
// in the running binary as the go command recorded it
// (runtime/debug.ReadBuildInfo): v1.2.3, a pseudo-version naming the
// commit, or "devel" when none is recorded (a build inside a checkout of
// this module; the irpki command then passes its own).
func DefaultUserAgent() string { return "irpki/" + moduleVersion() }

// modulePath is this module's path, looked up in the build information.
const modulePath = "github.com/irpki/irpki"

func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	mods := append([]*debug.Module{&bi.Main}, bi.Deps...)
	for _, m := range mods {
		if m.Path != modulePath {
			continue
		}
		if m.Replace != nil {
			m = m.Replace
		}
		if m.Version != "" && m.Version != "(devel)" {
			return m.Version
		}
	}
	return "devel"
}

// defaultTransport is http.DefaultTransport's configuration (proxy from the
// environment, timeouts, HTTP/2), naming the client to a proxy in its
// CONNECT request as well.
func defaultTransport(userAgent string) http.RoundTripper {
	dt, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	tr := dt.Clone()
	tr.Proxy = http.ProxyFromEnvironment
	tr.ProxyConnectHeader = http.Header{"User-Agent": {userAgent}}
	return tr
}

// Client calls one endpoint of the certificate service.
type Client struct {
	endpoint string
	opt      Options
	roots    *x509.CertPool
	issuers  *x509.CertPool // roots of delivered certificates
}

// New returns a Client for endpoint.
func New(endpoint string, opt Options) (*Client, error) {
	if endpoint == "" {
		return nil, errors.New("client: endpoint is required")
	}
	if opt.Environment != EnvTest && opt.Environment != EnvProduction {
		return nil, fmt.Errorf("client: environment must be TEST or PRODUCTION, not %q", opt.Environment)
	}
	if len(opt.Trust) == 0 {
		return nil, errors.New("client: a trust bundle is required to verify the service's responses")
	}
	if opt.UserAgent == "" {
		opt.UserAgent = DefaultUserAgent()
	}
	hc := &http.Client{Timeout: 60 * time.Second, Transport: defaultTransport(opt.UserAgent)}
	if opt.HTTPClient != nil {
		cp := *opt.HTTPClient // the caller's client stays as it was
		hc = &cp
	}
	hc.CheckRedirect = noRedirects
	opt.HTTPClient = hc
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Sleep == nil {
		opt.Sleep = clock.Sleep
	}
	switch {
	case opt.BusyRetries == 0:
		opt.BusyRetries = 6
	case opt.BusyRetries < 0:
		opt.BusyRetries = 0
	}
	roots := x509.NewCertPool()
	for _, c := range opt.Trust {
		roots.AddCert(c)
	}
	issuers := roots
	if len(opt.IssuerTrust) > 0 {
		issuers = x509.NewCertPool()
		for _, c := range opt.IssuerTrust {
			issuers.AddCert(c)
		}
	}
	return &Client{endpoint: endpoint, opt: opt, roots: roots, issuers: issuers}, nil
}

// Environment returns the environment the client sends.
func (c *Client) Environment() string { return c.opt.Environment }

// ParseTrustBundle reads PEM certificates.
func ParseTrustBundle(pemData []byte) ([]*x509.Certificate, error) {
	out, err := ParseCertificates(pemData)
	if err != nil {
		return nil, fmt.Errorf("trust bundle: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("trust bundle: no PEM certificates")
	}
	return out, nil
}

// ParseCertificates returns the certificates of every PEM CERTIFICATE
// block in pemData, in order, skipping other blocks; none is no error.
func ParseCertificates(pemData []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, pemData = pem.Decode(pemData)
		if blk == nil {
			return out, nil
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

// SignNewCertificate sends the one-time transfer credentials and a CSR (DER)
// and returns the RetrievalId.
func (c *Client) SignNewCertificate(ctx context.Context, customerID, transferID, transferPassword string, csrDER []byte) (string, error) {
	el := wire.EncodeSignNew(&wire.SignNewCertificateRequest{
		Environment: c.opt.Environment, CustomerID: customerID, CustomerName: c.opt.CustomerName,
		TransferID: transferID, TransferPassword: transferPassword, CertificateRequest: csrDER,
	})
	body, err := wire.Serialize(el)
	if err != nil {
		return "", err
	}
	resp, err := c.call(ctx, wire.OpSignNew, body)
	if err != nil {
		return "", err
	}
	return resp.RetrievalID, nil
}

// RenewCertificate sends a CSR (DER) for a new key, signed with key, the
// private key of the current certificate cert, and returns the RetrievalId.
func (c *Client) RenewCertificate(ctx context.Context, customerID string, csrDER []byte, key crypto.Signer, cert *x509.Certificate) (string, error) {
	signed, err := SignRenewRequest(c.opt.Environment, customerID, c.opt.CustomerName, csrDER, key, cert)
	if err != nil {
		return "", err
	}
	resp, err := c.call(ctx, wire.OpRenew, signed)
	if err != nil {
		return "", err
	}
	return resp.RetrievalID, nil
}

// SignRenewRequest builds and signs a RenewCertificateRequest element as a
// standalone document and returns its bytes, ready for the envelope.
func SignRenewRequest(env, customerID, customerName string, csrDER []byte, key crypto.Signer, cert *x509.Certificate) ([]byte, error) {
	signer, err := wire.NewSigner(key, [][]byte{cert.Raw})
	if err != nil {
		return nil, err
	}
	el := wire.EncodeRenew(&wire.RenewCertificateRequest{Environment: env, CustomerID: customerID, CustomerName: customerName, CertificateRequest: csrDER})
	return signer.Sign(el)
}

// GetCertificate fetches the certificate behind a RetrievalId. It does not
// check whose key it certifies; see VerifyIssued.
func (c *Client) GetCertificate(ctx context.Context, customerID, retrievalID string) (*x509.Certificate, error) {
	el := wire.EncodeGet(&wire.GetCertificateRequest{Environment: c.opt.Environment, CustomerID: customerID, CustomerName: c.opt.CustomerName, RetrievalID: retrievalID})
	body, err := wire.Serialize(el)
	if err != nil {
		return nil, err
	}
	resp, err := c.call(ctx, wire.OpGet, body)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(resp.Certificate)
	if err != nil {
		return nil, fmt.Errorf("%w: GetCertificate: certificate: %v", ErrBadResponse, err)
	}
	return cert, nil
}

// maxResponse bounds what the client reads from the service.
const maxResponse = 1 << 20

func (c *Client) call(ctx context.Context, op wire.Operation, element []byte) (*wire.Response, error) {
	name := op.RequestElement()
	name = strings.TrimSuffix(name, "Request")
	envelope := wire.Envelope(element)
	var step time.Duration
	for attempt := 0; ; attempt++ {
		resp, retryAfter, err := c.post(ctx, name, op, envelope)
		if retryAfter <= 0 || attempt >= c.opt.BusyRetries || retryAfter > MaxBusyWait {
			return resp, err
		}
		// Busy: wait at least what the service asked, and longer each
		// time, jittered so that the clients it turned away together do
		// not all come back at the same instant.
		step = max(2*retryAfter, min(2*step, maxBusyStep))
		if serr := c.opt.Sleep(ctx, max(retryAfter, Jitter(step))); serr != nil {
			return resp, err // the busy answer, the last there was
		}
	}
}

// post sends one request. retryAfter is set when the service answered
// busy: HTTP 503 with a Retry-After in seconds.
func (c *Client) post(ctx context.Context, name string, op wire.Operation, envelope []byte) (_ *wire.Response, retryAfter time.Duration, _ error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(envelope))
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+string(op)+`"`)
	req.Header.Set("User-Agent", c.opt.UserAgent)
	hr, err := c.opt.HTTPClient.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	defer hr.Body.Close()
	if hr.StatusCode == http.StatusServiceUnavailable {
		if secs, err := strconv.Atoi(strings.TrimSpace(hr.Header.Get("Retry-After"))); err == nil && secs >= 0 {
			retryAfter = max(time.Duration(secs)*time.Second, time.Second)
		}
	}
	resp, err := c.read(name, op, hr)
	return resp, retryAfter, err
}

// read reads and decodes the answer to a request.
func (c *Client) read(name string, op wire.Operation, hr *http.Response) (*wire.Response, error) {
	if hr.StatusCode >= 300 && hr.StatusCode < 400 {
		return nil, redirectError(name, hr)
	}
	raw, err := io.ReadAll(io.LimitReader(hr.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading response: %w", name, err)
	}
	if len(raw) > maxResponse {
		return nil, fmt.Errorf("%w: %s: response larger than %d bytes", ErrBadResponse, name, maxResponse)
	}
	return c.decode(name, op, hr.StatusCode, raw)
}

// noRedirects makes an http.Client return a redirect response as it is:
// SOAP has no use for redirects, and following one would send the request
// body, secrets included, wherever the Location points.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// redirectError describes a redirect answer, naming where it points.
func redirectError(name string, hr *http.Response) error {
	loc := hr.Header.Get("Location")
	if u, err := hr.Location(); err == nil {
		loc = u.String()
	}
	if loc == "" {
		return fmt.Errorf("%s: the service answered HTTP %d (a redirect without a Location); irpki does not follow redirects: check the endpoint", name, hr.StatusCode)
	}
	return fmt.Errorf("%s: the service answered with a redirect (HTTP %d) to %s; irpki does not follow redirects: if that is the service's address, give it as --endpoint", name, hr.StatusCode, loc)
}

// decode reads and verifies a response envelope.
func (c *Client) decode(name string, op wire.Operation, status int, raw []byte) (*wire.Response, error) {
	lim := wire.DefaultLimits
	lim.MaxBytes = maxResponse
	el, err := wire.ParseEnvelope(raw, lim)
	if err != nil {
		if status != http.StatusOK {
			return nil, fmt.Errorf("%w: %s: HTTP %d", ErrBadResponse, name, status)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrBadResponse, name, err)
	}
	if f, err := wire.DecodeFault(el); err == nil {
		return nil, &FaultError{Operation: name, HTTPStatus: status, Code: Code(CleanText(string(f.Code))), Message: CleanText(f.String)}
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("%w: %s: HTTP %d", ErrBadResponse, name, status)
	}
	verified, err := c.verifyResponse(wire.Detach(el))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	resp, err := wire.DecodeResponse(verified, op, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadResponse, name, err)
	}
	if !resp.Result.OK() {
		se := &ServiceError{Operation: name}
		for _, e := range resp.Result.Errors {
			se.All = append(se.All, ErrorInfo{Code: Code(CleanText(string(e.Code))), Message: CleanText(e.Message)})
		}
		if len(se.All) > 0 {
			se.Code, se.Message = se.All[0].Code, se.All[0].Message
		}
		return nil, se
	}
	return resp, nil
}

// verifyResponse checks the response element's signature and its signer's
// chain, and returns the verified element.
func (c *Client) verifyResponse(el *etree.Element) (*etree.Element, error) {
	now := c.opt.Now()
	signer, err := wire.ResponseSignatureCertificate(el)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrustedResponse, err)
	}
	if signer.IsCA {
		return nil, fmt.Errorf("%w: signed by a CA certificate (%s)", ErrUntrustedResponse, signer.Subject)
	}
	// Organisation certificates may chain to the same bundle (one root
	// is above both them and the signing certificate, and a bundle for
	// every purpose, as irpkid trust prints by default, holds their
	// issuing CAs too), so a chain alone would let any customer sign
	// responses for the others. A bundle that names the
	// service's signing certificates (as irpkid trust does) pins them; and a
	// certificate naming a customer (CN = a business ID) is never the
	// service's.
	if pinned := c.pinnedSigners(); len(pinned) > 0 && !containsCert(pinned, signer) {
		if c.rotatedSigner(pinned, signer, now) {
			return nil, fmt.Errorf("%w: %w: the response is signed by signing certificate %s (serial %s, valid from %s), which the same CA issued after the one the trust bundle pins (serial %s): install the service's current trust bundle (irpkid trust) in place of the configured one, and run again",
				ErrUntrustedResponse, ErrSignerRotated, signer.Subject.CommonName, serial.Text(signer.SerialNumber), signer.NotBefore.UTC().Format(time.DateOnly), pinnedSerials(pinned))
		}
		return nil, fmt.Errorf("%w: signer %s is not the service signing certificate of the trust bundle", ErrUntrustedResponse, signer.Subject)
	}
	if businessid.Validate(signer.Subject.CommonName) == nil {
		return nil, fmt.Errorf("%w: signed by the organisation certificate of %s, not by the service", ErrUntrustedResponse, signer.Subject.CommonName)
	}
	if _, err := signer.Verify(x509.VerifyOptions{Roots: c.roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("%w: signer %s: %v", ErrUntrustedResponse, signer.Subject, err)
	}
	verified, err := wire.VerifyResponse(el, signer, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrustedResponse, err)
	}
	return verified, nil
}

// rotatedSigner reports whether signer, which the trust bundle does not
// pin, is a newer signing certificate of the service: issued by the CA of a
// pinned one, after it, and chaining to the bundle. The services CA
// certifies only the service's signers, so this is the service having
// rotated its signer, not a stranger.
func (c *Client) rotatedSigner(pinned []*x509.Certificate, signer *x509.Certificate, now time.Time) bool {
	if businessid.Validate(signer.Subject.CommonName) == nil {
		return false
	}
	for _, p := range pinned {
		if bytes.Equal(p.RawIssuer, signer.RawIssuer) && bytes.Equal(p.AuthorityKeyId, signer.AuthorityKeyId) && signer.NotBefore.After(p.NotBefore) {
			_, err := signer.Verify(x509.VerifyOptions{Roots: c.roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			return err == nil
		}
	}
	return false
}

func pinnedSerials(pinned []*x509.Certificate) string {
	var s []string
	for _, p := range pinned {
		s = append(s, serial.Text(p.SerialNumber))
	}
	return strings.Join(s, ", ")
}

// pinnedSigners returns the trust bundle's non-CA certificates: the
// service's own response signing certificates.
func (c *Client) pinnedSigners() []*x509.Certificate {
	var out []*x509.Certificate
	for _, t := range c.opt.Trust {
		if !t.IsCA {
			out = append(out, t)
		}
	}
	return out
}

func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, l := range list {
		if l.Equal(c) {
			return true
		}
	}
	return false
}

// ErrIssuerUntrusted is wrapped when a delivered certificate does not chain
// to the issuer trust bundle (Options.IssuerTrust, or Trust without it).
var ErrIssuerUntrusted = errors.New("issued certificate not trusted")

// VerifyIssued checks a certificate the service delivered: it chains to the
// issuer trust bundle (Options.IssuerTrust, or Trust when that is not set)
// for client authentication, certifies pub, and names customerID as its
// common name.
func (c *Client) VerifyIssued(cert *x509.Certificate, pub crypto.PublicKey, customerID string) error {
	_, err := c.VerifyIssuedChain(cert, pub, customerID)
	return err
}

// VerifyIssuedChain is VerifyIssued that also returns the CA certificates
// the certificate chains through, issuer first, root last.
func (c *Client) VerifyIssuedChain(cert *x509.Certificate, pub crypto.PublicKey, customerID string) ([]*x509.Certificate, error) {
	chains, err := cert.Verify(x509.VerifyOptions{Roots: c.issuers, Intermediates: c.issuers, CurrentTime: c.opt.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		which := "the issuer trust bundle"
		if len(c.opt.IssuerTrust) == 0 {
			which = "the trust bundle, which also serves as the issuer trust bundle as none was given"
		}
		return nil, fmt.Errorf("%w: issued by %q, it does not chain to %s: %v", ErrIssuerUntrusted, cert.Issuer.CommonName, which, err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if k, ok := pub.(equaler); !ok || !k.Equal(cert.PublicKey) {
		return nil, errors.New("issued certificate is not for our public key")
	}
	if cert.Subject.CommonName != customerID {
		return nil, fmt.Errorf("issued certificate names %q, not customer %s", cert.Subject.CommonName, customerID)
	}
	best := chains[0]
	for _, ch := range chains {
		if len(ch) > len(best) {
			best = ch
		}
	}
	return best[1:], nil
}
