package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/internal/store"
)

// ContactChange is a new technical contact for a certificate. Empty Name or
// Language keep the current ones.
type ContactChange struct {
	Serial     string
	CustomerID string // the organisation that must own the certificate ("" for the operator)
	Name       string
	Email      string
	Language   string
}

// ChangeContact changes the technical contact of a certificate: the next
// expiry reminder goes to the new address, in the new language. The change
// and the old and new address are audited in the same transaction.
func (s *Service) ChangeContact(ctx context.Context, c ContactChange, actor string) error {
	key := serial.Key(c.Serial)
	c.Email = strings.TrimSpace(c.Email)
	c.Name = strings.TrimSpace(c.Name)
	if err := ValidateEmail(c.Email); err != nil {
		return err
	}
	if err := checkLanguage(c.Language); err != nil {
		return err
	}
	if len([]rune(c.Name)) > 200 || strings.ContainsAny(c.Name, "\r\n\x00") {
		return fmt.Errorf("%w: contact name must be one line of at most 200 characters", ErrInput)
	}
	now := s.clock.Now()
	return s.db.Update(ctx, func(tx *store.Tx) error {
		cur, err := tx.Certificate(ctx, key)
		if errors.Is(err, store.ErrNotFound) || (err == nil && c.CustomerID != "" && cur.CustomerID != c.CustomerID) {
			return fmt.Errorf("%w: no certificate with serial %s", ErrInput, serial.Pad(key))
		}
		if err != nil {
			return err
		}
		name, lang := cur.ContactName, cur.ContactLanguage
		if c.Name != "" {
			name = c.Name
		}
		if c.Language != "" {
			lang = c.Language
		}
		if err := tx.SetCertificateContact(ctx, key, name, c.Email, lang); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: actor, Action: "contact_change", CustomerID: cur.CustomerID, Serial: key,
			Outcome: "ok", Detail: "from=" + cur.ContactEmail + " to=" + c.Email + " language=" + lang})
	})
}
