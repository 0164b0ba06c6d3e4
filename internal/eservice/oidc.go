package eservice

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/store"
)

// OpenID Connect sign-in.
//
// A representative signs in at the installation's identity provider with
// the authorisation code flow: PKCE (S256), a state bound to the browser by
// a cookie and kept server-side for one use, and a nonce checked in the ID
// token. The ID token is verified by go-oidc against the provider's keys,
// issuer, this client's ID and the injected clock. The person is the value
// of PersonClaim; the organisations they may act for are the business IDs
// in OrgsClaim (the shape an authorisation service gives; from the userinfo
// endpoint when the ID token lacks it), read at every sign-in and kept only
// with the session; an operator is a person whose
// OperatorClaim holds OperatorValue. A person with no organisation known
// here, and no operator role, is refused. Every sign-in, refusal and
// organisation switch is audited.

// OIDCConfig configures sign-in through an OpenID Connect provider.
type OIDCConfig struct {
	Issuer       string // the provider's issuer URL (discovery at Issuer/.well-known/openid-configuration)
	ClientID     string
	ClientSecret string   // "" for a public client (PKCE only)
	Scopes       []string // requested besides openid; nil is profile
	// PersonClaim names the claim that identifies the person; "" is sub.
	PersonClaim string
	// NameClaim names the claim with the person's display name; "" is name.
	NameClaim string
	// OrgsClaim names the claim holding the business IDs the person may act
	// for, a JSON array of strings (or one string); "" is business_ids.
	OrgsClaim string
	// OperatorClaim and OperatorValue: a person whose OperatorClaim is
	// OperatorValue, or an array holding it, is an operator. "" for none.
	OperatorClaim, OperatorValue string
	// DisplayName names the provider on the sign-in page; "" for a generic
	// label.
	DisplayName string
	// HTTPClient talks to the provider; nil is a client with a 15 s timeout.
	HTTPClient *http.Client
}

// Defaults of OIDCConfig's claim names.
const (
	DefaultPersonClaim = "sub"
	DefaultNameClaim   = "name"
	DefaultOrgsClaim   = "business_ids"
)

const (
	oidcCookie   = "irpki_oidc"     // the state of a sign-in under way
	oidcLoginTTL = 10 * time.Minute // how long a sign-in may take at the provider
	callbackPath = Path + "oidc/callback"
)

// oidcClient is the handler's connection to the provider; discovery is
// done on first use and retried until it succeeds, so that irpkid starts
// while the provider is unreachable. What discovery gives is kept: the
// provider's endpoints and one ID token verifier, whose key set (go-oidc's
// RemoteKeySet) caches the provider's signing keys and fetches them anew
// only when a token is signed by a key it does not know, which is how the
// provider's key rotation reaches us. A sign-in therefore costs the
// provider no discovery and no key fetch.
type oidcClient struct {
	cfg OIDCConfig
	now func() time.Time // the ID tokens' clock

	mu         sync.Mutex
	provider   *oidc.Provider        // nil until discovery succeeds
	verifier   *oidc.IDTokenVerifier // made with provider
	endSession string
}

func newOIDCClient(cfg OIDCConfig, now func() time.Time) (*oidcClient, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("eservice: OpenID Connect issuer %q: give the provider's https URL", cfg.Issuer)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("eservice: OpenID Connect needs the client ID registered at the provider")
	}
	if cfg.PersonClaim == "" {
		cfg.PersonClaim = DefaultPersonClaim
	}
	if cfg.NameClaim == "" {
		cfg.NameClaim = DefaultNameClaim
	}
	if cfg.OrgsClaim == "" {
		cfg.OrgsClaim = DefaultOrgsClaim
	}
	if (cfg.OperatorClaim == "") != (cfg.OperatorValue == "") {
		return nil, errors.New("eservice: the operator claim and its value go together")
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"profile"}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	return &oidcClient{cfg: cfg, now: now}, nil
}

// ctx returns a context that makes go-oidc and oauth2 use the configured
// HTTP client; the provider's key set keeps it for its lifetime, so it is
// never a request's context.
func (o *oidcClient) ctx(parent context.Context) context.Context {
	ctx := oidc.ClientContext(parent, o.cfg.HTTPClient)
	return context.WithValue(ctx, oauth2.HTTPClient, o.cfg.HTTPClient)
}

// discover returns the provider and the ID token verifier, made at the
// first success and reused from then on; a failure is not kept, so the
// next sign-in tries again.
func (o *oidcClient) discover() (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, o.verifier, nil
	}
	// Not a request's context: the key set keeps it for fetching keys
	// later.
	ctx := o.ctx(context.Background())
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		return nil, nil, err
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&extra); err == nil {
		if u, err := url.Parse(extra.EndSession); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
			o.endSession = extra.EndSession
		}
	}
	o.provider = p
	o.verifier = p.VerifierContext(ctx, &oidc.Config{ClientID: o.cfg.ClientID, Now: o.now})
	return p, o.verifier, nil
}

func (o *oidcClient) oauth2(p *oidc.Provider, publicURL string) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: publicURL + callbackPath, Scopes: append([]string{oidc.ScopeOpenID}, o.cfg.Scopes...)}
}

// formOrigins are the provider's origins that the pages' forms may lead to
// (sign-out goes on to its end-session endpoint).
func (o *oidcClient) formOrigins() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := []string{}
	for _, s := range []string{o.cfg.Issuer, o.endSession} {
		if u, err := url.Parse(s); err == nil && u.Host != "" && !slices.Contains(out, u.Scheme+"://"+u.Host) {
			out = append(out, u.Scheme+"://"+u.Host)
		}
	}
	return strings.Join(out, " ")
}

// oidcStart begins a sign-in at the provider.
func (h *Handler) oidcStart(w http.ResponseWriter, r *http.Request) {
	if h.oidc == nil {
		h.notFound(w, r, nil)
		return
	}
	ctx := r.Context()
	p, _, err := h.oidc.discover()
	if err != nil {
		h.log.ErrorContext(ctx, "OpenID Connect provider unreachable", "issuer", h.oidc.cfg.Issuer, "err", err)
		h.render(w, r, nil, http.StatusBadGateway, "error", "error.title", errorData{Message: "oidc.unreachable"})
		return
	}
	state, err1 := randomToken()
	nonce, err2 := randomToken()
	if err := errors.Join(err1, err2); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	verifier := oauth2.GenerateVerifier()
	now := h.clock.Now()
	err = h.db.Update(ctx, func(tx *store.Tx) error {
		return tx.PutOIDCLogin(ctx, store.OIDCLogin{StateHash: tokenHash(state), Nonce: nonce, Verifier: verifier,
			Next: localPath(r.URL.Query().Get("next")), CreatedAt: now}, now.Add(-oidcLoginTTL))
	})
	if errors.Is(err, store.ErrBusy) {
		h.log.WarnContext(ctx, "OpenID Connect sign-in refused: too many sign-ins under way", "ip", h.clientIP(r))
		h.render(w, r, nil, http.StatusServiceUnavailable, "error", "error.title", errorData{Message: "oidc.busy"})
		return
	}
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.setCookie(w, r, oidcCookie, state, oidcLoginTTL)
	u := h.oidc.oauth2(p, h.cfg.PublicURL).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// refusal is a refused OpenID Connect sign-in: its audit code and the
// sign-in page's message.
type refusal struct {
	code, message string
	detail        string
}

// oidcCallback finishes a sign-in: the provider sends the browser back
// here with the code and the state.
func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if h.oidc == nil {
		h.notFound(w, r, nil)
		return
	}
	ctx := r.Context()
	h.setCookie(w, r, oidcCookie, "", -1) // one try per sign-in
	who, ref, err := h.oidcFinish(r)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if ref != nil {
		actor := "eservice:(unknown person)"
		if who.person != "" {
			actor = who.actor()
		}
		h.log.WarnContext(ctx, "OpenID Connect sign-in refused", "code", ref.code, "person", who.person, "detail", ref.detail)
		h.audit(r, store.AuditEntry{Actor: actor, Action: "sign_in", Outcome: "fail", Code: ref.code, Detail: "oidc " + ref.detail})
		d := h.signinPage(signinData{Error: ref.message, Next: Path})
		h.render(w, r, &session{csrf: h.formToken(w, r)}, http.StatusForbidden, "signin", "signin.title", d)
		return
	}
	if old, _ := h.currentSession(r); old != nil {
		_ = h.endSession(ctx, old)
	}
	id, err := h.newSession(ctx, who.user, func(tx *store.Tx, idHash []byte) (string, error) {
		detail := "oidc orgs=" + strings.Join(who.orgs, ",")
		if who.user.Operator {
			detail += " operator"
		}
		return detail, tx.PutOIDCSession(ctx, store.OIDCSession{IDHash: idHash, Person: who.person, Orgs: who.orgs, Active: who.user.CustomerID,
			Operator: who.user.Operator, CreatedAt: h.clock.Now()})
	})
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.setCookie(w, r, sessionCookie, id, 0)
	next := who.next
	if len(who.orgs) > 1 {
		next = Path + "org?next=" + url.QueryEscape(next)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// person is who a verified ID token names.
type person struct {
	person, name string
	orgs         []string // business IDs known here, as listed
	user         User
	next         string
}

func (p person) actor() string { return "eservice:oidc:" + p.person }

// oidcFinish checks the callback and the ID token; a refusal is not an
// error.
func (h *Handler) oidcFinish(r *http.Request) (person, *refusal, error) {
	ctx := r.Context()
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return person{}, &refusal{code: "IDP_REFUSED", message: "oidc.refused", detail: "error=" + printable(e, 64)}, nil
	}
	state := q.Get("state")
	c, err := r.Cookie(oidcCookie)
	if state == "" || err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		return person{}, &refusal{code: "BAD_STATE", message: "oidc.failed", detail: "the state does not match this browser's sign-in"}, nil
	}
	now := h.clock.Now()
	var login store.OIDCLogin
	err = h.db.Update(ctx, func(tx *store.Tx) error {
		var err error
		login, err = tx.TakeOIDCLogin(ctx, tokenHash(state), now.Add(-oidcLoginTTL))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return person{}, &refusal{code: "BAD_STATE", message: "oidc.failed", detail: "no sign-in under way with this state (used, or expired)"}, nil
	}
	if err != nil {
		return person{}, nil, err
	}
	p, verifier, err := h.oidc.discover()
	if err != nil {
		return person{}, nil, err
	}
	octx := h.oidc.ctx(ctx)
	tok, err := h.oidc.oauth2(p, h.cfg.PublicURL).Exchange(octx, q.Get("code"), oauth2.VerifierOption(login.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		detail := "the provider's token endpoint failed"
		if errors.As(err, &re) {
			detail = "the provider refused the code: " + printable(re.ErrorCode, 64)
		}
		return person{}, &refusal{code: "CODE_REFUSED", message: "oidc.failed", detail: detail}, nil
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return person{}, &refusal{code: "NO_ID_TOKEN", message: "oidc.failed", detail: "the token answer has no ID token"}, nil
	}
	idt, err := verifier.Verify(octx, raw)
	if err != nil {
		return person{}, tokenRefusal(err), nil
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(login.Nonce)) != 1 {
		return person{}, &refusal{code: "BAD_NONCE", message: "oidc.failed", detail: "the ID token's nonce is not this sign-in's"}, nil
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return person{}, &refusal{code: "BAD_TOKEN", message: "oidc.failed", detail: "unreadable claims"}, nil
	}
	if _, ok := claims[h.oidc.cfg.OrgsClaim]; !ok {
		h.userinfoClaims(octx, p, tok, idt.Subject, claims)
	}
	return h.admit(ctx, claims, login.Next)
}

// userinfoClaims adds to claims those of the provider's userinfo endpoint
// that the ID token lacks: many providers give an authorisation service's
// claims there only. The answer counts only if it is about the ID token's
// subject; the ID token's own claims always win.
func (h *Handler) userinfoClaims(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, subject string, claims map[string]any) {
	if p.UserInfoEndpoint() == "" {
		return
	}
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		h.log.WarnContext(ctx, "OpenID Connect userinfo unavailable", "err", err)
		return
	}
	if ui.Subject != subject {
		h.log.WarnContext(ctx, "OpenID Connect userinfo is about another subject: ignored")
		return
	}
	var extra map[string]any
	if err := ui.Claims(&extra); err != nil {
		return
	}
	for k, v := range extra {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
}

// tokenRefusal classifies go-oidc's verification errors.
func tokenRefusal(err error) *refusal {
	var exp *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return &refusal{code: "TOKEN_EXPIRED", message: "oidc.failed", detail: "the ID token has expired"}
	case strings.Contains(msg, "different provider"):
		return &refusal{code: "WRONG_ISSUER", message: "oidc.failed", detail: "the ID token was issued by another provider"}
	case strings.Contains(msg, "audience"):
		return &refusal{code: "WRONG_AUDIENCE", message: "oidc.failed", detail: "the ID token is for another client"}
	}
	return &refusal{code: "BAD_TOKEN", message: "oidc.failed", detail: printable(msg, 200)}
}

// admit turns verified claims into the person and their account, or a
// refusal.
func (h *Handler) admit(ctx context.Context, claims map[string]any, next string) (person, *refusal, error) {
	cfg := h.oidc.cfg
	id, _ := claims[cfg.PersonClaim].(string)
	id = strings.TrimSpace(id)
	if id == "" || len(id) > 200 || strings.ContainsAny(id, "\r\n\x00") {
		return person{}, &refusal{code: "NO_PERSON", message: "oidc.failed", detail: "the ID token has no usable " + cfg.PersonClaim + " claim"}, nil
	}
	p := person{person: id, next: next}
	p.name, _ = claims[cfg.NameClaim].(string)
	if len([]rune(p.name)) > 100 || strings.ContainsAny(p.name, "\r\n\x00") {
		p.name = ""
	}
	operator := cfg.OperatorClaim != "" && slices.Contains(stringsOf(claims[cfg.OperatorClaim]), cfg.OperatorValue)
	var listed, unknown []string
	err := h.db.View(ctx, func(tx *store.Tx) error {
		for _, o := range stringsOf(claims[cfg.OrgsClaim]) {
			o = strings.TrimSpace(o)
			if slices.Contains(listed, o) {
				continue // listed twice
			}
			if businessid.Validate(o) != nil {
				unknown = append(unknown, printable(o, 20))
				continue
			}
			if _, err := tx.Org(ctx, o); errors.Is(err, store.ErrNotFound) {
				unknown = append(unknown, o)
				continue
			} else if err != nil {
				return err
			}
			listed = append(listed, o)
		}
		return nil
	})
	if err != nil {
		return person{}, nil, err
	}
	p.orgs = listed
	if len(listed) == 0 && !operator {
		detail := "no organisation in the " + cfg.OrgsClaim + " claim"
		if len(unknown) > 0 {
			detail = "none of the organisations in the " + cfg.OrgsClaim + " claim is registered here: " + strings.Join(unknown, ",")
		}
		return p, &refusal{code: "NO_ORGANISATION", message: "oidc.noOrg", detail: detail}, nil
	}
	var uid int64
	var disabled bool
	now := h.clock.Now()
	err = h.db.Update(ctx, func(tx *store.Tx) error {
		var err error
		uid, disabled, err = tx.EnsureExternalUser(ctx, "oidc:"+id, p.name, now)
		return err
	})
	if errors.Is(err, store.ErrExists) {
		return p, &refusal{code: "ACCOUNT_CONFLICT", message: "oidc.failed", detail: "a password account has the name oidc:" + id}, nil
	}
	if err != nil {
		return person{}, nil, err
	}
	if disabled {
		return p, &refusal{code: "DISABLED", message: "oidc.disabled", detail: "the account has been disabled"}, nil
	}
	p.user = User{ID: uid, Email: "oidc:" + id, Name: p.name, Operator: operator, CreatedAt: now}
	if len(listed) == 1 {
		p.user.CustomerID = listed[0]
	}
	return p, nil, nil
}

// stringsOf reads a claim that is a string or an array of strings.
func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// printable cuts s to n bytes of printable ASCII, for logs and audit.
func printable(s string, n int) string {
	s = strings.Map(func(c rune) rune {
		if c < 0x20 || c > 0x7e {
			return '?'
		}
		return c
	}, s)
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// federated completes a live session made by OpenID Connect sign-in with
// what the provider said at sign-in: the organisations, the active one and
// the operator role. A session made with a password is left as it is, or
// ended (false) when password sign-in is turned off.
func (h *Handler) federated(ctx context.Context, s *session) (bool, error) {
	var fs store.OIDCSession
	err := h.db.View(ctx, func(tx *store.Tx) error {
		var err error
		fs, err = tx.OIDCSessionOf(ctx, s.idHash)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return !h.cfg.NoPasswords, nil
	}
	if err != nil {
		return false, err
	}
	s.federated, s.orgs = true, fs.Orgs
	s.user.Operator = fs.Operator
	s.user.CustomerID = ""
	if slices.Contains(fs.Orgs, fs.Active) {
		s.user.CustomerID = fs.Active
	}
	return true, nil
}

type orgChoice struct {
	CustomerID, Name string
	Active           bool
}

type orgPickData struct {
	Orgs  []orgChoice
	Next  string
	Error string
}

// orgPick shows the organisations the person may act for.
func (h *Handler) orgPick(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.federated || len(s.orgs) == 0 {
		http.Redirect(w, r, Path, http.StatusSeeOther)
		return
	}
	h.render(w, r, s, http.StatusOK, "org", "org.title", h.orgPickData(r, s, localPath(r.URL.Query().Get("next"))))
}

func (h *Handler) orgPickData(r *http.Request, s *session, next string) orgPickData {
	d := orgPickData{Next: next}
	for _, o := range s.orgs {
		d.Orgs = append(d.Orgs, orgChoice{CustomerID: o, Name: h.orgName(r.Context(), o), Active: o == s.user.CustomerID})
	}
	return d
}

// orgSwitch makes one of the listed organisations the active one.
func (h *Handler) orgSwitch(w http.ResponseWriter, r *http.Request, s *session) {
	org := strings.TrimSpace(r.PostFormValue("org"))
	next := localPath(r.PostFormValue("next"))
	if !s.federated || !slices.Contains(s.orgs, org) {
		h.audit(r, store.AuditEntry{Actor: actor(s.user), Action: "org_switch", CustomerID: printable(org, 20), Outcome: "fail", Code: "ORG_NOT_LISTED",
			Detail: "not among the organisations of this sign-in"})
		d := h.orgPickData(r, s, next)
		d.Error = "org.notListed"
		h.render(w, r, s, http.StatusForbidden, "org", "org.title", d)
		return
	}
	ctx := r.Context()
	now := h.clock.Now()
	err := h.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.SetOIDCActiveOrg(ctx, s.idHash, org); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: actor(s.user), Action: "org_switch", CustomerID: org, Outcome: "ok", Detail: "from=" + s.user.CustomerID})
	})
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	if next == Path+"org" || strings.HasPrefix(next, Path+"org?") {
		next = Path
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// endSessionURL is where sign-out sends a person signed in at the
// provider: its end-session endpoint, back to the sign-in page after; ""
// when the provider has none.
func (h *Handler) endSessionURL() string {
	if h.oidc == nil {
		return ""
	}
	if _, _, err := h.oidc.discover(); err != nil {
		return ""
	}
	h.oidc.mu.Lock()
	end := h.oidc.endSession
	h.oidc.mu.Unlock()
	if end == "" {
		return ""
	}
	u, err := url.Parse(end)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("client_id", h.oidc.cfg.ClientID)
	q.Set("post_logout_redirect_uri", h.cfg.PublicURL+Path+"signin?done=signout")
	u.RawQuery = q.Encode()
	return u.String()
}
