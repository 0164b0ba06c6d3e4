package renewal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/ca/catest"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// The service rotates its response signer (irpkid ca rotate-signer) while
// a state directory holds the trust bundle from before (the client side of
// the overlap is in internal/interop): after the switch a renewal fails with
// client.ErrSignerRotated and loses nothing (the current certificate stays,
// the request is kept); once the bundle file is replaced with the service's
// current one, the next run completes that same request (one successor).
func TestRenewAcrossSignerRotation(t *testing.T) {
	data := t.TempDir()
	if _, _, err := ca.LoadOrCreate(data, wire.EnvTest, irpkidtest.Epoch.AddDate(0, -1, 0), catest.Options()); err != nil {
		t.Fatal(err)
	}
	caDir := filepath.Join(data, "ca", wire.EnvTest)
	h, err := ca.Load(caDir, wire.EnvTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := irpkidtest.Start(t, irpkidtest.Config{CA: h})
	s.AddOrg(t, customer, "Acme Oy")
	trust := filepath.Join(t.TempDir(), "trust.pem")
	writeTrust := func() { // irpkid trust > trust.pem, now
		t.Helper()
		h, err := ca.Load(caDir, wire.EnvTest, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(trust, h.Bundle(s.Clock.Now()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeTrust()
	e := &env{s: s, dir: filepath.Join(t.TempDir(), "state"), trust: trust, url: s.URL}
	current := e.enroll(t, 62*24*time.Hour) // renewal window from day 2
	ctx := context.Background()

	if _, err := ca.RotateSigner(h, s.Clock.Now(), ca.RotateOptions{Overlap: 30 * 24 * time.Hour, NewKey: catest.Options().NewKey}); err != nil {
		t.Fatal(err)
	}
	if changed, err := s.Signers.Refresh(); !changed || err != nil {
		t.Fatalf("rotation not picked up: %v %v", changed, err)
	}
	// After the switch: a clear error, nothing lost.
	s.Clock.Advance(31 * 24 * time.Hour)
	_, err = e.manager(t).Renew(ctx, RenewOptions{Force: true})
	if !errors.Is(err, client.ErrSignerRotated) || !strings.Contains(err.Error(), "irpkid trust") {
		t.Fatalf("renewal after the switch with the old bundle: %v, want ErrSignerRotated", err)
	}
	inst, err := e.manager(t).Current()
	if err != nil || !inst.Cert.Equal(current.Cert) {
		t.Fatalf("the current certificate changed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, pendingFile)); err != nil {
		t.Fatalf("the renewal request was not kept: %v", err)
	}

	// The organisation installs the service's current bundle in place.
	writeTrust()
	r, err := e.manager(t).Renew(ctx, RenewOptions{})
	if err != nil || !r.Renewed {
		t.Fatalf("renewal with the new bundle: %+v %v", r, err)
	}
	if n := e.successors(t, current.Serial()); n != 1 {
		t.Errorf("%d live successors of the renewed certificate, want the one the kept request made", n)
	}
}
