package security_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// TestClientRefusesForgedResponses feeds the client responses that a
// man in the middle could make: genuine responses with a value swapped, the
// genuine element hidden in the header or a wrapper, unsigned ones, and —
// a finding — responses properly signed by an organisation certificate of
// the same service (any customer holds one; it chains to the same root as
// the service's signing certificate). Each must be refused as untrusted, so
// that, for instance, a forged SIGNER_REVOKED cannot make a renewer give up.
func TestClientRefusesForgedResponses(t *testing.T) {
	f := newRenewFixture(t)
	s := f.s
	ctx := context.Background()
	// A genuine FAIL and a genuine OK response to capture.
	k := irpkidtest.NewKey(t)
	genuine := soap(t, s.URL, wire.OpRenew, ser(t, signedRenew(t, wire.EnvTest, custA, irpkidtest.CSR(t, k, custA), f.a.Key, f.a.Cert)))
	if genuine.Code() != "OK" {
		t.Fatalf("setup: %v", genuine)
	}
	respEl := func() *etree.Element { // the signed response element, detached
		lim := wire.DefaultLimits
		el, err := wire.ParseEnvelope(genuine.Raw, lim)
		if err != nil {
			t.Fatal(err)
		}
		return wire.Detach(el)
	}
	fail := wire.EncodeResponse(&wire.Response{Operation: wire.OpRenew, Result: wire.Result{Status: wire.StatusFail, Errors: []wire.ErrorInfo{{Code: wire.CodeSignerRevoked, Message: "forged"}}}})
	orgSigner, err := wire.NewSigner(f.b.Key, [][]byte{f.b.Cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	byOrg, err := orgSigner.Sign(fail)
	if err != nil {
		t.Fatal(err)
	}
	swapped := respEl()
	child(t, swapped, "RetrievalId").SetText("0123456789abcdef0123456789abcdef")
	unsigned := wire.EncodeResponse(&wire.Response{Operation: wire.OpRenew, RetrievalID: "0123456789abcdef0123456789abcdef", Result: wire.Result{Status: wire.StatusOK}})
	wrapper := wire.EncodeResponse(&wire.Response{Operation: wire.OpRenew, RetrievalID: "0123456789abcdef0123456789abcdef", Result: wire.Result{Status: wire.StatusOK}})
	wrapper.AddChild(respEl())

	cases := []struct {
		name string
		body []byte
	}{
		{"FAIL signed by another organisation's certificate", wire.Envelope(byOrg)},
		{"RetrievalId swapped in a genuine response", wire.Envelope(ser(t, swapped))},
		{"unsigned OK", wire.Envelope(ser(t, unsigned))},
		{"genuine response in the Header, forged in the Body", envelope(serS(t, respEl()), serS(t, unsigned))},
		{"forged wrapper around the genuine response", wire.Envelope(ser(t, wrapper))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, err := client.New("http://forged.invalid/2017/10/CertificateServices", client.Options{
				Environment: wire.EnvTest, Trust: s.Trust(), Now: s.Clock.Now,
				HTTPClient: &http.Client{Transport: bodyTransport{200, c.body}, Timeout: time.Minute},
			})
			if err != nil {
				t.Fatal(err)
			}
			rid, err := cl.RenewCertificate(ctx, custA, irpkidtest.CSR(t, k, custA), f.a.Key, f.a.Cert)
			if !errors.Is(err, client.ErrUntrustedResponse) {
				t.Fatalf("answer %q, %v: want %v", rid, err, client.ErrUntrustedResponse)
			}
		})
	}
}
