package eservice

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/wire"
)

// The e-service's retrieval path, as in the real service: the technical
// contact pastes a CSR with the order's TransferId and TransferPassword and
// downloads the certificate as PEM or DER. It is SignNewCertificate and
// GetCertificate of the service itself, so the credentials are as single
// use, as locked after wrong passwords and as refused once cancelled or
// expired as over SOAP, and each attempt is audited there.

const maxCSRText = 16 << 10

type retrieveData struct {
	CustomerID, TransferID, Format string
	Error                          string // translation key
	Code                           string // the service's refusal code
	Message                        string // its message (English, as on the wire)
}

func (h *Handler) retrieveForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, &session{csrf: h.formToken(w, r)}, http.StatusOK, "retrieve", "retrieve.title", retrieveData{Format: "pem"})
}

// parseCSR reads a pasted CSR: PEM ("CERTIFICATE REQUEST" or "NEW
// CERTIFICATE REQUEST") or bare base64 of the DER.
func parseCSR(text string) ([]byte, bool) {
	text = strings.TrimSpace(text)
	if b, _ := pem.Decode([]byte(text)); b != nil {
		if b.Type != "CERTIFICATE REQUEST" && b.Type != "NEW CERTIFICATE REQUEST" {
			return nil, false
		}
		return b.Bytes, true
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
	if err != nil || len(der) == 0 {
		return nil, false
	}
	return der, true
}

func (h *Handler) retrieve(w http.ResponseWriter, r *http.Request) {
	anon := &session{csrf: h.formToken(w, r)}
	if !checkFormToken(r) {
		h.forbidden(w, r, nil)
		return
	}
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 4*maxCSRText)
	d := retrieveData{CustomerID: strings.TrimSpace(r.PostFormValue("customer_id")), TransferID: strings.TrimSpace(r.PostFormValue("transfer_id")), Format: r.PostFormValue("format")}
	password := strings.TrimSpace(r.PostFormValue("transfer_password"))
	csrText := r.PostFormValue("csr")
	if d.Format != "der" {
		d.Format = "pem"
	}
	der, csrOK := parseCSR(csrText)
	switch {
	case businessid.Validate(d.CustomerID) != nil:
		d.Error = "retrieve.err.customer"
	case d.TransferID == "" || password == "" || len(d.TransferID) > 32 || len(password) > 16:
		d.Error = "retrieve.err.credentials"
	case len(csrText) > maxCSRText || !csrOK:
		d.Error = "retrieve.err.csr"
	}
	if d.Error != "" {
		h.render(w, r, anon, http.StatusBadRequest, "retrieve", "retrieve.title", d)
		return
	}
	env := h.svc.Config().Environment
	rid, err := h.svc.SignNew(ctx, &wire.SignNewCertificateRequest{Environment: env, CustomerID: d.CustomerID, TransferID: d.TransferID, TransferPassword: password, CertificateRequest: der})
	var cert []byte
	if err == nil {
		cert, err = h.svc.Get(ctx, &wire.GetCertificateRequest{Environment: env, CustomerID: d.CustomerID, RetrievalID: rid})
	}
	if err != nil {
		var se *service.Error
		if !errors.As(err, &se) || se.Code == wire.CodeInternal || se.Code == wire.CodeBusy {
			h.fail(w, r, nil, err)
			return
		}
		d.Error, d.Code, d.Message = "retrieve.refused", string(se.Code), se.Message
		status := http.StatusUnprocessableEntity
		if se.Code == wire.CodeNotReady {
			status = http.StatusServiceUnavailable
			d.Error = "retrieve.notReady"
		}
		h.render(w, r, anon, status, "retrieve", "retrieve.title", d)
		return
	}
	name := "certificate"
	if c, err := x509.ParseCertificate(cert); err == nil {
		name = strings.ToLower(c.SerialNumber.Text(16))
	}
	w.Header().Set("Cache-Control", "no-store")
	if d.Format == "der" {
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.cer"`)
		w.Write(cert)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.pem"`)
	pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: cert})
}
