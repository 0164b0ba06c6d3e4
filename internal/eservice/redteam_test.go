package eservice_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/irpki/irpki/internal/accounts"
	"github.com/irpki/irpki/internal/eservice"
)

// Findings of the red-team pass on the e-service, each reproduced.

func behindLoopback(c *eservice.Config) {
	c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// signIn signs in with the right password from client and returns the
// status and Retry-After.
func signIn(t *testing.T, e *env, client string) (int, string) {
	t.Helper()
	c := behind(e, t, "", client)
	_, page := get(t, c, e.URL+"signin")
	resp, _ := post(t, c, e.URL+"signin", url.Values{"csrf": {csrfOf(t, page)}, "email": {repEmail}, "password": {repPassword}})
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// The queue of password checks was unbounded: 32 workers guessing from 60
// addresses made a rightful sign-in wait 3-6 s behind their hashes. Now a
// few checks run, a few wait, each client may have a share of them, and a
// sign-in beyond that is answered at once: 429 for a client that already
// has its share, 503 when the queue is full.
func TestSignInHashQueueBounded(t *testing.T) {
	e := start(t, envOptions{Mutate: func(c *eservice.Config) {
		behindLoopback(c)
		c.HashWorkers, c.HashWaiting, c.HashPerClient = 2, 1, 1
	}})
	guesser := "198.51.100.7"
	release, err := e.H.HoldHashWorker(guesser, false)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if code, after := signIn(t, e, guesser); code != http.StatusTooManyRequests || after == "" {
		t.Errorf("a client with a check running: %d (Retry-After %q), want 429 with Retry-After", code, after)
	}
	if code, _ := signIn(t, e, "203.0.113.9"); code != http.StatusSeeOther {
		t.Errorf("another client, a worker free: %d, want 303 (signed in)", code)
	}
	// Both workers busy and the one waiting place taken: the queue is full.
	r2, err := e.H.HoldHashWorker("198.51.100.8", false)
	if err != nil {
		t.Fatal(err)
	}
	defer r2()
	r3, err := e.H.HoldHashWorker("198.51.100.9", true)
	if err != nil {
		t.Fatal(err)
	}
	defer r3()
	if code, after := signIn(t, e, "203.0.113.9"); code != http.StatusServiceUnavailable || after == "" {
		t.Errorf("the queue full: %d (Retry-After %q), want 503 with Retry-After", code, after)
	}
	release()
	r2()
	r3()
	// A refusal for a full queue is no failed attempt: the limits are
	// untouched, and the next sign-in passes.
	if code, _ := signIn(t, e, "203.0.113.9"); code != http.StatusSeeOther {
		t.Errorf("after the queue drained: %d, want 303", code)
	}
}

// Addresses of one IPv6 /64 are one client: a subscriber usually holds the
// whole /64 and could otherwise take a fresh address for every guess.
func TestIPv6CountedPer64(t *testing.T) {
	e := start(t, envOptions{Mutate: func(c *eservice.Config) {
		behindLoopback(c)
		c.IPFailures = 3
	}})
	for i := 1; i <= 3; i++ {
		c := behind(e, t, "", fmt.Sprintf("2001:db8:1:2::%x", i))
		_, page := get(t, c, e.URL+"signin")
		post(t, c, e.URL+"signin", url.Values{"csrf": {csrfOf(t, page)}, "email": {fmt.Sprintf("nobody%d@x.test", i)}, "password": {"whatever"}})
	}
	if code, _ := signIn(t, e, "2001:db8:1:2:ffff:ffff:ffff:ffff"); code != http.StatusTooManyRequests {
		t.Errorf("another address of the guessing /64: %d, want 429", code)
	}
	if code, _ := signIn(t, e, "2001:db8:1:3::1"); code != http.StatusSeeOther {
		t.Errorf("an address of the next /64: %d, want 303", code)
	}
}

// A password of 12 spaces was accepted for an account. Blank and
// whitespace-only passwords are refused, however long.
func TestBlankPasswordRefused(t *testing.T) {
	e := start(t, envOptions{})
	ctx := context.Background()
	for _, pw := range []string{strings.Repeat(" ", 12), strings.Repeat("\t \u00a0\u3000", 8), strings.Repeat("\n", 20)} {
		_, err := accounts.Add(ctx, e.S.DB, e.S.Clock, cheap, accounts.NewAccount{Email: "blank@x.test", CustomerID: customer, Password: pw}, "test")
		if !errors.Is(err, accounts.ErrInput) {
			t.Errorf("AddUser with password %q: %v, want ErrInput", pw, err)
		}
		if _, err := accounts.SetPassword(ctx, e.S.DB, e.S.Clock, cheap, repEmail, pw, "test"); !errors.Is(err, accounts.ErrInput) {
			t.Errorf("SetPassword %q: %v, want ErrInput", pw, err)
		}
	}
	// Spaces inside a passphrase are fine.
	if _, err := accounts.Add(ctx, e.S.DB, e.S.Clock, cheap, accounts.NewAccount{Email: "phrase@x.test", CustomerID: customer, Password: "  correct horse  "}, "test"); err != nil {
		t.Errorf("a passphrase with spaces: %v", err)
	}
}
