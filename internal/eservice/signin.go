package eservice

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/accounts"
	"github.com/irpki/irpki/internal/lang"
	"github.com/irpki/irpki/internal/store"
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
	check := func() {
		// Reserved once the check has its place among the HashWorkers
		// running, not while it waits.
		withMemory(h.cfg.ReserveMemory, accounts.CheckMemory(hash), func() { ok = accounts.CheckPassword(hash, password) })
	}
	if err := h.hashes.Do(ctx, client, check); err != nil {
		return User{}, false, err
	}
	return u, ok && !disabled, nil
}

type signinData struct {
	Email, Next, Error string
	RetryAt            string
	Provider           string // the OpenID Connect provider's name; "" without one
	Passwords          bool   // password sign-in is on
}

// signinPage fills what every sign-in page shows.
func (h *Handler) signinPage(d signinData) signinData {
	d.Passwords = !h.cfg.NoPasswords
	if h.oidc != nil {
		d.Provider = h.oidc.cfg.DisplayName
		if d.Provider == "" {
			d.Provider = "OpenID Connect"
		}
	}
	return d
}

func (h *Handler) signinForm(w http.ResponseWriter, r *http.Request) {
	if s, err := h.currentSession(r); err == nil && s != nil {
		http.Redirect(w, r, Path, http.StatusSeeOther)
		return
	}
	tok := h.formToken(w, r)
	h.render(w, r, &session{csrf: tok}, http.StatusOK, "signin", "signin.title", h.signinPage(signinData{Next: localPath(r.URL.Query().Get("next"))}))
}

func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tok := h.formToken(w, r)
	anon := &session{csrf: tok}
	if !checkFormToken(r) {
		h.log.WarnContext(ctx, "sign-in form without a valid CSRF token refused", "ip", h.clientIP(r))
		h.forbidden(w, r, nil)
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	d := h.signinPage(signinData{Email: email, Next: localPath(r.PostFormValue("next"))})
	if h.cfg.NoPasswords {
		h.audit(r, store.AuditEntry{Actor: unknownAccount, Action: "sign_in", Outcome: "fail", Code: "PASSWORDS_OFF"})
		d.Error = "signin.passwordsOff"
		h.render(w, r, anon, http.StatusForbidden, "signin", "signin.title", d)
		return
	}
	now := h.clock.Now()
	client := h.clientKey(r)
	acctKey, ipKey := "acct:"+strings.ToLower(email), "ip:"+client
	if email == "" || password == "" || len(email) > 254 || len(password) > 256 {
		d.Error = "signin.missing"
		h.render(w, r, anon, http.StatusBadRequest, "signin", "signin.title", d)
		return
	}
	// The attempt is counted as a failure before the password is checked
	// and given back if it succeeds: parallel guesses cannot all pass a
	// check made before any of them has failed.
	ok, until, err := h.takeAttempt(ctx, now, store.Limit{Subject: acctKey, Max: h.cfg.AccountFailures}, store.Limit{Subject: ipKey, Max: h.cfg.IPFailures})
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if !ok {
		d.Error, d.RetryAt = "signin.limited", lang.DateTime(language(r), until)
		h.audit(r, store.AuditEntry{Actor: h.signinActor(ctx, email), Action: "sign_in", Outcome: "fail", Code: "RATE_LIMITED"})
		w.Header().Set("Retry-After", strconv.Itoa(max(0, int(until.Sub(now)/time.Second))+1))
		h.render(w, r, anon, http.StatusTooManyRequests, "signin", "signin.title", d)
		return
	}
	u, ok, err := h.authenticate(ctx, client, email, password)
	if errors.Is(err, errHashBusy) || errors.Is(err, errClientBusy) {
		// Not a failed attempt: the password was not checked.
		if err := h.db.Update(ctx, func(tx *store.Tx) error {
			if err := tx.ForgetFailure(ctx, acctKey, now); err != nil {
				return err
			}
			return tx.ForgetFailure(ctx, ipKey, now)
		}); err != nil {
			h.fail(w, r, nil, err)
			return
		}
		status := http.StatusServiceUnavailable
		if errors.Is(err, errClientBusy) {
			status = http.StatusTooManyRequests
		}
		h.audit(r, store.AuditEntry{Actor: h.signinActor(ctx, email), Action: "sign_in", Outcome: "fail", Code: "BUSY"})
		w.Header().Set("Retry-After", "1")
		d.Error = "signin.busy"
		h.render(w, r, anon, status, "signin", "signin.title", d)
		return
	}
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if !ok {
		actor := unknownAccount
		if u.Email != "" {
			actor = "eservice:" + u.Email
		}
		h.audit(r, store.AuditEntry{Actor: actor, Action: "sign_in", CustomerID: u.CustomerID, Outcome: "fail", Code: "BAD_CREDENTIALS"})
		d.Error = "signin.failed"
		h.render(w, r, anon, http.StatusUnauthorized, "signin", "signin.title", d)
		return
	}
	err = h.db.Update(ctx, func(tx *store.Tx) error {
		if err := tx.ResetFailures(ctx, acctKey); err != nil {
			return err
		}
		return tx.ForgetFailure(ctx, ipKey, now)
	})
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	// A fresh session id at every sign-in: no fixation. An old session of
	// this browser ends.
	if old, _ := h.currentSession(r); old != nil {
		_ = h.endSession(ctx, old)
	}
	id, err := h.newSession(ctx, u)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.setCookie(w, r, sessionCookie, id, 0)
	next := d.Next
	if next == Path || next == Path+"signin" {
		next = Path
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// unknownAccount is the actor of a failed sign-in to no account. What was
// typed is not recorded: people paste passwords into the e-mail field.
const unknownAccount = "eservice:(unknown account)"

// signinActor is the audit actor of a sign-in attempt for what was typed
// as the e-mail address: the account's address, or unknownAccount.
func (h *Handler) signinActor(ctx context.Context, typed string) string {
	var a store.Account
	err := h.db.View(ctx, func(tx *store.Tx) error {
		var err error
		a, _, err = tx.Account(ctx, typed)
		return err
	})
	if err != nil {
		return unknownAccount
	}
	return "eservice:" + a.Email
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request, s *session) {
	if err := h.endSession(r.Context(), s); err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.setCookie(w, r, sessionCookie, "", -1)
	if s.federated {
		// Sign out at the provider too, where it lets us.
		if u := h.endSessionURL(); u != "" {
			http.Redirect(w, r, u, http.StatusSeeOther)
			return
		}
	}
	http.Redirect(w, r, Path+"signin?done=signout", http.StatusSeeOther)
}
