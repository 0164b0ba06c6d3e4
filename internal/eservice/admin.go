package eservice

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/irpki/irpki/internal/accounts"
	"github.com/irpki/irpki/internal/lang"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
)

type adminData struct {
	Orgs      []orgRow
	Org       store.Org
	Users     []User
	Languages []string
	Error     string
	Detail    string
	Form      map[string]string
}

type orgRow struct {
	store.Org
	Representatives int
}

func (h *Handler) adminOrgs(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderOrgs(w, r, s, http.StatusOK, adminData{Form: map[string]string{"language": language(r)}})
}

func (h *Handler) renderOrgs(w http.ResponseWriter, r *http.Request, s *session, status int, d adminData) {
	ctx := r.Context()
	var orgs []store.Org
	if err := h.db.View(ctx, func(tx *store.Tx) error {
		var err error
		orgs, err = tx.Orgs(ctx)
		return err
	}); err != nil {
		h.fail(w, r, s, err)
		return
	}
	users, err := accounts.List(ctx, h.db, "")
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	count := map[string]int{}
	for _, u := range users {
		count[u.CustomerID]++
	}
	for _, o := range orgs {
		d.Orgs = append(d.Orgs, orgRow{Org: o, Representatives: count[o.CustomerID]})
	}
	d.Languages = lang.All
	h.render(w, r, s, status, "admin_orgs", "admin.orgs.title", d)
}

func (h *Handler) adminAddOrg(w http.ResponseWriter, r *http.Request, s *session) {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	o := store.Org{CustomerID: f("customer_id"), Name: f("name"), ContactEmail: f("contact_email"), Language: f("language")}
	err := h.svc.AddOrg(r.Context(), o, actor(s.user))
	if err != nil {
		d := adminData{Form: map[string]string{"customer_id": o.CustomerID, "name": o.Name, "contact_email": o.ContactEmail, "language": o.Language}}
		switch {
		case errors.Is(err, store.ErrExists):
			d.Error = "admin.err.exists"
		case inputError(err) != "":
			d.Error, d.Detail = "form.invalid", inputError(err)
		default:
			h.fail(w, r, s, err)
			return
		}
		h.renderOrgs(w, r, s, http.StatusBadRequest, d)
		return
	}
	http.Redirect(w, r, Path+"admin/orgs/"+url.PathEscape(o.CustomerID)+"?done=orgAdded", http.StatusSeeOther)
}

func (h *Handler) adminOrg(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderOrg(w, r, s, http.StatusOK, adminData{Form: map[string]string{}})
}

func (h *Handler) renderOrg(w http.ResponseWriter, r *http.Request, s *session, status int, d adminData) {
	ctx := r.Context()
	id := r.PathValue("id")
	err := h.db.View(ctx, func(tx *store.Tx) error {
		var err error
		d.Org, err = tx.Org(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		h.notFound(w, r, s)
		return
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	if d.Users, err = accounts.List(ctx, h.db, id); err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.render(w, r, s, status, "admin_org", "admin.org.title", d)
}

func (h *Handler) adminAddUser(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	email, name := strings.TrimSpace(r.PostFormValue("email")), strings.TrimSpace(r.PostFormValue("name"))
	pw, pw2 := r.PostFormValue("password"), r.PostFormValue("password2")
	d := adminData{Form: map[string]string{"email": email, "name": name}}
	if pw != pw2 {
		d.Error = "admin.err.mismatch"
		h.renderOrg(w, r, s, http.StatusBadRequest, d)
		return
	}
	var err error
	withMemory(h.cfg.ReserveMemory, h.cfg.Argon2.MemoryBytes(), func() { // the new password's hash
		_, err = accounts.Add(r.Context(), h.db, h.clock, h.cfg.Argon2, accounts.NewAccount{Email: email, Name: name, CustomerID: id, Password: pw}, actor(s.user))
	})
	if msg := inputError(err); msg != "" {
		d.Error, d.Detail = "form.invalid", msg
		h.renderOrg(w, r, s, http.StatusBadRequest, d)
		return
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, Path+"admin/orgs/"+url.PathEscape(id)+"?done=userAdded", http.StatusSeeOther)
}

// adminStates are the states the operator's list filters by.
var adminStates = []service.State{service.StateValid, service.StateWindowOpen, service.StateRenewed, service.StateExpired, service.StateRevoked}

// adminCertificates lists every organisation's certificates, soonest
// expiry first (what needs attention), filtered by organisation and state:
// the representative's list with the operator's columns.
func (h *Handler) adminCertificates(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	d := h.certData()
	d.Admin, d.Customer, d.State, d.States = true, r.URL.Query().Get("customer"), r.URL.Query().Get("state"), adminStates
	if err := h.db.View(ctx, func(tx *store.Tx) error {
		var err error
		d.Orgs, err = tx.Orgs(ctx)
		return err
	}); err != nil {
		h.fail(w, r, s, err)
		return
	}
	names := map[string]string{}
	for _, o := range d.Orgs {
		names[o.CustomerID] = o.Name
	}
	if _, ok := names[d.Customer]; !ok {
		d.Customer = "" // an unknown organisation filters nothing out
	}
	views, err := h.svc.Certificates(ctx, d.Customer)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	for _, v := range views {
		if v.State == service.StateSuperseded || (d.State != "" && string(v.State) != d.State) {
			continue
		}
		c := h.row(v)
		c.OrgName = names[v.CustomerID]
		d.Certs = append(d.Certs, c)
	}
	sort.SliceStable(d.Certs, func(i, j int) bool { return d.Certs[i].NotAfter.Before(d.Certs[j].NotAfter) })
	h.render(w, r, s, http.StatusOK, "certificates", "admin.certs.title", d)
}

// adminSetDisabled disables (or enables) a representative's account of the
// organisation in the path, as irpkid user disable/enable do: audited with
// the operator as actor, and a disabled account's sessions end at once.
func (h *Handler) adminSetDisabled(disabled bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		id := r.PathValue("id")
		email := strings.TrimSpace(r.PostFormValue("email"))
		users, err := accounts.List(r.Context(), h.db, id)
		if err != nil {
			h.fail(w, r, s, err)
			return
		}
		found := false
		for _, u := range users {
			found = found || strings.EqualFold(u.Email, email)
		}
		if !found || id == "" {
			h.notFound(w, r, s)
			return
		}
		if _, err := accounts.SetDisabled(r.Context(), h.db, h.clock, email, disabled, actor(s.user)); err != nil {
			h.fail(w, r, s, err)
			return
		}
		done := "userEnabled"
		if disabled {
			done = "userDisabled"
		}
		http.Redirect(w, r, Path+"admin/orgs/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
	}
}
