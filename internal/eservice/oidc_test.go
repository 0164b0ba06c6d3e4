package eservice_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/irpki/irpki/internal/eservice"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/store"
)

const (
	otherCustomer = "7654321-2" // a second organisation registered here
	unregistered  = "2222222-9" // a valid business ID that is not registered
)

// idp is an OpenID Connect provider running inside the test
// (oauth2-proxy/mockoidc), on the e-service's clock, with an end-session
// endpoint added.
type idp struct {
	m       *mockoidc.MockOIDC
	logouts atomic.Int32
	// How often the e-service asked for the discovery document and for
	// the signing keys.
	discoveries, keyFetches atomic.Int32
	// mu serialises the provider's requests, so that rotate can change
	// its signing key between two of them; newKey is the key to sign with
	// from the next request on.
	mu     sync.Mutex
	newKey *mockoidc.Keypair
}

// rotate makes the provider sign with a new key (and publish only it)
// from its next request on.
func (p *idp) rotate(t *testing.T) {
	t.Helper()
	kp, err := mockoidc.RandomKeypair(2048)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.newKey = kp
	p.mu.Unlock()
}

func startIdP(t *testing.T, now func() time.Time) *idp {
	t.Helper()
	saved := mockoidc.NowFunc
	mockoidc.NowFunc = now
	t.Cleanup(func() { mockoidc.NowFunc = saved })
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{m: m}
	// The end-session endpoint mockoidc lacks: advertised in discovery,
	// it sends the browser back to post_logout_redirect_uri. (Middleware
	// sees only mockoidc's own paths, so it lives on one of them.)
	m.AddMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.newKey != nil {
				m.Keypair, p.newKey = p.newKey, nil
			}
			switch r.URL.Path {
			case mockoidc.JWKSEndpoint:
				p.keyFetches.Add(1)
				next.ServeHTTP(w, r)
			case mockoidc.DiscoveryEndpoint:
				p.discoveries.Add(1)
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				var doc map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
				doc["end_session_endpoint"] = m.AuthorizationEndpoint() + "?end_session=1"
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(doc)
			case mockoidc.AuthorizationEndpoint:
				if r.URL.Query().Get("end_session") == "" {
					next.ServeHTTP(w, r)
					return
				}
				if r.URL.Query().Get("client_id") != m.ClientID {
					http.Error(w, "unknown client", http.StatusBadRequest)
					return
				}
				p.logouts.Add(1)
				http.Redirect(w, r, r.URL.Query().Get("post_logout_redirect_uri"), http.StatusFound)
			default:
				next.ServeHTTP(w, r)
			}
		})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return p
}

func (p *idp) config() *eservice.OIDCConfig {
	return &eservice.OIDCConfig{Issuer: p.m.Issuer(), ClientID: p.m.ClientID, ClientSecret: p.m.ClientSecret, DisplayName: "Testitunnistus",
		OperatorClaim: "roles", OperatorValue: "irpki-operator"}
}

// idPerson is a person at the provider, with the claims an authorisation
// service gives; tamper changes the signed ID token's claims.
type idPerson struct {
	sub, name string
	orgs      []string
	roles     []string
	tamper    func(jwt.MapClaims)
	// userinfo: the organisations are given by the userinfo endpoint, not
	// the ID token, about the subject userinfoSub ("" is the person's).
	userinfo    bool
	userinfoSub string
}

func (p *idPerson) ID() string { return p.sub }

func (p *idPerson) Userinfo([]string) ([]byte, error) {
	u := map[string]any{"sub": p.sub}
	if p.userinfoSub != "" {
		u["sub"] = p.userinfoSub
	}
	if p.userinfo {
		u["business_ids"] = p.orgs
	}
	return json.Marshal(u)
}

func (p *idPerson) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	c := jwt.MapClaims{"iss": base.Issuer, "sub": base.Subject, "aud": []string(base.Audience), "jti": base.ID,
		"exp": base.ExpiresAt.Unix(), "iat": base.IssuedAt.Unix(), "nbf": base.NotBefore.Unix(), "nonce": base.Nonce, "name": p.name}
	if p.orgs != nil && !p.userinfo {
		c["business_ids"] = p.orgs
	}
	if p.roles != nil {
		c["roles"] = p.roles
	}
	if p.tamper != nil {
		p.tamper(c)
	}
	return c, nil
}

func startOIDC(t *testing.T, mutate func(*eservice.Config)) (*env, *idp) {
	t.Helper()
	var p *idp
	e := start(t, envOptions{Mutate: func(c *eservice.Config) {
		c.OIDC = p.config()
		if mutate != nil {
			mutate(c)
		}
	}, PreStart: func(s *irpkidtest.Server) { p = startIdP(t, s.Clock.Now) }})
	e.S.AddOrg(t, otherCustomer, "Toinen Oy")
	return e, p
}

// toProvider starts a sign-in and lets the provider answer; it returns the
// callback URL the provider sends the browser to.
func (e *env) toProvider(t *testing.T, c *http.Client, p *idp, who *idPerson) *url.URL {
	t.Helper()
	p.m.QueueUser(who)
	resp, err := c.Get(e.URL + "oidc/start")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("oidc/start: %d", resp.StatusCode)
	}
	auth, _ := url.Parse(resp.Header.Get("Location"))
	q := auth.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" ||
		q.Get("redirect_uri") != e.Web.URL+"/eservice/oidc/callback" || !strings.Contains(q.Get("scope"), "openid") {
		t.Fatalf("authorisation request lacks PKCE, nonce, state or the callback: %s", auth)
	}
	resp, err = c.Get(auth.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("provider authorize: %d", resp.StatusCode)
	}
	cb, _ := url.Parse(resp.Header.Get("Location"))
	return cb
}

// callback follows the provider's redirect back to the e-service.
func callback(t *testing.T, c *http.Client, cb *url.URL) (*http.Response, string) {
	t.Helper()
	return getResp(t, c, cb.String())
}

// lastAudit returns the newest audit entry of action.
func (e *env) lastAudit(t *testing.T, action string) store.AuditEntry {
	t.Helper()
	entries, err := e.S.Service.AuditLog(context.Background(), "", 500)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range entries {
		if a.Action == action {
			return a
		}
	}
	t.Fatalf("no %s audit entry", action)
	return store.AuditEntry{}
}

func TestOIDCSignInOneOrganisation(t *testing.T) {
	e, p := startOIDC(t, nil)
	c := e.client(t)
	_, page := get(t, c, e.URL+"signin")
	if !strings.Contains(page, `href="/eservice/oidc/start?next=%2feservice%2f"`) || !strings.Contains(page, "Sign in with Testitunnistus") || !strings.Contains(page, `name="password"`) {
		t.Fatalf("sign-in page does not offer the provider and passwords:\n%s", page)
	}
	resp, _ := callback(t, c, e.toProvider(t, c, p, &idPerson{sub: "person-1", name: "Eeva Edustaja", orgs: []string{customer}}))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/eservice/" {
		t.Fatalf("callback: %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	code, page := get(t, c, e.URL+"certificates")
	if code != http.StatusOK || !strings.Contains(page, `<span id="active-org">Palkat Oy (1234567-1)</span>`) || strings.Contains(page, `id="switch-org"`) {
		t.Fatalf("certificates: %d\n%s", code, page)
	}
	a := e.lastAudit(t, "sign_in")
	if a.Outcome != "ok" || a.Actor != "eservice:oidc:person-1" || a.CustomerID != customer || a.Detail != "oidc orgs=1234567-1" {
		t.Errorf("sign-in audit: %+v", a)
	}
	// Sign-out ends the session and goes on to the provider's end-session
	// endpoint, which comes back to the sign-in page.
	resp, _ = post(t, c, e.URL+"signout", url.Values{"csrf": {csrfOf(t, page)}})
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Path != mockoidc.AuthorizationEndpoint || loc.Query().Get("end_session") != "1" || loc.Query().Get("client_id") != p.m.ClientID ||
		loc.Query().Get("post_logout_redirect_uri") != e.Web.URL+"/eservice/signin?done=signout" {
		t.Fatalf("sign-out: %d → %s", resp.StatusCode, loc)
	}
	if code, _ := get(t, c, e.URL+"certificates"); code != http.StatusSeeOther {
		t.Errorf("after sign-out: %d", code)
	}
}

// A representative of two organisations chooses one, switches, cannot
// choose one the claims do not list, and loses one between sign-ins.
func TestOIDCSeveralOrganisations(t *testing.T) {
	e, p := startOIDC(t, nil)
	c := e.client(t)
	who := &idPerson{sub: "person-2", name: "Matti Monta", orgs: []string{customer, otherCustomer, unregistered}}
	resp, _ := callback(t, c, e.toProvider(t, c, p, who))
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/eservice/org?") {
		t.Fatalf("callback: %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// No organisation's page before one is chosen.
	if code, _ := get(t, c, e.URL+"certificates"); code != http.StatusSeeOther {
		t.Fatalf("certificates before choosing: %d", code)
	}
	_, page := get(t, c, e.URL+"org")
	if !strings.Contains(page, `value="`+customer+`"`) || !strings.Contains(page, `value="`+otherCustomer+`"`) || strings.Contains(page, unregistered) {
		t.Fatalf("choice page:\n%s", page)
	}
	csrf := csrfOf(t, page)
	resp, _ = post(t, c, e.URL+"org", url.Values{"csrf": {csrf}, "org": {otherCustomer}, "next": {"/eservice/certificates"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/eservice/certificates" {
		t.Fatalf("choose: %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page = get(t, c, e.URL+"certificates")
	if !strings.Contains(page, `<span id="active-org">Toinen Oy (7654321-2)</span>`) || !strings.Contains(page, `id="switch-org"`) {
		t.Fatalf("certificates of the chosen organisation:\n%s", page)
	}
	if a := e.lastAudit(t, "org_switch"); a.Outcome != "ok" || a.CustomerID != otherCustomer || a.Actor != "eservice:oidc:person-2" {
		t.Errorf("switch audit: %+v", a)
	}
	// Organisations the claims do not list are refused, and audited.
	for _, org := range []string{unregistered, "9999999-9"} {
		resp, _ = post(t, c, e.URL+"org", url.Values{"csrf": {csrf}, "org": {org}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("choosing %s: %d", org, resp.StatusCode)
		}
		if a := e.lastAudit(t, "org_switch"); a.Outcome != "fail" || a.Code != "ORG_NOT_LISTED" {
			t.Errorf("refused switch audit: %+v", a)
		}
	}
	_, page = get(t, c, e.URL+"certificates")
	if !strings.Contains(page, "Toinen Oy (7654321-2)") {
		t.Error("a refused switch changed the organisation")
	}
	resp, _ = post(t, c, e.URL+"signout", url.Values{"csrf": {csrfOf(t, page)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatal(resp.StatusCode)
	}

	// Between sign-ins the authorisation service withdrew Toinen Oy.
	who = &idPerson{sub: "person-2", name: "Matti Monta", orgs: []string{customer}}
	resp, _ = callback(t, c, e.toProvider(t, c, p, who))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/eservice/" {
		t.Fatalf("second sign-in: %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page = get(t, c, e.URL+"certificates")
	if !strings.Contains(page, "Palkat Oy (1234567-1)") || strings.Contains(page, "Toinen Oy") {
		t.Fatalf("after losing an organisation:\n%s", page)
	}
	resp, _ = post(t, c, e.URL+"org", url.Values{"csrf": {csrfOf(t, page)}, "org": {otherCustomer}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("switching to the lost organisation: %d", resp.StatusCode)
	}
	_, page = get(t, c, e.URL+"audit")
	if strings.Contains(page, otherCustomer) && !strings.Contains(page, "ORG_NOT_LISTED") {
		t.Error("the audit page shows the lost organisation's entries")
	}
}

// Every way a sign-in must fail fails, makes no session and is audited.
func TestOIDCRefusals(t *testing.T) {
	e, p := startOIDC(t, nil)
	person := func(tamper func(jwt.MapClaims)) *idPerson {
		return &idPerson{sub: "person-3", name: "Riku Refused", orgs: []string{customer}, tamper: tamper}
	}
	refused := func(t *testing.T, c *http.Client, resp *http.Response, page, code string) {
		t.Helper()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "notice error") {
			t.Fatalf("status %d, want 403 with an error:\n%s", resp.StatusCode, page)
		}
		for _, ck := range resp.Cookies() {
			if ck.Name == "irpki_session" && ck.Value != "" {
				t.Error("a refused sign-in set a session")
			}
		}
		if st, _ := get(t, c, e.URL+"certificates"); st != http.StatusSeeOther {
			t.Errorf("signed in after a refusal: %d", st)
		}
		if a := e.lastAudit(t, "sign_in"); a.Outcome != "fail" || a.Code != code {
			t.Errorf("audit %+v, want a refusal %s", a, code)
		}
	}
	t.Run("wrong state", func(t *testing.T) {
		c := e.client(t)
		cb := e.toProvider(t, c, p, person(nil))
		q := cb.Query()
		q.Set("state", "Zm9yZ2VkLXN0YXRlLWZvcmdlZC1zdGF0ZS1mb3JnZWQtc3Q")
		cb.RawQuery = q.Encode()
		resp, page := callback(t, c, cb)
		refused(t, c, resp, page, "BAD_STATE")
	})
	t.Run("replayed code", func(t *testing.T) {
		c := e.client(t)
		first := e.toProvider(t, c, p, person(nil))
		if resp, _ := callback(t, c, first); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("first sign-in: %d", resp.StatusCode)
		}
		// The same callback again (state used): refused here.
		c2 := e.client(t)
		resp, page := callback(t, c2, first)
		refused(t, c2, resp, page, "BAD_STATE")
		// The old code under a fresh, valid state: the provider refuses it.
		c3 := e.client(t)
		fresh := e.toProvider(t, c3, p, person(nil))
		q := fresh.Query()
		q.Set("code", first.Query().Get("code"))
		fresh.RawQuery = q.Encode()
		resp, page = callback(t, c3, fresh)
		refused(t, c3, resp, page, "CODE_REFUSED")
	})
	now := e.S.Clock.Now()
	for _, tc := range []struct {
		name, code string
		tamper     func(jwt.MapClaims)
	}{
		{"wrong nonce", "BAD_NONCE", func(m jwt.MapClaims) { m["nonce"] = "another-sign-in" }},
		{"expired ID token", "TOKEN_EXPIRED", func(m jwt.MapClaims) {
			m["iat"], m["nbf"], m["exp"] = now.Add(-time.Hour).Unix(), now.Add(-time.Hour).Unix(), now.Add(-time.Minute).Unix()
		}},
		{"another issuer", "WRONG_ISSUER", func(m jwt.MapClaims) { m["iss"] = "https://idp.other.example/oidc" }},
		{"another client", "WRONG_AUDIENCE", func(m jwt.MapClaims) { m["aud"] = []string{"another-client"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client(t)
			resp, page := callback(t, c, e.toProvider(t, c, p, person(tc.tamper)))
			refused(t, c, resp, page, tc.code)
		})
	}
	t.Run("no organisation", func(t *testing.T) {
		c := e.client(t)
		resp, page := callback(t, c, e.toProvider(t, c, p, &idPerson{sub: "person-4", orgs: []string{}}))
		refused(t, c, resp, page, "NO_ORGANISATION")
		if !strings.Contains(page, "You may not act for any organisation") {
			t.Errorf("page does not say why:\n%s", page)
		}
		c = e.client(t)
		resp, page = callback(t, c, e.toProvider(t, c, p, &idPerson{sub: "person-4", orgs: []string{unregistered}}))
		refused(t, c, resp, page, "NO_ORGANISATION")
	})
	t.Run("provider error", func(t *testing.T) {
		c := e.client(t)
		cb := e.toProvider(t, c, p, person(nil))
		q := url.Values{"error": {"access_denied"}, "state": {cb.Query().Get("state")}}
		cb.RawQuery = q.Encode()
		resp, page := callback(t, c, cb)
		refused(t, c, resp, page, "IDP_REFUSED")
	})
	// No refusal left a secret in the audit trail.
	entries, _ := e.S.Service.AuditLog(context.Background(), "", 500)
	for _, a := range entries {
		if strings.Contains(a.Detail, p.m.ClientSecret) || strings.Contains(a.Detail, "eyJ") {
			t.Errorf("secret in audit: %+v", a)
		}
	}
}

// An operator is recognised by the configured claim value; password
// sign-in can be turned off, which also ends password sessions.
func TestOIDCOperatorAndPasswordsOff(t *testing.T) {
	e, p := startOIDC(t, func(c *eservice.Config) { c.NoPasswords = true })
	c := e.client(t)
	resp, _ := callback(t, c, e.toProvider(t, c, p, &idPerson{sub: "op-1", name: "Olli", roles: []string{"irpki-operator"}}))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("operator sign-in: %d", resp.StatusCode)
	}
	if code, page := get(t, c, e.URL+"admin/orgs"); code != http.StatusOK || !strings.Contains(page, "Toinen Oy") {
		t.Fatalf("operator page: %d", code)
	}
	c = e.client(t)
	_, page := get(t, c, e.URL+"signin")
	if strings.Contains(page, `name="password"`) || !strings.Contains(page, "oidc/start") {
		t.Fatalf("sign-in page with passwords off:\n%s", page)
	}
	var form string
	u, _ := url.Parse(e.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "irpki_form" {
			form = ck.Value
		}
	}
	resp, _ = post(t, c, e.URL+"signin", url.Values{"csrf": {form}, "email": {repEmail}, "password": {repPassword}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("password sign-in with passwords off: %d", resp.StatusCode)
	}
	if a := e.lastAudit(t, "sign_in"); a.Code != "PASSWORDS_OFF" {
		t.Errorf("audit %+v", a)
	}
}

// Turning password sign-in off ends the sessions made with a password:
// the same store served again with --no-password-signin does not know
// them.
func TestPasswordsOffEndsPasswordSessions(t *testing.T) {
	e, p := startOIDC(t, nil)
	c := e.client(t)
	e.signIn(t, c, repEmail, repPassword)
	if code, _ := get(t, c, e.URL+"certificates"); code != http.StatusOK {
		t.Fatalf("password session: %d", code)
	}
	cfg := e.Cfg
	cfg.NoPasswords = true
	cfg.OIDC = p.config()
	mux := http.NewServeMux()
	web := httptest.NewServer(mux)
	defer web.Close()
	cfg.PublicURL = web.URL
	h, err := eservice.New(cfg, e.S.Service, e.S.DB, nil, e.S.Clock, e.S.Log)
	if err != nil {
		t.Fatal(err)
	}
	h.Register(mux)
	// The cookie jar ignores ports, as browsers do: the same cookie.
	if code, _ := get(t, c, web.URL+eservice.Path+"certificates"); code != http.StatusSeeOther {
		t.Fatalf("password session with passwords off: %d, want a redirect to sign-in", code)
	}
	bad := eservice.DefaultConfig(web.URL)
	bad.NoPasswords = true
	if _, err := eservice.New(bad, e.S.Service, e.S.DB, nil, e.S.Clock, e.S.Log); err == nil || !strings.Contains(err.Error(), "OpenID Connect") {
		t.Errorf("passwords off without a provider: %v", err)
	}
}

// A provider that gives the organisations at its userinfo endpoint only:
// they are read there, for the ID token's subject and no other.
func TestOIDCOrganisationsFromUserinfo(t *testing.T) {
	e, p := startOIDC(t, nil)
	c := e.client(t)
	resp, _ := callback(t, c, e.toProvider(t, c, p, &idPerson{sub: "person-6", orgs: []string{otherCustomer}, userinfo: true}))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: %d", resp.StatusCode)
	}
	if _, page := get(t, c, e.URL+"certificates"); !strings.Contains(page, "Toinen Oy (7654321-2)") {
		t.Fatalf("organisation from userinfo not active:\n%s", page)
	}
	c = e.client(t)
	resp, page := callback(t, c, e.toProvider(t, c, p, &idPerson{sub: "person-7", orgs: []string{otherCustomer}, userinfo: true, userinfoSub: "someone-else"}))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "You may not act for any organisation") {
		t.Fatalf("userinfo about another subject was used: %d", resp.StatusCode)
	}
}

// The provider is asked for its discovery document and its keys at the
// first sign-in only, not at every sign-in (found in review: the verifier
// was made anew, fetching the keys, each time); when the provider rotates
// its signing key, the next sign-in fetches the keys once more and works.
func TestOIDCProviderAskedOnce(t *testing.T) {
	e, p := startOIDC(t, nil)
	signIn := func(sub string) {
		t.Helper()
		c := e.client(t)
		resp, _ := callback(t, c, e.toProvider(t, c, p, &idPerson{sub: sub, name: sub, orgs: []string{customer}}))
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/eservice/" {
			t.Fatalf("sign-in of %s: %d → %s", sub, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	asked := func(when string, discoveries, keyFetches int32) {
		t.Helper()
		if d, k := p.discoveries.Load(), p.keyFetches.Load(); d != discoveries || k != keyFetches {
			t.Fatalf("%s: the provider was asked for discovery %d and for its keys %d times, want %d and %d", when, d, k, discoveries, keyFetches)
		}
	}
	asked("at start-up", 0, 0) // discovery waits for the first sign-in
	signIn("person-1")
	asked("after the first sign-in", 1, 1)
	signIn("person-2")
	signIn("person-1")
	asked("after three sign-ins", 1, 1)

	p.rotate(t)
	signIn("person-3")
	asked("after the provider's new key", 1, 2)
	signIn("person-2")
	asked("after one more sign-in", 1, 2)
}
