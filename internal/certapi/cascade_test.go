package certapi_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// TestKeyCompromiseRevokesSuccessors: A renewed to B (retrieved, in use)
// and B to C (not yet retrieved). Revoking A for key compromise revokes B
// and C too, in one transaction, each audited: whoever held A's key could
// have requested B, and then C with B's key. GetCertificate of both
// answers CERT_REVOKED, also B's, which was retrieved. The plan names
// them beforehand; another reason revokes A alone.
func TestKeyCompromiseRevokesSuccessors(t *testing.T) {
	ctx := context.Background()
	chain := func(t *testing.T) (*irpkidtest.Server, []string, []string) {
		s := start(t)
		a := s.Enroll(t, customer, 30*24*time.Hour)
		c := s.Client(t)
		kb := irpkidtest.NewKey(t)
		ridB, err := c.RenewCertificate(ctx, customer, irpkidtest.CSR(t, kb, customer), a.Key, a.Cert)
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.GetCertificate(ctx, customer, ridB)
		if err != nil {
			t.Fatal(err)
		}
		ridC, err := c.RenewCertificate(ctx, customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), kb, b)
		if err != nil {
			t.Fatal(err)
		}
		views, err := s.Service.Certificates(ctx, customer)
		if err != nil || len(views) != 3 {
			t.Fatalf("%d certificates, %v", len(views), err)
		}
		// A, then its successor B, then B's successor C (all issued at
		// the same instant of the test clock, so found by predecessor).
		order := []string{service.SerialHex(a.Cert)}
		for len(order) < 3 {
			for _, v := range views {
				if v.Predecessor == order[len(order)-1] {
					order = append(order, v.Serial)
				}
			}
		}
		return s, order, []string{ridB, ridC}
	}

	t.Run("key compromise", func(t *testing.T) {
		s, serials, rids := chain(t)
		plan, err := s.Service.RevocationPlan(ctx, serials[0], "keyCompromise", "")
		if err != nil || len(plan) != 3 || plan[1].Serial != serials[1] || plan[2].Serial != serials[2] {
			t.Fatalf("plan: %v %v", plan, err)
		}
		// A plan that no longer holds revokes nothing.
		if _, err := s.Service.Revoke(ctx, serials[0], service.ReasonKeyCompromise, "", "test", serials[:2]); !errors.Is(err, service.ErrPlanChanged) {
			t.Fatalf("stale plan: %v", err)
		}
		done, err := s.Service.Revoke(ctx, serials[0], service.ReasonKeyCompromise, "", "test", serials)
		if err != nil || !slices.Equal(done, serials) {
			t.Fatalf("revoked %v, %v", done, err)
		}
		for _, rid := range rids {
			_, err := s.Client(t).GetCertificate(ctx, customer, rid)
			wantCode(t, err, wire.CodeCertRevoked)
		}
		views, _ := s.Service.Certificates(ctx, customer)
		for _, v := range views {
			if v.State != service.StateRevoked || v.RevokeReason != service.ReasonKeyCompromise {
				t.Errorf("%s: %s %s", v.Serial, v.State, v.RevokeReason)
			}
		}
		audit, err := s.Service.AuditLog(ctx, customer, 50)
		if err != nil {
			t.Fatal(err)
		}
		var revoked []string
		for _, e := range audit {
			if e.Action == "revoke" && e.Outcome == "ok" {
				revoked = append(revoked, e.Serial)
				if e.Serial != serials[0] && !strings.Contains(e.Detail, "cascade_from="+serials[0]) {
					t.Errorf("cascade audit detail %q", e.Detail)
				}
			}
		}
		if slices.Sort(revoked); len(revoked) != 3 {
			t.Errorf("revoke audit entries for %v", revoked)
		}
	})

	t.Run("other reason", func(t *testing.T) {
		s, serials, rids := chain(t)
		done, err := s.Service.Revoke(ctx, serials[0], service.ReasonNotNeeded, "", "test", nil)
		if err != nil || !slices.Equal(done, serials[:1]) {
			t.Fatalf("revoked %v, %v", done, err)
		}
		if _, err := s.Client(t).GetCertificate(ctx, customer, rids[0]); err != nil {
			t.Errorf("the successor of a certificate no longer needed: %v", err)
		}
		var c store.Certificate
		s.DB.View(ctx, func(tx *store.Tx) error { c, err = tx.Certificate(ctx, serials[2]); return err })
		if c.Status != store.CertValid {
			t.Errorf("successor's successor: %s", c.Status)
		}
	})
}
