package service

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/lang"
	"github.com/irpki/irpki/internal/store"
)

// ErrInput is wrapped by operator and e-service input errors.
var ErrInput = errors.New("invalid input")

// ValidateEmail checks an e-mail address is a bare addr-spec.
func ValidateEmail(addr string) error {
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Address != addr || a.Name != "" {
		return fmt.Errorf("%w: %q is not an e-mail address", ErrInput, addr)
	}
	return nil
}

// CheckOrg checks a new organisation's fields and returns it tidied (the
// name trimmed, the language defaulted to fi), without storing it.
func CheckOrg(o store.Org) (store.Org, error) {
	if err := businessid.Validate(o.CustomerID); err != nil {
		return o, fmt.Errorf("%w: %v", ErrInput, err)
	}
	o.Name = strings.TrimSpace(o.Name)
	if o.Name == "" || len([]rune(o.Name)) > 100 {
		return o, fmt.Errorf("%w: the organisation name must be 1 to 100 characters", ErrInput)
	}
	// It becomes the O of every certificate's subject and goes into mail.
	if strings.IndexFunc(o.Name, unicode.IsControl) >= 0 {
		return o, fmt.Errorf("%w: the organisation name must be one line without control characters", ErrInput)
	}
	if err := ValidateEmail(o.ContactEmail); err != nil {
		return o, err
	}
	if o.Language == "" {
		o.Language = lang.Default
	}
	if err := checkLanguage(o.Language); err != nil {
		return o, err
	}
	return o, nil
}

// checkLanguage refuses a language the service does not speak; empty is
// left to the caller (a default, or "unchanged").
func checkLanguage(l string) error {
	if l != "" && !lang.Valid(l) {
		return fmt.Errorf("%w: language must be fi, sv or en", ErrInput)
	}
	return nil
}

// AddOrg registers an organisation.
func (s *Service) AddOrg(ctx context.Context, o store.Org, actor string) error {
	o, err := CheckOrg(o)
	if err != nil {
		return err
	}
	o.CreatedAt = s.clock.Now()
	return s.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.InsertOrg(ctx, o); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: o.CreatedAt, Actor: actor, Action: "org_add", CustomerID: o.CustomerID, Outcome: "ok", Detail: o.Name})
	})
}
