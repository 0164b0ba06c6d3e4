package interop_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/ca/catest"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// Signer rotation with clients on both sides of the overlap, time driven by
// the server's clock: a client holding only the trust bundle from before
// the rotation works until the switch and then fails with
// client.ErrSignerRotated; a client with the bundle from the overlap (both
// signers) works before and after the switch; after the switch the old
// signer is gone from the bundles, and stays gone when the rotation is
// finished in the files; a client of the services CA's package (no pinned
// signer) works throughout. xmlsec1 verifies responses of both signers against
// the bundle of the overlap, and the new signer's against the bundle after
// the switch.
func TestSignerRotationClientsAcrossTheOverlap(t *testing.T) {
	xmlsec := tool(t, "xmlsec1")
	data := t.TempDir()
	if _, _, err := ca.LoadOrCreate(data, wire.EnvTest, irpkidtest.Epoch.AddDate(0, -1, 0), catest.Options()); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(data, "ca", wire.EnvTest)
	h, err := ca.Load(dir, wire.EnvTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := irpkidtest.Start(t, irpkidtest.Config{CA: h})
	oldSigner := h.Signing
	bundle := func() []*x509.Certificate { // irpkid trust, now
		t.Helper()
		h, err := ca.Load(dir, wire.EnvTest, nil)
		if err != nil {
			t.Fatal(err)
		}
		return h.BundleCerts(ca.TrustAll, s.Clock.Now())
	}
	newClient := func(trust []*x509.Certificate) *client.Client {
		c, err := client.New(s.URL, client.Options{Environment: wire.EnvTest, Trust: trust, Now: s.Clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	n := 0
	// enrol orders a certificate for a new organisation and fetches it
	// through c.
	enrol := func(c *client.Client) error {
		t.Helper()
		n++
		id, err := businessid.Complete(fmt.Sprintf("%07d", 2000000+n*7))
		if err != nil {
			n++
			id, _ = businessid.Complete(fmt.Sprintf("%07d", 2000000+n*7))
		}
		s.AddOrg(t, id, "Org "+id)
		cred := s.Order(t, id, 0)
		ctx := context.Background()
		rid, err := c.SignNewCertificate(ctx, id, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), id))
		if err != nil {
			return fmt.Errorf("SignNewCertificate: %w", err)
		}
		if _, err := c.GetCertificate(ctx, id, rid); err != nil {
			return fmt.Errorf("GetCertificate: %w", err)
		}
		return nil
	}
	// signedBy makes a signed (FAIL) response and returns it with the
	// certificate in its KeyInfo.
	signedBy := func() ([]byte, *x509.Certificate) {
		t.Helper()
		env := post(t, s.URL, "getCertificate", getBody(t, "0123456789abcdef0123456789abcdef"))
		el, err := wire.ParseEnvelope(env, wire.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := wire.ResponseSignatureCertificate(wire.Detach(el))
		if err != nil {
			t.Fatal(err)
		}
		return soapBody(t, env), cert
	}
	xmlsecVerify := func(name string, doc []byte, trust []*x509.Certificate) error {
		t.Helper()
		d := t.TempDir()
		trusted, untrusted := bundleFiles(t, d, ca.PEM(trust...))
		f := writeFile(t, d, name, doc)
		args := append([]string{"--verify", "--trusted-pem", trusted}, xmlsecUntrusted(t, untrusted)...)
		_, err := run(t, xmlsec, append(args, "--verification-time", xmlsecTime(s.Clock.Now()), "--enabled-key-data", "x509", f)...)
		return err
	}

	oldTrust := bundle()
	if pinned := nonCA(oldTrust); len(pinned) != 1 || !pinned[0].Equal(oldSigner) {
		t.Fatalf("before the rotation the bundle pins %d signers", len(pinned))
	}
	stale := newClient(oldTrust)
	// A client of the services CA's package alone (as the real service's
	// clients are configured) pins no signer: the rotation asks nothing of it.
	var pkg []*x509.Certificate
	for _, p := range h.Packages() {
		if p.Channel == ca.ServicesChannel {
			pkg = p.Chain
		}
	}
	if len(pkg) == 0 || len(nonCA(pkg)) != 0 {
		t.Fatalf("services package: %d certificates", len(pkg))
	}
	packaged, err := client.New(s.URL, client.Options{Environment: wire.EnvTest, Trust: pkg, IssuerTrust: bundle(), Now: s.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := enrol(stale); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}

	// irpkid ca rotate-signer --overlap 30d, and serve picks it up.
	if _, err := ca.RotateSigner(h, s.Clock.Now(), ca.RotateOptions{Overlap: 30 * 24 * time.Hour, NewKey: catest.Options().NewKey}); err != nil {
		t.Fatal(err)
	}
	if changed, err := s.Signers.Refresh(); !changed || err != nil {
		t.Fatalf("the server did not pick up the rotation: %v %v", changed, err)
	}
	overlapTrust := bundle()
	pinned := nonCA(overlapTrust)
	if len(pinned) != 2 || !pinned[0].Equal(oldSigner) {
		t.Fatalf("during the overlap the bundle pins %d signers, want the current and the next", len(pinned))
	}
	newSigner := pinned[1]
	updated := newClient(overlapTrust)

	// The overlap: the old signer signs, both clients work.
	for _, at := range []time.Duration{0, 30*24*time.Hour - time.Minute} {
		s.Clock.Set(irpkidtest.Epoch.Add(at))
		if err := enrol(stale); err != nil {
			t.Errorf("client with the old bundle, %v into the overlap: %v", at, err)
		}
		if err := enrol(updated); err != nil {
			t.Errorf("client with the new bundle, %v into the overlap: %v", at, err)
		}
		if err := enrol(packaged); err != nil {
			t.Errorf("client with the services CA package, %v into the overlap: %v", at, err)
		}
		doc, signer := signedBy()
		if !signer.Equal(oldSigner) {
			t.Errorf("%v into the overlap the response is signed by %s, want the old signer", at, ca.SerialHex(signer))
		}
		if err := xmlsecVerify("overlap.xml", doc, overlapTrust); err != nil {
			t.Errorf("xmlsec1, old signer's response against the bundle of the overlap: %v", err)
		}
	}

	// The switch: the new signer signs, without a restart.
	s.Clock.Set(irpkidtest.Epoch.Add(30 * 24 * time.Hour))
	doc, signer := signedBy()
	if !signer.Equal(newSigner) {
		t.Fatalf("after the switch the response is signed by %s, want the new signer %s", ca.SerialHex(signer), ca.SerialHex(newSigner))
	}
	err = enrol(stale)
	if !errors.Is(err, client.ErrSignerRotated) || !errors.Is(err, client.ErrUntrustedResponse) {
		t.Fatalf("client with the old bundle after the switch: %v, want ErrSignerRotated", err)
	}
	for _, want := range []string{"rotated", ca.SerialHex(newSigner), ca.SerialHex(oldSigner), "irpkid trust"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
	if err := enrol(updated); err != nil {
		t.Errorf("client with the new bundle after the switch: %v", err)
	}
	if err := enrol(packaged); err != nil {
		t.Errorf("client with the services CA package after the switch: %v", err)
	}
	// The old signer is retired: no bundle holds it.
	afterTrust := bundle()
	if p := nonCA(afterTrust); len(p) != 1 || !p[0].Equal(newSigner) {
		t.Errorf("after the switch the bundle pins %d signers, want the new one only", len(p))
	}
	if err := xmlsecVerify("switched.xml", doc, afterTrust); err != nil {
		t.Errorf("xmlsec1, new signer's response against the bundle after the switch: %v", err)
	}
	if err := enrol(newClient(afterTrust)); err != nil {
		t.Errorf("client with the bundle after the switch: %v", err)
	}

	// rotate-signer --finish: the files change, the signer does not.
	h, err = ca.Load(dir, wire.EnvTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.FinishRotation(h, s.Clock.Now(), false); err != nil {
		t.Fatal(err)
	}
	if changed, err := s.Signers.Refresh(); !changed || err != nil {
		t.Fatalf("the server did not pick up the finished rotation: %v %v", changed, err)
	}
	if _, signer := signedBy(); !signer.Equal(newSigner) {
		t.Errorf("after finish the response is signed by %s", ca.SerialHex(signer))
	}
	if p := nonCA(bundle()); len(p) != 1 || !p[0].Equal(newSigner) {
		t.Errorf("after finish the bundle pins %d signers", len(p))
	}
	if err := enrol(updated); err != nil {
		t.Errorf("client with the overlap's bundle after finish: %v", err)
	}
}

func nonCA(certs []*x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range certs {
		if !c.IsCA {
			out = append(out, c)
		}
	}
	return out
}
