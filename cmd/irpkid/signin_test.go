package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
)

// rep is a representative at the test provider, for two organisations.
type rep struct{}

func (rep) ID() string                        { return "person-9" }
func (rep) Userinfo([]string) ([]byte, error) { return []byte(`{"sub":"person-9"}`), nil }
func (rep) Claims(_ []string, b *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return jwt.MapClaims{"iss": b.Issuer, "sub": b.Subject, "aud": []string(b.Audience), "exp": b.ExpiresAt.Unix(), "iat": b.IssuedAt.Unix(),
		"nonce": b.Nonce, "name": "Eeva Edustaja", "business_ids": []string{"1234567-1"}}, nil
}

// irpkid serve configured by flags and a config file alone: sign-in at an
// OpenID provider, an order, and the PIN through an HTTP SMS gateway.
func TestServeBehindAnIdentityProviderWithAnSMSGateway(t *testing.T) {
	idp, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Shutdown()
	idp.QueueUser(rep{})
	var mu sync.Mutex
	var sms []map[string]string
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]string
		json.NewDecoder(r.Body).Decode(&m)
		m["auth"], m["key"] = r.Header.Get("Authorization"), r.Header.Get("X-Api-Key")
		mu.Lock()
		sms = append(sms, m)
		mu.Unlock()
	}))
	defer gw.Close()

	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	secret, token, cfgFile := filepath.Join(dir, "secret"), filepath.Join(dir, "token"), filepath.Join(dir, "irpkid.json")
	os.WriteFile(secret, []byte(idp.ClientSecret+"\n"), 0o600)
	os.WriteFile(token, []byte("gw-token\n"), 0o600)
	cfg, _ := json.Marshal(map[string]string{"oidc-issuer": idp.Issuer(), "oidc-client-id": idp.ClientID, "oidc-client-secret-file": secret,
		"oidc-name": "Testitunnistus", "sms-gateway-url": gw.URL + "/send", "sms-gateway-token-file": token})
	os.WriteFile(cfgFile, cfg, 0o600)
	addr := startServe(t, dataDir, "--config", cfgFile, "--sms-gateway-header", "X-Api-Key: k1").Addr
	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dataDir, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example"); code != 0 {
		t.Fatal(se)
	}

	// Sign in: the client follows the redirects to the provider and back.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	base := "http://" + addr + "/eservice/"
	page := fetch(t, c, base+"signin")
	if !strings.Contains(page, "Testitunnistus") {
		t.Fatalf("sign-in page does not offer the provider:\n%s", page)
	}
	page = fetch(t, c, base+"oidc/start")
	if !strings.Contains(page, "Acme Oy (1234567-1)") {
		t.Fatalf("after sign-in:\n%s", page)
	}
	if out, se, code := irpkid(t, nil, "users", "--data-dir", dataDir); code != 0 || !regexp.MustCompile(`oidc:person-9\s+Eeva Edustaja\s+identity provider`).MatchString(out) {
		t.Errorf("users: %d %s %s", code, out, se)
	}
	page = fetch(t, c, base+"order")
	field := func(name string) string {
		m := regexp.MustCompile(`name="` + name + `" value="([^"]+)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no %s in the order form", name)
		}
		return m[1]
	}
	resp, err := c.PostForm(base+"order", url.Values{"csrf": {field("csrf")}, "nonce": {field("nonce")}, "purpose": {"reports_ws"}, "name": {"Tea"},
		"email": {"tea@acme.example"}, "phone": {"040 765 4321"}, "language": {"en"}, "validity": {""}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `id="pin-sms"`) {
		t.Fatalf("order: %d\n%s", resp.StatusCode, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(sms)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sms) != 1 || sms[0]["to"] != "+358407654321" || !regexp.MustCompile(`\d{4} \d{4}`).MatchString(sms[0]["message"]) ||
		sms[0]["auth"] != "Bearer gw-token" || sms[0]["key"] != "k1" || !strings.HasPrefix(sms[0]["reference"], "pin-") {
		t.Fatalf("SMS at the gateway: %+v", sms)
	}
}

func fetch(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d\n%s", u, resp.StatusCode, b)
	}
	return string(b)
}

func TestServeSignInAndSMSFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pin-delivery", "carrier-pigeon"}, "--pin-delivery"},
		{[]string{"--no-password-signin"}, "--no-password-signin needs --oidc-issuer"},
		{[]string{"--oidc-issuer", "https://idp.example"}, "--oidc-client-id"},
		{[]string{"--oidc-client-id", "x"}, "need --oidc-issuer"},
		{[]string{"--oidc-issuer", "https://idp.example", "--oidc-client-id", "x", "--oidc-client-secret-file", "/nonexistent"}, "--oidc-client-secret-file"},
		{[]string{"--sms-gateway-url", "ftp://sms.example"}, "gateway URL"},
		{[]string{"--sms-gateway-header", "no colon"}, "Name: value"},
		{[]string{"--pin-delivery", "screen", "--sms-gateway-url", "https://sms.example"}, "sends no SMS"},
	} {
		args := append([]string{"serve", "--data-dir", t.TempDir(), "--listen", anyPort}, tc.args...)
		if _, se, code := irpkid(t, nil, args...); code == 0 || !strings.Contains(se, tc.want) {
			t.Errorf("%v: exit %d, %s", tc.args, code, se)
		}
	}
	// A malformed header may still hold the gateway's key: the refusal
	// names it by position and never repeats it.
	args := []string{"serve", "--data-dir", t.TempDir(), "--listen", anyPort, "--sms-gateway-header", "X-Api-Key s3cret-api-key"}
	if _, se, code := irpkid(t, nil, args...); code == 0 || !strings.Contains(se, "number 1") || strings.Contains(se, "s3cret-api-key") {
		t.Errorf("malformed header with a key: exit %d, %s", code, se)
	}
}
