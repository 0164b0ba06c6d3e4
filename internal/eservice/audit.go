package eservice

import (
	"context"
	"net/http"
	"strings"

	"github.com/irpki/irpki/internal/store"
)

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

func (h *Handler) auditTrail(w http.ResponseWriter, r *http.Request, s *session) {
	entries, err := h.svc.AuditLog(r.Context(), s.user.CustomerID, 200)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "audit", "audit.title", entries)
}
