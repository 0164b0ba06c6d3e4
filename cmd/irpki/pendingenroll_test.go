package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/renewal"
)

// TestPendingEnrollmentNotANewOrder: with an interrupted enrolment whose
// RetrievalId is known, renew, watch --once and status tell the user to
// run irpki enroll --dir DIR, not to order a new certificate.
func TestPendingEnrollmentNotANewOrder(t *testing.T) {
	h := newHarness(t)
	var down atomic.Bool
	proxy := irpkidtest.GetDownProxy(t, h.s.URL, &down)
	down.Store(true)
	r, _ := h.enrollThrough(t, proxy, 0)
	if r.code != exitError {
		t.Fatalf("enroll with GetCertificate down: exit %d\n%s", r.code, r.stderr)
	}
	want := "irpki enroll --dir " + h.dir
	for _, args := range [][]string{{"renew", "--dir", h.dir}, {"watch", "--dir", h.dir, "--once"}} {
		r := h.run(t, "", args...)
		if r.code != exitError || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "order a") {
			t.Errorf("irpki %s: exit %d, want 1 and %q, no new order\n%s", args[0], r.code, want, r.stderr)
		}
	}
	// Exit 2 (no usable certificate: critical for monitoring), documented
	// as such, with the pending enrolment as the exception to a new order.
	if r := h.run(t, "", "status", "--dir", h.dir); r.code != statusInvalid || !strings.Contains(r.stdout, want) || strings.Contains(r.stdout, "order a") {
		t.Errorf("status: exit %d, want %d\n%s", r.code, statusInvalid, r.stdout)
	}
	if r := h.run(t, "", "status", "--help"); !strings.Contains(r.stdout, "2 no usable certificate") || !strings.Contains(r.stdout, "unless an interrupted enrolment is pending") {
		t.Errorf("status --help does not document exit 2 for a pending enrolment:\n%s", r.stdout)
	}
	down.Store(false)
	if r := h.run(t, "", "enroll", "--dir", h.dir); r.code != exitOK {
		t.Fatalf("enroll --dir: exit %d\n%s", r.code, r.stderr)
	}
}

// TestMissingDirectory: a mistyped --dir is reported as such, not as a
// directory that needs a new order.
func TestMissingDirectory(t *testing.T) {
	h := newHarness(t)
	typo := filepath.Join(t.TempDir(), "typo")
	r := h.run(t, "", "status", "--dir", typo)
	if r.code != statusError || !strings.Contains(r.stderr, "does not exist") || strings.Contains(r.stdout+r.stderr, "order a") {
		t.Errorf("status: exit %d, want %d and 'does not exist'\n%s%s", r.code, statusError, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"renew", "--dir", typo}, {"watch", "--dir", typo, "--once"}, {"export", "--dir", typo, "--pem-chain", filepath.Join(t.TempDir(), "x.pem")}, {"abandon", "--dir", typo}} {
		r := h.run(t, "", args...)
		if r.code != exitError || !strings.Contains(r.stderr, "does not exist") || strings.Contains(r.stderr, "order a") {
			t.Errorf("irpki %s: exit %d, want 1 and 'does not exist'\n%s", args[0], r.code, r.stderr)
		}
	}
}

// TestPendingReEnrollmentExpired is the reviewer's case: a re-enrolment of
// a directory whose certificate has expired is interrupted (its answer
// lost, or refused with a code that may not be final). status, renew and
// watch --once must all say to run irpki enroll --dir DIR, not to order a
// new certificate, and watch must not exit 3 (new order).
func TestPendingReEnrollmentExpired(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 0)
	h.s.Clock.Set(h.current(t).Cert.NotAfter.Add(time.Hour))
	var refuse, down atomic.Bool
	var sent atomic.Int32
	proxy := signNewRefusingProxy(t, h.s, &refuse, &down, &sent)
	want := "irpki enroll --dir " + h.dir
	check := func(what string) {
		t.Helper()
		r := h.run(t, "", "status", "--dir", h.dir)
		state := regexp.MustCompile(`(?m)^State: .*$`).FindString(r.stdout)
		if r.code != statusInvalid || !strings.Contains(state, "expired") || !strings.Contains(state, want) || strings.Contains(state, renewal.ErrExpired.Error()) {
			t.Errorf("%s: status does not advise %q:\n%s", what, want, r.stdout)
		}
		for _, args := range [][]string{{"renew", "--dir", h.dir}, {"watch", "--dir", h.dir, "--once"}} {
			r := h.run(t, "", args...)
			if r.code != exitError || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, renewal.ErrExpired.Error()) {
				t.Errorf("%s: irpki %s: exit %d, want 1 and %q\n%s", what, args[0], r.code, want, r.stderr)
			}
		}
	}

	// The answer to GetCertificate is lost: the RetrievalId is known.
	down.Store(true)
	r, cred := h.reenrollThrough(t, proxy)
	if r.code != exitError {
		t.Fatalf("re-enrol with GetCertificate down: exit %d\n%s", r.code, r.stderr)
	}
	check("answer lost")

	// Other credentials, refused: the request is kept with its refusal.
	down.Store(false)
	refuse.Store(true)
	cred = h.s.Order(t, customer, 0)
	if r := h.run(t, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--transfer-id", cred.TransferID,
		"--transfer-password-stdin"); r.code != exitError || !strings.Contains(r.stderr, "E2002") {
		t.Fatalf("re-enrol refused: exit %d\n%s", r.code, r.stderr)
	}
	check("refused")

	refuse.Store(false)
	if r := h.run(t, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--transfer-password-stdin"); r.code != exitOK {
		t.Fatalf("enroll --dir: exit %d\n%s", r.code, r.stderr)
	}
	if st, code := h.status(t); code != statusValid || st.Pending != "" {
		t.Errorf("after the re-enrolment: exit %d %+v", code, st)
	}
}
