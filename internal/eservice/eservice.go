// Package eservice is the Incomes Register certificate e-service: the web
// pages where an organisation's representative signs in, sees the
// organisation's certificates and their state, orders a new certificate
// (with the transfer credentials delivered to the technical contact over two
// channels), changes a certificate's technical contact, revokes a
// certificate and reads the audit trail; and where the authority's operator
// manages organisations and their representatives.
//
// New builds the handler; Register mounts it at Path ("/eservice/") on the
// server's mux. The pages are server-rendered HTML (html/template, embedded)
// in Finnish, Swedish and English, work without JavaScript, and are
// protected by session cookies (HttpOnly, SameSite=Lax, Secure over TLS),
// per-session CSRF tokens on every form, argon2id password hashes and
// rate-limited sign-in. The use cases themselves are the service package's
// and the accounts package's; this package adds the sessions and credential
// deliveries it keeps in tables of its own. Each concern has its file:
// session.go and csrf.go, limiter.go, clientip.go, hashqueue.go, and the
// page groups signin.go, certificates.go, orders.go, admin.go, audit.go,
// delivery.go, retrieve.go and oidc.go; render.go renders them all.
package eservice

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/accounts"
	"github.com/irpki/irpki/internal/admit"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/notify"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// Path is where the e-service is mounted.
const Path = "/eservice/"

// Service is what the e-service needs of the certificate service.
type Service interface {
	Config() service.Config
	Certificates(ctx context.Context, customerID string) ([]service.CertificateView, error)
	CreateOrder(ctx context.Context, r service.OrderRequest, actor string) (service.Credentials, error)
	Orders(ctx context.Context, customerID string) ([]service.OrderView, error)
	SignNew(ctx context.Context, r *wire.SignNewCertificateRequest) (string, error)
	Get(ctx context.Context, r *wire.GetCertificateRequest) ([]byte, error)
	CancelOrder(ctx context.Context, customerID, ref, actor string) error
	ResendOrder(ctx context.Context, customerID, ref, actor string) (service.Credentials, service.OrderView, error)
	ChangeContact(ctx context.Context, c service.ContactChange, actor string) error
	Revoke(ctx context.Context, serial, reason, customerID, actor string, expect []string) ([]string, error)
	RevocationPlan(ctx context.Context, serial, reason, customerID string) ([]service.CertificateView, error)
	AuditLog(ctx context.Context, customerID string, limit int) ([]store.AuditEntry, error)
	AddOrg(ctx context.Context, o store.Org, actor string) error
}

var _ Service = (*service.Service)(nil)

// Store is what the e-service needs of storage.
type Store interface {
	Update(ctx context.Context, fn func(*store.Tx) error) error
	View(ctx context.Context, fn func(*store.Tx) error) error
}

// User is an e-service account: a representative of one organisation, or
// an operator of the authority (package accounts keeps them).
type User = accounts.Account

// Argon2Params are the argon2id cost of new password hashes
// (accounts.Argon2Params; accounts.DefaultArgon2 is the default).
type Argon2Params = accounts.Argon2Params

// Config holds the e-service's settings; DefaultConfig has sensible values.
type Config struct {
	// PublicURL is the scheme://host[:port] the e-service is reached at; the
	// credential-delivery links in e-mail point there. Required.
	PublicURL string
	// SecureCookies marks cookies Secure even on plain HTTP, for a server
	// behind a TLS-terminating proxy. Over TLS they are Secure anyway.
	SecureCookies bool
	SessionIdle   time.Duration // a session ends after this long unused
	SessionMax    time.Duration // and this long after sign-in in any case
	Argon2        Argon2Params  // cost of new password hashes
	// Sign-in limits: failures per account and per client IP inside
	// LimitWindow after which sign-in is refused until the window passes.
	AccountFailures, IPFailures int
	LimitWindow                 time.Duration
	// PINAttempts is how many wrong PINs lock a credential delivery.
	PINAttempts int
	// Password checks: HashWorkers run at once and HashWaiting more may
	// wait, HashPerClient of them from one client (an IPv4 address, an
	// IPv6 /64). A sign-in beyond these is answered at once: 503 when the
	// queue is full, 429 when its client already has its share.
	HashWorkers, HashWaiting, HashPerClient int
	// Observer, if not nil, is told of every sign-in attempt.
	Observer Observer
	// TrustedProxies are the reverse proxies (TLS terminators) in front of
	// the server. A request from one of them is counted against the client
	// address it reports in X-Forwarded-For, so that the per-IP limits do
	// not lump every user behind the proxy together. Empty: the peer
	// address is the client, and X-Forwarded-For is ignored (it is forged
	// as easily as any header).
	TrustedProxies []netip.Prefix
	// PINDelivery is how the PIN of a credential delivery reaches the
	// technical contact: PINBySMS (default) or PINOnScreen.
	PINDelivery string
	// SMSWake, if set, is called after a PIN's SMS has been queued, to have
	// the dispatcher send it at once (sms.Dispatcher.Wake).
	SMSWake func()
	// OIDC, if set, offers sign-in through an OpenID Connect provider.
	OIDC *OIDCConfig
	// ReserveMemory, if set, is called before each argon2id password hash
	// or check with the memory it will hold (64 MiB by default), and the
	// release it returns once the hash is done: irpkid serve's memory
	// budget raises the Go memory limit by that much meanwhile
	// (membudget.Budget.Reserve), so that the collector does not run again
	// and again against the budget while a hash holds it. nil: no
	// reservations.
	ReserveMemory func(bytes int64) (release func())
	// NoPasswords turns password sign-in off (it needs OIDC): the sign-in
	// page offers only the provider, and sessions made with a password end.
	NoPasswords bool
}

// withMemory runs hash, a password hash or check holding n bytes, under a
// reservation of them taken with reserve (the hook Config.ReserveMemory;
// nil reserves nothing) and released on every path out, a panic too, lest
// the limit stay raised.
func withMemory(reserve func(int64) func(), n int64, hash func()) {
	if reserve != nil {
		defer reserve(n)()
	}
	hash()
}

// Observer is told the outcome of each sign-in attempt (for metrics): ok,
// or the refusal's audit code in lower case (bad_credentials,
// rate_limited, busy, …).
type Observer interface {
	SignIn(outcome string)
}

func (h *Handler) signedIn(outcome string) {
	if h.cfg.Observer != nil {
		h.cfg.Observer.SignIn(outcome)
	}
}

// DefaultConfig returns the default settings for a public URL.
func DefaultConfig(publicURL string) Config {
	return Config{
		PublicURL:       publicURL,
		SessionIdle:     30 * time.Minute,
		SessionMax:      8 * time.Hour,
		Argon2:          accounts.DefaultArgon2,
		AccountFailures: 5,
		IPFailures:      20,
		LimitWindow:     15 * time.Minute,
		PINAttempts:     5,
		PINDelivery:     PINBySMS,
		HashWorkers:     4,
		HashWaiting:     12,
		HashPerClient:   2,
	}
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var staticFS embed.FS

// Handler serves the e-service.
type Handler struct {
	cfg       Config
	svc       Service
	db        Store
	mail      notify.Mailer
	clock     clock.Clock
	log       *slog.Logger
	pages     map[string]*template.Template
	hashes    *admit.Queue
	dummyHash string
	mux       *http.ServeMux
	oidc      *oidcClient // nil without OpenID Connect
}

// New returns the e-service handler.
func New(cfg Config, svc Service, db Store, m notify.Mailer, clk clock.Clock, log *slog.Logger) (*Handler, error) {
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("eservice: public URL %q: give scheme://host[:port], e.g. https://irpki.example.fi", cfg.PublicURL)
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if cfg.SessionIdle <= 0 || cfg.SessionMax <= 0 || cfg.AccountFailures <= 0 || cfg.IPFailures <= 0 || cfg.LimitWindow <= 0 || cfg.PINAttempts <= 0 || cfg.HashWorkers <= 0 || cfg.HashWaiting < 0 || cfg.HashPerClient <= 0 {
		return nil, errors.New("eservice: session lengths and limits must be positive")
	}
	if cfg.Argon2.Memory == 0 || cfg.Argon2.Time == 0 || cfg.Argon2.Threads == 0 {
		return nil, errors.New("eservice: argon2 parameters must be positive")
	}
	if cfg.PINDelivery != PINBySMS && cfg.PINDelivery != PINOnScreen {
		return nil, fmt.Errorf("eservice: PIN delivery %q: use %s or %s", cfg.PINDelivery, PINBySMS, PINOnScreen)
	}
	var oc *oidcClient
	if cfg.OIDC != nil {
		var err error
		if oc, err = newOIDCClient(*cfg.OIDC, clk.Now); err != nil {
			return nil, err
		}
	} else if cfg.NoPasswords {
		return nil, errors.New("eservice: password sign-in can be turned off only with an OpenID Connect provider configured")
	}
	var dummy string
	withMemory(cfg.ReserveMemory, cfg.Argon2.MemoryBytes(), func() {
		dummy, err = accounts.HashPassword(cfg.Argon2, "no such account: equal work for unknown names")
	})
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, svc: svc, db: db, mail: m, clock: clk, log: log,
		hashes: admit.New(cfg.HashWorkers, cfg.HashWaiting, cfg.HashPerClient), dummyHash: dummy, pages: map[string]*template.Template{}, oidc: oc}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("eservice: template %s: %w", n, err)
		}
		h.pages[strings.TrimSuffix(base, ".html")] = t
	}
	h.routes()
	return h, nil
}

// Register mounts the e-service at Path on mux.
func (h *Handler) Register(mux *http.ServeMux) { mux.Handle(Path, h) }

func (h *Handler) routes() {
	m := http.NewServeMux()
	css, _ := fs.ReadFile(staticFS, "static/style.css")
	m.HandleFunc("GET "+Path+"static/style.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(css)
	})
	m.HandleFunc("GET "+Path+"{$}", h.home)
	m.HandleFunc("GET "+Path+"lang", h.setLanguage)
	m.HandleFunc("GET "+Path+"signin", h.signinForm)
	m.HandleFunc("POST "+Path+"signin", h.signin)
	m.HandleFunc("POST "+Path+"signout", h.signed(h.signout))
	m.HandleFunc("GET "+Path+"oidc/start", h.oidcStart)
	m.HandleFunc("GET "+callbackPath, h.oidcCallback)
	m.HandleFunc("GET "+Path+"org", h.signed(h.orgPick))
	m.HandleFunc("POST "+Path+"org", h.signed(h.orgSwitch))
	m.HandleFunc("GET "+Path+"certificates", h.rep(h.certificates))
	m.HandleFunc("GET "+Path+"certificates/{serial}", h.rep(h.certificate))
	m.HandleFunc("POST "+Path+"certificates/{serial}/contact", h.rep(h.changeContact))
	m.HandleFunc("POST "+Path+"certificates/{serial}/revoke", h.rep(h.revoke))
	m.HandleFunc("GET "+Path+"order", h.rep(h.orderForm))
	m.HandleFunc("POST "+Path+"order", h.rep(h.order))
	m.HandleFunc("GET "+Path+"orders", h.rep(h.orders))
	m.HandleFunc("POST "+Path+"orders/{ref}/resend", h.rep(h.resendOrder))
	m.HandleFunc("POST "+Path+"orders/{ref}/cancel", h.rep(h.cancelOrder))
	m.HandleFunc("GET "+Path+"audit", h.rep(h.auditTrail))
	m.HandleFunc("GET "+Path+"delivery/{token}", h.deliveryForm)
	m.HandleFunc("GET "+Path+"retrieve", h.retrieveForm)
	m.HandleFunc("POST "+Path+"retrieve", h.retrieve)
	m.HandleFunc("POST "+Path+"delivery/{token}", h.deliveryOpen)
	m.HandleFunc("GET "+Path+"admin/orgs", h.op(h.adminOrgs))
	m.HandleFunc("POST "+Path+"admin/orgs", h.op(h.adminAddOrg))
	m.HandleFunc("GET "+Path+"admin/orgs/{id}", h.op(h.adminOrg))
	m.HandleFunc("POST "+Path+"admin/orgs/{id}/users", h.op(h.adminAddUser))
	m.HandleFunc("POST "+Path+"admin/orgs/{id}/users/disable", h.op(h.adminSetDisabled(true)))
	m.HandleFunc("POST "+Path+"admin/orgs/{id}/users/enable", h.op(h.adminSetDisabled(false)))
	m.HandleFunc("GET "+Path+"admin/certificates", h.op(h.adminCertificates))
	h.mux = m
}

// ServeHTTP serves the e-service with its security headers; cross-origin
// form posts are refused before any handler runs, and every POST carries a
// CSRF token that the handlers check.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	formAction := "'self'"
	if h.oidc != nil {
		// Sign-out goes on to the provider's end-session endpoint.
		formAction += " " + h.oidc.formOrigins()
	}
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	if !strings.HasPrefix(r.URL.Path, Path+"static/") {
		hd.Set("Cache-Control", "no-store")
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	}
	csrfGuard.Handler(h.mux).ServeHTTP(w, r)
}

var csrfGuard = http.NewCrossOriginProtection()

type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session)

// signed requires a session, and a valid CSRF token on POST.
func (h *Handler) signed(fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.currentSession(r)
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		if s == nil {
			if r.Method == http.MethodPost {
				h.forbidden(w, r, nil)
				return
			}
			http.Redirect(w, r, Path+"signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !checkCSRF(r, s) {
			h.log.WarnContext(r.Context(), "e-service form without a valid CSRF token refused", "path", r.URL.Path, "user", s.user.Email)
			h.forbidden(w, r, s)
			return
		}
		fn(w, r, s)
	}
}

// rep requires a representative's session.
func (h *Handler) rep(fn handlerFunc) http.HandlerFunc {
	return h.signed(func(w http.ResponseWriter, r *http.Request, s *session) {
		if s.user.CustomerID == "" && len(s.orgs) > 0 {
			// Signed in for several organisations: one must be chosen.
			http.Redirect(w, r, Path+"org?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if s.user.CustomerID == "" {
			http.Redirect(w, r, Path+"admin/orgs", http.StatusSeeOther)
			return
		}
		fn(w, r, s)
	})
}

// op requires an operator's session.
func (h *Handler) op(fn handlerFunc) http.HandlerFunc {
	return h.signed(func(w http.ResponseWriter, r *http.Request, s *session) {
		if !s.user.Operator {
			h.render(w, r, s, http.StatusForbidden, "error", "error.title", errorData{Message: "error.operatorOnly"})
			return
		}
		fn(w, r, s)
	})
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	s, err := h.currentSession(r)
	switch {
	case err != nil:
		h.fail(w, r, nil, err)
	case s == nil:
		http.Redirect(w, r, Path+"signin", http.StatusSeeOther)
	case s.user.Operator && s.user.CustomerID == "" && len(s.orgs) == 0:
		http.Redirect(w, r, Path+"admin/orgs", http.StatusSeeOther)
	default:
		http.Redirect(w, r, Path+"certificates", http.StatusSeeOther)
	}
}
