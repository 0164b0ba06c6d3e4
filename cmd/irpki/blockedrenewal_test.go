package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRefusedReenrolmentBlocksRenewal: a re-enrolment refused with a code
// that may not be final is kept, and keeps renew from renewing the valid
// certificate in place. status and watch must say so plainly, with what
// clears it, instead of "valid" and "the pending renewal request ... is
// sent again once due" (nothing sends an enrolment again), and fail from
// the renewal moment on; giving the enrolment up as they say lets the
// certificate renew (found in review).
func TestRefusedReenrolmentBlocksRenewal(t *testing.T) {
	h := newHarness(t)
	var refuse, down atomic.Bool
	var sent atomic.Int32
	proxy := signNewRefusingProxy(t, h.s, &refuse, &down, &sent)
	h.enroll(t, 0)
	old := h.current(t)
	refuse.Store(true)
	if r, _ := h.reenrollThrough(t, proxy); r.code != exitError || !strings.Contains(r.stderr, "E2002") {
		t.Fatalf("refused re-enrolment: exit %d\n%s", r.code, r.stderr)
	}
	enroll := "irpki enroll --dir " + h.dir
	abandon := "irpki abandon --dir " + h.dir
	pending := filepath.Join(h.dir, "pending.json")
	giveUp := filepath.Join(h.dir, "archive", "abandoned") + string(filepath.Separator)
	blocked := func(what, out string) {
		t.Helper()
		for _, want := range []string{"blocked", old.Serial(), enroll, "E2002", abandon + ":", giveUp} {
			if !strings.Contains(out, want) {
				t.Errorf("%s does not say %q:\n%s", what, want, out)
			}
		}
		if strings.Contains(out, "pending renewal request") || strings.Contains(out, "renew --force") {
			t.Errorf("%s calls the enrolment a renewal request:\n%s", what, out)
		}
		// A refused enrolment holds no certificate: no --force needed,
		// and no moving files by hand.
		if strings.Contains(out, abandon+" --force") || strings.Contains(out, "move ") {
			t.Errorf("%s: giving up a refused enrolment needs only %q:\n%s", what, abandon, out)
		}
	}

	// Before the renewal moment: exit 0, but said plainly.
	r := h.run(t, "", "status", "--dir", h.dir)
	if r.code != statusValid {
		t.Errorf("status before the window: exit %d, want %d", r.code, statusValid)
	}
	blocked("status before the window", r.stdout)
	if st, _ := h.status(t); !st.RenewalBlocked {
		t.Errorf("status --json: renewal_blocked not set: %+v", st)
	}
	r = h.run(t, "", "watch", "--dir", h.dir, "--once")
	if r.code != exitOK {
		t.Errorf("watch --once before the renewal moment: exit %d, want 0\n%s", r.code, r.stderr)
	}
	blocked("watch --once before the renewal moment", r.stderr)

	// From the renewal moment: non-zero.
	st, _ := h.status(t)
	h.s.Clock.Set(st.RenewAt)
	r = h.run(t, "", "status", "--dir", h.dir)
	if r.code == statusValid {
		t.Errorf("status at the renewal moment: exit %d, want non-zero", r.code)
	}
	blocked("status at the renewal moment", r.stdout)
	r = h.run(t, "", "watch", "--dir", h.dir, "--once")
	if r.code != exitError {
		t.Errorf("watch --once at the renewal moment: exit %d, want %d", r.code, exitError)
	}
	blocked("watch --once at the renewal moment", r.stderr)
	r = h.run(t, "", "renew", "--dir", h.dir)
	if r.code != exitError {
		t.Errorf("renew: exit %d, want %d", r.code, exitError)
	}
	blocked("renew", r.stderr)
	if h.current(t).Serial() != old.Serial() {
		t.Fatal("renewed with the enrolment pending")
	}

	// Giving the enrolment up as told: its key is kept, and the
	// certificate renews.
	r = h.run(t, "", "abandon", "--dir", h.dir)
	if r.code != exitOK {
		t.Fatalf("abandon: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"abandoned the pending enrolment", "E2002", pending, giveUp, "state now: renewal_window_open: "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("abandon does not say %q:\n%s", want, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("abandon warned about a refused enrolment:\n%s", r.stderr)
	}
	ents, err := os.ReadDir(giveUp)
	if err != nil || len(ents) != 1 {
		t.Fatalf("archive/abandoned: %v, %v; want the enrolment's file", ents, err)
	}
	given := filepath.Join(giveUp, ents[0].Name())
	if !strings.Contains(r.stdout, given) {
		t.Errorf("abandon does not name %s:\n%s", given, r.stdout)
	}
	if b, err := os.ReadFile(given); err != nil || !strings.Contains(string(b), "PRIVATE KEY") || !strings.Contains(string(b), "E2002") {
		t.Errorf("the given-up enrolment's file %s: %v; want its key and refusal", given, err)
	}
	if _, err := os.Stat(pending); !os.IsNotExist(err) {
		t.Errorf("pending.json after abandon: %v", err)
	}
	if st, _ := h.status(t); st.RenewalBlocked || st.Pending != "" {
		t.Errorf("status after abandon: %+v", st)
	}
	r = h.run(t, "", "renew", "--dir", h.dir)
	if r.code != exitOK || h.current(t).Serial() == old.Serial() {
		t.Errorf("renew after abandon: exit %d, current %s (was %s)\n%s", r.code, h.current(t).Serial(), old.Serial(), r.stderr)
	}
	if r := h.run(t, "", "abandon", "--dir", h.dir); r.code != exitOK || !strings.Contains(r.stdout, "nothing to abandon") {
		t.Errorf("abandon with nothing pending: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
