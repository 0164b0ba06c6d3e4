package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// decodeRun reads the one JSON object enroll --json and renew --json print.
func decodeRun(t *testing.T, r result) runJSON {
	t.Helper()
	var v runJSON
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not one JSON object on stdout: %v\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	if dec.More() {
		t.Fatalf("more than one JSON object on stdout:\n%s", r.stdout)
	}
	if v.ExitCode != r.code {
		t.Errorf("exit_code %d, exit %d", v.ExitCode, r.code)
	}
	return v
}

// TestEnrollRenewJSON: enroll --json and renew --json print one JSON
// object on standard output for each outcome (enrolled, not_due, renewed,
// error), naming the certificates and their files, with the exit code.
func TestEnrollRenewJSON(t *testing.T) {
	h := newHarness(t)
	var down atomic.Bool
	proxy := irpkidtest.Proxy(t, h.s.URL, func(w http.ResponseWriter, body []byte) bool {
		if down.Load() && bytes.Contains(body, []byte("RenewCertificateRequest")) {
			irpkidtest.Unavailable(w)
			return true
		}
		return false
	})
	cred := h.s.Order(t, customer, 30*24*time.Hour)
	r := h.run(t, cred.TransferPassword+"\n", "enroll", "--json", "--dir", h.dir, "--customer-id", customer, "--transfer-id", cred.TransferID,
		"--transfer-password-stdin", "--endpoint", proxy, "--trust", h.trust)
	v := decodeRun(t, r)
	if r.code != exitOK || v.Result != "enrolled" || v.Certificate == nil || v.Certificate.Serial != h.current(t).SerialText() || v.Dir != h.dir {
		t.Fatalf("enroll --json: exit %d %+v\n%s", r.code, v, r.stderr)
	}
	if b, err := os.ReadFile(v.Certificate.KeyFile); err != nil || !bytes.Contains(b, []byte("PRIVATE KEY")) {
		t.Errorf("key_file %s: %v", v.Certificate.KeyFile, err)
	}
	first := v.Certificate.Serial

	r = h.run(t, "", "renew", "--json", "--dir", h.dir)
	if v = decodeRun(t, r); r.code != exitOK || v.Result != "not_due" || v.WindowOpens.IsZero() || v.Certificate.Serial != first {
		t.Errorf("renew --json outside the window: exit %d %+v", r.code, v)
	}

	st, _ := h.status(t)
	h.s.Clock.Set(st.RenewAt)
	down.Store(true)
	r = h.run(t, "", "renew", "--json", "--dir", h.dir)
	if v = decodeRun(t, r); r.code != exitError || v.Result != "error" || !strings.Contains(v.Error, "503") {
		t.Errorf("renew --json with the service down: exit %d %+v", r.code, v)
	}
	down.Store(false)
	r = h.run(t, "", "renew", "--json", "--dir", h.dir)
	v = decodeRun(t, r)
	if r.code != exitOK || v.Result != "renewed" || v.Previous == nil || v.Previous.Serial != first || v.Certificate.Serial != h.current(t).SerialText() {
		t.Errorf("renew --json: exit %d %+v\n%s", r.code, v, r.stderr)
	}

	// Bad flags: still one object, exit 2.
	r = h.run(t, "", "enroll", "--json", "--dir", h.dir, "--key-size", "1000")
	if v = decodeRun(t, r); r.code != exitUsage || v.Result != "error" {
		t.Errorf("enroll --json with bad flags: exit %d %+v", r.code, v)
	}
}
