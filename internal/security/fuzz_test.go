package security_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// FuzzCheckCSR feeds arbitrary bytes to the CSR check every
// SignNewCertificate and RenewCertificate runs on the client's
// CertificateRequest. It must never panic, and whatever it accepts must be
// an RSA key of the profile's size with a verifying proof of possession.
func FuzzCheckCSR(f *testing.F) {
	rsaKey := irpkidtest.NewKey(f)
	f.Add(irpkidtest.CSR(f, rsaKey, custA))
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(irpkidtest.CSR(f, small, custA))
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	ecCSR, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: custA}}, ec)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ecCSR)
	good := irpkidtest.CSR(f, rsaKey, custA)
	f.Add(good[:len(good)/2])
	bad := bytes.Clone(good)
	bad[len(bad)-5] ^= 0xff // signature broken
	f.Add(bad)
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x82, 0xff, 0xff})
	f.Add(csrWithModulus(f, 70000)) // the finding of TestOversizedCSRKeyRefusedFirst
	p := ca.DefaultProfile
	f.Fuzz(func(t *testing.T, der []byte) {
		csr, err := p.CheckCSR(der)
		if err != nil {
			if !errors.Is(err, ca.ErrCSRInvalid) && !errors.Is(err, ca.ErrCSRSignature) && !errors.Is(err, ca.ErrKeyNotAllowed) &&
				!errors.Is(err, ca.ErrCSRWeakHash) && !errors.Is(err, ca.ErrKeyExponent) && !errors.Is(err, ca.ErrKeySmallPrime) {
				t.Fatalf("error outside the catalogue: %v", err)
			}
			// A key outside the profile is refused as such, before any
			// (costly) signature verification with it.
			if errors.Is(err, ca.ErrCSRSignature) {
				if csr, perr := x509.ParseCertificateRequest(der); perr == nil {
					if k, ok := csr.PublicKey.(*rsa.PublicKey); !ok || !slices.Contains(p.RSASizes, k.N.BitLen()) {
						t.Fatalf("a key outside the profile was reported as %v", err)
					}
				}
			}
			return
		}
		k, ok := csr.PublicKey.(*rsa.PublicKey)
		if !ok {
			t.Fatalf("accepted a %T key", csr.PublicKey)
		}
		if n := k.N.BitLen(); !slices.Contains(p.RSASizes, n) || k.E != 65537 {
			t.Fatalf("accepted RSA-%d with exponent %d", n, k.E)
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("accepted a CSR whose signature does not verify: %v", err)
		}
		if _, err := ca.KeyFingerprint(csr.PublicKey); err != nil {
			t.Fatalf("accepted key has no fingerprint: %v", err)
		}
	})
}

// bodyTransport answers every request with a fixed status and body.
type bodyTransport struct {
	status int
	body   []byte
}

func (b bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: b.status, Header: http.Header{"Content-Type": {"text/xml; charset=utf-8"}},
		Body: io.NopCloser(bytes.NewReader(b.body)), ContentLength: int64(len(b.body)), Request: r,
	}, nil
}

// FuzzClientResponse feeds arbitrary response bodies (and HTTP statuses)
// to the client's decoder, through the client's real call path with an
// in-memory transport. It must never panic; every failure must be one of
// the client's typed errors; and a success, or a FAIL the client reports as
// the service's (*client.ServiceError), must carry exactly the values of the
// response element that an independent verification (wire.Detach,
// wire.VerifyResponse with the service's signing certificate,
// wire.DecodeResponse) finds signed — a wrapped, unsigned or foreign-signed
// value never comes back as a result. The seeds are genuine signed responses (OK and
// FAIL) of a real test service and a fault.
func FuzzClientResponse(f *testing.F) {
	s := irpkidtest.Start(f, irpkidtest.Config{})
	s.AddOrg(f, custA, "Acme Oy")
	cred := s.Order(f, custA, shortValidity)
	key := irpkidtest.NewKey(f)
	csr := irpkidtest.CSR(f, key, custA)
	capture := func(op wire.Operation, el []byte) []byte {
		o := soap(f, s.URL, op, el)
		return o.Raw
	}
	signNew := capture(wire.OpSignNew, ser(f, wire.EncodeSignNew(&wire.SignNewCertificateRequest{Environment: wire.EnvTest, CustomerID: custA, TransferID: cred.TransferID, TransferPassword: cred.TransferPassword, CertificateRequest: csr})))
	o, _ := tryDecode(200, signNew)
	if o.Code() != "OK" {
		f.Fatalf("seed: %v", o)
	}
	rid := o.Resp.RetrievalID
	get := capture(wire.OpGet, ser(f, wire.EncodeGet(&wire.GetCertificateRequest{Environment: wire.EnvTest, CustomerID: custA, RetrievalID: rid})))
	getFail := capture(wire.OpGet, ser(f, wire.EncodeGet(&wire.GetCertificateRequest{Environment: wire.EnvTest, CustomerID: custA, RetrievalID: "nope"})))
	fault := post(f, s.URL, "", "application/json", []byte("{}")).Raw
	// The finding of TestClientRefusesForgedResponses: a FAIL properly signed
	// by an organisation certificate of the same service.
	orgCert, err := s.Client(f).GetCertificate(context.Background(), custA, rid)
	if err != nil {
		f.Fatal(err)
	}
	orgSigner, err := wire.NewSigner(key, [][]byte{orgCert.Raw})
	if err != nil {
		f.Fatal(err)
	}
	orgFail, err := orgSigner.Sign(wire.EncodeResponse(&wire.Response{Operation: wire.OpRenew, Result: wire.Result{Status: wire.StatusFail, Errors: []wire.ErrorInfo{{Code: wire.CodeSignerRevoked, Message: "forged"}}}}))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct {
		status, op byte
		body       []byte
	}{{0, 0, signNew}, {0, 2, get}, {0, 2, getFail}, {1, 1, fault}, {0, 1, signNew}, {0, 0, []byte("<x/>")}, {0, 1, wire.Envelope(orgFail)}} {
		f.Add(seed.status, seed.op, seed.body)
	}
	trust := s.Trust()
	signer := s.CA.Signing
	now := irpkidtest.Epoch
	f.Fuzz(func(t *testing.T, status, op byte, body []byte) {
		code := []int{200, 500, 413, 503}[int(status)%4]
		c, err := client.New("http://fuzz.invalid/2017/10/CertificateServices", client.Options{
			Environment: wire.EnvTest, Trust: trust, Now: func() time.Time { return now },
			HTTPClient: &http.Client{Transport: bodyTransport{code, body}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var gotRID string
		var gotCert *x509.Certificate
		var wop wire.Operation
		switch op % 3 {
		case 0:
			wop = wire.OpSignNew
			gotRID, err = c.SignNewCertificate(ctx, custA, "T", "P", csr)
		case 1:
			wop = wire.OpRenew
			gotRID, err = c.RenewCertificate(ctx, custA, csr, key, signer) // any cert will do to sign
		default:
			wop = wire.OpGet
			gotCert, err = c.GetCertificate(ctx, custA, "R")
		}
		var se *client.ServiceError
		if err != nil && !errors.As(err, &se) {
			var fe *client.FaultError
			if !errors.As(err, &fe) && !errors.Is(err, client.ErrBadResponse) && !errors.Is(err, client.ErrUntrustedResponse) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		// Independent check of what the client returned.
		lim := wire.DefaultLimits
		lim.MaxBytes = 1 << 20
		el, perr := wire.ParseEnvelope(body, lim)
		if perr != nil {
			t.Fatalf("client accepted a body the parser refuses: %v", perr)
		}
		verified, verr := wire.VerifyResponse(wire.Detach(el), signer, now)
		if verr != nil {
			t.Fatalf("client accepted a response that does not verify: %v", verr)
		}
		resp, derr := wire.DecodeResponse(verified, wop, false)
		if derr != nil {
			t.Fatalf("client accepted %v", derr)
		}
		if se != nil { // an accepted FAIL must be the service's signed FAIL
			if resp.Result.OK() || len(resp.Result.Errors) == 0 || resp.Result.Errors[0].Code != wire.Code(se.Code) {
				t.Fatalf("client returned %v; the signed result is %+v", se, resp.Result)
			}
			return
		}
		if !resp.Result.OK() {
			t.Fatalf("client accepted %+v as success", resp.Result)
		}
		if wop == wire.OpGet {
			if !bytes.Equal(gotCert.Raw, resp.Certificate) {
				t.Fatal("client returned a certificate that is not the signed one")
			}
		} else if gotRID != resp.RetrievalID {
			t.Fatalf("client returned RetrievalId %q, the signed one is %q", gotRID, resp.RetrievalID)
		}
	})
}
