package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// TestUnsignedFaultAfterSignNewIsLostAnswer: a proxy forwards
// SignNewCertificate to the service, which accepts it, and answers the
// client with a SOAP fault. A fault is unsigned: it must not burn the
// order. The enrolment stays pending with its key, a second irpki enroll
// with the same credentials finishes it (the service answers the repeated
// request with the same RetrievalId), and the fault's text is printed
// without control or bidirectional-override characters.
func TestUnsignedFaultAfterSignNewIsLostAnswer(t *testing.T) {
	h := newHarness(t)
	var faulted atomic.Int32
	const hostile = "Malformed\u202e request\u2066 \u009b31mred\u200b\r\nsecond line"
	proxy := irpkidtest.Proxy(t, h.s.URL, func(w http.ResponseWriter, body []byte) bool {
		if !bytes.Contains(body, []byte("SignNewCertificateRequest")) || faulted.Load() > 0 {
			return false
		}
		faulted.Add(1)
		// The service gets and accepts the request; its answer is lost.
		if _, err := irpkidtest.Forward(t.Context(), httptestRequest(t), h.s.URL, body); err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		w.Write(wire.EncodeFault(&wire.Fault{Client: true, Code: wire.CodeMalformed, String: hostile}))
		return true
	})
	r, cred := h.enrollThrough(t, proxy, 0)
	if r.code != exitError || faulted.Load() != 1 {
		t.Fatalf("enroll answered by a fault: exit %d (want %d), %d faults\n%s", r.code, exitError, faulted.Load(), r.stderr)
	}
	for _, bad := range []string{"\u202e", "\u2066", "\u009b", "\u200b", "\r"} {
		if strings.Contains(r.stderr, bad) {
			t.Errorf("the fault text was printed with %q:\n%q", bad, r.stderr)
		}
	}
	if !strings.Contains(r.stderr, "Malformed request 31mred second line") {
		t.Errorf("the cleaned fault text is not shown:\n%q", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "pending.json")); err != nil {
		t.Fatalf("the enrolment is not kept pending after a fault: %v", err)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "archive", "abandoned")); !os.IsNotExist(err) {
		t.Errorf("the enrolment was abandoned on an unsigned fault: %v", err)
	}
	// The same credentials finish it.
	r = h.run(t, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--transfer-id", cred.TransferID, "--transfer-password-stdin")
	if r.code != exitOK {
		t.Fatalf("second enroll with the same credentials: exit %d\n%s", r.code, r.stderr)
	}
	cs, err := h.s.Service.Certificates(t.Context(), customer)
	if err != nil || len(cs) != 1 {
		t.Fatalf("the service holds %d certificates (%v); want 1", len(cs), err)
	}
	if h.current(t).Serial() != cs[0].Serial {
		t.Errorf("installed %s, the service issued %s", h.current(t).Serial(), cs[0].Serial)
	}
}

// httptestRequest is a bare POST carrying the SOAP headers, for Forward.
func httptestRequest(t *testing.T) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "text/xml; charset=utf-8")
	r.Header.Set("SOAPAction", `"`+string(wire.OpSignNew)+`"`)
	return r
}
