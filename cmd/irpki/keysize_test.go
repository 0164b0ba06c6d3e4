package main

import (
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeySizeRSA2048 : irpki makes RSA-2048 keys, the only size the real
// service supports; another size is refused for the real service's
// endpoints before anything is sent, and for another service generated
// with a note saying so (irpkid, by default like the real service, then
// refuses it with KEY_NOT_ALLOWED, which costs the order nothing).
func TestKeySizeRSA2048(t *testing.T) {
	h := newHarness(t)
	for _, svc := range []string{"test", "production"} {
		r := h.run(t, "", "enroll", "--dir", h.dir, "--customer-id", customer, "--transfer-id", "X", "--transfer-password", "Y", "--service", svc, "--trust", h.trust, "--key-size", "3072")
		if r.code != exitUsage || !strings.Contains(r.stderr, "supports only 2048-bit RSA keys") {
			t.Errorf("--service %s --key-size 3072: exit %d\n%s", svc, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(h.dir, "archive")); err == nil {
		t.Error("a refused key size sent a request")
	}

	cred := h.s.Order(t, customer, 0)
	r := h.run(t, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--customer-id", customer, "--transfer-id", cred.TransferID,
		"--transfer-password-stdin", "--endpoint", h.s.URL, "--trust", h.trust, "--key-size", "3072")
	if r.code == 0 || !strings.Contains(r.stderr, "note: generating RSA-3072 as asked; the real certificate service supports only 2048-bit RSA keys") || !strings.Contains(r.stderr, "KEY_NOT_ALLOWED") {
		t.Fatalf("--key-size 3072 against irpkid: exit %d\n%s", r.code, r.stderr)
	}
	// The default makes RSA-2048, which the same order still certifies.
	r = h.run(t, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--customer-id", customer, "--transfer-id", cred.TransferID,
		"--transfer-password-stdin", "--endpoint", h.s.URL, "--trust", h.trust, "--key-size", "2048")
	if r.code != 0 || strings.Contains(r.stderr, "note:") {
		t.Fatalf("enroll with RSA-2048: exit %d\n%s", r.code, r.stderr)
	}
	if n := h.current(t).Cert.PublicKey.(*rsa.PublicKey).N.BitLen(); n != 2048 {
		t.Errorf("installed RSA-%d", n)
	}
}
