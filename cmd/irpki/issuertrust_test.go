package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writePEM(t *testing.T, certs ...*x509.Certificate) string {
	t.Helper()
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	f, err := os.CreateTemp(t.TempDir(), "bundle-*.pem")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(b)
	f.Close()
	return f.Name()
}

// TestIssuerTrustFlag: as with the real service, the --trust bundle signs
// the responses but does not issue the certificates. Without
// --issuer-trust the delivered certificate is refused, the message says
// which bundle to give, and the request stays pending; --issuer-trust
// (flag, or IRPKI_ISSUER_TRUST) finishes it, is saved, and serves the
// renewals; irpki renew --issuer-trust replaces a wrong one.
func TestIssuerTrustFlag(t *testing.T) {
	h := newHarness(t)
	responses := writePEM(t, h.s.CA.Root, h.s.CA.Signing)
	issuers := writePEM(t, h.s.CA.Issuing, h.s.CA.Root)
	wrong := writePEM(t, h.s.CA.Signing)
	cred := h.s.Order(t, customer, 0)
	r := h.run(t, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--customer-id", customer, "--transfer-id", cred.TransferID,
		"--transfer-password-stdin", "--endpoint", h.s.URL, "--trust", responses)
	if r.code != exitError || !strings.Contains(r.stderr, "--issuer-trust") || !strings.Contains(r.stderr, "Data Providers") || !strings.Contains(r.stderr, responses) {
		t.Fatalf("enroll without --issuer-trust: exit %d, want 1 and a message naming --issuer-trust and the Data Providers CA\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "pending.json")); err != nil {
		t.Fatalf("the pending enrolment was lost: %v", err)
	}
	h.env["IRPKI_ISSUER_TRUST"] = issuers
	r = h.run(t, "", "enroll", "--dir", h.dir)
	delete(h.env, "IRPKI_ISSUER_TRUST")
	if r.code != exitOK {
		t.Fatalf("enroll --dir with IRPKI_ISSUER_TRUST: exit %d\n%s", r.code, r.stderr)
	}
	old := h.current(t)
	chain, _ := os.ReadFile(filepath.Join(h.dir, "chain.pem"))
	if !strings.Contains(string(chain), strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.s.CA.Issuing.Raw})))) {
		t.Error("chain.pem lacks the issuing CA")
	}
	// The saved setting serves the renewal.
	st, _ := h.status(t)
	h.s.Clock.Set(st.RenewAt)
	if r := h.run(t, "", "renew", "--dir", h.dir); r.code != exitOK || h.current(t).Serial() == old.Serial() {
		t.Fatalf("renew with the saved issuer trust: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A wrong issuer bundle: refused, naming it; the right one finishes.
	second := h.current(t)
	h.s.Clock.Set(second.Cert.NotAfter.Add(-50 * 24 * time.Hour))
	r = h.run(t, "", "renew", "--dir", h.dir, "--issuer-trust", wrong)
	if r.code != exitError || !strings.Contains(r.stderr, wrong) || !strings.Contains(r.stderr, "issuer trust bundle") {
		t.Fatalf("renew with a wrong issuer trust: exit %d\n%s", r.code, r.stderr)
	}
	r = h.run(t, "", "renew", "--dir", h.dir, "--issuer-trust", issuers)
	if r.code != exitOK || h.current(t).Serial() == second.Serial() || !strings.Contains(r.stderr, "resuming") {
		t.Fatalf("renew --issuer-trust after the refusal: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
