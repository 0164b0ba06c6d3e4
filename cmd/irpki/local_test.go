package main

import (
	"strings"
	"testing"
)

// TestServiceLocalFollowsLocalURL: --service local reaches irpkid where
// IRPKI_LOCAL_URL (--local-url) says it serves, not only on the default
// port; the endpoint saved is that URL.
func TestServiceLocalFollowsLocalURL(t *testing.T) {
	h := newHarness(t)
	h.env["IRPKI_LOCAL_URL"] = h.s.URL
	cred := h.s.Order(t, customer, 0)
	r := h.run(t, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--customer-id", customer, "--transfer-id", cred.TransferID,
		"--transfer-password-stdin", "--service", "local", "--trust", h.trust)
	if r.code != exitOK {
		t.Fatalf("enroll --service local with IRPKI_LOCAL_URL: exit %d\n%s", r.code, r.stderr)
	}
	if r := h.run(t, "", "status", "--dir", h.dir, "--json"); r.code != statusValid {
		t.Fatalf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The flag, and a URL that is not this machine's over plain HTTP, refused.
	delete(h.env, "IRPKI_LOCAL_URL")
	r = h.run(t, "", "enroll", "--dir", t.TempDir(), "--customer-id", customer, "--transfer-id", "x", "--transfer-password", "y",
		"--service", "local", "--local-url", "http://192.0.2.1:8080/2017/10/CertificateServices", "--trust", h.trust)
	if r.code != exitUsage || !strings.Contains(r.stderr, "only for irpkid on this machine") {
		t.Errorf("--local-url over plain HTTP to another machine: exit %d\n%s", r.code, r.stderr)
	}
}
