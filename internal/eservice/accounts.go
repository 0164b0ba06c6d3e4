package eservice

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters for new password hashes;
// verification reads the parameters stored with each hash.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultArgon2 follows RFC 9106's second recommended option with fewer
// lanes: 64 MiB, 3 passes.
var DefaultArgon2 = Argon2Params{Memory: 64 * 1024, Time: 3, Threads: 2}

const argonKeyLen = 32

// hashPassword returns a PHC-format argon2id hash with a fresh 16-byte salt.
func hashPassword(p Argon2Params, password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// checkPassword compares password with a PHC argon2id hash in constant time.
func checkPassword(encoded, password string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || p.Memory == 0 || p.Time == 0 || p.Threads == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// User is an e-service account: a representative of one organisation, or
// an operator of the authority (CustomerID ""); Disabled accounts cannot
// sign in (see SetDisabled).
type User = store.Account

// NewUser is an account to create.
type NewUser struct {
	Email      string
	Name       string
	CustomerID string // the organisation represented; "" for an operator
	Operator   bool
	Password   string
}

// MinPasswordLength is the shortest accepted password.
const MinPasswordLength = 12

// ErrInput wraps invalid account input; the message says what to fix.
var ErrInput = service.ErrInput

// AddUser creates an account, audited in the same transaction. It is used by
// the operator pages and by "irpkid user add".
func AddUser(ctx context.Context, db Store, clk interface{ Now() time.Time }, p Argon2Params, u NewUser, actor string) (User, error) {
	u.Email = strings.TrimSpace(u.Email)
	u.Name = strings.TrimSpace(u.Name)
	if err := service.ValidateEmail(u.Email); err != nil {
		return User{}, err
	}
	if len([]rune(u.Name)) > 100 || strings.ContainsAny(u.Name, "\r\n\x00") {
		return User{}, fmt.Errorf("%w: the name must be one line of at most 100 characters", ErrInput)
	}
	if u.Operator && u.CustomerID != "" {
		return User{}, fmt.Errorf("%w: an operator does not represent an organisation; leave the customer id out", ErrInput)
	}
	if !u.Operator {
		if err := businessid.Validate(u.CustomerID); err != nil {
			return User{}, fmt.Errorf("%w: %v", ErrInput, err)
		}
	}
	hash, err := newPasswordHash(p, u.Password)
	if err != nil {
		return User{}, err
	}
	now := clk.Now()
	out := User{Email: u.Email, Name: u.Name, CustomerID: u.CustomerID, Operator: u.Operator, CreatedAt: now}
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

// newPasswordHash checks a new password against the policy (at least
// MinPasswordLength characters, at most 256) and returns its hash.
func newPasswordHash(p Argon2Params, password string) (string, error) {
	if n := len([]rune(password)); n < MinPasswordLength || n > 256 {
		return "", fmt.Errorf("%w: the password must have at least %d characters (and at most 256)", ErrInput, MinPasswordLength)
	}
	if strings.TrimSpace(password) == "" {
		return "", fmt.Errorf("%w: the password must not be only spaces or other blanks", ErrInput)
	}
	return hashPassword(p, password)
}

// SetDisabled disables the account of email (a representative who has
// left, a lost password) or enables it again. Disabling ends the account's
// sessions at once; its audit entries and its organisation's data stay.
func SetDisabled(ctx context.Context, db Store, clk interface{ Now() time.Time }, email string, disabled bool, actor string) (User, error) {
	action := "user_enable"
	if disabled {
		action = "user_disable"
	}
	return changeAccount(ctx, db, clk.Now(), email, action, actor, func(tx *store.Tx, u *User) error {
		if err := tx.SetAccountDisabled(ctx, u.ID, disabled); err != nil {
			return err
		}
		u.Disabled = disabled
		return nil
	})
}

// SetPassword gives the account of email a new password (at least
// MinPasswordLength characters) and ends its sessions.
func SetPassword(ctx context.Context, db Store, clk interface{ Now() time.Time }, p Argon2Params, email, password, actor string) (User, error) {
	hash, err := newPasswordHash(p, password)
	if err != nil {
		return User{}, err
	}
	return changeAccount(ctx, db, clk.Now(), email, "user_password", actor, func(tx *store.Tx, u *User) error {
		return tx.SetAccountPassword(ctx, u.ID, hash)
	})
}

// changeAccount runs change on the account of email, ends its sessions and
// audits action by actor, in one transaction.
func changeAccount(ctx context.Context, db Store, now time.Time, email, action, actor string, change func(*store.Tx, *User) error) (User, error) {
	var u User
	err := db.Update(ctx, func(tx *store.Tx) error {
		var err error
		u, _, err = tx.Account(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: no account %s (irpkid users lists them)", ErrInput, strings.TrimSpace(email))
		}
		if err != nil {
			return err
		}
		if err := change(tx, &u); err != nil {
			return err
		}
		if err := tx.DeleteAccountSessions(ctx, u.ID); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: actor, Action: action, CustomerID: u.CustomerID, Outcome: "ok", Detail: u.Email})
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// Users lists accounts; customerID "" for all.
func Users(ctx context.Context, db Store, customerID string) ([]User, error) {
	var out []User
	err := db.View(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.Accounts(ctx, customerID)
		return err
	})
	return out, err
}
