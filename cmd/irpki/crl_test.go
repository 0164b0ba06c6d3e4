package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/irpki/irpki/internal/crl"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/renewal"
)

// A certificate revoked at the service (not refused yet: no renewal was
// tried) reads "revoked", never "valid", once its issuer's revocation list
// lists it: irpki status exits 2, irpki watch --once reports it. A list
// that cannot be fetched changes nothing but a warning.
func TestStatusReadsRevocationList(t *testing.T) {
	var pub atomic.Pointer[crl.Publisher]
	var down atomic.Bool
	lists := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		pub.Load().Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(lists.Close)
	s := irpkidtest.Start(t, irpkidtest.Config{Mutate: func(c *service.Config) { c.Profile.CRLBaseURL = lists.URL }})
	p := crl.New(s.CA, s.DB, t.TempDir(), s.Clock, s.Log)
	pub.Store(p)
	s.AddOrg(t, customer, "Acme Oy")
	h := &harness{s: s, dir: filepath.Join(t.TempDir(), "irpki"), trust: s.TrustFile(t), env: map[string]string{}}
	h.enroll(t, 0)
	cur := h.current(t)
	if len(cur.Cert.CRLDistributionPoints) != 1 || !strings.HasPrefix(cur.Cert.CRLDistributionPoints[0], lists.URL+"/crl/") {
		t.Fatalf("CRL distribution points %v", cur.Cert.CRLDistributionPoints)
	}
	ctx := context.Background()
	if _, err := p.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if st, code := h.status(t); code != 0 || st.State != renewal.StateValid {
		t.Fatalf("before revocation: %s, exit %d", st.State, code)
	}
	if _, err := s.Service.Revoke(ctx, cur.Serial(), service.ReasonNotNeeded, "", "test", nil); err != nil {
		t.Fatal(err)
	}
	// The list is not reachable: a warning, and the state stays as it was
	// (nothing says revoked yet).
	down.Store(true)
	if _, err := p.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	r := h.run(t, "", "status", "--dir", h.dir)
	if r.code != 0 || !strings.Contains(r.stderr, "could not check the revocation list") {
		t.Errorf("list unreachable: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	down.Store(false)
	st, code := h.status(t)
	if code != 2 || st.State != renewal.StateRevoked {
		t.Fatalf("after revocation with the list reachable: %s, exit %d", st.State, code)
	}
	if r := h.run(t, "", "status", "--dir", h.dir); !strings.Contains(r.stdout, "revoked") || strings.Contains(r.stdout, "State:    valid") {
		t.Errorf("status text:\n%s", r.stdout)
	}
	if r := h.run(t, "", "watch", "--dir", h.dir, "--once"); r.code != exitNewOrder {
		t.Errorf("watch --once on a revoked certificate: exit %d, want %d\n%s", r.code, exitNewOrder, r.stderr)
	}
}
