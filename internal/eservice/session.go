package eservice

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/irpki/irpki/internal/store"
)

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
