package certapi_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

const customer = "1234567-1"

func TestEnrollGetRenewCycle(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, customer, "Acme Oy")
	ctx := context.Background()
	e := s.Enroll(t, customer, 0)
	c := s.Client(t)
	if err := c.VerifyIssued(e.Cert, &e.Key.PublicKey, customer); err != nil {
		t.Fatal(err)
	}
	if got, want := e.Cert.NotAfter, irpkidtest.Epoch.AddDate(2, 0, 0); !got.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", got, want)
	}
	if got, want := e.Cert.NotBefore, irpkidtest.Epoch.Add(-time.Minute); !got.Equal(want) {
		t.Errorf("NotBefore = %v, want %v", got, want)
	}

	// Outside the window: refused with WINDOW_NOT_OPEN.
	newKey := irpkidtest.NewKey(t)
	_, err := c.RenewCertificate(ctx, customer, irpkidtest.CSR(t, newKey, customer), e.Key, e.Cert)
	var se *client.ServiceError
	if !errors.As(err, &se) || se.Code != client.Code(wire.CodeWindowNotOpen) {
		t.Fatalf("renew outside window: %v, want %s", err, wire.CodeWindowNotOpen)
	}

	// Inside the window.
	s.Clock.Set(e.Cert.NotAfter.Add(-59 * 24 * time.Hour))
	rid, err := c.RenewCertificate(ctx, customer, irpkidtest.CSR(t, newKey, customer), e.Key, e.Cert)
	if err != nil {
		t.Fatal(err)
	}
	succ, err := c.GetCertificate(ctx, customer, rid)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyIssued(succ, &newKey.PublicKey, customer); err != nil {
		t.Fatal(err)
	}
}
