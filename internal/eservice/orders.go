package eservice

import (
	"net/http"

	"github.com/irpki/irpki/internal/service"
)

// --- orders ---

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
	if !validLang(d.Language) {
		d.Language = language(r)
	}
	h.deliverAndShow(w, r, s, d, cred, "orders.resentTitle")
}
