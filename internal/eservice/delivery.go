package eservice

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/notify"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
)

// Two-channel delivery of transfer credentials.
//
// When a representative orders a certificate, the service returns the
// TransferId and TransferPassword once. The e-service seals them with
// AES-256-GCM under a key derived (HKDF-SHA256) from two secrets: a random
// 256-bit link token, which goes to the technical contact by e-mail as a
// link, and an 8-digit PIN, which goes to the contact's phone by SMS (or,
// with PINOnScreen, the representative sees on screen once and tells the
// contact by phone). The store keeps the sealed box, the salt and
// the SHA-256 of the token, never the token, the PIN or the password. The
// contact opens the link, types the PIN and sees the credentials; the GCM
// tag is the PIN check, so a wrong PIN counts as a failed attempt, and
// PINAttempts failures lock the delivery. The first success erases the
// sealed box: the link works once, and never after the credentials expire.
// Neither the mail (no PIN) nor the SMS or the representative's screen (no
// link) reveals the password, and neither does a copy of the database: the
// SMS queue holds the PIN until the gateway has accepted it, but the link's
// token is never stored.

const pinDigits = 8

// Delivery states.
const (
	deliveryOpen      = service.DeliveryOpen
	deliveryOpened    = service.DeliveryOpened
	deliveryLocked    = "locked"
	deliveryFailed    = "failed"                  // the mail could not be sent
	deliveryWithdrawn = service.DeliveryWithdrawn // the order was cancelled or resent
)

type sealedCredentials struct {
	CustomerID       string    `json:"customer_id"`
	TransferID       string    `json:"transfer_id"`
	TransferPassword string    `json:"transfer_password"`
	Expires          time.Time `json:"expires"`
}

func deliveryKey(token, pin string, salt []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, []byte(token+"\x00"+pin), salt, "irpki e-service credential delivery v1", 32)
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func newPIN() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%08d", n), nil
}

// deliver seals the credentials, records the delivery, mails the link and
// either queues the PIN's SMS to the contact (PINBySMS; it returns "") or
// returns the PIN for the representative's screen (PINOnScreen).
func (h *Handler) deliver(ctx context.Context, u User, orgName string, d orderData, cred service.Credentials) (string, error) {
	token, err := randomToken()
	if err != nil {
		return "", err
	}
	pin, err := newPIN()
	if err != nil {
		return "", err
	}
	salt := make([]byte, 16)
	nonce := make([]byte, 12)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	key, err := deliveryKey(token, pin, salt)
	if err != nil {
		return "", err
	}
	aead, err := gcm(key)
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(sealedCredentials{CustomerID: u.CustomerID, TransferID: cred.TransferID, TransferPassword: cred.TransferPassword, Expires: cred.Expires})
	if err != nil {
		return "", err
	}
	idHash := tokenHash(token)
	sealed := aead.Seal(nil, nonce, plain, idHash)
	now := h.clock.Now()
	err = h.db.Update(ctx, func(tx *store.Tx) error {
		return tx.InsertDelivery(ctx, store.Delivery{IDHash: idHash, CustomerID: u.CustomerID, ContactEmail: d.Email, Language: d.Language,
			Salt: salt, Nonce: nonce, Sealed: sealed, CreatedAt: now, ExpiresAt: cred.Expires, State: deliveryOpen, OrderRef: cred.Order})
	})
	if err != nil {
		return "", err
	}
	link := h.cfg.PublicURL + Path + "delivery/" + token
	msg, err := deliveryMessage(d.Language, deliveryMail{Name: d.Name, Org: orgName, CustomerID: u.CustomerID, Purpose: translate(d.Language, "purpose."+d.Purpose),
		Description: d.Description, Link: link, Expires: cred.Expires, Attempts: h.cfg.PINAttempts, Representative: representative(u),
		SMS: h.cfg.PINDelivery == PINBySMS, Phone: d.Phone})
	if err != nil {
		return "", err
	}
	msg.To = d.Email
	// A random id (not the token's hash: mail logs keep headers) at the
	// public URL's domain.
	id, err := randomToken()
	if err != nil {
		return "", err
	}
	msg.MessageID = notify.MessageID("delivery-"+id, h.cfg.PublicURL)
	sendErr := h.mail.Send(ctx, msg)
	outcome, code, detail := "ok", "", "to="+d.Email
	if sendErr != nil {
		outcome, code = "fail", "MAIL_FAILED"
	}
	bySMS := h.cfg.PINDelivery == PINBySMS
	var text string
	if bySMS && sendErr == nil {
		if text, err = pinSMS(d.Language, pin, cred.Expires); err != nil {
			return "", err
		}
	}
	err = h.db.Update(ctx, func(tx *store.Tx) error {
		if sendErr != nil {
			// Nobody can open it now: erase the box.
			if err := tx.CloseDelivery(ctx, idHash, deliveryFailed, time.Time{}); err != nil {
				return err
			}
		}
		if err := tx.Audit(ctx, store.AuditEntry{At: h.clock.Now(), Actor: actor(u), Action: "delivery_mail", CustomerID: u.CustomerID, Outcome: outcome, Code: code, Detail: detail}); err != nil {
			return err
		}
		if bySMS && sendErr == nil {
			return queuePINSMS(ctx, tx, h.clock.Now(), u.CustomerID, d.Phone, text, cred.Expires)
		}
		return nil
	})
	if sendErr != nil {
		return "", fmt.Errorf("mail the delivery link: %w", sendErr)
	}
	if bySMS {
		if err != nil {
			// Without the SMS the mailed link can never be opened.
			return "", fmt.Errorf("queue the PIN's SMS: %w", err)
		}
		if h.cfg.SMSWake != nil {
			h.cfg.SMSWake()
		}
		return "", nil
	}
	if err != nil {
		// The link has gone out: without the PIN on the representative's
		// screen it could never be opened. The order itself is audited.
		h.log.ErrorContext(ctx, "audit of the mailed delivery link failed", "customer", u.CustomerID, "err", err)
	}
	return pin, nil
}

type deliveryData struct {
	Token    string
	State    string // open, used, locked, withdrawn, expired, missing
	Error    string
	Left     int
	Expires  time.Time
	Creds    *sealedCredentials
	Attempts int
}

// loadDelivery returns the delivery of a token hash, or nil if there is
// none.
func (h *Handler) loadDelivery(ctx context.Context, tx *store.Tx, idHash []byte) (*store.Delivery, error) {
	d, err := tx.Delivery(ctx, idHash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func (h *Handler) deliveryState(d *store.Delivery, now time.Time) string {
	switch {
	case d == nil || d.State == deliveryFailed:
		return "missing"
	case d.State == deliveryOpened:
		return "used"
	case d.State == deliveryLocked:
		return "locked"
	case d.State == deliveryWithdrawn:
		return "withdrawn"
	case !now.Before(d.ExpiresAt):
		return "expired"
	}
	return "open"
}

func validToken(t string) bool {
	if len(t) != 43 {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// deliveryForm shows the PIN form. A GET never consumes the link, so mail
// scanners that fetch links do no harm.
func (h *Handler) deliveryForm(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := r.PathValue("token")
	dd := deliveryData{Token: token, State: "missing", Attempts: h.cfg.PINAttempts}
	if validToken(token) {
		var d *store.Delivery
		if err := h.db.View(ctx, func(tx *store.Tx) error {
			var err error
			d, err = h.loadDelivery(ctx, tx, tokenHash(token))
			return err
		}); err != nil {
			h.fail(w, r, nil, err)
			return
		}
		dd.State = h.deliveryState(d, h.clock.Now())
		if d != nil {
			dd.Expires, dd.Left = d.ExpiresAt, h.cfg.PINAttempts-d.Attempts
		}
	}
	status := http.StatusOK
	if dd.State == "missing" {
		status = http.StatusNotFound
	}
	h.render(w, r, &session{csrf: h.formToken(w, r)}, status, "delivery", "delivery.title", dd)
}

// deliveryOpen checks the PIN and shows the credentials once. Its steps:
// the client's PIN limit, then in one transaction looking the delivery up
// (lookUpDelivery), opening the sealed box with the PIN (unseal) and
// recording the attempt with its audit entry (recordPINAttempt), and last
// the answer (showPINOutcome).
func (h *Handler) deliveryOpen(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	anon := &session{csrf: h.formToken(w, r)}
	if !checkFormToken(r) {
		h.forbidden(w, r, nil)
		return
	}
	token := r.PathValue("token")
	dd := deliveryData{Token: token, State: "missing", Attempts: h.cfg.PINAttempts}
	if !validToken(token) {
		h.render(w, r, anon, http.StatusNotFound, "delivery", "delivery.title", dd)
		return
	}
	now := h.clock.Now()
	ipKey := "pin-ip:" + h.clientKey(r)
	if b, err := h.blocked(ctx, now, store.Limit{Subject: ipKey, Max: h.cfg.IPFailures}); err != nil {
		h.fail(w, r, nil, err)
		return
	} else if b {
		dd.State, dd.Error = "open", "delivery.limited"
		h.render(w, r, anon, http.StatusTooManyRequests, "delivery", "delivery.title", dd)
		return
	}
	pin := typedPIN(r.PostFormValue("pin"))
	idHash := tokenHash(token)
	err := h.db.Update(ctx, func(tx *store.Tx) error {
		dd.Creds = nil
		row, err := h.lookUpDelivery(ctx, tx, idHash, now, &dd)
		if err != nil || row == nil {
			return err
		}
		if dd.Creds, err = unseal(row, token, pin, idHash); err != nil {
			return err
		}
		return h.recordPINAttempt(ctx, tx, row, idHash, dd.Creds != nil, now, &dd)
	})
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.showPINOutcome(w, r, anon, dd, ipKey, now)
}

// typedPIN is the PIN as typed, without the spaces and dashes people
// group its digits with.
func typedPIN(s string) string {
	return strings.Map(func(c rune) rune {
		if c == ' ' || c == '-' {
			return -1
		}
		return c
	}, s)
}

// lookUpDelivery finds the delivery of idHash and sets dd's state; it
// returns the delivery only if it is open for a PIN.
func (h *Handler) lookUpDelivery(ctx context.Context, tx *store.Tx, idHash []byte, now time.Time, dd *deliveryData) (*store.Delivery, error) {
	row, err := h.loadDelivery(ctx, tx, idHash)
	if err != nil {
		return nil, err
	}
	dd.State = h.deliveryState(row, now)
	if dd.State != "open" {
		return nil, nil
	}
	dd.Expires = row.ExpiresAt
	return row, nil
}

// unseal opens the delivery's sealed credentials with the link's token and
// pin: nil for a wrong PIN (the GCM tag is the PIN check), an error only if
// what the box holds cannot be read.
func unseal(row *store.Delivery, token, pin string, idHash []byte) (*sealedCredentials, error) {
	if len(pin) != pinDigits {
		return nil, nil
	}
	key, err := deliveryKey(token, pin, row.Salt)
	if err != nil {
		return nil, nil
	}
	aead, err := gcm(key)
	if err != nil {
		return nil, nil
	}
	plain, err := aead.Open(nil, row.Nonce, row.Sealed, idHash)
	if err != nil {
		return nil, nil
	}
	var c sealedCredentials
	if err := json.Unmarshal(plain, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// recordPINAttempt records an attempt at the delivery in tx, with its
// audit entry: a right PIN erases the sealed box; a wrong one counts, and
// the PINAttempts-th locks the delivery (dd says so, and how many are
// left).
func (h *Handler) recordPINAttempt(ctx context.Context, tx *store.Tx, row *store.Delivery, idHash []byte, right bool, now time.Time, dd *deliveryData) error {
	if right {
		if err := tx.CloseDelivery(ctx, idHash, deliveryOpened, now); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: "eservice:contact", Action: "delivery_open", CustomerID: row.CustomerID, Outcome: "ok", Detail: "contact=" + row.ContactEmail})
	}
	row.Attempts++
	state := deliveryOpen
	if row.Attempts >= h.cfg.PINAttempts {
		state = deliveryLocked
		dd.State = "locked"
	}
	if err := tx.SetDeliveryAttempts(ctx, idHash, row.Attempts, state, state == deliveryLocked); err != nil {
		return err
	}
	dd.Left = h.cfg.PINAttempts - row.Attempts
	return tx.Audit(ctx, store.AuditEntry{At: now, Actor: "eservice:contact", Action: "delivery_open", CustomerID: row.CustomerID, Outcome: "fail", Code: "WRONG_PIN",
		Detail: fmt.Sprintf("contact=%s attempt=%d", row.ContactEmail, row.Attempts)})
}

// showPINOutcome answers a PIN attempt: the credentials, the form again
// after a wrong PIN, or why the link no longer opens. A wrong PIN, and an
// attempt at a locked link, count against the client's PIN limit.
func (h *Handler) showPINOutcome(w http.ResponseWriter, r *http.Request, anon *session, dd deliveryData, ipKey string, now time.Time) {
	switch {
	case dd.Creds != nil:
		h.render(w, r, anon, http.StatusOK, "delivery_open", "delivery.openTitle", dd)
	case dd.State == "open":
		h.countFailure(r.Context(), ipKey, now)
		dd.Error = "delivery.wrongPIN"
		h.render(w, r, anon, http.StatusUnauthorized, "delivery", "delivery.title", dd)
	default:
		if dd.State == "locked" {
			h.countFailure(r.Context(), ipKey, now)
		}
		status := http.StatusGone
		if dd.State == "missing" {
			status = http.StatusNotFound
		}
		h.render(w, r, anon, status, "delivery", "delivery.title", dd)
	}
}

type deliveryMail struct {
	Name, Org, CustomerID, Purpose, Description, Link, Representative string
	SMS                                                               bool // the PIN comes by SMS to Phone
	Phone                                                             string
	Expires                                                           time.Time
	Attempts                                                          int
}

func deliveryMessage(lang string, d deliveryMail) (notify.Message, error) {
	t, ok := deliveryTexts[lang]
	if !ok {
		return notify.Message{}, fmt.Errorf("no delivery text in %q", lang)
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return notify.Message{}, err
	}
	return notify.Message{Subject: translate(lang, "mail.delivery.subject"), Text: b.String(), Language: lang}, nil
}

// representative names who ordered, in the contact's mail: the e-mail
// address of a password account, the name of a person signed in at the
// identity provider.
func representative(u User) string {
	if strings.HasPrefix(u.Email, "oidc:") && u.Name != "" {
		return u.Name
	}
	return u.Email
}
