package eservice

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/irpki/irpki/internal/lang"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
)

// page is what every template gets.
type page struct {
	Lang      string
	TitleKey  string
	User      *User
	OrgName   string
	Switch    bool   // the person may act for several organisations
	Who       string // the signed-in person: the e-mail address, or the name given by the identity provider
	CSRF      string
	Path      string // this page's path and query, for the language switch
	Nav       string
	Env       string
	Done      string // a translation key of a completed action's notice
	Data      any
	Languages []langLink
}

type langLink struct {
	Code, Name, Href string
	Current          bool
}

// T translates key into the page's language; args fill %s/%d verbs.
func (p page) T(key string, args ...any) string { return translate(p.Lang, key, args...) }

type errorData struct {
	Message string // translation key
	Detail  string
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, s *session, status int, name, titleKey string, data any) {
	t, ok := h.pages[name]
	if !ok {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	pageLang := language(r)
	p := page{Lang: pageLang, TitleKey: titleKey, Path: Path, Env: h.svc.Config().Environment, Data: data}
	if r.Method == http.MethodGet {
		// The language switch comes back here, without a one-off notice.
		q := r.URL.Query()
		q.Del("done")
		p.Path = r.URL.Path
		if len(q) > 0 {
			p.Path += "?" + q.Encode()
		}
	}
	if s != nil {
		p.CSRF = s.csrf // also the pre-sign-in forms' token
	}
	if s != nil && s.user.ID != 0 {
		u := s.user
		p.User = &u
		if u.CustomerID != "" {
			p.OrgName = h.orgName(r.Context(), u.CustomerID)
		}
		p.Switch = len(s.orgs) > 1
		p.Who = u.Email
		if s.federated && u.Name != "" {
			p.Who = u.Name
		}
	}
	if d := r.URL.Query().Get("done"); d != "" && hasKey("done."+d) {
		p.Done = "done." + d
	}
	for _, l := range lang.All {
		p.Languages = append(p.Languages, langLink{Code: l, Name: lang.Names[l], Current: l == pageLang,
			Href: Path + "lang?set=" + l + "&next=" + url.QueryEscape(p.Path)})
	}
	for _, n := range []string{"certificates", "order", "orders", "audit", "admin", "admin/certificates"} {
		if strings.HasPrefix(r.URL.Path, Path+n) {
			p.Nav = n
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", pageLang)
	w.WriteHeader(status)
	if err := t.Execute(w, p); err != nil {
		h.log.ErrorContext(r.Context(), "e-service template failed", "page", name, "err", err)
	}
}

func (h *Handler) orgName(ctx context.Context, id string) string {
	var name string
	_ = h.db.View(ctx, func(tx *store.Tx) error {
		o, err := tx.Org(ctx, id)
		name = o.Name
		return err
	})
	return name
}

func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request, s *session) {
	h.render(w, r, s, http.StatusForbidden, "error", "error.title", errorData{Message: "error.csrf"})
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request, s *session) {
	h.render(w, r, s, http.StatusNotFound, "error", "error.title", errorData{Message: "error.notFound"})
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	h.log.ErrorContext(r.Context(), "e-service request failed", "path", RedactPath(r.URL.Path), "err", err)
	h.render(w, r, s, http.StatusInternalServerError, "error", "error.title", errorData{Message: "error.internal"})
}

// RedactPath is a request path fit for the log: a credential-delivery
// link's token is a secret and is left out. The path is judged cleaned, as
// the mux routes it: an unclean spelling ("//", "/./", "/../") is answered
// with a redirect but still logged as it was asked.
func RedactPath(p string) string {
	if strings.HasPrefix(path.Clean("/"+p)+"/", Path+"delivery/") {
		return Path + "delivery/…"
	}
	return p
}

// inputError returns the message of an input error for showing to the
// user, or "" if err is not one.
func inputError(err error) string {
	if errors.Is(err, service.ErrInput) {
		return strings.TrimPrefix(err.Error(), service.ErrInput.Error()+": ")
	}
	return ""
}

// localPath returns next if it is a path inside the e-service, else Path:
// redirects never leave the site.
func localPath(next string) string {
	if !strings.HasPrefix(next, Path) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Path
	}
	return next
}
