package main

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/renewal"
)

// abandonedFiles lists DIR/archive/abandoned.
func (h *harness) abandonedFiles(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(h.dir, "archive", "abandoned"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, filepath.Join(h.dir, "archive", "abandoned", e.Name()))
	}
	return names
}

// TestAbandonAcceptedEnrolment: a re-enrolment the service accepted (its
// RetrievalId is saved; GetCertificate was down) may have a certificate
// waiting: irpki abandon refuses it, says what finishes it and how to give
// it up all the same, and is not forced by IRPKI_FORCE or a config file's
// force (meant for irpki renew); --force on the command line gives it up,
// warning that the service may hold a certificate for its key, and the
// current certificate renews again.
func TestAbandonAcceptedEnrolment(t *testing.T) {
	h := newHarness(t)
	var refuse, down atomic.Bool
	var sent atomic.Int32
	proxy := signNewRefusingProxy(t, h.s, &refuse, &down, &sent)
	h.enroll(t, 0)
	old := h.current(t)
	down.Store(true)
	if r, _ := h.reenrollThrough(t, proxy); r.code != exitError {
		t.Fatalf("re-enrolment with GetCertificate down: exit %d\n%s", r.code, r.stderr)
	}
	pendingFile := filepath.Join(h.dir, "pending.json")
	b, err := os.ReadFile(pendingFile)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		RetrievalID string `json:"retrieval_id"`
	}
	if err := json.Unmarshal(b, &p); err != nil || p.RetrievalID == "" {
		t.Fatalf("pending.json has no RetrievalId: %v\n%s", err, b)
	}
	force := "irpki abandon --dir " + h.dir + " --force"
	if r := h.run(t, "", "status", "--dir", h.dir); !strings.Contains(r.stdout, force) {
		t.Errorf("status of the blocked renewal does not say that giving the enrolment up takes %q:\n%s", force, r.stdout)
	}

	refused := func(what string, r result) {
		t.Helper()
		if r.code != exitError {
			t.Errorf("%s: exit %d, want %d\n%s%s", what, r.code, exitError, r.stdout, r.stderr)
		}
		for _, want := range []string{"may have issued a certificate", "RetrievalId " + p.RetrievalID, "irpki enroll --dir " + h.dir, force} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s does not say %q:\n%s", what, want, r.stderr)
			}
		}
		if a, err := os.ReadFile(pendingFile); err != nil || string(a) != string(b) {
			t.Errorf("%s: pending.json changed or gone: %v", what, err)
		}
		if a := h.abandonedFiles(t); len(a) != 0 {
			t.Errorf("%s: abandoned %v", what, a)
		}
	}
	refused("abandon", h.run(t, "", "abandon", "--dir", h.dir))
	h.env["IRPKI_FORCE"] = "true"
	refused("abandon with IRPKI_FORCE", h.run(t, "", "abandon", "--dir", h.dir))
	delete(h.env, "IRPKI_FORCE")
	cfg := filepath.Join(t.TempDir(), "irpki.json")
	if err := os.WriteFile(cfg, []byte(`{"force": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	refused("abandon with a config file's force", h.run(t, "", "abandon", "--dir", h.dir, "--config", cfg))

	r := h.run(t, "", "abandon", "--dir", h.dir, "--force")
	if r.code != exitOK {
		t.Fatalf("abandon --force: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	a := h.abandonedFiles(t)
	if len(a) != 1 {
		t.Fatalf("abandoned %v, want the enrolment", a)
	}
	if got, err := os.ReadFile(a[0]); err != nil || string(got) != string(b) {
		t.Errorf("%s is not the pending file: %v", a[0], err)
	}
	if !strings.Contains(r.stdout, "abandoned the pending enrolment") || !strings.Contains(r.stdout, a[0]) {
		t.Errorf("abandon --force does not say what it did:\n%s", r.stdout)
	}
	for _, want := range []string{"the service may hold a certificate for that key", p.RetrievalID, a[0]} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("abandon --force does not warn %q:\n%s", want, r.stderr)
		}
	}
	down.Store(false)
	h.s.Clock.Set(old.Cert.NotAfter.Add(-30 * 24 * time.Hour))
	if r := h.run(t, "", "renew", "--dir", h.dir); r.code != exitOK || h.current(t).Serial() == old.Serial() {
		t.Errorf("renew after abandon --force: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestStatusDeliveredUnverified: a delivered certificate refused for its
// chain is kept in pending.json; status (text and --json) says that it
// awaits verification and which run installs it, and abandon refuses to
// give it up.
func TestStatusDeliveredUnverified(t *testing.T) {
	h := newHarness(t)
	responses := writePEM(t, h.s.CA.Root, h.s.CA.Signing)
	issuers := writePEM(t, h.s.CA.Issuing, h.s.CA.Root)
	cred := h.s.Order(t, customer, 0)
	if r := h.run(t, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--customer-id", customer, "--transfer-id", cred.TransferID,
		"--transfer-password-stdin", "--endpoint", h.s.URL, "--trust", responses); r.code != exitError {
		t.Fatalf("enroll without --issuer-trust: exit %d\n%s", r.code, r.stderr)
	}
	check := func(what, cmd string) {
		t.Helper()
		serial := deliveredSerial(t, h.dir)
		st, _ := h.status(t)
		if st.DeliveredUnverified != serial {
			t.Errorf("%s: status --json delivered_unverified = %q, want %q", what, st.DeliveredUnverified, serial)
		}
		r := h.run(t, "", "status", "--dir", h.dir)
		want := fmt.Sprintf("certificate %s awaits verification", serial)
		for _, want := range []string{want, "fix --issuer-trust / --trust", "irpki " + cmd + " --dir " + h.dir + " --issuer-trust FILE"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s: status does not say %q:\n%s", what, want, r.stdout)
			}
		}
		r = h.run(t, "", "abandon", "--dir", h.dir)
		if r.code != exitError || !strings.Contains(r.stderr, "certificate "+serial+", delivered but not yet verified") {
			t.Errorf("%s: abandon: exit %d, want %d and the delivered certificate named\n%s", what, r.code, exitError, r.stderr)
		}
	}
	check("enrolment", "enroll")
	if r := h.run(t, "", "enroll", "--dir", h.dir, "--issuer-trust", issuers); r.code != exitOK {
		t.Fatalf("enroll --issuer-trust: exit %d\n%s", r.code, r.stderr)
	}
	if st, _ := h.status(t); st.DeliveredUnverified != "" {
		t.Errorf("status after installing it: delivered_unverified = %q", st.DeliveredUnverified)
	}
	if r := h.run(t, "", "status", "--dir", h.dir); strings.Contains(r.stdout, "awaits verification") {
		t.Errorf("status after installing it:\n%s", r.stdout)
	}

	// A renewal's delivered certificate, refused for a wrong bundle.
	st, _ := h.status(t)
	h.s.Clock.Set(st.RenewAt)
	if r := h.run(t, "", "renew", "--dir", h.dir, "--issuer-trust", responses); r.code != exitError {
		t.Fatalf("renew with a wrong --issuer-trust: exit %d\n%s", r.code, r.stderr)
	}
	check("renewal", "renew")
}

// deliveredSerial returns the serial of the certificate pending.json holds
// as unverified_cert_pem.
func deliveredSerial(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "pending.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Unverified string `json:"unverified_cert_pem"`
	}
	if err := json.Unmarshal(b, &p); err != nil || p.Unverified == "" {
		t.Fatalf("pending.json holds no delivered certificate: %v\n%s", err, b)
	}
	blk, _ := pem.Decode([]byte(p.Unverified))
	if blk == nil {
		t.Fatal("unverified_cert_pem: not PEM")
	}
	certs, err := client.ParseCertificates([]byte(p.Unverified))
	if err != nil || len(certs) != 1 {
		t.Fatalf("unverified_cert_pem: %v", err)
	}
	return serial.Text(certs[0].SerialNumber) // as irpki shows serials: full width
}

// TestAbandonRefusesDeliveredSuccessor: a renewal whose successor was
// delivered (refused for a wrong issuer bundle, saved in pending.json) is
// not given up even with --force: the service counts the successor as
// retrieved, and every later renewal of the current certificate would be
// refused (ALREADY_RENEWED). abandon says how to finish it instead, and
// that run installs the successor.
func TestAbandonRefusesDeliveredSuccessor(t *testing.T) {
	h := newHarness(t)
	_, serial := h.deliverUntrusted(t)
	b, err := os.ReadFile(filepath.Join(h.dir, "pending.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := h.run(t, "", "abandon", "--dir", h.dir, "--force")
	if r.code != exitError {
		t.Fatalf("abandon --force of a delivered successor: exit %d, want %d\n%s%s", r.code, exitError, r.stdout, r.stderr)
	}
	for _, want := range []string{"certificate " + serial + ", delivered but not yet verified", "ALREADY_RENEWED", "even with --force",
		"irpki renew --dir " + h.dir + " --issuer-trust FILE", "order a new certificate"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("abandon --force does not say %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stdout, "renew now") {
		t.Errorf("abandon --force says renew now:\n%s", r.stdout)
	}
	if a, err := os.ReadFile(filepath.Join(h.dir, "pending.json")); err != nil || string(a) != string(b) {
		t.Errorf("pending.json changed or gone: %v", err)
	}
	if a := h.abandonedFiles(t); len(a) != 0 {
		t.Errorf("abandoned %v", a)
	}
	issuers := writePEM(t, h.s.CA.Issuing, h.s.CA.Root)
	if r := h.run(t, "", "renew", "--dir", h.dir, "--issuer-trust", issuers); r.code != exitOK || h.current(t).SerialText() != serial {
		t.Errorf("renew with the right --issuer-trust: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestExpiredWithDeliveredSuccessor: status, renew and watch agree about a
// renewal whose successor was delivered (refused for a wrong issuer
// bundle) once the current certificate has expired: not "order a new
// certificate" but fix the trust and run irpki renew; and, once the
// successor has expired itself, that it can never be installed and a new
// order is needed (exit 3), not the issuer-trust hint.
func TestExpiredWithDeliveredSuccessor(t *testing.T) {
	h := newHarness(t)
	old, serial := h.deliverUntrusted(t)
	h.s.Clock.Set(old.Cert.NotAfter.Add(24 * time.Hour))
	r := h.run(t, "", "status", "--dir", h.dir)
	state := r.stdout[strings.Index(r.stdout, "State:"):]
	for _, want := range []string{"successor " + serial, "irpki renew --dir " + h.dir + " --issuer-trust FILE", "no new order is needed"} {
		if !strings.Contains(state, want) {
			t.Errorf("status's State line does not say %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "order a new certificate") {
		t.Errorf("status says to order anew:\n%s", r.stdout)
	}

	// The successor expired too: it can never be installed.
	st, _ := h.status(t)
	h.s.Clock.Set(st.DeliveredNotAfter.Add(time.Hour))
	issuers := writePEM(t, h.s.CA.Issuing, h.s.CA.Root)
	for _, args := range [][]string{{"renew", "--dir", h.dir, "--issuer-trust", issuers}, {"watch", "--dir", h.dir, "--once"}} {
		r := h.run(t, "", args...)
		if r.code != exitNewOrder {
			t.Errorf("%s: exit %d, want %d\n%s%s", args[0], r.code, exitNewOrder, r.stdout, r.stderr)
		}
		for _, want := range []string{"can never be installed", "order a new certificate", "irpki enroll --dir " + h.dir} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s does not say %q:\n%s", args[0], want, r.stderr)
			}
		}
	}
	r = h.run(t, "", "status", "--dir", h.dir)
	if r.code != statusInvalid || strings.Contains(r.stdout, "fix --issuer-trust") || !strings.Contains(r.stdout, "can never be installed") {
		t.Errorf("status with the successor expired: exit %d\n%s", r.code, r.stdout)
	}
}

// deliverUntrusted enrols, then renews inside the window with an issuer
// trust bundle the successor does not chain to: the service delivers the
// successor, which irpki keeps in pending.json unverified. It returns the
// current certificate and the successor's serial.
func (h *harness) deliverUntrusted(t *testing.T) (*renewal.Installed, string) {
	t.Helper()
	h.enroll(t, 0)
	old := h.current(t)
	h.s.Clock.Set(old.Cert.NotAfter.Add(-30 * 24 * time.Hour))
	wrong := writePEM(t, h.s.CA.Root, h.s.CA.Signing)
	if r := h.run(t, "", "renew", "--dir", h.dir, "--issuer-trust", wrong); r.code != exitError {
		t.Fatalf("renew with a wrong --issuer-trust: exit %d\n%s", r.code, r.stderr)
	}
	return old, deliveredSerial(t, h.dir)
}
