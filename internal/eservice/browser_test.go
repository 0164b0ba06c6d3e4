package eservice_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/irpki/irpki/internal/accounts"
	"github.com/irpki/irpki/internal/pgtest"
	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
)

// One headless Chromium per test binary, started on first use and shared
// by the browser tests; each test gets its own browser context (cookies).
var (
	browserOnce   sync.Once
	browserCtx    context.Context
	browserCancel context.CancelFunc
	allocCancel   context.CancelFunc
	browserErr    error
	browserDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	if browserCancel != nil {
		browserCancel() // stops Chromium
	}
	if allocCancel != nil {
		allocCancel()
	}
	if browserDir != "" {
		os.RemoveAll(browserDir)
	}
	os.Exit(code)
}

func chromiumPath() (string, error) {
	if p := os.Getenv("IRPKI_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium found: install Debian's chromium package (apt-get install -y chromium) or set IRPKI_CHROMIUM")
}

// tab returns a new tab in a fresh browser context of the shared browser.
func tab(t *testing.T) context.Context {
	t.Helper()
	browserOnce.Do(func() {
		path, err := chromiumPath()
		if err != nil {
			browserErr = err
			return
		}
		browserDir, err = os.MkdirTemp("", "irpki-chromium-")
		if err != nil {
			browserErr = err
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(path),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.UserDataDir(browserDir),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("lang", "en-US"),
			chromedp.Flag("accept-lang", "en-US,en"),
			chromedp.WindowSize(1280, 900),
		}
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		allocCancel = acancel
		bctx, cancel := chromedp.NewContext(actx)
		if err := chromedp.Do(bctx); err != nil {
			cancel()
			browserErr = fmt.Errorf("start %s: %w", path, err)
			return
		}
		browserCtx, browserCancel = bctx, cancel
	})
	if browserErr != nil {
		t.Fatal(browserErr)
	}
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // opens the tab; no timeout on this first call
		t.Fatal(err)
	}
	return ctx
}

// screenshotDir is where the main pages' screenshots go: IRPKI_SCREENSHOTS
// if set (kept as CI artifacts), else a temp dir.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("IRPKI_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// shot saves a full-page PNG screenshot, checks it is a real, non-empty
// image, and checks the page for accessibility problems (a11yJS).
func shot(t *testing.T, dir, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		// Background tabs do not paint: bring this one to the front.
		if _, err := cdp.Call(ctx, tg, page.BringToFront, cdp.Empty{}); err != nil {
			return err
		}
		buf, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(buf, []byte("\x89PNG\r\n\x1a\n")) {
			return fmt.Errorf("screenshot %s is not a PNG", name)
		}
		img, err := png.Decode(bytes.NewReader(buf))
		if err != nil {
			return fmt.Errorf("screenshot %s: %w", name, err)
		}
		if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
			return fmt.Errorf("screenshot %s is only %v", name, b)
		}
		if p, err := chromedp.Evaluate[string](a11yJS)(ctx, tg); err != nil {
			return err
		} else if p != "" {
			t.Errorf("page %s: accessibility: %s", name, p)
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	})
}

// run runs a step of a journey, bounded by a timeout so that a missing
// element fails the test with the page it was on instead of hanging.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
		if len(html) > 4000 {
			html = html[:4000]
		}
		t.Fatalf("%s: %v\nat %s\n%s", what, err, loc, html)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	// Bounded: a selector that matches nothing fails instead of hanging.
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func TestBrowserRepresentativeJourney(t *testing.T) {
	e := start(t, envOptions{})
	ctx := tab(t)
	dir := screenshotDir(t)

	// Sign in.
	run(t, ctx, "open sign-in",
		chromedp.Navigate(e.URL),
		chromedp.WaitVisible(chromedp.CSS(`input#email`)),
		shot(t, dir, "01-signin"),
		chromedp.SendKeys(chromedp.CSS(`input#email`), repEmail),
		chromedp.SendKeys(chromedp.CSS(`input#password`), repPassword),
		nav(`form button[type=submit].primary`),
		chromedp.WaitVisible(chromedp.CSS(`a.button.primary[href="/eservice/order"]`)),
	)
	if h := text(t, ctx, "h1"); h != "Certificates" {
		t.Fatalf("after sign-in: h1 %q", h)
	}
	if s := text(t, ctx, "p.empty"); !strings.Contains(s, "no certificates yet") {
		t.Fatalf("empty list: %q", s)
	}

	// Order, and read the PIN from the screen.
	run(t, ctx, "order",
		nav(`a.button.primary[href="/eservice/order"]`),
		chromedp.WaitVisible(chromedp.CSS(`select#purpose`)),
		chromedp.SetValue(chromedp.CSS(`select#purpose`), "reports_ws"),
		chromedp.SendKeys(chromedp.CSS(`input#description`), "Palkkajärjestelmä / payroll"),
		chromedp.SendKeys(chromedp.CSS(`input#name`), "Tea Tekninen"),
		chromedp.SendKeys(chromedp.CSS(`input#email`), "tea@palkat.test"),
		chromedp.SendKeys(chromedp.CSS(`input#phone`), "+358 40 123 4567"),
		chromedp.SetValue(chromedp.CSS(`select#language`), "fi"),
		shot(t, dir, "02-order"),
		nav(`form button[type=submit].primary`),
		chromedp.WaitVisible(chromedp.CSS(`#pin`)),
		shot(t, dir, "03-order-pin"),
	)
	pin := strings.ReplaceAll(text(t, ctx, "#pin"), " ", "")
	if len(pin) != 8 {
		t.Fatalf("PIN %q", pin)
	}
	repScreen, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}

	// The contact's mail: Finnish, a link, no PIN.
	mails := e.mails(t)
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	m := mails[0]
	if m.To != "tea@palkat.test" || m.Lang != "fi" || m.Subject != "Tulorekisterin varmenteen siirtotunnukset" {
		t.Fatalf("mail to %s in %s: %q", m.To, m.Lang, m.Subject)
	}
	if strings.Contains(m.Body, pin) {
		t.Fatal("the mail reveals the PIN")
	}
	// One register: the mail says "sinä" as the pages do, not "te".
	if !strings.Contains(m.Body, "Avaa varmenteen siirtotunnukset") || strings.Contains(m.Body, "Avatkaa") || strings.Contains(m.Body, "teidät") {
		t.Errorf("the Finnish mail addresses the reader formally:\n%s", m.Body)
	}
	link := linkIn(t, m.Body)

	// The contact opens the link (in another browser context), types a
	// wrong PIN, then the right one.
	cctx := tab(t)
	run(t, cctx, "open link",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`input#pin`)),
		shot(t, dir, "04-delivery-pin"),
		chromedp.SendKeys(chromedp.CSS(`input#pin`), wrongPIN(pin)),
		nav(`form button[type=submit]`),
		chromedp.WaitVisible(chromedp.CSS(`#pin-error`)),
	)
	if s := text(t, cctx, "#pin-error"); !strings.Contains(s, "Attempts left: 4") {
		t.Fatalf("wrong PIN: %q", s)
	}
	run(t, cctx, "type PIN",
		chromedp.SendKeys(chromedp.CSS(`input#pin`), pin[:4]+" "+pin[4:]),
		nav(`form button[type=submit]`),
		chromedp.WaitVisible(chromedp.CSS(`#transfer-password`)),
		shot(t, dir, "05-delivery-credentials"),
	)
	transferID, password, cid := text(t, cctx, "#transfer-id"), text(t, cctx, "#transfer-password"), text(t, cctx, "#customer-id")
	if cid != customer || len(transferID) != 32 || len(password) != 16 {
		t.Fatalf("credentials %q %q %q", cid, transferID, password)
	}
	if strings.Contains(m.Body, password) || strings.Contains(repScreen, password) || strings.Contains(m.Body, transferID) {
		t.Fatal("the mail or the representative's screen reveals the credentials")
	}
	// Single use: the link does not show them again.
	run(t, cctx, "reopen link",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`.notice.error`)),
	)
	if s := text(t, cctx, ".notice.error"); !strings.Contains(s, "already been used") {
		t.Fatalf("reopened link: %q", s)
	}

	// The credentials work: enrol with them.
	key := irpkidtest.NewKey(t)
	cl := e.S.Client(t)
	rid, err := cl.SignNewCertificate(context.Background(), cid, transferID, password, irpkidtest.CSR(t, key, cid))
	if err != nil {
		t.Fatalf("SignNewCertificate with the delivered credentials: %v", err)
	}
	cert, err := cl.GetCertificate(context.Background(), cid, rid)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.VerifyIssued(cert, &key.PublicKey, customer); err != nil {
		t.Fatal(err)
	}
	storeKey, full := service.SerialHex(cert), serial.Text(cert.SerialNumber)

	// The list shows it.
	run(t, ctx, "list",
		chromedp.Navigate(e.URL+"certificates"),
		chromedp.WaitVisible(chromedp.CSS(`table`)),
		shot(t, dir, "06-certificates"),
	)
	row := text(t, ctx, "tbody tr")
	daysLeft := fmt.Sprint(int(cert.NotAfter.Sub(e.S.Clock.Now()) / (24 * time.Hour)))
	for _, want := range []string{full, "Reporting – Web Service interface", "Palkkajärjestelmä / payroll", "Tea Tekninen", "tea@palkat.test", "Valid", daysLeft} {
		if !strings.Contains(row, want) {
			t.Errorf("row %q lacks %q", row, want)
		}
	}
	if s := text(t, ctx, "aside.info"); !strings.Contains(s, "RenewCertificate") || !strings.Contains(s, "cannot be renewed in this service") {
		t.Errorf("renewal box: %q", s)
	}
	renewButtons, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('button,a')].filter(b => /renew/i.test(b.textContent)).length`))
	if err != nil || renewButtons != 0 {
		t.Errorf("%d renew buttons", renewButtons)
	}

	// Change the contact's e-mail.
	run(t, ctx, "change contact",
		nav(`tbody tr a.mono`),
		chromedp.WaitVisible(chromedp.CSS(`input#contact-email`)),
		shot(t, dir, "07-certificate"),
		chromedp.Clear(chromedp.CSS(`input#contact-email`)),
		chromedp.SendKeys(chromedp.CSS(`input#contact-email`), "uusi.tekninen@palkat.test"),
		nav(`form[action$="/contact"] button[type=submit]`),
		chromedp.WaitVisible(chromedp.CSS(`.notice.ok`)),
	)
	if s := text(t, ctx, ".notice.ok"); !strings.Contains(s, "next reminder goes to the new address") {
		t.Fatalf("contact notice %q", s)
	}
	ctxb := context.Background()
	var c store.Certificate
	e.S.DB.View(ctxb, func(tx *store.Tx) error { c, err = tx.Certificate(ctxb, storeKey); return err })
	if c.ContactEmail != "uusi.tekninen@palkat.test" {
		t.Fatalf("stored contact %q", c.ContactEmail)
	}

	// Revoke, after confirming.
	run(t, ctx, "revoke",
		chromedp.Click(chromedp.CSS(`#reason-key_compromise`)),
		nav(`form[action$="/revoke"] button[type=submit]`),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-revoke`)),
		shot(t, dir, "08-revoke-confirm"),
	)
	if h := text(t, ctx, "h1"); h != "Confirm revocation" {
		t.Fatalf("confirm page %q", h)
	}
	if v, _ := e.S.Service.Certificates(ctxb, customer); v[0].State != service.StateValid {
		t.Fatal("revoked before confirmation")
	}
	run(t, ctx, "confirm",
		nav(`#confirm-revoke`),
		chromedp.WaitVisible(chromedp.CSS(`.notice.ok`)),
	)
	if s := text(t, ctx, "tbody tr .badge"); s != "Revoked" {
		t.Fatalf("state after revocation %q", s)
	}
	if v, _ := e.S.Service.Certificates(ctxb, customer); v[0].State != service.StateRevoked {
		t.Fatal("not revoked")
	}

	// Switch language: Finnish, then Swedish, remembered across pages.
	run(t, ctx, "Finnish",
		nav(`nav.langs a[lang=fi]`),
		chromedp.WaitVisible(chromedp.CSS(`html[lang=fi] h1`)),
		shot(t, dir, "09-certificates-fi"),
	)
	if h, b := text(t, ctx, "h1"), text(t, ctx, "tbody tr .badge"); h != "Varmenteet" || b != "Peruutettu" {
		t.Fatalf("Finnish: %q / %q", h, b)
	}
	if s := text(t, ctx, "aside.info h2"); s != "Näin varmenne uusitaan" {
		t.Errorf("Finnish renewal box title %q", s)
	}
	// The certificate's page in Finnish: the environment is TESTI in the
	// header and in the details alike, the serial is at full width.
	run(t, ctx, "certificate in Finnish",
		nav(`tbody tr a.mono`),
		chromedp.WaitVisible(chromedp.CSS(`html[lang=fi] dl.details`)),
		shot(t, dir, "09b-certificate-fi"),
	)
	details := text(t, ctx, "dl.details")
	for _, want := range []string{"Ympäristö\nTESTI", "Sarjanumero\n" + full, "Peruutettu – Avain on kadonnut tai joutunut vääriin käsiin"} {
		if !strings.Contains(details, want) {
			t.Errorf("Finnish certificate page lacks %q:\n%s", want, details)
		}
	}
	if s := text(t, ctx, "header .env"); s != "TESTI" {
		t.Errorf("header badge %q", s)
	}
	if s := text(t, ctx, "h1 .serial"); s != full {
		t.Errorf("heading serial %q, want %q", s, full)
	}
	run(t, ctx, "back to the list", nav(`p.back a`), chromedp.WaitVisible(chromedp.CSS(`html[lang=fi] table`)))
	run(t, ctx, "Swedish",
		nav(`nav.langs a[lang=sv]`),
		chromedp.WaitVisible(chromedp.CSS(`html[lang=sv] h1`)),
		nav(`a[href="/eservice/audit"]`),
		chromedp.WaitVisible(chromedp.CSS(`html[lang=sv] table`)),
		shot(t, dir, "10-audit-sv"),
	)
	if h := text(t, ctx, "h1"); h != "Händelselogg" {
		t.Fatalf("Swedish audit page %q", h)
	}
	audit := text(t, ctx, "tbody")
	for _, want := range []string{"Återkallelse", "Ändring av kontaktperson", "Beställning av certifikat", "Öppning av överföringskoder"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit trail lacks %q", want)
		}
	}

	// Sign out.
	run(t, ctx, "sign out",
		nav(`form[action="/eservice/signout"] button`),
		chromedp.WaitVisible(chromedp.CSS(`input#password`)),
	)
	if s := text(t, ctx, ".notice.ok"); s != "Du har loggat ut." {
		t.Fatalf("sign-out notice %q", s)
	}
	for _, n := range []string{"01-signin", "02-order", "03-order-pin", "04-delivery-pin", "05-delivery-credentials", "06-certificates", "07-certificate", "08-revoke-confirm", "09-certificates-fi", "09b-certificate-fi", "10-audit-sv"} {
		if fi, err := os.Stat(filepath.Join(dir, n+".png")); err != nil || fi.Size() == 0 {
			t.Errorf("screenshot %s: %v", n, err)
		}
	}
}

// a11yJS lists accessibility problems of the page: no lang, not exactly one
// h1, no main landmark, a form control without a label, an unnamed button
// or link, a table without a caption or column headers.
const a11yJS = `(() => {
  const p = [];
  if (!document.documentElement.lang) p.push('no lang attribute');
  const h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) p.push(h1 + ' h1 elements');
  if (!document.querySelector('main')) p.push('no main landmark');
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!(el.id && document.querySelector('label[for="' + el.id + '"]')) && !el.getAttribute('aria-label')) p.push('unlabelled control ' + el.name);
  }
  for (const el of document.querySelectorAll('button, a')) {
    if (!el.textContent.trim() && !el.getAttribute('aria-label')) p.push('unnamed ' + el.tagName);
  }
  for (const t of document.querySelectorAll('table')) {
    if (!t.querySelector('caption') || !t.querySelector('th[scope=col]')) p.push('table without caption or headers');
  }
  return p.join('; ');
})()`

// nav clicks an element that loads a new page and waits for that page, so
// that the next query cannot see the old one.
func nav(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
		return err
	})
}

func wrongPIN(pin string) string {
	if pin == "12345678" {
		return "87654321"
	}
	return "12345678"
}

func TestBrowserOperatorAddsOrganisationAndRepresentative(t *testing.T) {
	e := start(t, envOptions{})
	ctx := tab(t)
	dir := screenshotDir(t)
	// Keyboard only: the e-mail field has the focus, Tab moves to the
	// password, Enter submits; on the next page Tab reaches the skip link.
	run(t, ctx, "operator sign-in with the keyboard",
		chromedp.Navigate(e.URL+"signin"),
		chromedp.WaitVisible(chromedp.CSS(`input#email`)),
		chromedp.KeyEvent(opEmail),
		chromedp.KeyEvent("\t"),
		chromedp.KeyEvent(opPassword),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.RunResponse(ctx, chromedp.KeyEvent("\r"))
			return err
		}),
		chromedp.WaitVisible(chromedp.CSS(`input#customer_id`)),
		chromedp.KeyEvent("\t"),
	)
	if cls, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.className`)); err != nil || cls != "skip" {
		t.Errorf("first Tab focuses %q, want the skip link", cls)
	}
	run(t, ctx, "add organisation",
		chromedp.SendKeys(chromedp.CSS(`input#customer_id`), "7654321-2"),
		chromedp.SendKeys(chromedp.CSS(`input#org-name`), "Lönetjänst Ab"),
		chromedp.SendKeys(chromedp.CSS(`input#contact_email`), "it@lon.test"),
		chromedp.SetValue(chromedp.CSS(`select#org-language`), "sv"),
		nav(`form[action="/eservice/admin/orgs"] button`),
		chromedp.WaitVisible(chromedp.CSS(`input#user-email`)),
		chromedp.SendKeys(chromedp.CSS(`input#user-email`), "rep@lon.test"),
		chromedp.SendKeys(chromedp.CSS(`input#user-name`), "Rut Representant"),
		chromedp.SendKeys(chromedp.CSS(`input#user-password`), "ett långt lösenord"),
		chromedp.SendKeys(chromedp.CSS(`input#user-password2`), "ett långt lösenord"),
		nav(`form[action$="/users"] button`),
		chromedp.WaitVisible(chromedp.CSS(`.notice.ok`)),
		shot(t, dir, "11-admin-org"),
	)
	if s := text(t, ctx, "#reps-caption ~ tbody"); !strings.Contains(s, "rep@lon.test") || !strings.Contains(s, "Active") {
		t.Fatalf("representatives: %q", s)
	}
	// Disable the new representative's account, then enable it again.
	run(t, ctx, "disable the account",
		nav(`button[aria-label="Disable the account rep@lon.test"]`),
		chromedp.WaitVisible(chromedp.CSS(`.notice.ok`)),
		shot(t, dir, "11b-admin-org-disabled"),
	)
	if s := text(t, ctx, "#reps-caption ~ tbody"); !strings.Contains(s, "Disabled") || !strings.Contains(s, "Enable") {
		t.Fatalf("after disabling: %q", s)
	}
	if us, _ := accounts.List(context.Background(), e.S.DB, "7654321-2"); len(us) != 1 || !us[0].Disabled {
		t.Fatalf("stored account %+v, want disabled", us)
	}
	run(t, ctx, "enable the account",
		nav(`button[aria-label="Enable the account rep@lon.test"]`),
		chromedp.WaitVisible(chromedp.CSS(`.notice.ok`)),
	)
	if us, _ := accounts.List(context.Background(), e.S.DB, "7654321-2"); len(us) != 1 || us[0].Disabled {
		t.Fatalf("stored account %+v, want enabled", us)
	}
	run(t, ctx, "organisations list",
		nav(`a[href="/eservice/admin/orgs"]`),
		chromedp.WaitVisible(chromedp.CSS(`table`)),
		shot(t, dir, "12-admin-orgs"),
	)
	if s := text(t, ctx, "tbody"); !strings.Contains(s, "Lönetjänst Ab") || !strings.Contains(s, "Palkat Oy") {
		t.Fatalf("organisations: %q", s)
	}
	// Every organisation's certificates, then one organisation's.
	short := e.S.Enroll(t, "7654321-2", 30*24*time.Hour).Cert
	long := e.S.Enroll(t, customer, 0).Cert
	run(t, ctx, "all certificates",
		nav(`a[href="/eservice/admin/certificates"]`),
		chromedp.WaitVisible(chromedp.CSS(`table`)),
		shot(t, dir, "13-admin-certificates"),
	)
	rows := text(t, ctx, "tbody")
	if i, j := strings.Index(rows, serial.Text(short.SerialNumber)), strings.Index(rows, serial.Text(long.SerialNumber)); i < 0 || j < 0 || i > j {
		t.Fatalf("all certificates, soonest expiry first: %q", rows)
	}
	run(t, ctx, "one organisation's certificates, in Finnish",
		chromedp.SetValue(chromedp.CSS(`select#filter-customer`), customer),
		nav(`form.filters button`),
		chromedp.WaitVisible(chromedp.CSS(`table`)),
		nav(`nav.langs a[lang=fi]`),
		chromedp.WaitVisible(chromedp.CSS(`html[lang=fi] table`)),
		shot(t, dir, "14-admin-certificates-fi"),
	)
	rows = text(t, ctx, "tbody")
	if !strings.Contains(rows, serial.Text(long.SerialNumber)) || strings.Contains(rows, serial.Text(short.SerialNumber)) || !strings.Contains(rows, "Voimassa") {
		t.Fatalf("filtered by organisation: %q", rows)
	}
	if h := text(t, ctx, "h1"); h != "Kaikki varmenteet" {
		t.Errorf("Finnish heading %q", h)
	}
}

// TestBrowserOrderList: the order list in headless Chromium shows each
// state, cancels an order and resends another's credentials, in English,
// Finnish and Swedish, with screenshots.
func TestBrowserOrderList(t *testing.T) {
	e := start(t, envOptions{})
	dir := screenshotDir(t)
	// Orders in each state, made over HTTP: expired, retrieved, opened,
	// ordered (oldest first).
	c := e.client(t)
	csrf := e.signIn(t, c, repEmail, repPassword)
	orderAndOpen(t, e, c, csrf, false)
	e.S.Clock.Advance(15 * 24 * time.Hour)
	c = e.client(t)
	csrf = e.signIn(t, c, repEmail, repPassword)
	_, id, pw := orderAndOpen(t, e, c, csrf, true)
	if _, err := e.S.Client(t).SignNewCertificate(context.Background(), customer, id, pw, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)); err != nil {
		t.Fatal(err)
	}
	e.S.Clock.Advance(time.Minute)
	orderAndOpen(t, e, c, csrf, true)
	e.S.Clock.Advance(time.Minute)
	orderAndOpen(t, e, c, csrf, false)
	e.S.Clock.Advance(time.Minute)

	ctx := tab(t)
	run(t, ctx, "sign in",
		chromedp.Navigate(e.URL),
		chromedp.WaitVisible(chromedp.CSS(`input#email`)),
		chromedp.SendKeys(chromedp.CSS(`input#email`), repEmail),
		chromedp.SendKeys(chromedp.CSS(`input#password`), repPassword),
		nav(`form button[type=submit].primary`),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/eservice/orders"]`)),
		nav(`a[href="/eservice/orders"]`),
		chromedp.WaitVisible(chromedp.CSS(`table.orders`)),
		shot(t, dir, "20-orders-en"),
	)
	badges := func() string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('table.orders tbody .badge')].map(b => b.textContent).join('|')`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if b := badges(); b != "Ordered|Credentials opened|Retrieved|Expired" {
		t.Fatalf("English states %q", b)
	}
	if s := text(t, ctx, `nav a[aria-current="page"]`); s != "Orders" {
		t.Errorf("current navigation item %q", s)
	}
	// Cancel the newest order.
	run(t, ctx, "cancel",
		nav(`table.orders tbody tr:first-child form[action$="/cancel"] button`),
		chromedp.WaitVisible(chromedp.CSS(`.notice.ok`)),
		shot(t, dir, "21-orders-cancelled-en"),
	)
	if s := text(t, ctx, ".notice.ok"); !strings.Contains(s, "The order has been cancelled") {
		t.Fatalf("cancel notice %q", s)
	}
	if b := badges(); b != "Cancelled|Credentials opened|Retrieved|Expired" {
		t.Fatalf("after cancel %q", b)
	}
	// Resend the opened order's credentials: a new PIN on screen, a new
	// mail to the contact.
	before := len(e.mails(t))
	run(t, ctx, "resend",
		nav(`table.orders tbody tr:nth-child(2) form[action$="/resend"] button`),
		chromedp.WaitVisible(chromedp.CSS(`#pin`)),
		shot(t, dir, "22-orders-resent-en"),
	)
	if pin := strings.ReplaceAll(text(t, ctx, "#pin"), " ", ""); len(pin) != 8 {
		t.Fatalf("PIN %q", pin)
	}
	if mails := e.mails(t); len(mails) != before+1 || mails[len(mails)-1].To != "tea@palkat.test" {
		t.Fatalf("%d mails after resend", len(mails)-before)
	}
	run(t, ctx, "Finnish",
		chromedp.Navigate(e.URL+"orders"),
		chromedp.WaitVisible(chromedp.CSS(`table.orders`)),
		nav(`nav.langs a[lang=fi]`),
		chromedp.WaitVisible(chromedp.CSS(`html[lang=fi] table.orders`)),
		shot(t, dir, "23-orders-fi"),
	)
	if h, b := text(t, ctx, "h1"), badges(); h != "Tilaukset" || b != "Tilattu|Peruttu|Peruttu|Varmenne noudettu|Vanhentunut" {
		t.Fatalf("Finnish: %q %q", h, b)
	}
	run(t, ctx, "Swedish",
		nav(`nav.langs a[lang=sv]`),
		chromedp.WaitVisible(chromedp.CSS(`html[lang=sv] table.orders`)),
		shot(t, dir, "24-orders-sv"),
	)
	if h, b := text(t, ctx, "h1"), badges(); h != "Beställningar" || b != "Beställd|Annullerad|Annullerad|Certifikatet hämtat|Har gått ut" {
		t.Fatalf("Swedish: %q %q", h, b)
	}
	run(t, ctx, "Swedish audit trail",
		nav(`a[href="/eservice/audit"]`),
		chromedp.WaitVisible(chromedp.CSS(`html[lang=sv] table`)),
		shot(t, dir, "25-audit-orders-sv"),
	)
	audit := text(t, ctx, "tbody")
	for _, want := range []string{"Annullering av beställning", "Överföringskoder skickade på nytt", "Läge: Koderna öppnade", "Läge: Beställd"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit trail lacks %q", want)
		}
	}
}

// TestBrowserRetrieve: the e-service's retrieval form in headless Chromium
// in Finnish, Swedish and English: a refusal shown with its code, and the
// form that downloads the certificate.
func TestBrowserRetrieve(t *testing.T) {
	e := start(t, envOptions{})
	dir := screenshotDir(t)
	cred := e.S.Order(t, customer, 0)
	if _, err := e.S.Client(t).SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)); err != nil {
		t.Fatal(err)
	}
	csrPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)}))
	ctx := tab(t)
	for _, tc := range []struct{ lang, title, refused string }{
		{"fi", "Nouda varmenne", "Varmennetta ei myönnetty."},
		{"sv", "Hämta certifikat", "Certifikatet utfärdades inte."},
		{"en", "Retrieve the certificate", "The certificate was not issued."},
	} {
		run(t, ctx, "retrieve "+tc.lang,
			chromedp.Navigate(e.URL+"lang?set="+tc.lang+"&next=/eservice/retrieve"),
			chromedp.WaitVisible(chromedp.CSS(`html[lang=`+tc.lang+`] textarea#csr`)),
			chromedp.SendKeys(chromedp.CSS(`input#customer-id`), customer),
			chromedp.SendKeys(chromedp.CSS(`input#transfer-id`), cred.TransferID),
			chromedp.SendKeys(chromedp.CSS(`input#transfer-password`), cred.TransferPassword),
			chromedp.SetValue(chromedp.CSS(`textarea#csr`), csrPEM),
			shot(t, dir, "30-retrieve-"+tc.lang),
			nav(`form button[type=submit].primary`),
			chromedp.WaitVisible(chromedp.CSS(`#retrieve-error`)),
			shot(t, dir, "31-retrieve-refused-"+tc.lang),
		)
		if h, s := text(t, ctx, "h1"), text(t, ctx, "#retrieve-error"); h != tc.title || !strings.Contains(s, tc.refused) || !strings.Contains(s, "TRANSFER_USED") {
			t.Errorf("%s: %q %q", tc.lang, h, s)
		}
	}
}
