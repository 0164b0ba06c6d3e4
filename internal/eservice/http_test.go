package eservice_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/accounts"
	"github.com/irpki/irpki/internal/eservice"
	"github.com/irpki/irpki/internal/lang"
	"github.com/irpki/irpki/internal/notify"
	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
)

func orderForm(csrf string) url.Values {
	n := make([]byte, 32)
	rand.Read(n)
	return url.Values{"csrf": {csrf}, "nonce": {base64.RawURLEncoding.EncodeToString(n)}, "purpose": {"reports_ws"}, "description": {"Palkkajärjestelmä"}, "name": {"Tea Tekninen"},
		"email": {"tea@palkat.test"}, "phone": {"+358 40 123 4567"}, "language": {"fi"}, "validity": {""}}
}

func orderCount(t *testing.T, e *env) int {
	t.Helper()
	var n int
	ctx := context.Background()
	e.S.DB.View(ctx, func(tx *store.Tx) error {
		os, err := tx.Orders(ctx, customer)
		n = len(os)
		return err
	})
	return n
}

func TestFormWithoutCSRFTokenIsRefused(t *testing.T) {
	e := start(t, envOptions{})
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)

	wrong := "x" + csrf[1:]
	if wrong == csrf { // one token in 64 starts with x
		wrong = "y" + csrf[1:]
	}
	for name, tok := range map[string][]string{"missing": nil, "wrong": {wrong}, "empty": {""}} {
		f := orderForm(csrf)
		if tok == nil {
			f.Del("csrf")
		} else {
			f["csrf"] = tok
		}
		resp, body := post(t, c, e.URL+"order", f)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "security token") {
			t.Errorf("%s token: %d, want 403 with an explanation", name, resp.StatusCode)
		}
	}
	if n := orderCount(t, e); n != 0 {
		t.Fatalf("%d orders created by refused forms", n)
	}
	// Sign-out and sign-in forms are protected too.
	if resp, _ := post(t, c, e.URL+"signout", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out without token: %d", resp.StatusCode)
	}
	if resp, _ := post(t, e.client(t), e.URL+"signin", url.Values{"email": {repEmail}, "password": {repPassword}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without token: %d", resp.StatusCode)
	}
	// A cross-site browser post is refused even with a token.
	req, _ := http.NewRequest(http.MethodPost, e.URL+"order", strings.NewReader(orderForm(csrf).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: %d", resp.StatusCode)
	}
	// With the token, the same form works.
	if resp, body := post(t, c, e.URL+"order", orderForm(csrf)); resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="pin"`) {
		t.Fatalf("order with token: %d\n%s", resp.StatusCode, body)
	}
	if n := orderCount(t, e); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	for _, tls := range []bool{false, true} {
		e := start(t, envOptions{TLS: tls})
		c := e.client(t)
		_, page := get(t, c, e.URL+"signin")
		resp, _ := post(t, c, e.URL+"signin", url.Values{"csrf": {csrfOf(t, page)}, "email": {repEmail}, "password": {repPassword}})
		var sc *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == "irpki_session" {
				sc = ck
			}
		}
		if sc == nil {
			t.Fatal("no session cookie")
		}
		if !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Secure != tls || sc.Path != eservice.Path {
			t.Errorf("TLS=%v: cookie %+v: want HttpOnly, SameSite=Lax, Secure=%v, Path=%s", tls, sc, tls, eservice.Path)
		}
		if len(sc.Value) != 43 { // 256 bits, base64url
			t.Errorf("session id %d characters, want 43", len(sc.Value))
		}
		// The store keeps a hash, not the id.
		ctx := context.Background()
		var clearErr, hashErr error
		e.S.DB.View(ctx, func(tx *store.Tx) error {
			_, _, clearErr = tx.Session(ctx, []byte(sc.Value))
			h := sha256.Sum256([]byte(sc.Value))
			_, _, hashErr = tx.Session(ctx, h[:])
			return nil
		})
		if !errors.Is(clearErr, store.ErrNotFound) {
			t.Errorf("the session id is stored in clear (%v)", clearErr)
		}
		if hashErr != nil {
			t.Errorf("the session is not stored under the id's SHA-256: %v", hashErr)
		}
	}
}

func TestSignInIsRateLimited(t *testing.T) {
	e := start(t, envOptions{})
	c := e.client(t)
	_, page := get(t, c, e.URL+"signin")
	tok := csrfOf(t, page)
	try := func(pw string) int {
		resp, body := post(t, c, e.URL+"signin", url.Values{"csrf": {tok}, "email": {repEmail}, "password": {pw}})
		if strings.Contains(body, "%!") {
			t.Errorf("the sign-in page shows a formatting error: %s", body)
		}
		return resp.StatusCode
	}
	for i := 0; i < 5; i++ {
		if code := try("wrong password " + string(rune('a'+i))); code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d, want 401", i, code)
		}
	}
	// The right password is refused too while the account is limited.
	if code := try(repPassword); code != http.StatusTooManyRequests {
		t.Fatalf("after 5 failures: %d, want 429", code)
	}
	e.S.Clock.Advance(15*time.Minute + time.Second)
	if code := try(repPassword); code != http.StatusSeeOther {
		t.Fatalf("after the window: %d, want 303", code)
	}
	// Per IP: failures spread over many accounts.
	e2 := start(t, envOptions{Mutate: func(c *eservice.Config) { c.IPFailures = 3 }})
	c2 := e2.client(t)
	_, page = get(t, c2, e2.URL+"signin")
	tok = csrfOf(t, page)
	for i := 0; i < 3; i++ {
		post(t, c2, e2.URL+"signin", url.Values{"csrf": {tok}, "email": {"nobody" + string(rune('a'+i)) + "@x.test"}, "password": {"whatever"}})
	}
	if resp, _ := post(t, c2, e2.URL+"signin", url.Values{"csrf": {tok}, "email": {repEmail}, "password": {repPassword}}); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("IP limit: %d, want 429", resp.StatusCode)
	}
}

func TestSessionExpiresAndSignOutEndsIt(t *testing.T) {
	e := start(t, envOptions{})
	c := e.client(t)
	e.signIn(t, c, repEmail, repPassword)
	e.S.Clock.Advance(29 * time.Minute)
	if code, _ := get(t, c, e.URL+"certificates"); code != http.StatusOK {
		t.Fatalf("within idle time: %d", code)
	}
	e.S.Clock.Advance(31 * time.Minute)
	if code, _ := get(t, c, e.URL+"certificates"); code != http.StatusSeeOther {
		t.Fatalf("after idle time: %d, want a redirect to sign-in", code)
	}
	csrf := e.signIn(t, c, repEmail, repPassword)
	if resp, _ := post(t, c, e.URL+"signout", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	if code, _ := get(t, c, e.URL+"certificates"); code != http.StatusSeeOther {
		t.Fatalf("after sign-out: %d, want a redirect", code)
	}
}

var pinRE = regexp.MustCompile(`id="pin"[^>]*>(\d{4}) (\d{4})<`)

func TestDeliveryPINIsAttemptLimitedAndSingleUse(t *testing.T) {
	e := start(t, envOptions{})
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	resp, body := post(t, c, e.URL+"order", orderForm(csrf))
	m := pinRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("order: %d\n%s", resp.StatusCode, body)
	}
	pin := m[1] + m[2]
	mails := e.mails(t)
	if len(mails) != 1 || mails[0].To != "tea@palkat.test" || mails[0].Lang != "fi" {
		t.Fatalf("mails %+v", mails)
	}
	if strings.Contains(mails[0].Body, pin) {
		t.Fatal("the mail contains the PIN")
	}
	link := linkIn(t, mails[0].Body)

	contact := e.client(t)
	_, page := get(t, contact, link)
	tok := csrfOf(t, page)
	wrong := "00000000"
	if wrong == pin {
		wrong = "11111111"
	}
	for i := 1; i <= 5; i++ {
		resp, body := post(t, contact, link, url.Values{"csrf": {tok}, "pin": {wrong}})
		if strings.Contains(body, "TransferPassword") {
			t.Fatal("credentials shown for a wrong PIN")
		}
		if i < 5 && resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong PIN %d: %d", i, resp.StatusCode)
		}
		if i == 5 && resp.StatusCode != http.StatusGone {
			t.Fatalf("fifth wrong PIN: %d, want 410 (locked)", resp.StatusCode)
		}
	}
	resp, body = post(t, contact, link, url.Values{"csrf": {tok}, "pin": {pin}})
	if resp.StatusCode != http.StatusGone || strings.Contains(body, "TransferPassword") {
		t.Fatalf("right PIN after lock: %d", resp.StatusCode)
	}
	// The sealed credentials are gone from the store.
	ctx := context.Background()
	var ds []store.Delivery
	if err := e.S.DB.View(ctx, func(tx *store.Tx) (err error) { ds, err = tx.Deliveries(ctx); return err }); err != nil || len(ds) == 0 {
		t.Fatalf("deliveries %d, %v", len(ds), err)
	}
	for _, d := range ds {
		if d.Sealed != nil {
			t.Errorf("a %s delivery keeps its sealed credentials", d.State)
		}
	}
}

func TestDeliveryExpires(t *testing.T) {
	e := start(t, envOptions{})
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	_, body := post(t, c, e.URL+"order", orderForm(csrf))
	m := pinRE.FindStringSubmatch(body)
	link := linkIn(t, e.mails(t)[0].Body)
	contact := e.client(t)
	_, page := get(t, contact, link) // opened in time, submitted too late
	e.S.Clock.Advance(14*24*time.Hour + time.Second)
	resp, body := post(t, contact, link, url.Values{"csrf": {csrfOf(t, page)}, "pin": {m[1] + m[2]}})
	if resp.StatusCode != http.StatusGone || !strings.Contains(body, "expired") {
		t.Fatalf("expired link: %d", resp.StatusCode)
	}
	if code, body := get(t, contact, link); code != http.StatusOK || !strings.Contains(body, "The link has expired") || strings.Contains(body, `name="pin"`) {
		t.Fatalf("expired link page: %d", code)
	}
	if code, _ := get(t, contact, e.URL+"delivery/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); code != http.StatusNotFound {
		t.Fatalf("unknown link: %d", code)
	}
}

func TestOrderFormValidation(t *testing.T) {
	e := start(t, envOptions{})
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	f := orderForm(csrf)
	f.Set("email", "not-an-address")
	f.Set("phone", "call me")
	f.Set("purpose", "")
	resp, body := post(t, c, e.URL+"order", f)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("%d", resp.StatusCode)
	}
	for _, want := range []string{`id="email-error"`, `id="phone-error"`, `id="purpose-error"`, `aria-invalid="true"`, `value="Tea Tekninen"`} {
		if !strings.Contains(body, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	if orderCount(t, e) != 0 || len(e.mails(t)) != 0 {
		t.Fatal("an invalid form created an order or sent mail")
	}
}

func TestOperatorPagesAndRoles(t *testing.T) {
	e := start(t, envOptions{})
	op := e.client(t)
	csrf := e.signIn(t, op, opEmail, opPassword)
	resp, body := post(t, op, e.URL+"admin/orgs", url.Values{"csrf": {csrf}, "customer_id": {"7654321-2"}, "name": {"Lönetjänst Ab"}, "contact_email": {"it@lon.test"}, "language": {"sv"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add org: %d\n%s", resp.StatusCode, body)
	}
	resp, body = post(t, op, e.URL+"admin/orgs", url.Values{"csrf": {csrf}, "customer_id": {"7654321-0"}, "name": {"Bad"}, "contact_email": {"it@lon.test"}, "language": {"sv"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad business id: %d", resp.StatusCode)
	}
	resp, _ = post(t, op, e.URL+"admin/orgs/7654321-2/users", url.Values{"csrf": {csrf}, "email": {"rep@lon.test"}, "name": {"Rep"}, "password": {"long enough pass"}, "password2": {"long enough pass"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add user: %d", resp.StatusCode)
	}
	_, page := get(t, op, e.URL+"admin/orgs/7654321-2")
	if !strings.Contains(page, "rep@lon.test") {
		t.Fatal("new representative not listed")
	}
	// The new representative signs in and sees its own organisation only.
	rep := e.client(t)
	e.signIn(t, rep, "rep@lon.test", "long enough pass")
	_, page = get(t, rep, e.URL+"certificates")
	if !strings.Contains(page, "Lönetjänst Ab") {
		t.Fatal("representative does not see its organisation")
	}
	if code, _ := get(t, rep, e.URL+"admin/orgs"); code != http.StatusForbidden {
		t.Fatalf("representative on operator page: %d, want 403", code)
	}
	users, _ := accounts.List(context.Background(), e.S.DB, "")
	if len(users) != 3 {
		t.Fatalf("%d users", len(users))
	}
}

func TestRevokeNeedsConfirmationAndOwnership(t *testing.T) {
	e := start(t, envOptions{})
	en := e.S.Enroll(t, customer, 0)
	serial := en.Cert.SerialNumber.Text(16)
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	resp, body := post(t, c, e.URL+"certificates/"+serial+"/revoke", url.Values{"csrf": {csrf}, "reason": {"key_compromise"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Confirm revocation") {
		t.Fatalf("first step: %d", resp.StatusCode)
	}
	views, _ := e.S.Service.Certificates(context.Background(), customer)
	if views[0].State != "valid" {
		t.Fatal("revoked without confirmation")
	}
	// Another organisation's representative cannot touch it.
	e.S.AddOrg(t, "7654321-2", "Other Oy")
	accounts.Add(context.Background(), e.S.DB, e.S.Clock, cheap, accounts.NewAccount{Email: "other@x.test", CustomerID: "7654321-2", Password: "other password 1"}, "test")
	other := e.client(t)
	ocsrf := e.signIn(t, other, "other@x.test", "other password 1")
	if resp, _ := post(t, other, e.URL+"certificates/"+serial+"/revoke", url.Values{"csrf": {ocsrf}, "reason": {"key_compromise"}, "confirm": {"yes"}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("other org: %d, want 404", resp.StatusCode)
	}
	if resp, _ := post(t, other, e.URL+"certificates/"+serial+"/contact", url.Values{"csrf": {ocsrf}, "email": {"thief@x.test"}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("other org changes the contact: %d, want 404", resp.StatusCode)
	}
	if code, _ := get(t, other, e.URL+"certificates/"+serial); code != http.StatusNotFound {
		t.Fatalf("other org sees the certificate: %d", code)
	}
	// The service refuses it too, whatever the page does.
	err := e.S.Service.ChangeContact(context.Background(), service.ContactChange{Serial: serial, CustomerID: "7654321-2", Email: "thief@x.test"}, "test")
	if !errors.Is(err, service.ErrInput) {
		t.Fatalf("ChangeContact for another organisation: %v", err)
	}
	resp, body = post(t, c, e.URL+"certificates/"+serial+"/revoke", url.Values{"csrf": {csrf}, "reason": {"key_compromise"}, "confirm": {"yes"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm: %d %s", resp.StatusCode, body)
	}
	views, _ = e.S.Service.Certificates(context.Background(), customer)
	if views[0].State != "revoked" || views[0].RevokeReason != "key_compromise" {
		t.Fatalf("state %s reason %s", views[0].State, views[0].RevokeReason)
	}
}

func TestLanguageNegotiationAndSwitch(t *testing.T) {
	e := start(t, envOptions{})
	c := e.client(t)
	for hdr, want := range map[string]string{"": "fi", "sv-FI,sv;q=0.9,en;q=0.8": "sv", "de-DE,en;q=0.5,fi;q=0.7": "fi", "de": "fi", "fr": "fi", "*": "fi", "en-GB": "en"} {
		req, _ := http.NewRequest(http.MethodGet, e.URL+"signin", nil)
		if hdr != "" {
			req.Header.Set("Accept-Language", hdr)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Content-Language"); got != want {
			t.Errorf("Accept-Language %q: %s, want %s", hdr, got, want)
		}
	}
	resp, err := c.Get(e.URL + "lang?set=sv&next=" + url.QueryEscape(eservice.Path+"signin"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != eservice.Path+"signin" {
		t.Errorf("redirect to %q", loc)
	}
	_, body := get(t, c, e.URL+"signin") // Accept-Language en, but the cookie says sv
	if !strings.Contains(body, `<html lang="sv">`) || !strings.Contains(body, "Logga in") {
		t.Error("the chosen language is not remembered")
	}
	// No open redirects.
	resp, _ = c.Get(e.URL + "lang?set=fi&next=https://evil.test/")
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != eservice.Path {
		t.Errorf("open redirect to %q", loc)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := start(t, envOptions{})
	resp, err := e.Web.Client().Get(e.URL + "signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for h, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Error("no CSP")
	}
	resp, err = e.Web.Client().Get(e.URL + "static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("style.css: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

type failingMailer struct{}

func (failingMailer) Send(context.Context, notify.Message) error {
	return errors.New("451 mail server unavailable")
}

func TestOrderWhenMailFails(t *testing.T) {
	e := start(t, envOptions{Mailer: failingMailer{}})
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	resp, body := post(t, c, e.URL+"order", orderForm(csrf))
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "could not be sent") || pinRE.MatchString(body) {
		t.Fatalf("order with failing mail: %d, want 502 without a PIN", resp.StatusCode)
	}
	ctx := context.Background()
	var ds []store.Delivery
	if err := e.S.DB.View(ctx, func(tx *store.Tx) (err error) { ds, err = tx.Deliveries(ctx); return err }); err != nil || len(ds) != 1 {
		t.Fatalf("deliveries %d, %v; want 1", len(ds), err)
	}
	state, sealed := ds[0].State, ds[0].Sealed
	if state != "failed" || sealed != nil {
		t.Fatalf("delivery %s, sealed %d bytes; want failed and erased", state, len(sealed))
	}
	log, _ := e.S.Service.AuditLog(ctx, customer, 10)
	if log[0].Action != "delivery_mail" || log[0].Outcome != "fail" {
		t.Fatalf("audit %+v", log[0])
	}
}

// A contact changed in the e-service gets the next reminder, in the new
// language.
func TestContactChangeReachesReminder(t *testing.T) {
	e := start(t, envOptions{})
	en := e.S.Enroll(t, customer, 0)
	serial := service.SerialHex(en.Cert)
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	_, page := get(t, c, e.URL+"certificates/"+serial)
	if want := "Renewal possible from</dt><dd>" + lang.Date("en", en.Cert.NotAfter.Add(-60*24*time.Hour)); !strings.Contains(page, want) {
		t.Errorf("detail page lacks %q", want)
	}
	resp, _ := post(t, c, e.URL+"certificates/"+serial+"/contact", url.Values{"csrf": {csrf}, "email": {"new.contact@palkat.test"}, "name": {"Nils Ny"}, "language": {"sv"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("change contact: %d", resp.StatusCode)
	}
	if resp, body := post(t, c, e.URL+"certificates/"+serial+"/contact", url.Values{"csrf": {csrf}, "email": {"bad address"}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) {
		t.Fatalf("bad address: %d", resp.StatusCode)
	}
	ob, _ := notify.Outbox(e.Outbox, "no-reply@irpki.test", e.S.Clock, e.S.Log)
	r, err := notify.NewReminder(notify.DefaultReminderConfig(), e.S.DB, e.S.Clock, ob, e.S.Log)
	if err != nil {
		t.Fatal(err)
	}
	e.S.Clock.Set(en.Cert.NotAfter.Add(-59 * 24 * time.Hour))
	if res, err := r.RunOnce(context.Background()); err != nil || res.Sent != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	m := e.mails(t)
	if len(m) != 1 || m[0].To != "new.contact@palkat.test" || m[0].Lang != "sv" || !strings.HasPrefix(m[0].Body, "Hej Nils Ny") {
		t.Fatalf("reminder %+v", m)
	}
	log, _ := e.S.Service.AuditLog(context.Background(), customer, 10)
	found := false
	for _, x := range log {
		found = found || (x.Action == "contact_change" && x.Actor == "eservice:"+repEmail && strings.Contains(x.Detail, "to=new.contact@palkat.test"))
	}
	if !found {
		t.Error("the contact change is not audited")
	}
}

func TestValidityChoiceOnlyInTest(t *testing.T) {
	e := start(t, envOptions{Env: "PRODUCTION"})
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	if _, page := get(t, c, e.URL+"order"); strings.Contains(page, `name="validity"`) {
		t.Fatal("PRODUCTION order form offers a validity")
	}
	f := orderForm(csrf)
	f.Set("validity", "1d")
	if resp, _ := post(t, c, e.URL+"order", f); resp.StatusCode != http.StatusBadRequest || orderCount(t, e) != 0 {
		t.Fatalf("PRODUCTION order with a validity: %d", resp.StatusCode)
	}
	e2 := start(t, envOptions{})
	c2 := e2.client(t)
	csrf = e2.signIn(t, c2, repEmail, repPassword)
	f = orderForm(csrf)
	f.Set("validity", "1d")
	if resp, _ := post(t, c2, e2.URL+"order", f); resp.StatusCode != http.StatusOK {
		t.Fatalf("TEST order with 1d: %d", resp.StatusCode)
	}
	ctx := context.Background()
	var o []store.Order
	e2.S.DB.View(ctx, func(tx *store.Tx) error { var err error; o, err = tx.Orders(ctx, customer); return err })
	if len(o) != 1 || o[0].Validity != 24*time.Hour {
		t.Fatalf("orders %+v", o)
	}
}

func TestResubmittedOrderIsNotOrderedTwice(t *testing.T) {
	e := start(t, envOptions{})
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	f := orderForm(csrf)
	if resp, _ := post(t, c, e.URL+"order", f); resp.StatusCode != http.StatusOK {
		t.Fatalf("order: %d", resp.StatusCode)
	}
	resp, body := post(t, c, e.URL+"order", f) // reload of the result page
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "already been sent") || pinRE.MatchString(body) {
		t.Fatalf("resubmission: %d", resp.StatusCode)
	}
	if n, m := orderCount(t, e), len(e.mails(t)); n != 1 || m != 1 {
		t.Fatalf("%d orders, %d mails; want 1 and 1", n, m)
	}
	f.Del("nonce")
	if resp, _ := post(t, c, e.URL+"order", f); resp.StatusCode != http.StatusBadRequest || orderCount(t, e) != 1 {
		t.Fatalf("order without a form nonce: %d", resp.StatusCode)
	}
}

func TestSessionEndsAfterEightHoursEvenWhenUsed(t *testing.T) {
	e := start(t, envOptions{})
	c := e.client(t)
	e.signIn(t, c, repEmail, repPassword)
	for i := 1; ; i++ {
		e.S.Clock.Advance(29 * time.Minute)
		code, _ := get(t, c, e.URL+"certificates")
		elapsed := time.Duration(i) * 29 * time.Minute
		if code == http.StatusSeeOther {
			if elapsed < 8*time.Hour {
				t.Fatalf("session ended after %v of use", elapsed)
			}
			break
		}
		if elapsed >= 8*time.Hour {
			t.Fatalf("session still alive after %v", elapsed)
		}
	}
}

func TestPINGuessesAreLimitedPerIP(t *testing.T) {
	e := start(t, envOptions{Mutate: func(c *eservice.Config) { c.IPFailures = 3 }})
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	var pins []string
	for i := 0; i < 2; i++ {
		_, body := post(t, c, e.URL+"order", orderForm(csrf))
		m := pinRE.FindStringSubmatch(body)
		pins = append(pins, m[1]+m[2])
		e.S.Clock.Advance(time.Second) // outbox files sort by time
	}
	mails := e.mails(t)
	contact := e.client(t)
	link0, link1 := linkIn(t, mails[0].Body), linkIn(t, mails[1].Body)
	_, page := get(t, contact, link0)
	tok := csrfOf(t, page)
	for _, l := range []string{link0, link0, link1} { // three wrong PINs over two links
		post(t, contact, l, url.Values{"csrf": {tok}, "pin": {"99999999"}})
	}
	// Now even a right PIN from this address waits.
	for i, l := range []string{link0, link1} {
		resp, body := post(t, contact, l, url.Values{"csrf": {tok}, "pin": {pins[i]}})
		if resp.StatusCode != http.StatusTooManyRequests || strings.Contains(body, "transfer-password") {
			t.Fatalf("link %d after the IP limit: %d", i, resp.StatusCode)
		}
	}
	e.S.Clock.Advance(16 * time.Minute)
	opened := 0
	for i, l := range []string{link0, link1} {
		if resp, body := post(t, contact, l, url.Values{"csrf": {tok}, "pin": {pins[i]}}); resp.StatusCode == http.StatusOK && strings.Contains(body, `id="transfer-password"`) {
			opened++
		}
	}
	if opened != 2 {
		t.Fatalf("%d deliveries opened after the window, want 2", opened)
	}
}

// Concurrent wrong passwords get no more password checks than sequential
// ones: the limit is taken before the (slow) hash, not counted after it, so
// a burst of parallel guesses cannot slip past it.
func TestSignInLimitHoldsUnderConcurrentGuesses(t *testing.T) {
	e := start(t, envOptions{Mutate: func(c *eservice.Config) {
		c.Argon2 = eservice.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1} // a hash that takes a moment
	}})
	c := e.client(t)
	_, page := get(t, c, e.URL+"signin")
	tok := csrfOf(t, page)
	const n = 24
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, e.URL+"signin", strings.NewReader(url.Values{"csrf": {tok}, "email": {repEmail}, "password": {"wrong guess " + strconv.Itoa(i)}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := c.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	checked := 0
	for code := range codes {
		switch code {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
		default:
			t.Errorf("guess answered %d", code)
		}
	}
	if checked > e.Cfg.AccountFailures {
		t.Fatalf("%d of %d concurrent guesses had their password checked, the limit is %d", checked, n, e.Cfg.AccountFailures)
	}
}

// brokenViews is a store whose reads fail.
type brokenViews struct{ eservice.Store }

func (brokenViews) View(context.Context, func(*store.Tx) error) error {
	return errors.New("disk on fire")
}

// The delivery link's token is one of the two secrets that open the
// credentials: a failing request for it is logged without it.
func TestDeliveryTokenNotLogged(t *testing.T) {
	e := start(t, envOptions{})
	h, err := eservice.New(e.Cfg, e.S.Service, brokenViews{e.S.DB}, nil, e.S.Clock, e.S.Log)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	token := strings.Repeat("Tk", 21) + "x" // 43 characters of the token alphabet
	resp, err := http.Get(srv.URL + eservice.Path + "delivery/" + token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("with a failing store: %d", resp.StatusCode)
	}
	logs := e.S.Logs.String()
	if !strings.Contains(logs, "e-service request failed") {
		t.Fatalf("the failure was not logged:\n%s", logs)
	}
	if strings.Contains(logs, token) {
		t.Fatalf("the delivery token is in the log:\n%s", logs)
	}
}

// failAfterSend makes the store's next write fail once the mail has gone.
type failAfterSend struct {
	eservice.Store
	mail notify.Mailer
	fail bool
}

func (f *failAfterSend) Send(ctx context.Context, m notify.Message) error {
	err := f.mail.Send(ctx, m)
	f.fail = err == nil
	return err
}

func (f *failAfterSend) Update(ctx context.Context, fn func(*store.Tx) error) error {
	if f.fail {
		f.fail = false
		return errors.New("disk full")
	}
	return f.Store.Update(ctx, fn)
}

// Once the link has been mailed, the representative gets the PIN even if
// recording the mail's audit line fails: without it the mailed link can
// never be opened.
func TestOrderShowsPINWhenOnlyTheMailAuditFails(t *testing.T) {
	e := start(t, envOptions{})
	ob, err := notify.Outbox(e.Outbox, "Tulorekisteri <no-reply@irpki.test>", e.S.Clock, e.S.Log)
	if err != nil {
		t.Fatal(err)
	}
	fs := &failAfterSend{Store: e.S.DB, mail: ob}
	h, err := eservice.New(e.Cfg, e.S.Service, fs, fs, e.S.Clock, e.S.Log)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	e2 := *e
	e2.Web, e2.URL = srv, srv.URL+eservice.Path
	c := e2.client(t)
	csrf := e2.signIn(t, c, repEmail, repPassword)
	resp, body := post(t, c, e2.URL+"order", orderForm(csrf))
	if resp.StatusCode != http.StatusOK || !pinRE.MatchString(body) {
		t.Fatalf("order whose mail went out: %d, PIN shown %v", resp.StatusCode, pinRE.MatchString(body))
	}
	if n := len(e.mails(t)); n != 1 {
		t.Fatalf("%d mails, want the one link", n)
	}
}

// What is typed as the e-mail address of a failed sign-in to no account is
// not written to the audit log: people paste their password there (found
// in review). A known account's failures name the account.
func TestFailedSignInAuditsNoTypedSecret(t *testing.T) {
	e := start(t, envOptions{Mutate: func(c *eservice.Config) { c.IPFailures = 3 }})
	c := e.client(t)
	_, page := get(t, c, e.URL+"signin")
	tok := csrfOf(t, page)
	// A known account's wrong password, two unknown accounts, then (rate
	// limited after three failures) an unknown and a known one again.
	post(t, c, e.URL+"signin", url.Values{"csrf": {tok}, "email": {strings.ToUpper(repEmail)}, "password": {"wrong password"}})
	for _, typed := range []string{"my secret password 123", "another secret 456", "third secret 789"} {
		post(t, c, e.URL+"signin", url.Values{"csrf": {tok}, "email": {typed}, "password": {"whatever it is"}})
	}
	post(t, c, e.URL+"signin", url.Values{"csrf": {tok}, "email": {strings.ToUpper(repEmail)}, "password": {"wrong password"}})
	log, err := e.S.Service.AuditLog(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	signins := 0
	named := map[string]int{}
	for _, a := range log {
		if a.Action != "sign_in" {
			continue
		}
		signins++
		if strings.Contains(a.Actor, "secret") {
			t.Errorf("audit actor %q holds what was typed", a.Actor)
		}
		if a.Actor == "eservice:"+repEmail {
			named[a.Code]++
		}
	}
	if signins != 5 || named["BAD_CREDENTIALS"] != 1 || named["RATE_LIMITED"] != 1 {
		t.Errorf("%d sign-in records, %v naming %s; want 5, one BAD_CREDENTIALS and one RATE_LIMITED", signins, named, repEmail)
	}
}

// An operator disables the account of a representative who has left: the
// open session ends at once and the password no longer signs in; enabled
// again, it does. A new password ends the sessions too, and only it signs
// in. Each change is on the organisation's audit trail.
func TestDisableAndResetAccount(t *testing.T) {
	e := start(t, envOptions{})
	ctx := context.Background()
	c := e.client(t)
	e.signIn(t, c, repEmail, repPassword)
	u, err := accounts.SetDisabled(ctx, e.S.DB, e.S.Clock, strings.ToUpper(repEmail), true, "operator:test")
	if err != nil || !u.Disabled || u.Email != repEmail {
		t.Fatalf("disable: %+v %v", u, err)
	}
	if code, _ := get(t, c, e.URL+"certificates"); code != http.StatusSeeOther {
		t.Errorf("the disabled account's session still answers: %d", code)
	}
	_, page := get(t, c, e.URL+"signin")
	if resp, _ := post(t, c, e.URL+"signin", url.Values{"csrf": {csrfOf(t, page)}, "email": {repEmail}, "password": {repPassword}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sign-in to a disabled account: %d, want 401", resp.StatusCode)
	}
	if users, err := accounts.List(ctx, e.S.DB, customer); err != nil || len(users) != 1 || !users[0].Disabled {
		t.Errorf("users: %+v %v, want the account shown disabled", users, err)
	}
	if _, err := accounts.SetDisabled(ctx, e.S.DB, e.S.Clock, repEmail, false, "operator:test"); err != nil {
		t.Fatal(err)
	}
	e.signIn(t, c, repEmail, repPassword)
	const newPassword = "uusi pitkä salasana tähän"
	if _, err := accounts.SetPassword(ctx, e.S.DB, e.S.Clock, cheap, repEmail, newPassword, "operator:test"); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, c, e.URL+"certificates"); code != http.StatusSeeOther {
		t.Errorf("a session from before the password change still answers: %d", code)
	}
	_, page = get(t, c, e.URL+"signin")
	if resp, _ := post(t, c, e.URL+"signin", url.Values{"csrf": {csrfOf(t, page)}, "email": {repEmail}, "password": {repPassword}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old password after a reset: %d, want 401", resp.StatusCode)
	}
	e.signIn(t, c, repEmail, newPassword)
	if _, err := accounts.SetPassword(ctx, e.S.DB, e.S.Clock, cheap, repEmail, "short", "operator:test"); !errors.Is(err, accounts.ErrInput) {
		t.Errorf("a short new password: %v", err)
	}
	if _, err := accounts.SetDisabled(ctx, e.S.DB, e.S.Clock, "nobody@palkat.test", true, "operator:test"); !errors.Is(err, accounts.ErrInput) || !strings.Contains(err.Error(), "no account") {
		t.Errorf("disabling no account: %v", err)
	}
	log, err := e.S.Service.AuditLog(ctx, customer, 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, a := range log {
		got[a.Action]++
	}
	if got["user_disable"] != 1 || got["user_enable"] != 1 || got["user_password"] != 1 {
		t.Errorf("audit actions %v, want one disable, enable and password change", got)
	}
}

// A certificate shorter than the renewal window is renewable from its issue,
// not from a date before it existed (a 30-day TEST certificate issued on
// 3.12. said "renewable from 3.11."); a two-year one from 60 days before
// expiry.
func TestRenewableFromNeverBeforeIssue(t *testing.T) {
	e := start(t, envOptions{})
	short := e.S.Enroll(t, customer, 30*24*time.Hour).Cert
	long := e.S.Enroll(t, customer, 0).Cert
	c := e.client(t)
	e.signIn(t, c, repEmail, repPassword)
	for _, tc := range []struct {
		cert      *x509.Certificate
		want, not time.Time
	}{
		{short, short.NotBefore, short.NotAfter.Add(-60 * 24 * time.Hour)},
		{long, long.NotAfter.Add(-60 * 24 * time.Hour), long.NotBefore},
	} {
		_, body := get(t, c, e.URL+"certificates/"+tc.cert.SerialNumber.Text(16))
		label := "<dt>Renewal possible from</dt><dd>"
		if want := label + lang.Date("en", tc.want) + "</dd>"; !strings.Contains(body, want) {
			t.Errorf("certificate valid %v: page lacks %q", tc.cert.NotAfter.Sub(tc.cert.NotBefore), want)
		}
		if not := label + lang.Date("en", tc.not) + "</dd>"; strings.Contains(body, not) {
			t.Errorf("certificate valid %v: page says %q", tc.cert.NotAfter.Sub(tc.cert.NotBefore), not)
		}
	}
}

// Serials are shown at full width everywhere: one whose first hex digit is
// 0 (one in sixteen) was shown with 31 digits. Its page answers at the
// full-width address (the pages' links) and at the store's short one.
func TestSerialsAtFullWidth(t *testing.T) {
	e := start(t, envOptions{})
	const key = "a1b2c3d4e5f60718293a4b5c6d7e8f9" // 31 digits: a 124-bit serial
	const full = "0" + key
	ctx := context.Background()
	now := e.S.Clock.Now()
	err := e.S.DB.Update(ctx, func(tx *store.Tx) error {
		return tx.InsertCertificate(ctx, store.Certificate{Serial: key, CustomerID: customer, Environment: "TEST", NotBefore: now,
			NotAfter: now.AddDate(2, 0, 0), DER: []byte{1}, KeyFingerprint: "fp", Status: store.CertValid, RetrievalID: "r", CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	_, list := get(t, c, e.URL+"certificates")
	if !strings.Contains(list, `href="/eservice/certificates/`+full+`"`) || !strings.Contains(list, ">"+full+"</a>") {
		t.Errorf("the list does not show %s at full width:\n%s", full, list)
	}
	for _, u := range []string{full, key, strings.ToUpper(full)} {
		code, page := get(t, c, e.URL+"certificates/"+u)
		if code != http.StatusOK || !strings.Contains(page, `<dd class="mono">`+full+`</dd>`) {
			t.Errorf("certificates/%s: %d, or the page lacks the full serial", u, code)
		}
	}
	resp, _ := post(t, c, e.URL+"certificates/"+full+"/revoke", url.Values{"csrf": {csrf}, "reason": {"no_longer_needed"}, "confirm": {"yes"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	_, audit := get(t, c, e.URL+"audit")
	if !strings.Contains(audit, `<td class="mono serial">`+full+`</td>`) {
		t.Errorf("the audit trail does not show %s at full width", full)
	}
}

// The operator sees every organisation's certificates, filtered by
// organisation and state; a representative may not.
func TestOperatorCertificateList(t *testing.T) {
	e := start(t, envOptions{})
	e.S.AddOrg(t, "7654321-2", "Lönetjänst Ab")
	mine := e.S.Enroll(t, customer, 0).Cert
	theirs := e.S.Enroll(t, "7654321-2", 30*24*time.Hour).Cert
	if _, err := e.S.Service.Revoke(context.Background(), theirs.SerialNumber.Text(16), service.ReasonNotNeeded, "", "test", nil); err != nil {
		t.Fatal(err)
	}
	op := e.client(t)
	e.signIn(t, op, opEmail, opPassword)
	code, all := get(t, op, e.URL+"admin/certificates")
	if code != http.StatusOK {
		t.Fatalf("admin/certificates: %d", code)
	}
	for _, want := range []string{serial.Text(mine.SerialNumber), serial.Text(theirs.SerialNumber), "Palkat Oy", "Lönetjänst Ab", "Certificates (2), by expiry", `aria-current="page">All certificates`} {
		if !strings.Contains(all, want) {
			t.Errorf("the list lacks %q", want)
		}
	}
	// Soonest expiry first: the 30-day certificate before the two-year one.
	if strings.Index(all, serial.Text(theirs.SerialNumber)) > strings.Index(all, serial.Text(mine.SerialNumber)) {
		t.Error("not ordered by expiry")
	}
	for q, want := range map[string]string{"?customer=7654321-2": serial.Text(theirs.SerialNumber), "?state=valid": serial.Text(mine.SerialNumber), "?state=revoked&customer=" + customer: ""} {
		_, page := get(t, op, e.URL+"admin/certificates"+q)
		n := strings.Count(page, `<td class="mono serial">`)
		if (want == "" && n != 0) || (want != "" && (n != 1 || !strings.Contains(page, want))) {
			t.Errorf("%s: %d certificates listed, want only %q", q, n, want)
		}
	}
	rep := e.client(t)
	e.signIn(t, rep, repEmail, repPassword)
	if code, _ := get(t, rep, e.URL+"admin/certificates"); code != http.StatusForbidden {
		t.Errorf("representative on the operator's list: %d, want 403", code)
	}
}

// The operator disables and enables a representative's account on the
// organisation's page, as irpkid user disable/enable do: CSRF-protected,
// audited with the operator as actor, and the account's sessions end.
func TestOperatorDisablesAndEnablesAccount(t *testing.T) {
	e := start(t, envOptions{})
	rep := e.client(t)
	e.signIn(t, rep, repEmail, repPassword)
	op := e.client(t)
	csrf := e.signIn(t, op, opEmail, opPassword)
	_, page := get(t, op, e.URL+"admin/orgs/"+customer)
	if !strings.Contains(page, `action="/eservice/admin/orgs/`+customer+`/users/disable"`) || !strings.Contains(page, ">Active</span>") {
		t.Fatalf("the organisation's page offers no disable for an active account:\n%s", page)
	}
	form := url.Values{"email": {repEmail}}
	if resp, _ := post(t, op, e.URL+"admin/orgs/"+customer+"/users/disable", form); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("disable without a CSRF token: %d, want 403", resp.StatusCode)
	}
	if code, _ := get(t, rep, e.URL+"certificates"); code != http.StatusOK {
		t.Fatal("the refused disable ended the representative's session")
	}
	// An account of another organisation is not found under this one.
	e.S.AddOrg(t, "7654321-2", "Lönetjänst Ab")
	accounts.Add(context.Background(), e.S.DB, e.S.Clock, cheap, accounts.NewAccount{Email: "other@x.test", CustomerID: "7654321-2", Password: "other password 1"}, "test")
	if resp, _ := post(t, op, e.URL+"admin/orgs/"+customer+"/users/disable", url.Values{"csrf": {csrf}, "email": {"other@x.test"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another organisation's account: %d, want 404", resp.StatusCode)
	}
	form.Set("csrf", csrf)
	resp, _ := post(t, op, e.URL+"admin/orgs/"+customer+"/users/disable", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != eservice.Path+"admin/orgs/"+customer+"?done=userDisabled" {
		t.Fatalf("disable: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, _ := get(t, rep, e.URL+"certificates"); code != http.StatusSeeOther {
		t.Errorf("the disabled representative's session goes on: %d", code)
	}
	_, signin := get(t, rep, e.URL+"signin")
	if resp, _ := post(t, rep, e.URL+"signin", url.Values{"csrf": {csrfOf(t, signin)}, "email": {repEmail}, "password": {repPassword}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a disabled account signs in: %d", resp.StatusCode)
	}
	_, page = get(t, op, e.URL+"admin/orgs/"+customer+"?done=userDisabled")
	if !strings.Contains(page, ">Disabled</span>") || !strings.Contains(page, "/users/enable") || !strings.Contains(page, "has been disabled") {
		t.Errorf("the page does not show the account disabled")
	}
	if resp, _ := post(t, op, e.URL+"admin/orgs/"+customer+"/users/enable", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %d", resp.StatusCode)
	}
	e.signIn(t, e.client(t), repEmail, repPassword)
	log, _ := e.S.Service.AuditLog(context.Background(), customer, 50)
	var got []string
	for _, a := range log {
		if a.Action == "user_disable" || a.Action == "user_enable" {
			got = append(got, a.Action+" by "+a.Actor+" of "+a.Detail)
		}
	}
	if want := []string{"user_enable by eservice:" + opEmail + " of " + repEmail, "user_disable by eservice:" + opEmail + " of " + repEmail}; strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("audit %q, want %q", got, want)
	}
}

// TestRevokeConfirmationNamesTheCascade: revoking a renewed certificate
// for key compromise, the confirmation page names the successor that goes
// with it (renewed with a request its key signed); a confirmation that did
// not show it (a renewal meanwhile) revokes nothing and shows the page
// again; the shown one revokes both.
func TestRevokeConfirmationNamesTheCascade(t *testing.T) {
	e := start(t, envOptions{})
	en := e.S.Enroll(t, customer, 30*24*time.Hour)
	ctx := context.Background()
	rid, err := e.S.Client(t).RenewCertificate(ctx, customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), en.Key, en.Cert)
	if err != nil {
		t.Fatal(err)
	}
	succ, err := e.S.Client(t).GetCertificate(ctx, customer, rid)
	if err != nil {
		t.Fatal(err)
	}
	serial, succSerial := en.Cert.SerialNumber.Text(16), succ.SerialNumber.Text(16)
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	resp, body := post(t, c, e.URL+"certificates/"+serial+"/revoke", url.Values{"csrf": {csrf}, "reason": {"key_compromise"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="revoke-cascade"`) || !strings.Contains(body, succSerial) {
		t.Fatalf("confirmation page does not name the successor %s: %d\n%s", succSerial, resp.StatusCode, body)
	}
	// Not shown, not revoked.
	resp, body = post(t, c, e.URL+"certificates/"+serial+"/revoke", url.Values{"csrf": {csrf}, "reason": {"key_compromise"}, "confirm": {"yes"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, succSerial) {
		t.Fatalf("a confirmation without the successor: %d", resp.StatusCode)
	}
	if views, _ := e.S.Service.Certificates(ctx, customer); views[0].State == service.StateRevoked {
		t.Fatal("revoked although the page had not named the successor")
	}
	resp, _ = post(t, c, e.URL+"certificates/"+serial+"/revoke", url.Values{"csrf": {csrf}, "reason": {"key_compromise"}, "confirm": {"yes"}, "cascade": {succSerial}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm: %d", resp.StatusCode)
	}
	views, _ := e.S.Service.Certificates(ctx, customer)
	for _, v := range views {
		if v.State != service.StateRevoked {
			t.Errorf("%s: %s", v.Serial, v.State)
		}
	}
	// Another reason names no cascade.
	en2 := e.S.Enroll(t, customer, 0)
	_, body = post(t, c, e.URL+"certificates/"+en2.Cert.SerialNumber.Text(16)+"/revoke", url.Values{"csrf": {csrf}, "reason": {"no_longer_needed"}})
	if strings.Contains(body, `id="revoke-cascade"`) {
		t.Error("cascade shown for no_longer_needed")
	}
}

// TestCertificatePageUrgency: a certificate that expires within 14 days
// says so on its page, an expired one says it can no longer be renewed,
// and one with years left says nothing.
func TestCertificatePageUrgency(t *testing.T) {
	e := start(t, envOptions{})
	soon := e.S.Enroll(t, customer, 10*24*time.Hour).Cert
	later := e.S.Enroll(t, customer, 0).Cert
	c := e.client(t)
	e.signIn(t, c, repEmail, repPassword)
	page := func(cert *x509.Certificate) string {
		_, body := get(t, c, e.URL+"certificates/"+serial.Text(cert.SerialNumber))
		return body
	}
	if p := page(soon); !strings.Contains(p, `id="urgency"`) || !strings.Contains(p, "expires within 10 days") {
		t.Errorf("a certificate with 10 days left:\n%s", p)
	}
	if p := page(later); strings.Contains(p, `id="urgency"`) {
		t.Error("a two-year certificate is marked urgent")
	}
	e.S.Clock.Advance(11 * 24 * time.Hour)
	e.signIn(t, c, repEmail, repPassword) // the session has ended meanwhile
	if p := page(soon); !strings.Contains(p, "has expired and can no longer be renewed") {
		t.Errorf("an expired certificate:\n%s", p)
	}
}
