package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/irpki/irpki/internal/store"
)

// Order states as the e-service shows them.
const (
	OrderStateOrdered   = "ordered"   // credentials delivered (or on their way), not opened
	OrderStateOpened    = "opened"    // the technical contact opened the credentials
	OrderStateRetrieved = "retrieved" // SignNewCertificate used the credentials
	OrderStateExpired   = "expired"   // the credentials expired unused
	OrderStateCancelled = "cancelled" // cancelled, or replaced by a resend
	OrderStateLocked    = "locked"    // too many wrong passwords
)

// States of the e-service's credential deliveries that the service reads
// or sets: a cancelled or resent order withdraws its unopened deliveries.
const (
	DeliveryOpen      = "open"
	DeliveryOpened    = "opened"
	DeliveryWithdrawn = "withdrawn"
)

// OrderRef is an order's reference in the e-service: derived from the
// stored TransferId key, it names the order in pages and forms without
// showing what the store keeps (older orders keep the TransferId itself).
func OrderRef(transferKey string) string {
	sum := sha256.Sum256([]byte("irpki order ref\x00" + transferKey))
	return hex.EncodeToString(sum[:12])
}

// OrderView is an order as the e-service lists it.
type OrderView struct {
	Ref                                                      string
	State                                                    string
	CreatedAt, ExpiresAt, UsedAt, OpenedAt                   time.Time
	Purpose, Description                                     string
	ContactName, ContactEmail, ContactPhone, ContactLanguage string
	CertificateSerial                                        string
	Validity                                                 time.Duration
}

// Resendable tells whether new credentials can be sent for the order.
func (v OrderView) Resendable() bool {
	return v.State != OrderStateRetrieved && v.State != OrderStateCancelled
}

// Cancellable tells whether the order can be cancelled.
func (v OrderView) Cancellable() bool {
	return v.State == OrderStateOrdered || v.State == OrderStateOpened || v.State == OrderStateLocked
}

func orderView(o store.Order, opened time.Time, now time.Time) OrderView {
	v := OrderView{Ref: OrderRef(o.TransferID), CreatedAt: o.CreatedAt, ExpiresAt: o.ExpiresAt, UsedAt: o.UsedAt, OpenedAt: opened,
		Purpose: o.Purpose, Description: o.Description, ContactName: o.ContactName, ContactEmail: o.ContactEmail,
		ContactPhone: o.ContactPhone, ContactLanguage: o.ContactLanguage, CertificateSerial: o.CertificateSerial, Validity: o.Validity}
	switch {
	case o.Status == store.OrderCancelled:
		v.State = OrderStateCancelled
	case o.Status == store.OrderUsed:
		v.State = OrderStateRetrieved
	case o.Status == store.OrderLocked:
		v.State = OrderStateLocked
	case !now.Before(o.ExpiresAt):
		v.State = OrderStateExpired
	case !opened.IsZero():
		v.State = OrderStateOpened
	default:
		v.State = OrderStateOrdered
	}
	return v
}

// Orders lists an organisation's orders, newest first, with their states.
func (s *Service) Orders(ctx context.Context, customerID string) ([]OrderView, error) {
	now := s.clock.Now()
	var out []OrderView
	err := s.db.View(ctx, func(tx *store.Tx) error {
		var err error
		out, err = s.orderViews(ctx, tx, customerID, now)
		return err
	})
	return out, err
}

func (s *Service) orderViews(ctx context.Context, tx *store.Tx, customerID string, now time.Time) ([]OrderView, error) {
	orders, err := tx.Orders(ctx, customerID)
	if err != nil {
		return nil, err
	}
	ds, err := tx.OrgDeliveries(ctx, customerID)
	if err != nil {
		return nil, err
	}
	opened := map[string]time.Time{}
	for _, d := range ds {
		if d.State == DeliveryOpened && d.OrderRef != "" {
			opened[d.OrderRef] = d.OpenedAt
		}
	}
	out := make([]OrderView, 0, len(orders))
	for _, o := range orders {
		if o.Environment != s.cfg.Environment {
			continue
		}
		out = append(out, orderView(o, opened[OrderRef(o.TransferID)], now))
	}
	return out, nil
}

// findOrder returns the organisation's order with this reference and its
// view; ErrInput if there is none.
func (s *Service) findOrder(ctx context.Context, tx *store.Tx, customerID, ref string, now time.Time) (store.Order, OrderView, error) {
	orders, err := tx.Orders(ctx, customerID)
	if err != nil {
		return store.Order{}, OrderView{}, err
	}
	for _, o := range orders {
		if o.Environment == s.cfg.Environment && OrderRef(o.TransferID) == ref {
			views, err := s.orderViews(ctx, tx, customerID, now)
			if err != nil {
				return store.Order{}, OrderView{}, err
			}
			for _, v := range views {
				if v.Ref == ref {
					return o, v, nil
				}
			}
		}
	}
	return store.Order{}, OrderView{}, fmt.Errorf("%w: no order %s for %s", ErrInput, ref, customerID)
}

// CancelOrder cancels an order that was not used: its credentials are
// refused from then on (ORDER_CANCELLED) and its unopened deliveries
// are withdrawn, in one transaction, audited.
func (s *Service) CancelOrder(ctx context.Context, customerID, ref, actor string) error {
	now := s.clock.Now()
	return s.db.Update(ctx, func(tx *store.Tx) error {
		o, v, err := s.findOrder(ctx, tx, customerID, ref, now)
		if err != nil {
			return err
		}
		if !v.Cancellable() {
			return fmt.Errorf("%w: order %s is %s and cannot be cancelled", ErrInput, ref, v.State)
		}
		o.Status = store.OrderCancelled
		if err := tx.UpdateOrderState(ctx, o); err != nil {
			return err
		}
		if _, err := tx.WithdrawDeliveries(ctx, ref, DeliveryWithdrawn, DeliveryOpen); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: actor, Action: "order_cancel", CustomerID: customerID, Outcome: "ok", Detail: "order=" + ref + " state=" + v.State})
	})
}

// ResendOrder sends an order's credentials anew. The store keeps only
// hashes of them, so they cannot be sent again as they were: the order is
// replaced by one with the same details and fresh credentials (valid for
// the usual time from now), and the old credentials are cancelled and
// their unopened deliveries withdrawn, in one transaction, audited. It
// returns the new credentials and order, for delivery.
func (s *Service) ResendOrder(ctx context.Context, customerID, ref, actor string) (Credentials, OrderView, error) {
	now := s.clock.Now()
	var cred Credentials
	var nv OrderView
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		o, v, err := s.findOrder(ctx, tx, customerID, ref, now)
		if err != nil {
			return err
		}
		if !v.Resendable() {
			return fmt.Errorf("%w: order %s is %s and cannot be resent", ErrInput, ref, v.State)
		}
		old := o
		old.Status = store.OrderCancelled
		if err := tx.UpdateOrderState(ctx, old); err != nil {
			return err
		}
		if _, err := tx.WithdrawDeliveries(ctx, ref, DeliveryWithdrawn, DeliveryOpen); err != nil {
			return err
		}
		n := o
		if cred, err = s.newCredentials(&n, now); err != nil {
			return err
		}
		if err := tx.InsertOrder(ctx, n); err != nil {
			return err
		}
		nv = orderView(n, time.Time{}, now)
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: actor, Action: "order_resend", CustomerID: customerID, Outcome: "ok",
			Detail: "order=" + ref + " state=" + v.State + " new=" + cred.Order})
	})
	if err != nil {
		return Credentials{}, OrderView{}, err
	}
	return cred, nv, nil
}
