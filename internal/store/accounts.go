package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Account is an e-service account: a representative of one organisation,
// or an operator of the authority (CustomerID "").
type Account struct {
	ID         int64
	Email      string
	Name       string
	CustomerID string
	Operator   bool
	CreatedAt  time.Time
	Disabled   bool // cannot sign in
}

// accountCols are the columns scanAccount reads, in its order.
const accountCols = `id, email, name, customer_id, operator, created_at, disabled`

// scanAccount reads a row of accountCols, then into extra any columns
// after them.
func scanAccount(sc scanner, extra ...any) (Account, error) {
	var a Account
	var created, operator, disabled int64
	err := sc.Scan(append([]any{&a.ID, &a.Email, &a.Name, &a.CustomerID, &operator, &created, &disabled}, extra...)...)
	a.CreatedAt, a.Operator, a.Disabled = fromMs(created), operator != 0, disabled != 0
	return a, err
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// InsertAccount adds an account with its password hash and returns its id;
// ErrExists if an account has this e-mail address in any letter case.
func (t *Tx) InsertAccount(ctx context.Context, a Account, passwordHash string) (int64, error) {
	var id int64
	err := t.queryRow(ctx, `INSERT INTO eservice_users (email, name, customer_id, operator, password_hash, created_at) VALUES (?,?,?,?,?,?)
		ON CONFLICT DO NOTHING RETURNING id`,
		a.Email, a.Name, a.CustomerID, boolInt(a.Operator), passwordHash, ms(a.CreatedAt)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("account %s: %w", a.Email, ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("store: insert account: %w", err)
	}
	return id, nil
}

// Account returns the account of an e-mail address, compared without
// regard to letter case, with its password hash.
func (t *Tx) Account(ctx context.Context, email string) (Account, string, error) {
	var hash string
	a, err := scanAccount(t.queryRow(ctx, `SELECT `+accountCols+`, password_hash FROM eservice_users WHERE `+t.d.emailIs, strings.TrimSpace(email)), &hash)
	if err != nil {
		return Account{}, "", notFound(err, "account "+strings.TrimSpace(email))
	}
	return a, hash, nil
}

// Accounts lists accounts, operators first, then by organisation and
// address; customerID "" for all.
func (t *Tx) Accounts(ctx context.Context, customerID string) ([]Account, error) {
	return queryAll(ctx, t, "accounts", func(sc scanner) (Account, error) { return scanAccount(sc) }, `SELECT `+accountCols+` FROM eservice_users
		WHERE ? = '' OR customer_id = ? ORDER BY operator DESC, customer_id, email`, customerID, customerID)
}

// SetAccountDisabled disables or enables an account.
func (t *Tx) SetAccountDisabled(ctx context.Context, id int64, disabled bool) error {
	return t.updateOne(ctx, "account", `UPDATE eservice_users SET disabled = ? WHERE id = ?`, boolInt(disabled), id)
}

// SetAccountPassword replaces an account's password hash.
func (t *Tx) SetAccountPassword(ctx context.Context, id int64, passwordHash string) error {
	return t.updateOne(ctx, "account", `UPDATE eservice_users SET password_hash = ? WHERE id = ?`, passwordHash, id)
}

// updateOne runs an UPDATE that must change one row; ErrNotFound if it
// changed none.
func (t *Tx) updateOne(ctx context.Context, what, q string, args ...any) error {
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: update %s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// Session is a signed-in e-service session, known by the hash of its
// cookie value.
type Session struct {
	IDHash    []byte
	AccountID int64
	CSRF      string
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
}

// InsertSession stores a session, first deleting every session that has
// ended by now (expired, or unused since idleSince).
func (t *Tx) InsertSession(ctx context.Context, s Session, idleSince time.Time) error {
	if _, err := t.exec(ctx, `DELETE FROM eservice_sessions WHERE expires_at <= ? OR last_seen <= ?`, ms(s.CreatedAt), ms(idleSince)); err != nil {
		return fmt.Errorf("store: expire sessions: %w", err)
	}
	return t.insertNew(ctx, "session", `INSERT INTO eservice_sessions (id_hash, user_id, csrf, created_at, last_seen, expires_at) VALUES (?,?,?,?,?,?)
		ON CONFLICT DO NOTHING`, s.IDHash, s.AccountID, s.CSRF, ms(s.CreatedAt), ms(s.LastSeen), ms(s.ExpiresAt))
}

// Session returns a session and its account; ErrNotFound if there is none.
func (t *Tx) Session(ctx context.Context, idHash []byte) (Session, Account, error) {
	s := Session{IDHash: idHash}
	var created, lastSeen, expires int64
	a, err := scanAccount(t.queryRow(ctx, `SELECT u.id, u.email, u.name, u.customer_id, u.operator, u.created_at, u.disabled,
		s.csrf, s.created_at, s.last_seen, s.expires_at
		FROM eservice_sessions s JOIN eservice_users u ON u.id = s.user_id WHERE s.id_hash = ?`, idHash),
		&s.CSRF, &created, &lastSeen, &expires)
	if err != nil {
		return Session{}, Account{}, notFound(err, "session")
	}
	s.AccountID, s.CreatedAt, s.LastSeen, s.ExpiresAt = a.ID, fromMs(created), fromMs(lastSeen), fromMs(expires)
	return s, a, nil
}

// TouchSession records a session's use.
func (t *Tx) TouchSession(ctx context.Context, idHash []byte, at time.Time) error {
	if _, err := t.exec(ctx, `UPDATE eservice_sessions SET last_seen = ? WHERE id_hash = ?`, ms(at), idHash); err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil
}

// DeleteSession ends one session.
func (t *Tx) DeleteSession(ctx context.Context, idHash []byte) error {
	if _, err := t.exec(ctx, `DELETE FROM eservice_sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// DeleteAccountSessions ends every session of an account.
func (t *Tx) DeleteAccountSessions(ctx context.Context, accountID int64) error {
	if _, err := t.exec(ctx, `DELETE FROM eservice_sessions WHERE user_id = ?`, accountID); err != nil {
		return fmt.Errorf("store: delete sessions: %w", err)
	}
	return nil
}

// UseFormNonce records a form's one-time nonce and reports whether it was
// fresh (false: used before). Nonces older than a day are forgotten first.
func (t *Tx) UseFormNonce(ctx context.Context, nonce string, now time.Time) (bool, error) {
	if _, err := t.exec(ctx, `DELETE FROM eservice_form_nonces WHERE created_at < ?`, ms(now.Add(-24*time.Hour))); err != nil {
		return false, fmt.Errorf("store: form nonces: %w", err)
	}
	res, err := t.exec(ctx, `INSERT INTO eservice_form_nonces (nonce, created_at) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING`, nonce, ms(now))
	if err != nil {
		return false, fmt.Errorf("store: form nonce: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
