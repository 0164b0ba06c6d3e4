package eservice

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/sms"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// --- sign-in ---

type signinData struct {
	Email, Next, Error string
	RetryAt            string
	Provider           string // the OpenID Connect provider's name; "" without one
	Passwords          bool   // password sign-in is on
}

// signinPage fills what every sign-in page shows.
func (h *Handler) signinPage(d signinData) signinData {
	d.Passwords = !h.cfg.NoPasswords
	if h.oidc != nil {
		d.Provider = h.oidc.cfg.DisplayName
		if d.Provider == "" {
			d.Provider = "OpenID Connect"
		}
	}
	return d
}

func (h *Handler) signinForm(w http.ResponseWriter, r *http.Request) {
	if s, err := h.currentSession(r); err == nil && s != nil {
		http.Redirect(w, r, Path, http.StatusSeeOther)
		return
	}
	tok := h.formToken(w, r)
	h.render(w, r, &session{csrf: tok}, http.StatusOK, "signin", "signin.title", h.signinPage(signinData{Next: localPath(r.URL.Query().Get("next"))}))
}

func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tok := h.formToken(w, r)
	anon := &session{csrf: tok}
	if !checkFormToken(r) {
		h.log.WarnContext(ctx, "sign-in form without a valid CSRF token refused", "ip", h.clientIP(r))
		h.forbidden(w, r, nil)
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	d := h.signinPage(signinData{Email: email, Next: localPath(r.PostFormValue("next"))})
	if h.cfg.NoPasswords {
		h.audit(r, store.AuditEntry{Actor: unknownAccount, Action: "sign_in", Outcome: "fail", Code: "PASSWORDS_OFF"})
		d.Error = "signin.passwordsOff"
		h.render(w, r, anon, http.StatusForbidden, "signin", "signin.title", d)
		return
	}
	now := h.clock.Now()
	client := h.clientKey(r)
	acctKey, ipKey := "acct:"+strings.ToLower(email), "ip:"+client
	if email == "" || password == "" || len(email) > 254 || len(password) > 256 {
		d.Error = "signin.missing"
		h.render(w, r, anon, http.StatusBadRequest, "signin", "signin.title", d)
		return
	}
	// The attempt is counted as a failure before the password is checked
	// and given back if it succeeds: parallel guesses cannot all pass a
	// check made before any of them has failed.
	ok, until, err := h.takeAttempt(ctx, now, store.Limit{Subject: acctKey, Max: h.cfg.AccountFailures}, store.Limit{Subject: ipKey, Max: h.cfg.IPFailures})
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if !ok {
		d.Error, d.RetryAt = "signin.limited", translateTime(language(r), until)
		h.audit(r, store.AuditEntry{Actor: h.signinActor(ctx, email), Action: "sign_in", Outcome: "fail", Code: "RATE_LIMITED"})
		w.Header().Set("Retry-After", strconv.Itoa(max(0, int(until.Sub(now)/time.Second))+1))
		h.render(w, r, anon, http.StatusTooManyRequests, "signin", "signin.title", d)
		return
	}
	u, ok, err := h.authenticate(ctx, client, email, password)
	if errors.Is(err, errHashBusy) || errors.Is(err, errClientBusy) {
		// Not a failed attempt: the password was not checked.
		if err := h.db.Update(ctx, func(tx *store.Tx) error {
			if err := tx.ForgetFailure(ctx, acctKey, now); err != nil {
				return err
			}
			return tx.ForgetFailure(ctx, ipKey, now)
		}); err != nil {
			h.fail(w, r, nil, err)
			return
		}
		status := http.StatusServiceUnavailable
		if errors.Is(err, errClientBusy) {
			status = http.StatusTooManyRequests
		}
		h.audit(r, store.AuditEntry{Actor: h.signinActor(ctx, email), Action: "sign_in", Outcome: "fail", Code: "BUSY"})
		w.Header().Set("Retry-After", "1")
		d.Error = "signin.busy"
		h.render(w, r, anon, status, "signin", "signin.title", d)
		return
	}
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if !ok {
		actor := unknownAccount
		if u.Email != "" {
			actor = "eservice:" + u.Email
		}
		h.audit(r, store.AuditEntry{Actor: actor, Action: "sign_in", CustomerID: u.CustomerID, Outcome: "fail", Code: "BAD_CREDENTIALS"})
		d.Error = "signin.failed"
		h.render(w, r, anon, http.StatusUnauthorized, "signin", "signin.title", d)
		return
	}
	err = h.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.ResetFailures(ctx, acctKey); err != nil {
			return err
		}
		return tx.ForgetFailure(ctx, ipKey, now)
	})
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	// A fresh session id at every sign-in: no fixation. An old session of
	// this browser ends.
	if old, _ := h.currentSession(r); old != nil {
		_ = h.endSession(ctx, old)
	}
	id, err := h.newSession(ctx, u)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.setCookie(w, r, sessionCookie, id, 0)
	next := d.Next
	if next == Path || next == Path+"signin" {
		next = Path
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// unknownAccount is the actor of a failed sign-in to no account. What was
// typed is not recorded: people paste passwords into the e-mail field.
const unknownAccount = "eservice:(unknown account)"

// signinActor is the audit actor of a sign-in attempt for what was typed
// as the e-mail address: the account's address, or unknownAccount.
func (h *Handler) signinActor(ctx context.Context, typed string) string {
	var a store.Account
	err := h.db.View(ctx, func(tx *store.Tx) error {
		var err error
		a, _, err = tx.Account(ctx, typed)
		return err
	})
	if err != nil {
		return unknownAccount
	}
	return "eservice:" + a.Email
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request, s *session) {
	if err := h.endSession(r.Context(), s); err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.setCookie(w, r, sessionCookie, "", -1)
	if s.federated {
		// Sign out at the provider too, where it lets us.
		if u := h.endSessionURL(); u != "" {
			http.Redirect(w, r, u, http.StatusSeeOther)
			return
		}
	}
	http.Redirect(w, r, Path+"signin?done=signout", http.StatusSeeOther)
}

// audit writes an entry in its own transaction (for refusals).
func (h *Handler) audit(r *http.Request, e store.AuditEntry) {
	// The record is written even if the user's browser has gone away by now,
	// as service.audit does for refusals.
	ctx := context.WithoutCancel(r.Context())
	e.At = h.clock.Now()
	if e.Action == "sign_in" && e.Outcome == "fail" {
		h.signedIn(strings.ToLower(e.Code))
	}
	if err := h.db.Update(ctx, func(tx *store.Tx) error { return tx.Audit(ctx, e) }); err != nil {
		h.log.ErrorContext(ctx, "audit write failed", "action", e.Action, "err", err)
	}
}

// --- certificates ---

type certRow struct {
	service.CertificateView
	Revocable bool
	OrgName   string // on the operator's list
}

// Days is the days left for a certificate in use, "–" for one that is not.
func (c certRow) Days() string {
	if c.State == service.StateRevoked || c.State == service.StateExpired {
		return "–"
	}
	return strconv.Itoa(c.DaysLeft)
}

type certsData struct {
	Certs     []certRow
	Window    int // days
	Validity  int // years
	Reasons   []string
	Cert      *certRow // the detail page's certificate
	Error     string
	Email     string
	Name      string
	Language  string
	Reason    string
	Languages []string
	// The operator's list of every organisation's certificates:
	Admin           bool
	Orgs            []store.Org
	Customer, State string // its filters ("" for all)
	States          []service.State
	// Cascade: the successors a revocation for key compromise revokes
	// too, shown on the confirmation page.
	Cascade []service.CertificateView
}

func revocable(v service.CertificateView) bool {
	return v.Status == store.CertValid && v.State != service.StateExpired
}

// row is a certificate as the pages show it: its serial at full width
// (serial.Pad), which is also how the pages' links name it.
func (h *Handler) row(v service.CertificateView) certRow {
	v.Serial = serial.Pad(v.Serial)
	return certRow{CertificateView: v, Revocable: revocable(v)}
}

func (h *Handler) certData() certsData {
	c := h.svc.Config()
	return certsData{Window: int(c.RenewalWindow / (24 * time.Hour)), Validity: c.Profile.ValidityYears, Reasons: service.RevocationReasons, Languages: languages}
}

func (h *Handler) certificates(w http.ResponseWriter, r *http.Request, s *session) {
	views, err := h.svc.Certificates(r.Context(), s.user.CustomerID)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := h.certData()
	for _, v := range views {
		if v.State == service.StateSuperseded {
			continue // a replaced, never retrieved renewal: nothing to act on
		}
		d.Certs = append(d.Certs, h.row(v))
	}
	// Newest first: the one in use is usually at the top.
	sort.SliceStable(d.Certs, func(i, j int) bool { return d.Certs[i].NotAfter.After(d.Certs[j].NotAfter) })
	h.render(w, r, s, http.StatusOK, "certificates", "certs.title", d)
}

// findCert returns the representative's certificate with this serial
// (written in any of the ways serial.Key reads), or nil.
func (h *Handler) findCert(r *http.Request, s *session, written string) (*certRow, error) {
	views, err := h.svc.Certificates(r.Context(), s.user.CustomerID)
	if err != nil {
		return nil, err
	}
	key := serial.Key(written)
	for _, v := range views {
		if v.Serial == key && v.State != service.StateSuperseded {
			r := h.row(v)
			return &r, nil
		}
	}
	return nil, nil
}

// certPageData finds the signed-in organisation's certificate serial and
// returns the page data around it; when it cannot (an error, or no such
// certificate of this organisation) it has answered and returns false.
func (h *Handler) certPageData(w http.ResponseWriter, r *http.Request, s *session, serial string) (certsData, bool) {
	c, err := h.findCert(r, s, serial)
	if err != nil {
		h.fail(w, r, s, err)
		return certsData{}, false
	}
	if c == nil {
		h.notFound(w, r, s)
		return certsData{}, false
	}
	d := h.certData()
	d.Cert = c
	return d, true
}

func (h *Handler) certificate(w http.ResponseWriter, r *http.Request, s *session) {
	d, ok := h.certPageData(w, r, s, r.PathValue("serial"))
	if !ok {
		return
	}
	c := d.Cert
	d.Email, d.Name, d.Language = c.ContactEmail, c.ContactName, c.ContactLanguage
	h.render(w, r, s, http.StatusOK, "certificate", "cert.title", d)
}

func (h *Handler) changeContact(w http.ResponseWriter, r *http.Request, s *session) {
	serial := r.PathValue("serial")
	d, ok := h.certPageData(w, r, s, serial)
	if !ok {
		return
	}
	d.Email = strings.TrimSpace(r.PostFormValue("email"))
	d.Name = strings.TrimSpace(r.PostFormValue("name"))
	d.Language = r.PostFormValue("language")
	if !validLang(d.Language) {
		d.Language = ""
	}
	if service.ValidateEmail(d.Email) != nil {
		d.Error = "form.badEmail"
		h.render(w, r, s, http.StatusBadRequest, "certificate", "cert.title", d)
		return
	}
	err := h.svc.ChangeContact(r.Context(), service.ContactChange{Serial: serial, CustomerID: s.user.CustomerID, Name: d.Name, Email: d.Email, Language: d.Language}, actor(s.user))
	if msg := inputError(err); msg != "" {
		d.Error = "form.invalid"
		h.render(w, r, s, http.StatusBadRequest, "certificate", "cert.title", d)
		return
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, Path+"certificates/"+url.PathEscape(serial)+"?done=contact", http.StatusSeeOther)
}

// revoke is two steps: without confirm=yes it shows what will happen and
// asks again; with it, it revokes.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request, s *session) {
	written := r.PathValue("serial")
	d, ok := h.certPageData(w, r, s, written)
	if !ok {
		return
	}
	c := d.Cert
	d.Email, d.Name, d.Language = c.ContactEmail, c.ContactName, c.ContactLanguage
	reason, valid := service.ParseRevocationReason(r.PostFormValue("reason"))
	d.Reason = reason
	if !valid {
		d.Error = "revoke.noReason"
		h.render(w, r, s, http.StatusBadRequest, "certificate", "cert.title", d)
		return
	}
	// failed answers err, if any: not valid (any more), or the service's
	// failure.
	failed := func(err error) bool {
		if inputError(err) != "" {
			d.Error = "revoke.notValid"
			h.render(w, r, s, http.StatusConflict, "certificate", "cert.title", d)
			return true
		}
		if err != nil {
			h.fail(w, r, s, err)
			return true
		}
		return false
	}
	if !c.Revocable {
		failed(service.ErrInput)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		plan, err := h.svc.RevocationPlan(r.Context(), written, d.Reason, s.user.CustomerID)
		if failed(err) {
			return
		}
		d.Cascade = plan[1:]
		for i := range d.Cascade {
			d.Cascade[i].Serial = serial.Pad(d.Cascade[i].Serial)
		}
		h.render(w, r, s, http.StatusOK, "revoke_confirm", "revoke.title", d)
		return
	}
	// The serials the confirmation page showed: if a renewal changed
	// what is revoked meanwhile, nothing is, and the page is shown anew.
	expect := []string{serial.Key(written)}
	for _, x := range r.PostForm["cascade"] {
		expect = append(expect, serial.Key(x))
	}
	_, err := h.svc.Revoke(r.Context(), written, d.Reason, s.user.CustomerID, actor(s.user), expect)
	if errors.Is(err, service.ErrPlanChanged) {
		r.PostForm.Del("confirm")
		h.revoke(w, r, s)
		return
	}
	if failed(err) {
		return
	}
	http.Redirect(w, r, Path+"certificates?done=revoked", http.StatusSeeOther)
}

// --- order ---

// Purposes are the channel/purpose choices of an order.
var Purposes = service.Purposes

// TestValidities are the validity choices in the TEST environment ("" is
// the default two years).
var TestValidities = []string{"", "90d", "30d", "7d", "1d", "1h"}

type orderData struct {
	Purposes, Validities, Languages []string
	Test                            bool
	Purpose, Description            string
	Name, Email, Phone, Language    string
	Validity                        string
	Errors                          map[string]string // field → translation key
	Error                           string
	Nonce                           string // one per form: a resubmitted order is not ordered twice
	SMS                             bool   // the PIN goes to the contact by SMS
	// After ordering:
	PIN     string
	Expires time.Time
}

func (h *Handler) newOrderData(r *http.Request) orderData {
	nonce, _ := randomToken()
	return orderData{Purposes: Purposes, Validities: TestValidities, Languages: languages, Nonce: nonce, SMS: h.cfg.PINDelivery == PINBySMS,
		Test: h.svc.Config().Environment == wire.EnvTest, Language: language(r), Errors: map[string]string{}}
}

// useNonce records a form's nonce; false if it was used before (the browser
// resubmitted the form, e.g. on reload or back).
func (h *Handler) useNonce(r *http.Request, nonce string) (bool, error) {
	ctx := r.Context()
	fresh := false
	now := h.clock.Now()
	err := h.db.Update(ctx, func(tx *store.Tx) error {
		var err error
		fresh, err = tx.UseFormNonce(ctx, nonce, now)
		return err
	})
	return fresh, err
}

func (h *Handler) orderForm(w http.ResponseWriter, r *http.Request, s *session) {
	h.render(w, r, s, http.StatusOK, "order", "order.title", h.newOrderData(r))
}

func parseValidity(v string) (time.Duration, bool) {
	switch v {
	case "":
		return 0, true
	case "1h":
		return time.Hour, true
	}
	if strings.HasSuffix(v, "d") {
		for _, x := range TestValidities {
			if x == v {
				n := 0
				for _, c := range strings.TrimSuffix(v, "d") {
					n = n*10 + int(c-'0')
				}
				return time.Duration(n) * 24 * time.Hour, true
			}
		}
	}
	return 0, false
}

func (h *Handler) order(w http.ResponseWriter, r *http.Request, s *session) {
	d := h.newOrderData(r)
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	d.Purpose, d.Description, d.Name, d.Email, d.Phone, d.Language, d.Validity =
		f("purpose"), f("description"), f("name"), f("email"), f("phone"), f("language"), f("validity")
	if !service.ValidPurpose(d.Purpose) {
		d.Errors["purpose"] = "order.err.purpose"
	}
	if len([]rune(d.Description)) > 200 {
		d.Errors["description"] = "form.tooLong"
	}
	if d.Name == "" || len([]rune(d.Name)) > 200 {
		d.Errors["name"] = "order.err.name"
	}
	if service.ValidateEmail(d.Email) != nil {
		d.Errors["email"] = "form.badEmail"
	}
	if phone, err := sms.NormalizePhone(d.Phone); err != nil {
		d.Errors["phone"] = "order.err.phone"
	} else {
		d.Phone = phone // E.164: what the order records and the SMS goes to
	}
	if !validLang(d.Language) {
		d.Errors["language"] = "order.err.language"
	}
	validity, vok := parseValidity(d.Validity)
	if !vok || (!d.Test && validity != 0) {
		d.Errors["validity"] = "order.err.validity"
	}
	for _, v := range []string{d.Description, d.Name, d.Phone} {
		if strings.ContainsAny(v, "\r\n\x00") {
			d.Error = "form.invalid"
		}
	}
	if len(d.Errors) > 0 || d.Error != "" {
		if d.Error == "" {
			d.Error = "form.fix"
		}
		h.render(w, r, s, http.StatusBadRequest, "order", "order.title", d)
		return
	}
	ctx := r.Context()
	nonce := r.PostFormValue("nonce")
	if len(nonce) != 43 {
		d.Error = "form.invalid"
		h.render(w, r, s, http.StatusBadRequest, "order", "order.title", d)
		return
	}
	fresh, err := h.useNonce(r, nonce)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	if !fresh {
		h.render(w, r, s, http.StatusConflict, "error", "error.title", errorData{Message: "order.resubmitted"})
		return
	}
	cred, err := h.svc.CreateOrder(ctx, service.OrderRequest{CustomerID: s.user.CustomerID, Validity: validity, Purpose: d.Purpose, Description: d.Description,
		ContactName: d.Name, ContactEmail: d.Email, ContactPhone: d.Phone, ContactLanguage: d.Language}, actor(s.user))
	if inputError(err) != "" {
		d.Error = "form.invalid"
		h.render(w, r, s, http.StatusBadRequest, "order", "order.title", d)
		return
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.deliverAndShow(w, r, s, d, cred, "orderDone.title")
}

// deliverAndShow delivers an order's credentials to its technical contact
// and shows the representative the page that says so, titled title (the
// PIN too when it is delivered on screen).
func (h *Handler) deliverAndShow(w http.ResponseWriter, r *http.Request, s *session, d orderData, cred service.Credentials, title string) {
	ctx := r.Context()
	pin, err := h.deliver(ctx, s.user, h.orgName(ctx, s.user.CustomerID), d, cred)
	if err != nil {
		h.log.ErrorContext(ctx, "credential delivery failed", "customer", s.user.CustomerID, "err", err)
		h.render(w, r, s, http.StatusBadGateway, "error", "error.title", errorData{Message: "order.mailFailed"})
		return
	}
	d.PIN, d.Expires = pin, cred.Expires
	h.render(w, r, s, http.StatusOK, "order_done", title, d)
}

// --- audit ---

func (h *Handler) auditTrail(w http.ResponseWriter, r *http.Request, s *session) {
	entries, err := h.svc.AuditLog(r.Context(), s.user.CustomerID, 200)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "audit", "audit.title", entries)
}

// --- operator ---

type adminData struct {
	Orgs      []orgRow
	Org       store.Org
	Users     []User
	Languages []string
	Error     string
	Detail    string
	Form      map[string]string
}

type orgRow struct {
	store.Org
	Representatives int
}

func (h *Handler) adminOrgs(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderOrgs(w, r, s, http.StatusOK, adminData{Form: map[string]string{"language": language(r)}})
}

func (h *Handler) renderOrgs(w http.ResponseWriter, r *http.Request, s *session, status int, d adminData) {
	ctx := r.Context()
	var orgs []store.Org
	if err := h.db.View(ctx, func(tx *store.Tx) error {
		var err error
		orgs, err = tx.Orgs(ctx)
		return err
	}); err != nil {
		h.fail(w, r, s, err)
		return
	}
	users, err := Users(ctx, h.db, "")
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	count := map[string]int{}
	for _, u := range users {
		count[u.CustomerID]++
	}
	for _, o := range orgs {
		d.Orgs = append(d.Orgs, orgRow{Org: o, Representatives: count[o.CustomerID]})
	}
	d.Languages = languages
	h.render(w, r, s, status, "admin_orgs", "admin.orgs.title", d)
}

func (h *Handler) adminAddOrg(w http.ResponseWriter, r *http.Request, s *session) {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	o := store.Org{CustomerID: f("customer_id"), Name: f("name"), ContactEmail: f("contact_email"), Language: f("language")}
	err := h.svc.AddOrg(r.Context(), o, actor(s.user))
	if err != nil {
		d := adminData{Form: map[string]string{"customer_id": o.CustomerID, "name": o.Name, "contact_email": o.ContactEmail, "language": o.Language}}
		switch {
		case errors.Is(err, store.ErrExists):
			d.Error = "admin.err.exists"
		case inputError(err) != "":
			d.Error, d.Detail = "form.invalid", inputError(err)
		default:
			h.fail(w, r, s, err)
			return
		}
		h.renderOrgs(w, r, s, http.StatusBadRequest, d)
		return
	}
	http.Redirect(w, r, Path+"admin/orgs/"+url.PathEscape(o.CustomerID)+"?done=orgAdded", http.StatusSeeOther)
}

func (h *Handler) adminOrg(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderOrg(w, r, s, http.StatusOK, adminData{Form: map[string]string{}})
}

func (h *Handler) renderOrg(w http.ResponseWriter, r *http.Request, s *session, status int, d adminData) {
	ctx := r.Context()
	id := r.PathValue("id")
	err := h.db.View(ctx, func(tx *store.Tx) error {
		var err error
		d.Org, err = tx.Org(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		h.notFound(w, r, s)
		return
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	if d.Users, err = Users(ctx, h.db, id); err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.render(w, r, s, status, "admin_org", "admin.org.title", d)
}

func (h *Handler) adminAddUser(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	email, name := strings.TrimSpace(r.PostFormValue("email")), strings.TrimSpace(r.PostFormValue("name"))
	pw, pw2 := r.PostFormValue("password"), r.PostFormValue("password2")
	d := adminData{Form: map[string]string{"email": email, "name": name}}
	if pw != pw2 {
		d.Error = "admin.err.mismatch"
		h.renderOrg(w, r, s, http.StatusBadRequest, d)
		return
	}
	_, err := AddUser(r.Context(), h.db, h.clock, h.cfg.Argon2, NewUser{Email: email, Name: name, CustomerID: id, Password: pw}, actor(s.user))
	if msg := inputError(err); msg != "" {
		d.Error, d.Detail = "form.invalid", msg
		h.renderOrg(w, r, s, http.StatusBadRequest, d)
		return
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, Path+"admin/orgs/"+url.PathEscape(id)+"?done=userAdded", http.StatusSeeOther)
}

// adminStates are the states the operator's list filters by.
var adminStates = []service.State{service.StateValid, service.StateWindowOpen, service.StateRenewed, service.StateExpired, service.StateRevoked}

// adminCertificates lists every organisation's certificates, soonest
// expiry first (what needs attention), filtered by organisation and state:
// the representative's list with the operator's columns.
func (h *Handler) adminCertificates(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	d := h.certData()
	d.Admin, d.Customer, d.State, d.States = true, r.URL.Query().Get("customer"), r.URL.Query().Get("state"), adminStates
	if err := h.db.View(ctx, func(tx *store.Tx) error {
		var err error
		d.Orgs, err = tx.Orgs(ctx)
		return err
	}); err != nil {
		h.fail(w, r, s, err)
		return
	}
	names := map[string]string{}
	for _, o := range d.Orgs {
		names[o.CustomerID] = o.Name
	}
	if _, ok := names[d.Customer]; !ok {
		d.Customer = "" // an unknown organisation filters nothing out
	}
	views, err := h.svc.Certificates(ctx, d.Customer)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	for _, v := range views {
		if v.State == service.StateSuperseded || (d.State != "" && string(v.State) != d.State) {
			continue
		}
		c := h.row(v)
		c.OrgName = names[v.CustomerID]
		d.Certs = append(d.Certs, c)
	}
	sort.SliceStable(d.Certs, func(i, j int) bool { return d.Certs[i].NotAfter.Before(d.Certs[j].NotAfter) })
	h.render(w, r, s, http.StatusOK, "certificates", "admin.certs.title", d)
}

// adminSetDisabled disables (or enables) a representative's account of the
// organisation in the path, as irpkid user disable/enable do: audited with
// the operator as actor, and a disabled account's sessions end at once.
func (h *Handler) adminSetDisabled(disabled bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		id := r.PathValue("id")
		email := strings.TrimSpace(r.PostFormValue("email"))
		users, err := Users(r.Context(), h.db, id)
		if err != nil {
			h.fail(w, r, s, err)
			return
		}
		found := false
		for _, u := range users {
			found = found || strings.EqualFold(u.Email, email)
		}
		if !found || id == "" {
			h.notFound(w, r, s)
			return
		}
		if _, err := SetDisabled(r.Context(), h.db, h.clock, email, disabled, actor(s.user)); err != nil {
			h.fail(w, r, s, err)
			return
		}
		done := "userEnabled"
		if disabled {
			done = "userDisabled"
		}
		http.Redirect(w, r, Path+"admin/orgs/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
	}
}
