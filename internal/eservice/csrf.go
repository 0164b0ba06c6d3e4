package eservice

import (
	"crypto/subtle"
	"net/http"
)

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
