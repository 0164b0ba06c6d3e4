// Package certapi is the HTTP face of the certificate service: the SOAP
// endpoint at /2017/10/CertificateServices (the real service's path), its
// WSDL and XSD, and /healthz. It reads a request under the wire package's
// limits, dispatches on the body element, calls the service, and answers
// with a response signed by the service signing key; malformed requests get
// a SOAP Fault. resultFor and faultFor are the one place where errors
// become wire answers.
package certapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"

	"github.com/irpki/irpki/internal/admit"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/wire"
)

// Path is the SOAP endpoint's path, the same as the real service's.
const Path = "/2017/10/CertificateServices"

// Service is what the handler needs of the use cases.
type Service interface {
	SignNew(ctx context.Context, r *wire.SignNewCertificateRequest) (string, error)
	Renew(ctx context.Context, r *wire.SignedRenew) (string, error)
	Get(ctx context.Context, r *wire.GetCertificateRequest) ([]byte, error)
}

var _ Service = (*service.Service)(nil)

// Config holds the handler's settings.
type Config struct {
	Limits wire.Limits
	Log    *slog.Logger
	// Health, if not nil, is called by /healthz: the cheap liveness check.
	Health func(context.Context) error
	// Ready, if not nil, is called by /readyz: whether the service can do
	// its work now (the database takes a write, every signer signs).
	Ready func(context.Context) error
	// PublicURL is scheme://host[:port] that clients reach the service at;
	// ?wsdl names the endpoint under it. Empty: the address the request's
	// connection arrived at. Never the request's Host header, which any
	// client sets, and which a shared cache would then serve to others.
	PublicURL string
	// Observer, if not nil, is told of every SOAP request answered.
	Observer Observer
	// Now is the clock that times requests for Observer; default time.Now.
	Now func() time.Time
	// BodyBytesInFlight bounds the memory that request bodies being read
	// may hold at once, across all connections; a request that would go
	// over it is answered 503 SERVICE_BUSY. 0 means
	// DefaultBodyBytesInFlight.
	BodyBytesInFlight int64
	// MaxInFlight requests are served at once and MaxQueued more may wait
	// for them; a request beyond that is answered at once with 503
	// SERVICE_BUSY and Retry-After. Each request costs up to three RSA
	// signatures (the request's, the certificate's, the response's), so
	// the bound keeps the CPU busy without letting a crowd of clients make
	// every request slow. 0 means DefaultMaxInFlight, DefaultMaxQueued;
	// a negative MaxQueued lets none wait.
	MaxInFlight, MaxQueued int
}

// Observer is told how each SOAP request was answered: its operation
// (SignNewCertificate, RenewCertificate, GetCertificate; "" when the
// request could not be read), result (OK, FAIL or fault), catalogue
// code ("" for OK) and how long the answer took.
type Observer interface {
	SOAPRequest(operation, result, code string, d time.Duration)
}

// DefaultMaxInFlight and DefaultMaxQueued are the default admission
// bounds: requests being served at once, and requests waiting for them.
//
// A request costs about 4 ms of CPU, so a CPU serves about 250 a second,
// and a request turned away comes back no sooner than Retry-After, one
// second, later (irpki doubles its wait each time). A queue of 16 per CPU
// held a tenth of that second: on two CPUs at 64 and 128 clients the
// turned-away clients sat out their waits while the server went idle (0.57
// and 0.20 of its two cores unused, throughput 0.64 and 0.52 of the best
// step). 64 per CPU holds about a quarter of a second of work, which is
// what an admitted request waits at most for on an otherwise idle machine,
// and keeps 128 clients on two CPUs admitted: 0.87-1.00 of the best step's
// throughput at 64 and 128 clients, for about 20 MiB more memory with 128
// connections being served (docs/benchmark.md).
var (
	DefaultMaxInFlight = 4 * runtime.GOMAXPROCS(0)
	DefaultMaxQueued   = 64 * runtime.GOMAXPROCS(0)
)

// DefaultBodyBytesInFlight is the default bound on the memory of request
// bodies being read: 128 bodies of the largest size allowed by default,
// some thousand ordinary requests.
const DefaultBodyBytesInFlight = 32 << 20

// ResponseSigner signs response elements (wire.Signer, or
// wire.SwitchingSigner for a signer that a rotation replaces).
type ResponseSigner interface {
	Sign(el *etree.Element) ([]byte, error)
}

// Handler serves the SOAP interface.
type Handler struct {
	svc       Service
	signer    ResponseSigner
	limits    wire.Limits
	log       *slog.Logger
	health    func(context.Context) error
	ready     func(context.Context) error
	publicURL string
	bodies    *budget
	observer  Observer
	now       func() time.Time
	admission *admit.Queue
}

// New returns the handler.
func New(svc Service, signer ResponseSigner, cfg Config) *Handler {
	if cfg.BodyBytesInFlight <= 0 {
		cfg.BodyBytesInFlight = DefaultBodyBytesInFlight
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxQueued == 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	return &Handler{svc: svc, signer: signer, limits: cfg.Limits, log: cfg.Log, health: cfg.Health, ready: cfg.Ready,
		publicURL: strings.TrimSuffix(cfg.PublicURL, "/"), bodies: &budget{max: cfg.BodyBytesInFlight},
		observer: cfg.Observer, now: cfg.Now, admission: admit.New(cfg.MaxInFlight, cfg.MaxQueued, 0)}
}

// Admission is the queue of requests being served and waiting.
func (h *Handler) Admission() *admit.Queue { return h.admission }

// BodyBytesInFlight is the memory that request bodies being read hold now.
func (h *Handler) BodyBytesInFlight() int64 { return h.bodies.used.Load() }

// Register mounts the endpoint, its WSDL/XSD, /healthz and /readyz on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle(Path, h)
	h.RegisterHealth(mux)
}

// RegisterHealth mounts /healthz and /readyz on mux (also the metrics
// listener's).
func (h *Handler) RegisterHealth(mux *http.ServeMux) {
	mux.HandleFunc("/healthz", h.serveCheck("health", h.health))
	mux.HandleFunc("/readyz", h.serveCheck("readiness", h.ready))
}

// serveCheck answers ok, or 503 with the reason logged (not shown: it may
// name files and keys).
func (h *Handler) serveCheck(name string, check func(context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if check != nil {
			if err := check(r.Context()); err != nil {
				h.log.ErrorContext(r.Context(), name+" check failed", "err", err)
				http.Error(w, "not "+map[string]string{"health": "healthy", "readiness": "ready"}[name], http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	}
}

// ServeHTTP answers one SOAP request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		h.serveDescription(w, r)
		return
	}
	start := h.now()
	a := h.handle(w, r)
	if h.observer != nil {
		op := ""
		if a.op != "" {
			op = strings.TrimSuffix(a.op.RequestElement(), "Request")
		}
		h.observer.SOAPRequest(op, a.result, string(a.code), h.now().Sub(start))
	}
}

// answer is how a request was answered, for the metrics: its operation
// ("" when unknown), result (OK, FAIL or fault) and catalogue code.
type answer struct {
	op     wire.Operation
	result string
	code   wire.Code
}

func (h *Handler) handle(w http.ResponseWriter, r *http.Request) (a answer) {
	var op wire.Operation
	defer func() {
		if a.op == "" {
			a.op = op
		}
	}()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		return h.fault(w, r, http.StatusMethodNotAllowed, &wire.Fault{Client: true, Code: wire.CodeMalformed, String: "Use POST for SOAP requests, GET ?wsdl or ?xsd for the service description."})
	}
	if ct := r.Header.Get("Content-Type"); !isTextXML(ct) {
		return h.fault(w, r, http.StatusUnsupportedMediaType, &wire.Fault{Client: true, Code: wire.CodeContentType, String: "The Content-Type is not SOAP 1.1's: send text/xml; charset=utf-8."})
	}
	body, held, err := h.readBody(w, r)
	defer h.bodies.give(held)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return h.fault(w, r, http.StatusRequestEntityTooLarge, &wire.Fault{Client: true, Code: wire.CodeTooLarge, String: fmt.Sprintf("The request body is larger than %d bytes.", h.limits.MaxBytes)})
		case errors.Is(err, errBusy):
			return h.busy(w, r)
		default:
			return h.fault(w, r, http.StatusBadRequest, &wire.Fault{Client: true, Code: wire.CodeMalformed, String: "The request body could not be read completely."})
		}
	}
	el, err := wire.ParseEnvelope(body, h.limits)
	if err != nil {
		f, status := faultFor(err)
		return h.fault(w, r, status, f)
	}
	op, err = wire.RequestOperation(el)
	if err != nil {
		f, status := faultFor(err)
		return h.fault(w, r, status, f)
	}
	if a := soapAction(r); a != "" && !strings.EqualFold(a, string(op)) && !strings.HasSuffix(a, "/"+string(op)) {
		return h.fault(w, r, http.StatusInternalServerError, &wire.Fault{Client: true, Code: wire.CodeActionMismatch, String: fmt.Sprintf("The SOAPAction header names another operation than the body's %s.", op.RequestElement())})
	}
	// The signatures come after this point: the request waits here for
	// its turn, or is turned away at once if too many wait already.
	release, err := h.admission.Enter(r.Context(), "")
	if err != nil {
		return h.busy(w, r) // ErrBusy, or the client left while it waited
	}
	defer release()
	standalone := wire.Detach(el)
	resp := &wire.Response{Operation: op}
	var opErr error
	switch op {
	case wire.OpSignNew:
		req, err := wire.DecodeSignNew(standalone)
		if err != nil {
			f, status := faultFor(err)
			return h.fault(w, r, status, f)
		}
		resp.RetrievalID, opErr = h.svc.SignNew(r.Context(), req)
	case wire.OpRenew:
		req, err := wire.ParseRenew(standalone)
		if err != nil {
			f, status := faultFor(err)
			return h.fault(w, r, status, f)
		}
		resp.RetrievalID, opErr = h.svc.Renew(r.Context(), req)
	case wire.OpGet:
		req, err := wire.DecodeGet(standalone)
		if err != nil {
			f, status := faultFor(err)
			return h.fault(w, r, status, f)
		}
		resp.Certificate, opErr = h.svc.Get(r.Context(), req)
	}
	resp.Result = resultFor(opErr)
	if !resp.Result.OK() {
		resp.RetrievalID, resp.Certificate = "", nil
	}
	return h.respond(w, r, resp)
}

// busy answers 503 SERVICE_BUSY: nothing was done, and the client may send
// the same request again after Retry-After.
func (h *Handler) busy(w http.ResponseWriter, r *http.Request) answer {
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Connection", "close")
	return h.fault(w, r, http.StatusServiceUnavailable, &wire.Fault{Code: wire.CodeBusy, String: "The service is serving too many requests at once. Try again in a moment."})
}

// resultFor maps an operation's error to its Result: the one place where
// refusals become wire answers.
func resultFor(err error) wire.Result {
	if err == nil {
		return wire.Result{Status: wire.StatusOK}
	}
	var e *service.Error
	if !errors.As(err, &e) {
		e = service.Unavailable()
	}
	msg := e.Message
	if len(msg) > 255 {
		msg = msg[:255]
	}
	return wire.Result{Status: wire.StatusFail, Errors: []wire.ErrorInfo{{Code: e.Code, Message: msg}}}
}

// faultFor maps a decoding error to a fault and its HTTP status.
func faultFor(err error) (*wire.Fault, int) {
	msg := clip(err.Error(), maxFaultString)
	switch {
	case errors.Is(err, wire.ErrTooLarge):
		return &wire.Fault{Client: true, Code: wire.CodeTooLarge, String: msg}, http.StatusRequestEntityTooLarge
	case errors.Is(err, wire.ErrUnknownOp):
		return &wire.Fault{Client: true, Code: wire.CodeUnknownOp, String: msg + "; the operations are SignNewCertificate, RenewCertificate and GetCertificate"}, http.StatusInternalServerError
	case errors.Is(err, wire.ErrMustUnderstand):
		return &wire.Fault{Client: true, Code: wire.CodeMustUnderstand, String: msg}, http.StatusInternalServerError
	case errors.Is(err, wire.ErrSchema), errors.Is(err, wire.ErrSigMissing):
		return &wire.Fault{Client: true, Code: wire.CodeSchema, String: msg}, http.StatusInternalServerError
	default:
		return &wire.Fault{Client: true, Code: wire.CodeMalformed, String: msg}, http.StatusInternalServerError
	}
}

// maxFaultString bounds a fault's reason. Decoding errors name only what
// the schema and the SOAP and XML-DSig vocabularies define, never text,
// names or values taken from the request (a password typed into the wrong
// element must not come back in a fault or a log line); the bound is a
// second line of defence.
const maxFaultString = 300

// clip cuts s to at most n bytes at a UTF-8 boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func (h *Handler) fault(w http.ResponseWriter, r *http.Request, status int, f *wire.Fault) answer {
	f.String = clip(f.String, maxFaultString)
	h.log.InfoContext(r.Context(), "soap fault", "code", f.Code, "status", status, "remote", r.RemoteAddr, "reason", f.String)
	writeXML(w, status, wire.EncodeFault(f))
	return answer{result: "fault", code: f.Code}
}

// writeXML writes a whole SOAP message with its length: a client reads
// one body of known length rather than chunks (net/http chunks what it
// is not told the length of once it passes 2 KiB, as a signed response
// with a certificate does).
func writeXML(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

func (h *Handler) respond(w http.ResponseWriter, r *http.Request, resp *wire.Response) answer {
	signed, err := h.signer.Sign(wire.EncodeResponse(resp))
	if err != nil {
		h.log.ErrorContext(r.Context(), "signing response failed", "err", err)
		return h.fault(w, r, http.StatusInternalServerError, &wire.Fault{Code: wire.CodeInternal, String: "The service could not sign its response. Try again later."})
	}
	if !resp.Result.OK() {
		h.log.InfoContext(r.Context(), "request refused", "op", resp.Operation, "code", resp.Result.Errors[0].Code)
	}
	writeXML(w, http.StatusOK, wire.Envelope(signed))
	a := answer{op: resp.Operation, result: resp.Result.Status}
	if !resp.Result.OK() {
		a.code = resp.Result.Errors[0].Code
	}
	return a
}

func isTextXML(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "text/xml" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

func soapAction(r *http.Request) string {
	a := strings.TrimSpace(r.Header.Get("SOAPAction"))
	return strings.Trim(a, `"`)
}

// ReadHeaderTimeout and friends bound slow clients; cmd/irpkid applies them.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 60 * time.Second
	IdleTimeout       = 120 * time.Second
)
