package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/sms"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// OrderRequest asks for a new certificate for an organisation.
type OrderRequest struct {
	CustomerID      string
	Validity        time.Duration // 0 for the default; shorter only in TEST
	Purpose         string
	Description     string
	ContactName     string
	ContactEmail    string // "" for the organisation's default contact
	ContactPhone    string
	ContactLanguage string // "" for the organisation's language
}

// Credentials are the one-time transfer credentials of an order. The
// password exists only here, once; the store keeps a hash.
type Credentials struct {
	TransferID       string    `json:"transfer_id"`
	TransferPassword string    `json:"transfer_password"`
	Expires          time.Time `json:"expires"`
	Order            string    `json:"-"` // the order's reference (OrderRef), for the e-service's delivery
}

// Purposes are the codes of an order's channel and purpose of use: reports
// or data use, through the web service or SFTP. Each has its own issuing
// CA; an order without one is for reports_ws.
var Purposes = ca.Channels

// ValidPurpose tells whether p is one of Purposes.
func ValidPurpose(p string) bool { return slices.Contains(Purposes, p) }

// CreateOrder creates a certificate order and returns its credentials.
func (s *Service) CreateOrder(ctx context.Context, r OrderRequest, actor string) (Credentials, error) {
	now := s.clock.Now()
	if err := businessid.Validate(r.CustomerID); err != nil {
		return Credentials{}, fmt.Errorf("%w: %v", ErrInput, err)
	}
	if r.Validity < 0 {
		return Credentials{}, fmt.Errorf("%w: validity must be positive", ErrInput)
	}
	if r.Validity > 0 {
		def := now.AddDate(s.cfg.Profile.ValidityYears, 0, 0).Sub(now)
		switch {
		case r.Validity > def:
			return Credentials{}, fmt.Errorf("%w: validity %v is longer than the %d-year maximum", ErrInput, r.Validity, s.cfg.Profile.ValidityYears)
		case r.Validity < def && s.cfg.Environment != wire.EnvTest:
			return Credentials{}, fmt.Errorf("%w: a shorter validity is allowed only in the TEST environment", ErrInput)
		case r.Validity < s.cfg.MinTestValidity:
			return Credentials{}, fmt.Errorf("%w: validity %v is shorter than the TEST minimum, %v", ErrInput, r.Validity, s.cfg.MinTestValidity)
		case r.Validity == def:
			r.Validity = 0
		}
	}
	if r.ContactEmail != "" {
		if err := ValidateEmail(r.ContactEmail); err != nil {
			return Credentials{}, err
		}
	}
	if r.ContactPhone != "" {
		// Recorded in E.164, the form the PIN's SMS is sent to.
		p, err := sms.NormalizePhone(r.ContactPhone)
		if err != nil {
			return Credentials{}, fmt.Errorf("%w: %v", ErrInput, err)
		}
		r.ContactPhone = p
	}
	if err := checkLanguage(r.ContactLanguage); err != nil {
		return Credentials{}, err
	}
	if r.Purpose != "" && !ValidPurpose(r.Purpose) {
		return Credentials{}, fmt.Errorf("%w: purpose %q: use one of %s", ErrInput, r.Purpose, strings.Join(Purposes, ", "))
	}
	for _, f := range []struct{ name, v string }{{"description", r.Description}, {"contact name", r.ContactName}, {"contact phone", r.ContactPhone}} {
		if len([]rune(f.v)) > 200 || strings.ContainsAny(f.v, "\r\n\x00") {
			return Credentials{}, fmt.Errorf("%w: %s must be one line of at most 200 characters", ErrInput, f.name)
		}
	}
	o := store.Order{
		CustomerID: r.CustomerID, Validity: r.Validity, Purpose: r.Purpose, Description: r.Description,
		ContactName: r.ContactName, ContactEmail: r.ContactEmail, ContactPhone: r.ContactPhone, ContactLanguage: r.ContactLanguage,
	}
	cred, err := s.newCredentials(&o, now)
	if err != nil {
		return Credentials{}, err
	}
	err = s.db.Update(ctx, func(tx *store.Tx) error {
		org, err := tx.Org(ctx, r.CustomerID)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: no organisation %s; add it first", ErrInput, r.CustomerID)
		}
		if err != nil {
			return err
		}
		if o.ContactEmail == "" {
			o.ContactEmail = org.ContactEmail
		}
		if o.ContactLanguage == "" {
			o.ContactLanguage = org.Language
		}
		if err := tx.InsertOrder(ctx, o); err != nil {
			return err
		}
		detail := "purpose=" + r.Purpose
		if r.Validity > 0 {
			detail += " validity=" + r.Validity.String()
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: actor, Action: "order", CustomerID: r.CustomerID, Outcome: "ok", Detail: detail})
	})
	if err != nil {
		return Credentials{}, err
	}
	return cred, nil
}

// newCredentials draws fresh transfer credentials for o and makes it a new
// open order with them, valid from now.
func (s *Service) newCredentials(o *store.Order, now time.Time) (Credentials, error) {
	id, err := randomString(s.rand, 32, passwordAlphabet)
	if err != nil {
		return Credentials{}, err
	}
	pw, err := randomString(s.rand, 16, passwordAlphabet)
	if err != nil {
		return Credentials{}, err
	}
	salt := make([]byte, 16)
	if _, err := s.rand.Read(salt); err != nil {
		return Credentials{}, err
	}
	o.TransferID, o.Environment = transferKey(id), s.cfg.Environment
	o.PasswordHash, o.PasswordSalt = hashPassword(salt, pw), salt
	o.CreatedAt, o.ExpiresAt = now, now.Add(s.cfg.TransferValidity)
	o.Status, o.FailedAttempts, o.UsedAt, o.CertificateSerial = store.OrderOpen, 0, time.Time{}, ""
	return Credentials{TransferID: id, TransferPassword: pw, Expires: o.ExpiresAt, Order: OrderRef(o.TransferID)}, nil
}
