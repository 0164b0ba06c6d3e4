package eservice_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// retrieveForm is the e-service's retrieval form, filled.
func retrieveForm(csrf, id, pw string, csrDER []byte, format string) url.Values {
	return url.Values{"csrf": {csrf}, "customer_id": {customer}, "transfer_id": {id}, "transfer_password": {pw},
		"csr": {string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}))}, "format": {format}}
}

// TestRetrieveInEService: the technical contact retrieves the certificate
// in the e-service with the CSR and the credentials, as PEM or DER; the
// credentials are single use as over SOAP (the same key gets the same
// certificate again, another key TRANSFER_USED), a cancelled order's are
// refused with ORDER_CANCELLED, and the form needs its CSRF token.
func TestRetrieveInEService(t *testing.T) {
	e := start(t, envOptions{})
	contact := e.client(t)
	_, page := get(t, contact, e.URL+"retrieve")
	csrf := csrfOf(t, page)
	if !strings.Contains(page, `name="csr"`) {
		t.Fatal("no CSR field")
	}
	cred := e.S.Order(t, customer, 0)
	key := irpkidtest.NewKey(t)
	csr := irpkidtest.CSR(t, key, customer)
	if resp, _ := post(t, contact, e.URL+"retrieve", url.Values{"customer_id": {customer}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", resp.StatusCode)
	}
	// Bad input: a clear error, nothing used.
	bad := retrieveForm(csrf, cred.TransferID, cred.TransferPassword, csr, "pem")
	bad.Set("csr", "not a CSR")
	if resp, body := post(t, contact, e.URL+"retrieve", bad); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "The CSR could not be read") {
		t.Fatalf("bad CSR: %d", resp.StatusCode)
	}
	resp, body := post(t, contact, e.URL+"retrieve", retrieveForm(csrf, cred.TransferID, cred.TransferPassword, csr, "pem"))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-pem-file" || !strings.Contains(resp.Header.Get("Content-Disposition"), ".pem") {
		t.Fatalf("PEM: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	b, _ := pem.Decode([]byte(body))
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("not a PEM certificate: %q", body)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.S.Client(t).VerifyIssued(cert, &key.PublicKey, customer); err != nil {
		t.Fatal(err)
	}
	// The same key again (an interrupted download): the same certificate,
	// now as DER.
	resp, body = post(t, contact, e.URL+"retrieve", retrieveForm(csrf, cred.TransferID, cred.TransferPassword, csr, "der"))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pkix-cert" || !bytes.Equal([]byte(body), cert.Raw) {
		t.Fatalf("DER: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// Another key: the credentials are used.
	resp, body = post(t, contact, e.URL+"retrieve", retrieveForm(csrf, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), "pem"))
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "TRANSFER_USED") || !strings.Contains(body, "The certificate was not issued") {
		t.Fatalf("used credentials: %d\n%s", resp.StatusCode, body)
	}
	// Over SOAP too: the same order is used.
	if _, err := e.S.Client(t).SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)); err == nil {
		t.Fatal("SOAP accepted credentials used in the e-service")
	}
	// A cancelled order.
	e.S.Clock.Advance(time.Minute)
	cred = e.S.Order(t, customer, 0)
	ctx := context.Background()
	views, _ := e.S.Service.Orders(ctx, customer)
	if err := e.S.Service.CancelOrder(ctx, customer, views[0].Ref, "test"); err != nil {
		t.Fatal(err)
	}
	resp, body = post(t, contact, e.URL+"retrieve", retrieveForm(csrf, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), "pem"))
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "ORDER_CANCELLED") || strings.Contains(body, cred.TransferPassword) {
		t.Fatalf("cancelled order: %d\n%s", resp.StatusCode, body)
	}
	// Finnish and Swedish pages.
	for lang, title := range map[string]string{"fi": "Nouda varmenne", "sv": "Hämta certifikat"} {
		req, _ := http.NewRequest("GET", e.URL+"retrieve", nil)
		req.Header.Set("Accept-Language", lang)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if !strings.Contains(string(b), "<h1>"+title+"</h1>") {
			t.Errorf("%s page lacks %q", lang, title)
		}
	}
}
