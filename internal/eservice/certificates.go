package eservice

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/lang"
	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
)

type certRow struct {
	service.CertificateView
	Revocable bool
	OrgName   string // on the operator's list
}

// Days is the days left for a certificate in use, "–" for one that is not.
func (c certRow) Days() string {
	if c.State == service.StateRevoked || c.State == service.StateExpired {
		return "–"
	}
	return strconv.Itoa(c.DaysLeft)
}

type certsData struct {
	Certs     []certRow
	Window    int // days
	Validity  int // years
	Reasons   []string
	Cert      *certRow // the detail page's certificate
	Error     string
	Email     string
	Name      string
	Language  string
	Reason    string
	Languages []string
	// The operator's list of every organisation's certificates:
	Admin           bool
	Orgs            []store.Org
	Customer, State string // its filters ("" for all)
	States          []service.State
	// Cascade: the successors a revocation for key compromise revokes
	// too, shown on the confirmation page.
	Cascade []service.CertificateView
}

func revocable(v service.CertificateView) bool {
	return v.Status == store.CertValid && v.State != service.StateExpired
}

// row is a certificate as the pages show it: its serial at full width
// (serial.Pad), which is also how the pages' links name it.
func (h *Handler) row(v service.CertificateView) certRow {
	v.Serial = serial.Pad(v.Serial)
	return certRow{CertificateView: v, Revocable: revocable(v)}
}

func (h *Handler) certData() certsData {
	c := h.svc.Config()
	return certsData{Window: int(c.RenewalWindow / (24 * time.Hour)), Validity: c.Profile.ValidityYears, Reasons: service.RevocationReasons, Languages: lang.All}
}

func (h *Handler) certificates(w http.ResponseWriter, r *http.Request, s *session) {
	views, err := h.svc.Certificates(r.Context(), s.user.CustomerID)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := h.certData()
	for _, v := range views {
		if v.State == service.StateSuperseded {
			continue // a replaced, never retrieved renewal: nothing to act on
		}
		d.Certs = append(d.Certs, h.row(v))
	}
	// Newest first: the one in use is usually at the top.
	sort.SliceStable(d.Certs, func(i, j int) bool { return d.Certs[i].NotAfter.After(d.Certs[j].NotAfter) })
	h.render(w, r, s, http.StatusOK, "certificates", "certs.title", d)
}

// findCert returns the representative's certificate with this serial
// (written in any of the ways serial.Key reads), or nil.
func (h *Handler) findCert(r *http.Request, s *session, written string) (*certRow, error) {
	views, err := h.svc.Certificates(r.Context(), s.user.CustomerID)
	if err != nil {
		return nil, err
	}
	key := serial.Key(written)
	for _, v := range views {
		if v.Serial == key && v.State != service.StateSuperseded {
			r := h.row(v)
			return &r, nil
		}
	}
	return nil, nil
}

// certPageData finds the signed-in organisation's certificate serial and
// returns the page data around it; when it cannot (an error, or no such
// certificate of this organisation) it has answered and returns false.
func (h *Handler) certPageData(w http.ResponseWriter, r *http.Request, s *session, serial string) (certsData, bool) {
	c, err := h.findCert(r, s, serial)
	if err != nil {
		h.fail(w, r, s, err)
		return certsData{}, false
	}
	if c == nil {
		h.notFound(w, r, s)
		return certsData{}, false
	}
	d := h.certData()
	d.Cert = c
	return d, true
}

func (h *Handler) certificate(w http.ResponseWriter, r *http.Request, s *session) {
	d, ok := h.certPageData(w, r, s, r.PathValue("serial"))
	if !ok {
		return
	}
	c := d.Cert
	d.Email, d.Name, d.Language = c.ContactEmail, c.ContactName, c.ContactLanguage
	h.render(w, r, s, http.StatusOK, "certificate", "cert.title", d)
}

func (h *Handler) changeContact(w http.ResponseWriter, r *http.Request, s *session) {
	serial := r.PathValue("serial")
	d, ok := h.certPageData(w, r, s, serial)
	if !ok {
		return
	}
	d.Email = strings.TrimSpace(r.PostFormValue("email"))
	d.Name = strings.TrimSpace(r.PostFormValue("name"))
	d.Language = r.PostFormValue("language")
	if !lang.Valid(d.Language) {
		d.Language = ""
	}
	if service.ValidateEmail(d.Email) != nil {
		d.Error = "form.badEmail"
		h.render(w, r, s, http.StatusBadRequest, "certificate", "cert.title", d)
		return
	}
	err := h.svc.ChangeContact(r.Context(), service.ContactChange{Serial: serial, CustomerID: s.user.CustomerID, Name: d.Name, Email: d.Email, Language: d.Language}, actor(s.user))
	if msg := inputError(err); msg != "" {
		d.Error = "form.invalid"
		h.render(w, r, s, http.StatusBadRequest, "certificate", "cert.title", d)
		return
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, Path+"certificates/"+url.PathEscape(serial)+"?done=contact", http.StatusSeeOther)
}

// revoke is two steps: without confirm=yes it shows what will happen and
// asks again; with it, it revokes.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request, s *session) {
	written := r.PathValue("serial")
	d, ok := h.certPageData(w, r, s, written)
	if !ok {
		return
	}
	c := d.Cert
	d.Email, d.Name, d.Language = c.ContactEmail, c.ContactName, c.ContactLanguage
	reason, valid := service.ParseRevocationReason(r.PostFormValue("reason"))
	d.Reason = reason
	if !valid {
		d.Error = "revoke.noReason"
		h.render(w, r, s, http.StatusBadRequest, "certificate", "cert.title", d)
		return
	}
	// failed answers err, if any: not valid (any more), or the service's
	// failure.
	failed := func(err error) bool {
		if inputError(err) != "" {
			d.Error = "revoke.notValid"
			h.render(w, r, s, http.StatusConflict, "certificate", "cert.title", d)
			return true
		}
		if err != nil {
			h.fail(w, r, s, err)
			return true
		}
		return false
	}
	if !c.Revocable {
		failed(service.ErrInput)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		plan, err := h.svc.RevocationPlan(r.Context(), written, d.Reason, s.user.CustomerID)
		if failed(err) {
			return
		}
		d.Cascade = plan[1:]
		for i := range d.Cascade {
			d.Cascade[i].Serial = serial.Pad(d.Cascade[i].Serial)
		}
		h.render(w, r, s, http.StatusOK, "revoke_confirm", "revoke.title", d)
		return
	}
	// The serials the confirmation page showed: if a renewal changed
	// what is revoked meanwhile, nothing is, and the page is shown anew.
	expect := []string{serial.Key(written)}
	for _, x := range r.PostForm["cascade"] {
		expect = append(expect, serial.Key(x))
	}
	_, err := h.svc.Revoke(r.Context(), written, d.Reason, s.user.CustomerID, actor(s.user), expect)
	if errors.Is(err, service.ErrPlanChanged) {
		r.PostForm.Del("confirm")
		h.revoke(w, r, s)
		return
	}
	if failed(err) {
		return
	}
	http.Redirect(w, r, Path+"certificates?done=revoked", http.StatusSeeOther)
}
