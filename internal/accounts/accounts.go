// Package accounts keeps the e-service's password accounts: a
// representative of one organisation, or an operator of the authority. It
// creates, lists, disables and enables them and sets their passwords
// (argon2id hashes), each change audited in the same transaction as the
// change. The e-service's operator pages and sign-in use it, and so do the
// operator's commands (irpkid user add, users, user disable|enable|password),
// which run without HTTP.
//
// Sessions, sign-in limits and the bounded queue of password checks are
// the e-service's: they concern requests, not accounts.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
)

// Clock says what time it is (clock.Clock has it).
type Clock interface{ Now() time.Time }

// Account is an e-service account: a representative of one organisation,
// or an operator of the authority (CustomerID ""); Disabled accounts cannot
// sign in (see SetDisabled).
type Account = store.Account

// NewAccount is an account to create.
type NewAccount struct {
	Email      string
	Name       string
	CustomerID string // the organisation represented; "" for an operator
	Operator   bool
	Password   string
}

// ErrInput wraps invalid account input; the message says what to fix.
var ErrInput = service.ErrInput

// Store is what accounts need of storage (store.DB has it): the
// functions below read and write in its transactions.
type Store interface {
	Update(ctx context.Context, fn func(*store.Tx) error) error
	View(ctx context.Context, fn func(*store.Tx) error) error
}

// Add creates an account, audited in the same transaction. It is used by
// the operator pages and by "irpkid user add".
func Add(ctx context.Context, db Store, clk Clock, p Argon2Params, u NewAccount, actor string) (Account, error) {
	u.Email = strings.TrimSpace(u.Email)
	u.Name = strings.TrimSpace(u.Name)
	if err := service.ValidateEmail(u.Email); err != nil {
		return Account{}, err
	}
	if len([]rune(u.Name)) > 100 || strings.ContainsAny(u.Name, "\r\n\x00") {
		return Account{}, fmt.Errorf("%w: the name must be one line of at most 100 characters", ErrInput)
	}
	if u.Operator && u.CustomerID != "" {
		return Account{}, fmt.Errorf("%w: an operator does not represent an organisation; leave the customer id out", ErrInput)
	}
	if !u.Operator {
		if err := businessid.Validate(u.CustomerID); err != nil {
			return Account{}, fmt.Errorf("%w: %v", ErrInput, err)
		}
	}
	hash, err := newPasswordHash(p, u.Password)
	if err != nil {
		return Account{}, err
	}
	now := clk.Now()
	out := Account{Email: u.Email, Name: u.Name, CustomerID: u.CustomerID, Operator: u.Operator, CreatedAt: now}
	err = db.Update(ctx, func(tx *store.Tx) error {
		if !u.Operator {
			if _, err := tx.Org(ctx, u.CustomerID); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: no organisation %s; add it first", ErrInput, u.CustomerID)
			} else if err != nil {
				return err
			}
		}
		id, err := tx.InsertAccount(ctx, out, hash)
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("%w: an account for %s already exists", ErrInput, u.Email)
		}
		if err != nil {
			return err
		}
		out.ID = id
		role := "representative"
		if u.Operator {
			role = "operator"
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: actor, Action: "user_add", CustomerID: u.CustomerID, Outcome: "ok", Detail: role + " " + u.Email})
	})
	return out, err
}

// SetDisabled disables the account of email (a representative who has
// left, a lost password) or enables it again. Disabling ends the account's
// sessions at once; its audit entries and its organisation's data stay.
func SetDisabled(ctx context.Context, db Store, clk Clock, email string, disabled bool, actor string) (Account, error) {
	action := "user_enable"
	if disabled {
		action = "user_disable"
	}
	return change(ctx, db, clk.Now(), email, action, actor, func(tx *store.Tx, u *Account) error {
		if err := tx.SetAccountDisabled(ctx, u.ID, disabled); err != nil {
			return err
		}
		u.Disabled = disabled
		return nil
	})
}

// SetPassword gives the account of email a new password (at least
// MinPasswordLength characters) and ends its sessions.
func SetPassword(ctx context.Context, db Store, clk Clock, p Argon2Params, email, password, actor string) (Account, error) {
	hash, err := newPasswordHash(p, password)
	if err != nil {
		return Account{}, err
	}
	return change(ctx, db, clk.Now(), email, "user_password", actor, func(tx *store.Tx, u *Account) error {
		return tx.SetAccountPassword(ctx, u.ID, hash)
	})
}

// change runs fn on the account of email, ends its sessions and audits
// action by actor, in one transaction.
func change(ctx context.Context, db Store, now time.Time, email, action, actor string, fn func(*store.Tx, *Account) error) (Account, error) {
	var u Account
	err := db.Update(ctx, func(tx *store.Tx) error {
		var err error
		u, _, err = tx.Account(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: no account %s (irpkid users lists them)", ErrInput, strings.TrimSpace(email))
		}
		if err != nil {
			return err
		}
		if err := fn(tx, &u); err != nil {
			return err
		}
		if err := tx.DeleteAccountSessions(ctx, u.ID); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: actor, Action: action, CustomerID: u.CustomerID, Outcome: "ok", Detail: u.Email})
	})
	if err != nil {
		return Account{}, err
	}
	return u, nil
}

// List lists accounts; customerID "" for all.
func List(ctx context.Context, db Store, customerID string) (out []Account, err error) {
	err = db.View(ctx, func(tx *store.Tx) (err error) {
		out, err = tx.Accounts(ctx, customerID)
		return err
	})
	return out, err
}
