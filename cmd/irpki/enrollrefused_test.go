package main

import (
	"bytes"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// signNewRefusingProxy is a Proxy in front of s that, while refuse is set,
// answers SignNewCertificate with a FAIL correctly signed by s's signing
// key with the code E2002, outside irpkid's catalogue as the real
// service's codes are; sent counts the SignNewCertificate requests that
// reach it. While getDown is set, GetCertificate gets HTTP 503.
func signNewRefusingProxy(t *testing.T, s *irpkidtest.Server, refuse, getDown *atomic.Bool, sent *atomic.Int32) string {
	t.Helper()
	signer, err := wire.NewSigner(s.CA.SigningKey, s.CA.SigningChain())
	if err != nil {
		t.Fatal(err)
	}
	return irpkidtest.Proxy(t, s.URL, func(w http.ResponseWriter, body []byte) bool {
		if getDown.Load() && bytes.Contains(body, []byte("GetCertificateRequest")) {
			irpkidtest.Unavailable(w)
			return true
		}
		if !bytes.Contains(body, []byte("SignNewCertificateRequest")) {
			return false
		}
		sent.Add(1)
		if !refuse.Load() {
			return false
		}
		irpkidtest.WriteFail(w, signer, wire.OpSignNew, "E2002", "Certificate not issued.")
		return true
	})
}

// TestEnrollRefusedAdvice is the reviewer's case: the service refuses an
// enrolment with a code that may not be final. Nothing sends an enrolment
// again on a window or a backoff, so status, renew and enroll itself must
// name what does: irpki enroll --dir DIR with the TransferPassword (or new
// credentials), not irpki renew --force or the renewal window; and enroll
// run so sends it again with the same key.
func TestEnrollRefusedAdvice(t *testing.T) {
	h := newHarness(t)
	var refuse, down atomic.Bool
	var sent atomic.Int32
	proxy := signNewRefusingProxy(t, h.s, &refuse, &down, &sent)
	refuse.Store(true)
	r, cred := h.enrollThrough(t, proxy, 0)
	if r.code != exitError || !strings.Contains(r.stderr, "E2002") || sent.Load() != 1 {
		t.Fatalf("refused enroll: exit %d, %d requests\n%s", r.code, sent.Load(), r.stderr)
	}
	want := "irpki enroll --dir " + h.dir
	r = h.run(t, "", "status", "--dir", h.dir)
	if r.code != statusInvalid {
		t.Errorf("status of a refused enrolment: exit %d, want %d (no usable certificate)", r.code, statusInvalid)
	}
	for _, bad := range []string{"renew --force", "renewal window", "the next run resumes"} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("status of a refused enrolment says %q:\n%s", bad, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "E2002") || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "TransferPassword") {
		t.Errorf("status of a refused enrolment does not report the refusal and advise %q with the TransferPassword:\n%s", want, r.stdout)
	}
	st, _ := h.status(t)
	if st.Refused == nil || st.Refused.Code != "E2002" || !st.Refused.RetryAt.IsZero() {
		t.Errorf("status --json refused = %+v, want E2002 and no retry_at (nothing retries an enrolment by itself)", st.Refused)
	}
	r = h.run(t, "", "renew", "--dir", h.dir, "--force")
	if r.code != exitError || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "renew --force") {
		t.Errorf("renew --force: exit %d, want 1 and %q\n%s", r.code, want, r.stderr)
	}
	// Without the password enroll says why it is needed: the request was
	// refused, not left without an answer.
	r = h.run(t, "", "enroll", "--dir", h.dir)
	if r.code != exitUsage || !strings.Contains(r.stderr, "E2002") || strings.Contains(r.stderr, "without an answer") || sent.Load() != 1 {
		t.Errorf("enroll --dir without the password: exit %d, %d requests\n%s", r.code, sent.Load(), r.stderr)
	}
	// With it, the request is sent again at once with the same key.
	refuse.Store(false)
	r = h.run(t, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--transfer-password-stdin")
	if r.code != exitOK || sent.Load() != 2 || !strings.Contains(r.stderr, "E2002") {
		t.Fatalf("enroll --dir with the password: exit %d, %d requests\n%s", r.code, sent.Load(), r.stderr)
	}
	if st, code := h.status(t); code != statusValid || st.Pending != "" || st.Refused != nil {
		t.Errorf("status after the enrolment: exit %d %+v", code, st)
	}
}
