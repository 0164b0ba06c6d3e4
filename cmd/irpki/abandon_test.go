package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
	cred := h.s.Order(t, customer, 0)
	if r := h.run(t, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--transfer-id", cred.TransferID,
		"--transfer-password-stdin", "--endpoint", proxy); r.code != exitError {
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
