package renewal

import (
	"context"
	"testing"
	"time"
)

// TestEnrollSetsLastRenewal: an enrolment installs a fresh certificate, so
// the last renewal (seeding watch's
// irpki_renewal_last_success_timestamp_seconds) is its time, not that of
// an earlier renewal of the certificate it replaced, nor none (found in
// review).
func TestEnrollSetsLastRenewal(t *testing.T) {
	e := newEnv(t)
	old := e.enroll(t, 0)
	m := e.manager(t)
	lastRenewal := func() time.Time {
		t.Helper()
		st, err := m.Status()
		if err != nil {
			t.Fatal(err)
		}
		return st.LastRenewal
	}
	if got, want := lastRenewal(), e.s.Clock.Now(); !got.Equal(want) {
		t.Errorf("after the first enrolment: last renewal %v, want %v", got, want)
	}
	e.s.Clock.Set(old.Cert.NotAfter.Add(-59 * 24 * time.Hour))
	if res, err := m.Renew(context.Background(), RenewOptions{}); err != nil || !res.Renewed {
		t.Fatalf("renew: %+v, %v", res, err)
	}
	if got, want := lastRenewal(), e.s.Clock.Now(); !got.Equal(want) {
		t.Errorf("after the renewal: last renewal %v, want %v", got, want)
	}
	e.s.Clock.Advance(100 * 24 * time.Hour)
	e.enroll(t, 0)
	if got, want := lastRenewal(), e.s.Clock.Now(); !got.Equal(want) {
		t.Errorf("after the re-enrolment: last renewal %v, want %v (the re-enrolment)", got, want)
	}
}
