package eservice

import (
	"net/http"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/lang"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/sms"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

type ordersData struct {
	Orders []service.OrderView
	Error  string
	SMS    bool
}

// orders lists the organisation's orders with their states.
func (h *Handler) orders(w http.ResponseWriter, r *http.Request, s *session) {
	d := ordersData{SMS: h.cfg.PINDelivery == PINBySMS}
	h.renderOrders(w, r, s, http.StatusOK, d)
}

func (h *Handler) renderOrders(w http.ResponseWriter, r *http.Request, s *session, status int, d ordersData) {
	views, err := h.svc.Orders(r.Context(), s.user.CustomerID)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.Orders = views
	h.render(w, r, s, status, "orders", "orders.title", d)
}

// findOrderView returns the organisation's order with ref, or nil.
func (h *Handler) findOrderView(r *http.Request, s *session, ref string) (*service.OrderView, error) {
	views, err := h.svc.Orders(r.Context(), s.user.CustomerID)
	if err != nil {
		return nil, err
	}
	for i := range views {
		if views[i].Ref == ref {
			return &views[i], nil
		}
	}
	return nil, nil
}

// orderOr404 finds the organisation's order ref, or answers the request
// itself (an error page, or not found) and reports false.
func (h *Handler) orderOr404(w http.ResponseWriter, r *http.Request, s *session, ref string) (*service.OrderView, bool) {
	v, err := h.findOrderView(r, s, ref)
	if err != nil {
		h.fail(w, r, s, err)
		return nil, false
	}
	if v == nil {
		h.notFound(w, r, s)
		return nil, false
	}
	return v, true
}

// cancelOrder cancels an unused order: its credentials are refused from
// then on.
func (h *Handler) cancelOrder(w http.ResponseWriter, r *http.Request, s *session) {
	ref := r.PathValue("ref")
	if _, ok := h.orderOr404(w, r, s, ref); !ok {
		return
	}
	err := h.svc.CancelOrder(r.Context(), s.user.CustomerID, ref, actor(s.user))
	if inputError(err) != "" {
		h.renderOrders(w, r, s, http.StatusConflict, ordersData{SMS: h.cfg.PINDelivery == PINBySMS, Error: "orders.err.notCancellable"})
		return
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, Path+"orders?done=orderCancelled", http.StatusSeeOther)
}

// resendOrder sends the order's credentials anew to its technical contact,
// by the same two channels as the original delivery. The credentials are
// kept only as hashes, so the order gets fresh ones and the old ones stop
// working.
func (h *Handler) resendOrder(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	ref := r.PathValue("ref")
	v, ok := h.orderOr404(w, r, s, ref)
	if !ok {
		return
	}
	bySMS := h.cfg.PINDelivery == PINBySMS
	if bySMS && v.ContactPhone == "" {
		h.renderOrders(w, r, s, http.StatusConflict, ordersData{SMS: bySMS, Error: "orders.err.noPhone"})
		return
	}
	cred, nv, err := h.svc.ResendOrder(ctx, s.user.CustomerID, ref, actor(s.user))
	if inputError(err) != "" {
		h.renderOrders(w, r, s, http.StatusConflict, ordersData{SMS: bySMS, Error: "orders.err.notResendable"})
		return
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := h.newOrderData(r)
	d.Purpose, d.Description, d.Name, d.Email, d.Phone, d.Language = nv.Purpose, nv.Description, nv.ContactName, nv.ContactEmail, nv.ContactPhone, nv.ContactLanguage
	if !lang.Valid(d.Language) {
		d.Language = language(r)
	}
	h.deliverAndShow(w, r, s, d, cred, "orders.resentTitle")
}

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
	return orderData{Purposes: Purposes, Validities: TestValidities, Languages: lang.All, Nonce: nonce, SMS: h.cfg.PINDelivery == PINBySMS,
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
	if !lang.Valid(d.Language) {
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
