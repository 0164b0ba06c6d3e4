package eservice_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/irpki/irpki/internal/eservice"
	"github.com/irpki/irpki/internal/sms"
	"github.com/irpki/irpki/internal/store"
)

var smsPINRE = regexp.MustCompile(`(\d{4}) (\d{4})`)

// smsOutbox runs the SMS dispatcher once into an outbox in the test's data
// directory and returns the outbox's files' contents.
func (e *env) sendSMS(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join(e.S.Dir, "sms-outbox")
	ob, err := sms.Outbox(dir, e.S.Log)
	if err != nil {
		t.Fatal(err)
	}
	d, err := sms.NewDispatcher(sms.DefaultDispatchConfig(), e.S.DB, ob, e.S.Clock, e.S.Log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.sms"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// The two channels as the real service runs them: the link by e-mail and
// the PIN by SMS, both to the technical contact; the representative who
// ordered sees neither.
func TestPINBySMSToTheContact(t *testing.T) {
	woken := 0
	e := start(t, envOptions{Mutate: func(c *eservice.Config) {
		c.PINDelivery = eservice.PINBySMS
		c.SMSWake = func() { woken++ }
	}})
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	_, form := get(t, c, e.URL+"order")
	if !strings.Contains(form, "The PIN is sent to this number by SMS") {
		t.Error("the order form does not say the PIN goes by SMS")
	}
	f := orderForm(csrf)
	f.Set("phone", "040 123 4567") // Finnish, without the country code
	f.Set("language", "en")
	resp, body := post(t, c, e.URL+"order", f)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="pin-sms"`) || !strings.Contains(body, "&#43;358401234567") || strings.Contains(body, `id="pin"`) {
		t.Fatalf("order: %d\n%s", resp.StatusCode, body)
	}
	if woken != 1 {
		t.Errorf("dispatcher woken %d times", woken)
	}
	// The order records the number in E.164.
	ctx := context.Background()
	var orders []store.Order
	e.S.DB.View(ctx, func(tx *store.Tx) (err error) { orders, err = tx.Orders(ctx, customer); return err })
	if len(orders) != 1 || orders[0].ContactPhone != "+358401234567" {
		t.Fatalf("orders %+v", orders)
	}
	mails := e.mails(t)
	if len(mails) != 1 || mails[0].To != "tea@palkat.test" || !strings.Contains(mails[0].Body, "sent to you by SMS at +358401234567") {
		t.Fatalf("mails %+v", mails)
	}
	texts := e.sendSMS(t)
	if len(texts) != 1 || !strings.HasPrefix(texts[0], "To: +358401234567\n") {
		t.Fatalf("SMS %q", texts)
	}
	m := smsPINRE.FindStringSubmatch(texts[0])
	if m == nil {
		t.Fatalf("no PIN in the SMS %q", texts[0])
	}
	pin := m[1] + m[2]
	if strings.Contains(body, pin) || strings.Contains(mails[0].Body, pin) {
		t.Fatal("the PIN reached the representative's page or the mail")
	}
	if again := e.sendSMS(t); len(again) != 1 {
		t.Fatalf("a second dispatch sent again: %d files", len(again))
	}
	// The contact opens the link with the PIN from the SMS.
	contact := e.client(t)
	link := linkIn(t, mails[0].Body)
	_, page := get(t, contact, link)
	resp, body = post(t, contact, link, url.Values{"csrf": {csrfOf(t, page)}, "pin": {pin}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="transfer-password"`) {
		t.Fatalf("open with the SMS PIN: %d\n%s", resp.StatusCode, body)
	}
	// The queue no longer holds the PIN, and the audit trail never did.
	var queued []store.SMS
	e.S.DB.View(ctx, func(tx *store.Tx) (err error) { queued, err = tx.SMSByCustomer(ctx, customer); return err })
	if len(queued) != 1 || queued[0].State != store.SMSSent || queued[0].Text != "" {
		t.Fatalf("queue %+v", queued)
	}
	entries, _ := e.S.Service.AuditLog(ctx, customer, 100)
	sent := false
	for _, a := range entries {
		if strings.Contains(a.Detail, pin) {
			t.Errorf("PIN in the audit trail: %+v", a)
		}
		sent = sent || (a.Action == "delivery_sms" && a.Outcome == "ok" && strings.Contains(a.Detail, "+358401234567"))
	}
	if !sent {
		t.Error("the SMS is not audited")
	}
}

func TestOrderRefusesABadPhoneNumber(t *testing.T) {
	e := start(t, envOptions{Mutate: func(c *eservice.Config) { c.PINDelivery = eservice.PINBySMS }})
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	for _, bad := range []string{"401234567", "+0401234567", "12"} {
		f := orderForm(csrf)
		f.Set("phone", bad)
		resp, body := post(t, c, e.URL+"order", f)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="phone-error"`) {
			t.Errorf("phone %q: %d", bad, resp.StatusCode)
		}
	}
	if n := orderCount(t, e); n != 0 {
		t.Fatalf("%d orders with bad numbers", n)
	}
}
