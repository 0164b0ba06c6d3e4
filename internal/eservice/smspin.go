package eservice

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/irpki/irpki/internal/lang"
	"github.com/irpki/irpki/internal/store"
)

// How the PIN of a credential delivery reaches the technical contact.
const (
	// PINBySMS queues the PIN as an SMS to the contact's phone, as the
	// real service does; the representative never sees it. The default.
	PINBySMS = "sms"
	// PINOnScreen shows the PIN once to the representative who ordered,
	// who tells the contact by phone: for installations without SMS.
	PINOnScreen = "screen"
)

// pinSMS is the text of the PIN's SMS in language l.
func pinSMS(l, pin string, expires time.Time) (string, error) {
	if !lang.Valid(l) {
		return "", fmt.Errorf("no SMS text in %q", l)
	}
	return translate(l, "sms.pin", pin[:4]+" "+pin[4:], lang.DateTime(l, expires)), nil
}

// queuePINSMS queues the PIN's SMS to phone (E.164) in tx; it is not sent
// after the credentials expire.
func queuePINSMS(ctx context.Context, tx *store.Tx, now time.Time, customerID, phone, text string, expires time.Time) error {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	return tx.EnqueueSMS(ctx, store.SMS{ID: "pin-" + hex.EncodeToString(b), CustomerID: customerID, To: phone, Text: text, CreatedAt: now, ExpiresAt: expires})
}
