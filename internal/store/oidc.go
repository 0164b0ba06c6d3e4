package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// OIDCLogin is an OpenID Connect sign-in under way, keyed by the SHA-256
// of its state.
type OIDCLogin struct {
	StateHash []byte
	Nonce     string
	Verifier  string // the PKCE code verifier
	Next      string // where to go after sign-in
	CreatedAt time.Time
}

// maxOIDCLogins bounds the sign-ins under way, so that a flood of
// unfinished sign-ins cannot fill the store (a variable for the tests).
var maxOIDCLogins = 20000

// ErrBusy is a refusal for load: too many of something under way.
var ErrBusy = errors.New("too many under way")

// PutOIDCLogin records a sign-in under way, dropping those older than
// staleBefore; ErrBusy when 20000 are under way.
func (t *Tx) PutOIDCLogin(ctx context.Context, l OIDCLogin, staleBefore time.Time) error {
	if _, err := t.exec(ctx, `DELETE FROM eservice_oidc_logins WHERE created_at < ?`, ms(staleBefore)); err != nil {
		return err
	}
	var n int
	if err := t.queryRow(ctx, `SELECT COUNT(*) FROM eservice_oidc_logins`).Scan(&n); err != nil {
		return err
	}
	if n >= maxOIDCLogins {
		return ErrBusy
	}
	_, err := t.exec(ctx, `INSERT INTO eservice_oidc_logins (state_hash, nonce, verifier, next, created_at) VALUES (?,?,?,?,?)`,
		l.StateHash, l.Nonce, l.Verifier, l.Next, ms(l.CreatedAt))
	return err
}

// TakeOIDCLogin removes and returns the sign-in with stateHash: each is
// used once. One started before staleBefore, or none, is ErrNotFound.
func (t *Tx) TakeOIDCLogin(ctx context.Context, stateHash []byte, staleBefore time.Time) (OIDCLogin, error) {
	l := OIDCLogin{StateHash: stateHash}
	var created int64
	err := t.queryRow(ctx, `SELECT nonce, verifier, next, created_at FROM eservice_oidc_logins WHERE state_hash = ?`, stateHash).Scan(&l.Nonce, &l.Verifier, &l.Next, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return OIDCLogin{}, ErrNotFound
	}
	if err != nil {
		return OIDCLogin{}, err
	}
	if _, err := t.exec(ctx, `DELETE FROM eservice_oidc_logins WHERE state_hash = ?`, stateHash); err != nil {
		return OIDCLogin{}, err
	}
	l.CreatedAt = time.UnixMilli(created).UTC()
	if l.CreatedAt.Before(staleBefore) {
		return OIDCLogin{}, ErrNotFound
	}
	return l, nil
}

// OIDCSession is what an e-service session made by OpenID Connect sign-in
// knows of its person: the organisations the provider listed at sign-in,
// the one chosen, and whether the person is an operator.
type OIDCSession struct {
	IDHash    []byte // the e-service session's
	Person    string
	Orgs      []string
	Active    string // one of Orgs, or ""
	Operator  bool
	CreatedAt time.Time
}

// PutOIDCSession records a new session's sign-in claims; rows of sessions
// that have ended are dropped.
func (t *Tx) PutOIDCSession(ctx context.Context, s OIDCSession) error {
	if _, err := t.exec(ctx, `DELETE FROM eservice_oidc_sessions WHERE id_hash NOT IN (SELECT id_hash FROM eservice_sessions)`); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO eservice_oidc_sessions (id_hash, person, orgs, active, operator, created_at) VALUES (?,?,?,?,?,?)`,
		s.IDHash, s.Person, strings.Join(s.Orgs, ","), s.Active, boolInt(s.Operator), ms(s.CreatedAt))
	return err
}

// OIDCSessionOf returns the sign-in claims of the session idHash;
// ErrNotFound for a session made otherwise.
func (t *Tx) OIDCSessionOf(ctx context.Context, idHash []byte) (OIDCSession, error) {
	s := OIDCSession{IDHash: idHash}
	var orgs string
	var created, operator int64
	err := t.queryRow(ctx, `SELECT person, orgs, active, operator, created_at FROM eservice_oidc_sessions WHERE id_hash = ?`, idHash).
		Scan(&s.Person, &orgs, &s.Active, &operator, &created)
	s.Operator = operator != 0
	if errors.Is(err, sql.ErrNoRows) {
		return OIDCSession{}, ErrNotFound
	}
	if orgs != "" {
		s.Orgs = strings.Split(orgs, ",")
	}
	s.CreatedAt = time.UnixMilli(created).UTC()
	return s, err
}

// SetOIDCActiveOrg makes org the session's active organisation.
func (t *Tx) SetOIDCActiveOrg(ctx context.Context, idHash []byte, org string) error {
	_, err := t.exec(ctx, `UPDATE eservice_oidc_sessions SET active = ? WHERE id_hash = ?`, org, idHash)
	return err
}

// ExternalUserMark is the password hash of an e-service account made for a
// person signed in by OpenID Connect: no password matches it.
const ExternalUserMark = "!oidc"

// EnsureExternalUser returns the id of the e-service account named name
// (the person's identifier, "oidc:…") for a person signed in by OpenID
// Connect, creating it or updating its display name, and whether an
// operator has disabled it. An account of that name with a password is
// ErrExists: it is not taken over.
func (t *Tx) EnsureExternalUser(ctx context.Context, name, displayName string, now time.Time) (id int64, disabled bool, err error) {
	var hash string
	var dis int64
	err = t.queryRow(ctx, `SELECT id, password_hash, disabled FROM eservice_users WHERE `+t.d.emailIs, name).Scan(&id, &hash, &dis)
	disabled = dis != 0
	switch {
	case errors.Is(err, sql.ErrNoRows):
		err := t.queryRow(ctx, `INSERT INTO eservice_users (email, name, customer_id, operator, password_hash, created_at) VALUES (?,?,'',0,?,?) RETURNING id`,
			name, displayName, ExternalUserMark, ms(now)).Scan(&id)
		return id, false, err
	case err != nil:
		return 0, false, err
	case hash != ExternalUserMark:
		return 0, false, ErrExists
	}
	_, err = t.exec(ctx, `UPDATE eservice_users SET name = ? WHERE id = ?`, displayName, id)
	return id, disabled, err
}
