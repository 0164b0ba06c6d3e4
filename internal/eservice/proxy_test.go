package eservice_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"testing"

	"github.com/irpki/irpki/internal/eservice"
)

// forwardedFor makes every request of c look as if a proxy forwarded it
// for client, appending to what a client might have claimed itself.
type forwardedFor struct {
	base   http.RoundTripper
	chain  string
	client string
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	v := f.client
	if f.chain != "" {
		v = f.chain + ", " + f.client
	}
	r.Header.Set("X-Forwarded-For", v)
	return f.base.RoundTrip(r)
}

// failSignIns makes n failed sign-ins from c and then tries the right
// password, returning that attempt's status.
func failSignIns(t *testing.T, e *env, c *http.Client, n int) int {
	t.Helper()
	_, page := get(t, c, e.URL+"signin")
	tok := csrfOf(t, page)
	for i := 0; i < n; i++ {
		post(t, c, e.URL+"signin", url.Values{"csrf": {tok}, "email": {"nobody" + string(rune('a'+i)) + "@x.test"}, "password": {"whatever"}})
	}
	resp, _ := post(t, c, e.URL+"signin", url.Values{"csrf": {tok}, "email": {repEmail}, "password": {repPassword}})
	return resp.StatusCode
}

func behind(e *env, t *testing.T, chain, client string) *http.Client {
	c := e.client(t)
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = forwardedFor{base: base, chain: chain, client: client}
	return c
}

// Behind a trusted TLS-terminating proxy, the per-IP sign-in limit counts
// the client the proxy names, not the proxy: one guesser does not lock
// everyone out. Without the proxy trusted, X-Forwarded-For is ignored, so a
// guesser cannot dodge the limit by inventing addresses.
func TestIPLimitBehindTrustedProxy(t *testing.T) {
	trusted := start(t, envOptions{Mutate: func(c *eservice.Config) {
		c.IPFailures = 3
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}})
	if code := failSignIns(t, trusted, behind(trusted, t, "", "198.51.100.7"), 3); code != http.StatusTooManyRequests {
		t.Fatalf("the guessing client: %d, want 429", code)
	}
	if code := failSignIns(t, trusted, behind(trusted, t, "", "203.0.113.9"), 0); code != http.StatusSeeOther {
		t.Fatalf("another client behind the same proxy: %d, want 303 (signed in)", code)
	}
	// A client that claims another address itself is still counted by the
	// address the proxy saw.
	if code := failSignIns(t, trusted, behind(trusted, t, "203.0.113.9", "198.51.100.7"), 0); code != http.StatusTooManyRequests {
		t.Fatalf("forged X-Forwarded-For prefix: %d, want 429", code)
	}

	untrusted := start(t, envOptions{Mutate: func(c *eservice.Config) { c.IPFailures = 3 }})
	if code := failSignIns(t, untrusted, behind(untrusted, t, "", "198.51.100.7"), 3); code != http.StatusTooManyRequests {
		t.Fatalf("untrusted: %d, want 429", code)
	}
	if code := failSignIns(t, untrusted, behind(untrusted, t, "", "203.0.113.9"), 0); code != http.StatusTooManyRequests {
		t.Fatalf("an invented X-Forwarded-For from an untrusted peer escaped the limit: %d, want 429", code)
	}
}
