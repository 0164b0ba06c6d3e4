package eservice_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/irpki/irpki/internal/eservice"
	"github.com/irpki/irpki/internal/store"
)

// The whole journey of a representative of two organisations in headless
// Chromium: sign in at the identity provider, land in the e-service, pick
// one of the two organisations, order (link by e-mail and PIN by SMS to
// the technical contact), switch organisation, sign out at the provider.
func TestBrowserOIDCJourney(t *testing.T) {
	e, p := startOIDC(t, func(c *eservice.Config) { c.PINDelivery = eservice.PINBySMS })
	p.m.QueueUser(&idPerson{sub: "person-5", name: "Eeva Edustaja", orgs: []string{customer, otherCustomer}})
	ctx := tab(t)
	dir := screenshotDir(t)

	run(t, ctx, "sign in at the provider",
		chromedp.Navigate(e.URL),
		chromedp.WaitVisible(chromedp.CSS(`a#oidc-signin`)),
		shot(t, dir, "11-signin-oidc"),
		nav(`a#oidc-signin`),
		chromedp.WaitVisible(chromedp.CSS(`button#org-`+otherCustomer)),
		shot(t, dir, "12-choose-organisation"),
	)
	if h := text(t, ctx, "h1"); h != "Choose the organisation" {
		t.Fatalf("after sign-in: h1 %q", h)
	}
	run(t, ctx, "choose Toinen Oy",
		nav(`button#org-`+otherCustomer),
		chromedp.WaitVisible(chromedp.CSS(`a.button.primary[href="/eservice/order"]`)),
	)
	if s := text(t, ctx, "#active-org"); s != "Toinen Oy (7654321-2)" {
		t.Fatalf("active organisation %q", s)
	}
	run(t, ctx, "order",
		nav(`a.button.primary[href="/eservice/order"]`),
		chromedp.WaitVisible(chromedp.CSS(`select#purpose`)),
		chromedp.SetValue(chromedp.CSS(`select#purpose`), "reports_ws"),
		chromedp.SendKeys(chromedp.CSS(`input#name`), "Tea Tekninen"),
		chromedp.SendKeys(chromedp.CSS(`input#email`), "tea@toinen.test"),
		chromedp.SendKeys(chromedp.CSS(`input#phone`), "040 123 4567"),
		chromedp.SetValue(chromedp.CSS(`select#language`), "fi"),
		nav(`form button[type=submit].primary`),
		chromedp.WaitVisible(chromedp.CSS(`#pin-sms`)),
		shot(t, dir, "13-order-pin-by-sms"),
	)
	if s := text(t, ctx, "#pin-sms"); !strings.Contains(s, "+358401234567") {
		t.Fatalf("order done: %q", s)
	}
	if s := text(t, ctx, "#active-org"); s != "Toinen Oy (7654321-2)" {
		t.Fatalf("active organisation on the order page %q", s)
	}
	// The order is Toinen Oy's, its link went by mail and its PIN by SMS
	// to the contact.
	if n := ordersOf(t, e, otherCustomer); n != 1 {
		t.Fatalf("%d orders of Toinen Oy", n)
	}
	if n := ordersOf(t, e, customer); n != 0 {
		t.Fatalf("%d orders of Palkat Oy", n)
	}
	mails := e.mails(t)
	if len(mails) != 1 || mails[0].To != "tea@toinen.test" || !strings.Contains(mails[0].Body, "Toinen Oy") {
		t.Fatalf("mails %+v", mails)
	}
	texts := e.sendSMS(t)
	if len(texts) != 1 || !strings.HasPrefix(texts[0], "To: +358401234567\n") || !smsPINRE.MatchString(texts[0]) {
		t.Fatalf("SMS %q", texts)
	}

	run(t, ctx, "switch to Palkat Oy",
		nav(`a#switch-org`),
		chromedp.WaitVisible(chromedp.CSS(`button#org-`+customer)),
		nav(`button#org-`+customer),
		chromedp.WaitVisible(chromedp.CSS(`#active-org`)),
	)
	if s := text(t, ctx, "#active-org"); s != "Palkat Oy (1234567-1)" {
		t.Fatalf("after switching %q", s)
	}
	run(t, ctx, "sign out",
		nav(`form[action="/eservice/signout"] button`),
		chromedp.WaitVisible(chromedp.CSS(`a#oidc-signin`)),
	)
	if n := p.logouts.Load(); n != 1 {
		t.Errorf("the provider's end-session endpoint was called %d times", n)
	}
	if s := text(t, ctx, ".notice.ok"); s == "" {
		t.Error("no signed-out notice")
	}
	run(t, ctx, "signed out", chromedp.Navigate(e.URL+"certificates"), chromedp.WaitVisible(chromedp.CSS(`a#oidc-signin`)))
	for _, a := range []string{"sign_in", "org_switch", "sign_out"} {
		if got := e.lastAudit(t, a); got.Outcome != "ok" || got.Actor != "eservice:oidc:person-5" {
			t.Errorf("%s audit %+v", a, got)
		}
	}
}

func ordersOf(t *testing.T, e *env, customerID string) int {
	t.Helper()
	ctx := context.Background()
	var os []store.Order
	if err := e.S.DB.View(ctx, func(tx *store.Tx) (err error) { os, err = tx.Orders(ctx, customerID); return err }); err != nil {
		t.Fatal(err)
	}
	return len(os)
}
