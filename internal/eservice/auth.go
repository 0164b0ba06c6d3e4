package eservice

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
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

// The sign-in and PIN limits count failures in the store (store.Limit),
// so that every replica on one database enforces one limit.

// takeAttempt reserves an attempt under limits (see store.Tx.TakeAttempt).
func (h *Handler) takeAttempt(ctx context.Context, now time.Time, limits ...store.Limit) (ok bool, until time.Time, err error) {
	err = h.db.Update(ctx, func(tx *store.Tx) error {
		ok, until, err = tx.TakeAttempt(ctx, now, h.cfg.LimitWindow, limits)
		return err
	})
	return ok, until, err
}

// blocked reports whether l's subject has its failures inside the window.
func (h *Handler) blocked(ctx context.Context, now time.Time, l store.Limit) (bool, error) {
	var b bool
	err := h.db.View(ctx, func(tx *store.Tx) (err error) {
		b, _, err = tx.Blocked(ctx, now, h.cfg.LimitWindow, l)
		return err
	})
	return b, err
}

// countFailure records a failed attempt of subject.
func (h *Handler) countFailure(ctx context.Context, subject string, now time.Time) {
	if err := h.db.Update(ctx, func(tx *store.Tx) error { return tx.CountFailure(ctx, subject, now) }); err != nil {
		h.log.ErrorContext(ctx, "could not count a failed attempt", "subject", subject, "err", err)
	}
}

// clientIP is the address the per-IP limits count: the peer, or, when the
// peer is a trusted proxy, the nearest address in X-Forwarded-For that is
// not one of the trusted proxies (entries further left are the client's
// own claims and could be forged).
func (h *Handler) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !h.trusted(host) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				hops = append(hops, p)
			}
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		if _, err := netip.ParseAddr(hops[i]); err != nil {
			return host // a malformed hop: fall back to the proxy itself
		}
		if !h.trusted(hops[i]) {
			return hops[i]
		}
	}
	return host
}

func (h *Handler) trusted(addr string) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range h.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// session is a signed-in user's session.
type session struct {
	idHash []byte
	user   User
	csrf   string
	// Of a session made by OpenID Connect sign-in: the organisations the
	// provider listed then (user.CustomerID is the chosen one, or "").
	federated bool
	orgs      []string
}

func randomToken() (string, error) {
	b := make([]byte, 32) // 256 bits
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func tokenHash(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

const (
	sessionCookie = "irpki_session"
	formCookie    = "irpki_form" // double-submit token for forms before sign-in
	langCookie    = "irpki_lang"
)

// authenticate checks email and password, as one of the bounded queue's
// checks for client (errHashBusy, errClientBusy). Unknown accounts cost the
// same hash as known ones.
func (h *Handler) authenticate(ctx context.Context, client, email, password string) (User, bool, error) {
	var u User
	var hash string
	err := h.db.View(ctx, func(tx *store.Tx) error {
		var err error
		u, hash, err = tx.Account(ctx, email)
		return err
	})
	disabled := u.Disabled
	if errors.Is(err, store.ErrNotFound) {
		u, hash, disabled = User{}, h.dummyHash, true
	} else if err != nil {
		return User{}, false, err
	}
	var ok bool
	if err := h.hashes.Do(ctx, client, func() { ok = checkPassword(hash, password) }); err != nil {
		return User{}, false, err
	}
	return u, ok && !disabled, nil
}

// newSession stores a session for u and returns its cookie value; extra
// runs in the same transaction with the session's id hash and returns the
// sign-in audit entry's detail.
func (h *Handler) newSession(ctx context.Context, u User, extra ...func(*store.Tx, []byte) (string, error)) (string, error) {
	id, err := randomToken()
	if err != nil {
		return "", err
	}
	csrf, err := randomToken()
	if err != nil {
		return "", err
	}
	now := h.clock.Now()
	err = h.db.Update(ctx, func(tx *store.Tx) error {
		err := tx.InsertSession(ctx, store.Session{IDHash: tokenHash(id), AccountID: u.ID, CSRF: csrf, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(h.cfg.SessionMax)},
			now.Add(-h.cfg.SessionIdle))
		if err != nil {
			return err
		}
		var detail string
		for _, fn := range extra {
			if detail, err = fn(tx, tokenHash(id)); err != nil {
				return err
			}
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: actor(u), Action: "sign_in", CustomerID: u.CustomerID, Outcome: "ok", Detail: detail})
	})
	if err == nil {
		h.signedIn("ok")
	}
	return id, err
}

// currentSession returns the request's live session, or nil.
func (h *Handler) currentSession(r *http.Request) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, nil
	}
	ctx := r.Context()
	now := h.clock.Now()
	s := &session{idHash: tokenHash(c.Value)}
	var stored store.Session
	err = h.db.View(ctx, func(tx *store.Tx) error {
		var err error
		stored, s.user, err = tx.Session(ctx, s.idHash)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.csrf = stored.CSRF
	if s.user.Disabled || !now.Before(stored.ExpiresAt) || !now.Before(stored.LastSeen.Add(h.cfg.SessionIdle)) {
		return nil, nil
	}
	if ok, err := h.federated(ctx, s); err != nil || !ok {
		return nil, err
	}
	if now.Sub(stored.LastSeen) > time.Minute {
		err := h.db.Update(ctx, func(tx *store.Tx) error {
			return tx.TouchSession(ctx, s.idHash, now)
		})
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (h *Handler) endSession(ctx context.Context, s *session) error {
	now := h.clock.Now()
	return h.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteSession(ctx, s.idHash); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: actor(s.user), Action: "sign_out", CustomerID: s.user.CustomerID, Outcome: "ok"})
	})
}

func actor(u User) string { return "eservice:" + u.Email }

func (h *Handler) secure(r *http.Request) bool {
	return r.TLS != nil || h.cfg.SecureCookies
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: Path, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.secure(r)}
	switch {
	case maxAge < 0:
		c.MaxAge = -1
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

// formToken returns the double-submit token for forms shown before sign-in,
// setting its cookie if the browser has none.
func (h *Handler) formToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(formCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	tok, err := randomToken()
	if err != nil {
		return ""
	}
	h.setCookie(w, r, formCookie, tok, 0)
	return tok
}

// checkFormToken checks a pre-sign-in form's token against its cookie.
func checkFormToken(r *http.Request) bool {
	c, err := r.Cookie(formCookie)
	if err != nil || c.Value == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) == 1
}

// checkCSRF checks a signed-in form's synchronizer token.
func checkCSRF(r *http.Request, s *session) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}
