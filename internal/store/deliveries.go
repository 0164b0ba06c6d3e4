package store

import (
	"context"
	"time"
)

// Delivery is a sealed box of transfer credentials waiting for the
// technical contact to open it with the link's token and the PIN. Only
// hashes and ciphertext are kept.
type Delivery struct {
	IDHash       []byte // hash of the link's token
	CustomerID   string
	ContactEmail string
	Language     string
	Salt, Nonce  []byte
	Sealed       []byte // nil once opened, locked or failed
	CreatedAt    time.Time
	ExpiresAt    time.Time
	Attempts     int // wrong PINs so far
	State        string
	OpenedAt     time.Time
	OrderRef     string // the reference of the order whose credentials it carries; "" for older deliveries
}

// InsertDelivery stores a delivery.
func (t *Tx) InsertDelivery(ctx context.Context, d Delivery) error {
	return t.insertNew(ctx, "delivery", `INSERT INTO eservice_deliveries (`+deliveryCols+`)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`, d.IDHash, d.CustomerID, d.ContactEmail, d.Language, d.Salt, d.Nonce, d.Sealed,
		ms(d.CreatedAt), ms(d.ExpiresAt), d.Attempts, d.State, ms(d.OpenedAt), d.OrderRef)
}

const deliveryCols = `id_hash, customer_id, contact_email, language, salt, nonce, sealed, created_at, expires_at, attempts, state, opened_at, order_ref`

func scanDelivery(sc scanner) (Delivery, error) {
	var d Delivery
	var created, expires, opened int64
	err := sc.Scan(&d.IDHash, &d.CustomerID, &d.ContactEmail, &d.Language, &d.Salt, &d.Nonce, &d.Sealed, &created, &expires, &d.Attempts, &d.State, &opened, &d.OrderRef)
	d.CreatedAt, d.ExpiresAt, d.OpenedAt = fromMs(created), fromMs(expires), fromMs(opened)
	return d, err
}

// Delivery returns the delivery with this token hash.
func (t *Tx) Delivery(ctx context.Context, idHash []byte) (Delivery, error) {
	d, err := scanDelivery(t.queryRow(ctx, `SELECT `+deliveryCols+` FROM eservice_deliveries WHERE id_hash=?`, idHash))
	if err != nil {
		return Delivery{}, notFound(err, "delivery")
	}
	return d, nil
}

// Deliveries lists every delivery, oldest first.
func (t *Tx) Deliveries(ctx context.Context) ([]Delivery, error) {
	return queryAll(ctx, t, "deliveries", scanDelivery, `SELECT `+deliveryCols+` FROM eservice_deliveries ORDER BY created_at, id_hash`)
}

// CloseDelivery gives a delivery its final state and erases its sealed
// credentials; openedAt is the time it was opened, zero if it was not.
func (t *Tx) CloseDelivery(ctx context.Context, idHash []byte, state string, openedAt time.Time) error {
	return t.updateOne(ctx, "delivery", `UPDATE eservice_deliveries SET state=?, sealed=NULL, opened_at=? WHERE id_hash=?`, state, ms(openedAt), idHash)
}

// SetDeliveryAttempts records the wrong PINs so far and the state they
// leave; erase drops the sealed credentials (a delivery locked for good).
func (t *Tx) SetDeliveryAttempts(ctx context.Context, idHash []byte, attempts int, state string, erase bool) error {
	q := `UPDATE eservice_deliveries SET attempts=?, state=? WHERE id_hash=?`
	if erase {
		q = `UPDATE eservice_deliveries SET attempts=?, state=?, sealed=NULL WHERE id_hash=?`
	}
	return t.updateOne(ctx, "delivery", q, attempts, state, idHash)
}

// OrgDeliveries lists an organisation's deliveries, oldest first.
func (t *Tx) OrgDeliveries(ctx context.Context, customerID string) ([]Delivery, error) {
	return queryAll(ctx, t, "deliveries", scanDelivery, `SELECT `+deliveryCols+` FROM eservice_deliveries WHERE customer_id=? ORDER BY created_at, id_hash`, customerID)
}

// WithdrawDeliveries closes the still unopened deliveries of an order
// with state and erases their sealed credentials; it returns how many.
func (t *Tx) WithdrawDeliveries(ctx context.Context, orderRef, state, openState string) (int64, error) {
	if orderRef == "" {
		return 0, nil
	}
	res, err := t.exec(ctx, `UPDATE eservice_deliveries SET state=?, sealed=NULL WHERE order_ref=? AND state=?`, state, orderRef, openState)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
