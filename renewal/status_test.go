package renewal

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestExpiredCurrentWithIssuedSuccessor: a renewal the service accepted
// (its RetrievalId saved) whose certificate was not fetched yet is still
// finished by irpki renew once the current certificate has expired: the
// successor is issued, GetCertificate needs no signature, and the resumed
// request is verified as usual. Status's message says so (and no new
// order), not "order a new certificate".
func TestExpiredCurrentWithIssuedSuccessor(t *testing.T) {
	e := newEnv(t)
	old := e.enroll(t, 0)
	e.s.Clock.Set(old.Cert.NotAfter.Add(-10 * 24 * time.Hour))
	m := e.manager(t)
	m.crash = func(s Step) bool { return s == StepIDSaved }
	if _, err := m.Renew(context.Background(), RenewOptions{}); !errors.Is(err, errCrash) {
		t.Fatalf("renew: %v, want a crash once the RetrievalId is saved", err)
	}
	e.s.Clock.Set(old.Cert.NotAfter.Add(24 * time.Hour))
	st, err := e.manager(t).Status()
	if err != nil || st.State != StateExpired || st.Pending != "renew (RetrievalId known)" {
		t.Fatalf("status: %+v, %v; want expired with the renewal pending", st, err)
	}
	msg := st.Message()
	for _, want := range []string{"the service has issued a successor", "irpki renew --dir " + e.dir, "no new order is needed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message does not say %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "order a new certificate") {
		t.Errorf("message says to order anew: %s", msg)
	}
	r, err := e.manager(t).Renew(context.Background(), RenewOptions{})
	if err != nil || !r.Renewed || r.Previous.Serial() != old.Serial() {
		t.Fatalf("renew: %+v, %v; want the successor installed", r, err)
	}
	if n := e.successors(t, old.Serial()); n != 1 {
		t.Errorf("%d successors in the service, want 1", n)
	}
	if st, err := e.manager(t).Status(); err != nil || st.State != StateValid || st.Pending != "" {
		t.Errorf("status after renew: %+v, %v", st, err)
	}
}
