package eservice_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/store"
)

var (
	orderRowRE   = regexp.MustCompile(`<tr id="order-([0-9a-f]{24})">`)
	orderStateRE = regexp.MustCompile(`class="badge order-([a-z]+)"`)
	transferRE   = regexp.MustCompile(`id="transfer-id">([^<]+)<`)
	passwordRE   = regexp.MustCompile(`id="transfer-password">([^<]+)<`)
)

// orderStates reads the order list: each order's reference and state,
// newest first.
func orderStates(t *testing.T, e *env, c *http.Client) ([]string, []string, string) {
	t.Helper()
	code, body := get(t, c, e.URL+"orders")
	if code != http.StatusOK {
		t.Fatalf("orders: %d\n%s", code, body)
	}
	var refs, states []string
	for _, m := range orderRowRE.FindAllStringSubmatch(body, -1) {
		refs = append(refs, m[1])
	}
	for _, m := range orderStateRE.FindAllStringSubmatch(body, -1) {
		states = append(states, m[1])
	}
	if len(refs) != len(states) {
		t.Fatalf("%d orders, %d states\n%s", len(refs), len(states), body)
	}
	return refs, states, body
}

// orderAndOpen orders in the e-service and opens the mailed link with the
// PIN, as the contact; it returns the credentials.
func orderAndOpen(t *testing.T, e *env, c *http.Client, csrf string, open bool) (string, string, string) {
	t.Helper()
	resp, body := post(t, c, e.URL+"order", orderForm(csrf))
	m := pinRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("order: %d\n%s", resp.StatusCode, body)
	}
	mails := e.mails(t)
	link := linkIn(t, mails[len(mails)-1].Body)
	if !open {
		return link, "", ""
	}
	id, pw := openLink(t, e, link, m[1]+m[2])
	return link, id, pw
}

func openLink(t *testing.T, e *env, link, pin string) (string, string) {
	t.Helper()
	contact := e.client(t)
	_, page := get(t, contact, link)
	resp, body := post(t, contact, link, url.Values{"csrf": {csrfOf(t, page)}, "pin": {pin}})
	id, pw := transferRE.FindStringSubmatch(body), passwordRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || id == nil || pw == nil {
		t.Fatalf("open: %d\n%s", resp.StatusCode, body)
	}
	return id[1], pw[1]
}

func auditActions(t *testing.T, e *env) map[string]string {
	t.Helper()
	ctx := context.Background()
	got := map[string]string{}
	entries, err := e.S.Service.AuditLog(ctx, customer, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range entries {
		got[a.Action] = a.Detail
	}
	return got
}

// TestOrderListStates: the order list shows each state (ordered,
// credentials opened, retrieved, expired, cancelled) in the
// organisation's orders, newest first.
func TestOrderListStates(t *testing.T) {
	e := start(t, envOptions{})
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	if _, states, body := orderStates(t, e, c); len(states) != 0 || !strings.Contains(body, "no orders yet") {
		t.Fatalf("an organisation without orders: %v", states)
	}
	// Oldest: ordered, then left to expire.
	orderAndOpen(t, e, c, csrf, false)
	e.S.Clock.Advance(15 * 24 * time.Hour)
	c = e.client(t) // the session has ended meanwhile
	csrf = e.signIn(t, c, repEmail, repPassword)
	// Retrieved with SignNewCertificate.
	_, id, pw := orderAndOpen(t, e, c, csrf, true)
	ctx := context.Background()
	if _, err := e.S.Client(t).SignNewCertificate(ctx, customer, id, pw, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)); err != nil {
		t.Fatal(err)
	}
	e.S.Clock.Advance(time.Minute)
	// Cancelled.
	orderAndOpen(t, e, c, csrf, false)
	refs, states, _ := orderStates(t, e, c)
	resp, _ := post(t, c, e.URL+"orders/"+refs[0]+"/cancel", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	e.S.Clock.Advance(time.Minute)
	// Opened.
	orderAndOpen(t, e, c, csrf, true)
	e.S.Clock.Advance(time.Minute)
	// Ordered.
	orderAndOpen(t, e, c, csrf, false)
	_, states, body := orderStates(t, e, c)
	want := []string{"ordered", "opened", "cancelled", "retrieved", "expired"}
	if strings.Join(states, " ") != strings.Join(want, " ") {
		t.Fatalf("states %v, want %v", states, want)
	}
	for _, label := range []string{">Ordered<", ">Credentials opened<", ">Cancelled<", ">Retrieved<", ">Expired<"} {
		if !strings.Contains(body, label) {
			t.Errorf("the list lacks %q", label)
		}
	}
	// Actions only where they apply: resend unless retrieved or
	// cancelled, cancel only while the credentials can still be used.
	if n := strings.Count(body, "/resend\""); n != 3 {
		t.Errorf("%d resend buttons, want 3 (ordered, opened, expired)", n)
	}
	if n := strings.Count(body, "/cancel\""); n != 2 {
		t.Errorf("%d cancel buttons, want 2 (ordered, opened)", n)
	}
	// In Swedish and English too.
	for lang, label := range map[string]string{"fi": "Tunnukset avattu", "sv": "Koderna öppnade"} {
		get(t, c, e.URL+"lang?set="+lang+"&next=/eservice/orders")
		if _, _, body := orderStates(t, e, c); !strings.Contains(body, label) || !strings.Contains(body, `lang="`+lang+`"`) {
			t.Errorf("%s: no %q", lang, label)
		}
	}
	// Another organisation's representative sees none of them.
	e.S.AddOrg(t, "7654321-2", "Muut Oy")
	if refs2 := otherOrgRefs(t, e); len(refs2) != 0 {
		t.Errorf("another organisation sees %d orders", len(refs2))
	}
}

func otherOrgRefs(t *testing.T, e *env) []string {
	t.Helper()
	ctx := context.Background()
	v, err := e.S.Service.Orders(ctx, "7654321-2")
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, o := range v {
		refs = append(refs, o.Ref)
	}
	return refs
}

// TestCancelOrder: a cancelled order's credentials are refused over SOAP
// with ORDER_CANCELLED, its unopened link stops working, the action is
// audited and needs the CSRF token, and a used order cannot be cancelled.
func TestCancelOrder(t *testing.T) {
	e := start(t, envOptions{})
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	link, _, _ := orderAndOpen(t, e, c, csrf, false)
	refs, _, _ := orderStates(t, e, c)
	// Without the CSRF token: refused, nothing cancelled.
	if resp, _ := post(t, c, e.URL+"orders/"+refs[0]+"/cancel", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cancel without CSRF: %d", resp.StatusCode)
	}
	if _, states, _ := orderStates(t, e, c); states[0] != "ordered" {
		t.Fatalf("state after a refused cancel: %s", states[0])
	}
	// An unknown reference.
	if resp, _ := post(t, c, e.URL+"orders/000000000000000000000000/cancel", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown order: %d", resp.StatusCode)
	}
	resp, _ := post(t, c, e.URL+"orders/"+refs[0]+"/cancel", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/eservice/orders?done=orderCancelled" {
		t.Fatalf("cancel: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, states, body := orderStates(t, e, c)
	_, done := get(t, c, e.URL+"orders?done=orderCancelled")
	if states[0] != "cancelled" || !strings.Contains(done, "The order has been cancelled") || strings.Contains(body, "The order has been cancelled") {
		t.Fatalf("after cancel: %v", states)
	}
	if d := auditActions(t, e)["order_cancel"]; d != "order="+refs[0]+" state=ordered" {
		t.Errorf("audit detail %q", d)
	}
	// The audit trail shows it translated.
	if _, body := get(t, c, e.URL+"audit"); !strings.Contains(body, "Order cancelled") || !strings.Contains(body, "State: Ordered") {
		t.Error("the audit trail does not show the cancellation translated")
	}
	// The mailed link is withdrawn.
	contact := e.client(t)
	if code, body := get(t, contact, link); code != http.StatusOK || !strings.Contains(body, "This link no longer works") || strings.Contains(body, `name="pin"`) {
		t.Fatalf("withdrawn link: %d\n%s", code, body)
	}
	// Cancelled twice: refused.
	if resp, _ := post(t, c, e.URL+"orders/"+refs[0]+"/cancel", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("second cancel: %d", resp.StatusCode)
	}

	// The credentials of a cancelled order, over SOAP.
	e.S.Clock.Advance(time.Minute)
	cred := e.S.Order(t, customer, 0)
	ctx := context.Background()
	var ref string
	views, _ := e.S.Service.Orders(ctx, customer)
	ref = views[0].Ref
	if err := e.S.Service.CancelOrder(ctx, customer, ref, "test"); err != nil {
		t.Fatal(err)
	}
	_, err := e.S.Client(t).SignNewCertificate(ctx, customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
	var se *client.ServiceError
	if !errors.As(err, &se) || se.Code != "ORDER_CANCELLED" {
		t.Fatalf("SignNewCertificate with a cancelled order's credentials: %v", err)
	}
	// A wrong password is still TRANSFER_INVALID: the code tells nothing
	// to whoever does not hold the credentials.
	_, err = e.S.Client(t).SignNewCertificate(ctx, customer, cred.TransferID, "wrongpassword123", irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
	if !errors.As(err, &se) || se.Code != "TRANSFER_INVALID" {
		t.Fatalf("a cancelled order with a wrong password: %v", err)
	}

	// A used order cannot be cancelled.
	e.S.Clock.Advance(time.Minute)
	en := e.S.Order(t, customer, 0)
	if _, err := e.S.Client(t).SignNewCertificate(ctx, customer, en.TransferID, en.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)); err != nil {
		t.Fatal(err)
	}
	views, _ = e.S.Service.Orders(ctx, customer)
	if views[0].State != "retrieved" {
		t.Fatalf("used order: %s", views[0].State)
	}
	resp, body = post(t, c, e.URL+"orders/"+views[0].Ref+"/cancel", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "can no longer be cancelled") {
		t.Fatalf("cancel a used order: %d", resp.StatusCode)
	}
}

// TestResendOrder: resending mails a new link to the technical contact
// with a new PIN (on screen here), the new credentials work over SOAP, the
// old ones and the old link do not, and the action is audited.
func TestResendOrder(t *testing.T) {
	e := start(t, envOptions{})
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	// The contact opened the first delivery but lost the credentials.
	oldLink, oldID, oldPW := orderAndOpen(t, e, c, csrf, true)
	_ = oldLink
	refs, states, _ := orderStates(t, e, c)
	if states[0] != "opened" {
		t.Fatalf("state %s", states[0])
	}
	if resp, _ := post(t, c, e.URL+"orders/"+refs[0]+"/resend", url.Values{"csrf": {"wrong"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("resend without CSRF: %d", resp.StatusCode)
	}
	e.S.Clock.Advance(time.Minute)
	resp, body := post(t, c, e.URL+"orders/"+refs[0]+"/resend", url.Values{"csrf": {csrf}})
	m := pinRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil || !strings.Contains(body, "<title>Credentials sent again") || !strings.Contains(body, "tea@palkat.test") {
		t.Fatalf("resend: %d\n%s", resp.StatusCode, body)
	}
	mails := e.mails(t)
	if len(mails) != 2 || mails[1].To != "tea@palkat.test" || mails[1].Lang != "fi" || strings.Contains(mails[1].Body, m[1]+m[2]) {
		t.Fatalf("resent mail: %+v", mails)
	}
	id, pw := openLink(t, e, linkIn(t, mails[1].Body), m[1]+m[2])
	if id == oldID {
		t.Fatal("the resent TransferId is the old one")
	}
	newRefs, states, _ := orderStates(t, e, c)
	if len(newRefs) != 2 || states[0] != "opened" || states[1] != "cancelled" || newRefs[1] != refs[0] {
		t.Fatalf("after resend: %v %v", newRefs, states)
	}
	if d := auditActions(t, e)["order_resend"]; d != "order="+refs[0]+" state=opened new="+newRefs[0] {
		t.Errorf("audit detail %q", d)
	}
	ctx := context.Background()
	var se *client.ServiceError
	_, err := e.S.Client(t).SignNewCertificate(ctx, customer, oldID, oldPW, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
	if !errors.As(err, &se) || se.Code != "ORDER_CANCELLED" {
		t.Fatalf("the old credentials: %v", err)
	}
	if _, err := e.S.Client(t).SignNewCertificate(ctx, customer, id, pw, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)); err != nil {
		t.Fatalf("the resent credentials: %v", err)
	}
	_, states, _ = orderStates(t, e, c)
	if states[0] != "retrieved" {
		t.Fatalf("state %s", states[0])
	}
	// A retrieved or cancelled order is not resent.
	for _, ref := range []string{newRefs[0], refs[0]} {
		if resp, _ := post(t, c, e.URL+"orders/"+ref+"/resend", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusConflict {
			t.Fatalf("resend %s: %d", ref, resp.StatusCode)
		}
	}
	// An unopened delivery is withdrawn by the resend: its link no longer
	// opens.
	e.S.Clock.Advance(time.Minute)
	link, _, _ := orderAndOpen(t, e, c, csrf, false)
	refs, _, _ = orderStates(t, e, c)
	e.S.Clock.Advance(time.Minute)
	if resp, _ := post(t, c, e.URL+"orders/"+refs[0]+"/resend", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("resend: %d", resp.StatusCode)
	}
	if code, body := get(t, e.client(t), link); code != http.StatusOK || strings.Contains(body, `name="pin"`) {
		t.Fatalf("the old link still asks for the PIN: %d", code)
	}
	var ds []store.Delivery
	if err := e.S.DB.View(ctx, func(tx *store.Tx) (err error) { ds, err = tx.Deliveries(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.State == "withdrawn" && d.Sealed != nil {
			t.Error("a withdrawn delivery keeps its sealed credentials")
		}
	}
}
