package renewal

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// TestAbandonReenrolmentRestoresSettings: a re-enrolment saves its own
// settings (endpoint, key size, organisation) before it is sent; refused
// with a code that may not be final, it is kept, and given up with
// Abandon the current certificate renews with the settings it was
// enrolled with again, not the abandoned enrolment's. They are kept in
// pending.json from before settings.json is overwritten, and survive a
// retry with yet other settings. A first enrolment has none to restore.
func TestAbandonReenrolmentRestoresSettings(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	old := e.enroll(t, 0)
	orig := e.settings()
	orig.KeySize = 2048
	if got, err := e.manager(t).Settings(); err != nil || got != orig {
		t.Fatalf("settings after the enrolment: %+v, %v; want %+v", got, err, orig)
	}
	signer, err := wire.NewSigner(e.s.CA.SigningKey, e.s.CA.SigningChain())
	if err != nil {
		t.Fatal(err)
	}
	proxy := irpkidtest.Proxy(t, e.s.URL, func(w http.ResponseWriter, body []byte) bool {
		if bytes.Contains(body, []byte("SignNewCertificateRequest")) {
			irpkidtest.WriteFail(w, signer, wire.OpSignNew, "E9999", "try later")
			return true
		}
		return false
	})
	typo := orig
	typo.Endpoint, typo.KeySize, typo.Organization = proxy, 3072, "Typo Oy"
	cred := e.s.Order(t, customer, 0)
	if _, err := e.manager(t).Enroll(ctx, typo, Credentials{cred.TransferID, cred.TransferPassword}); err == nil {
		t.Fatal("re-enrolment through the refusing proxy succeeded")
	}
	// Sent again with yet other settings: the original ones are kept.
	typo2 := typo
	typo2.Organization = "Typo 2 Oy"
	if _, err := e.manager(t).Enroll(ctx, typo2, Credentials{cred.TransferID, cred.TransferPassword}); err == nil {
		t.Fatal("re-enrolment through the refusing proxy succeeded")
	}
	p, err := e.manager(t).loadPending()
	if err != nil || p == nil || p.PreviousSettings == nil || *p.PreviousSettings != orig {
		t.Fatalf("pending re-enrolment: %+v, %v; want previous settings %+v", p, err, orig)
	}
	if got, _ := e.manager(t).Settings(); got != typo2 {
		t.Fatalf("settings during the re-enrolment: %+v, want %+v", got, typo2)
	}
	res, err := e.manager(t).Abandon(ctx, AbandonOptions{})
	if err != nil || res == nil || !res.SettingsRestored {
		t.Fatalf("Abandon: %+v, %v; want the settings restored", res, err)
	}
	if got, err := e.manager(t).Settings(); err != nil || got != orig {
		t.Fatalf("settings after abandoning the re-enrolment: %+v, %v; want %+v", got, err, orig)
	}
	e.s.Clock.Set(old.Cert.NotAfter.Add(-30 * 24 * time.Hour))
	r, err := e.manager(t).Renew(ctx, RenewOptions{})
	if err != nil || !r.Renewed || len(r.Installed.Cert.Subject.Organization) != 1 || r.Installed.Cert.Subject.Organization[0] != orig.Organization {
		t.Fatalf("renew after abandoning: %+v, %v; want renewed with the original settings", r, err)
	}

	// A first enrolment keeps no previous settings, and abandoning it
	// leaves its own.
	e2 := newEnv(t)
	s := e2.settings()
	s.Endpoint = proxy
	cred = e2.s.Order(t, customer, 0)
	if _, err := e2.manager(t).Enroll(ctx, s, Credentials{cred.TransferID, cred.TransferPassword}); err == nil {
		t.Fatal("enrolment through the refusing proxy succeeded")
	}
	if p, err := e2.manager(t).loadPending(); err != nil || p == nil || p.PreviousSettings != nil {
		t.Fatalf("pending first enrolment: %+v, %v; want no previous settings", p, err)
	}
	if res, err := e2.manager(t).Abandon(ctx, AbandonOptions{}); err != nil || res.SettingsRestored {
		t.Fatalf("Abandon: %+v, %v", res, err)
	}
	if got, err := e2.manager(t).readJSON(settingsFile, new(Settings)); err != nil || !got {
		t.Fatalf("settings.json after abandoning the first enrolment: %v, %v", got, err)
	}
}
