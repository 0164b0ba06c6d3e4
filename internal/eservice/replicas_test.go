package eservice_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/irpki/irpki/internal/pgtest"
)

// TestReplicasShareSessionsNoncesAndLimits: two e-services on one
// PostgreSQL database (two irpkid serve replicas behind a load balancer)
// are one e-service to the browser. A session begun on one is valid on the
// other with its CSRF token; a form's one-time nonce used on one is used on
// both; and the sign-in limit counts failures on both against one limit,
// so N replicas do not allow N times the guesses.
func TestReplicasShareSessionsNoncesAndLimits(t *testing.T) {
	o := envOptions{Database: pgtest.URL(t)}
	a := start(t, o)
	b := a.replica(t, o)

	// The cookie jar ignores ports, as browsers do: one client, two hosts.
	c := a.client(t)
	csrf := a.signIn(t, c, repEmail, repPassword)
	if code, page := get(t, c, b.URL+"certificates"); code != http.StatusOK || !strings.Contains(page, repEmail) {
		t.Fatalf("the session on the other replica: %d", code)
	}
	form := orderForm(csrf)
	if resp, body := post(t, c, b.URL+"order", form); resp.StatusCode != http.StatusOK || !pinRE.MatchString(body) {
		t.Fatalf("order on the other replica with the first's CSRF token: %d", resp.StatusCode)
	}
	if resp, body := post(t, c, a.URL+"order", form); pinRE.MatchString(body) {
		t.Fatalf("the same form again on the first replica: %d, made a second order", resp.StatusCode)
	}
	if n := orderCount(t, a); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}

	// Failures on both replicas, alternately, from separate clients.
	max := a.Cfg.AccountFailures
	for i := 0; i < max; i++ {
		e := []*env{a, b}[i%2]
		cl := e.client(t)
		_, page := get(t, cl, e.URL+"signin")
		resp, _ := post(t, cl, e.URL+"signin", url.Values{"csrf": {csrfOf(t, page)}, "email": {repEmail}, "password": {"wrong password " + string(rune('a'+i))}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	for _, e := range []*env{a, b} {
		cl := e.client(t)
		_, page := get(t, cl, e.URL+"signin")
		if resp, _ := post(t, cl, e.URL+"signin", url.Values{"csrf": {csrfOf(t, page)}, "email": {repEmail}, "password": {repPassword}}); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("right password after %d failures spread over two replicas: %d, want 429", max, resp.StatusCode)
		}
	}
}
