package certapi_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/certapi"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

const other = "7654321-2" // a second organisation

// getBody is a valid GetCertificateRequest in the client's envelope.
func getBody(t testing.TB, customerID, rid string) []byte {
	t.Helper()
	b, err := wire.Serialize(wire.EncodeGet(&wire.GetCertificateRequest{Environment: wire.EnvTest, CustomerID: customerID, RetrievalID: rid}))
	if err != nil {
		t.Fatal(err)
	}
	return envelope(b)
}

// faultCases trigger each SOAP Fault code over HTTP and give the status.
var faultCases = map[wire.Code]struct {
	status int
	action string
	ctype  string
	body   func(t *testing.T) []byte
}{
	wire.CodeMalformed: {http.StatusInternalServerError, "getCertificate", textXML, func(t *testing.T) []byte {
		return []byte(`<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x "y">]>` + string(getBody(t, customer, "abc")[len(`<?xml version="1.0" encoding="UTF-8"?>`):]))
	}},
	wire.CodeTooLarge: {http.StatusRequestEntityTooLarge, "getCertificate", textXML, func(t *testing.T) []byte {
		b := getBody(t, customer, "abc")
		return append(b, []byte("<!--"+strings.Repeat("x", wire.DefaultLimits.MaxBytes)+"-->")...)
	}},
	wire.CodeContentType: {http.StatusUnsupportedMediaType, "getCertificate", "application/soap+xml; charset=utf-8", func(t *testing.T) []byte {
		return getBody(t, customer, "abc")
	}},
	wire.CodeUnknownOp: {http.StatusInternalServerError, "-", textXML, func(t *testing.T) []byte {
		return envelope([]byte(`<cer:ListCertificatesRequest xmlns:cer="` + wire.Namespace + `"/>`))
	}},
	wire.CodeActionMismatch: {http.StatusInternalServerError, `"renewCertificate"`, textXML, func(t *testing.T) []byte {
		return getBody(t, customer, "abc")
	}},
	wire.CodeMustUnderstand: {http.StatusInternalServerError, "getCertificate", textXML, func(t *testing.T) []byte {
		return withHeader(getBody(t, customer, "abc"), `<t:Transaction xmlns:t="urn:example:tx" SOAP-ENV:mustUnderstand="1">42</t:Transaction>`)
	}},
	wire.CodeBusy: {http.StatusServiceUnavailable, "getCertificate", textXML, func(t *testing.T) []byte {
		return getBody(t, customer, "abc")
	}},
	wire.CodeSchema: {http.StatusInternalServerError, "getCertificate", textXML, func(t *testing.T) []byte {
		return envelope([]byte(`<cer:GetCertificateRequest xmlns:cer="` + wire.Namespace + `"><CustomerId>1234567-1</CustomerId><Environment>TEST</Environment><RetrievalId>a</RetrievalId></cer:GetCertificateRequest>`))
	}},
}

func TestEveryFaultCode(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	// A server whose budget of request bodies in flight holds none.
	busy := irpkidtest.Start(t, irpkidtest.Config{API: func(c *certapi.Config) { c.BodyBytesInFlight = 1 }})
	for _, code := range wire.FaultCodes {
		t.Run(string(code), func(t *testing.T) {
			tc, ok := faultCases[code]
			if !ok {
				t.Fatalf("no end-to-end test for fault code %s", code)
			}
			url := s.URL
			if code == wire.CodeBusy {
				url = busy.URL
			}
			r := post(t, url, tc.action, tc.ctype, tc.body(t))
			if r.status != tc.status {
				t.Errorf("HTTP %d, want %d", r.status, tc.status)
			}
			if got := faultCode(t, r); got != code {
				t.Errorf("fault code %s, want %s\n%s", got, code, r.body)
			}
		})
	}
}

// More ways to each fault.
func TestFaultVariants(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	ns := `xmlns:cer="` + wire.Namespace + `"`
	for _, tc := range []struct {
		name   string
		action string
		ctype  string
		body   []byte
		want   wire.Code
	}{
		{"not XML", "getCertificate", textXML, []byte("hello"), wire.CodeMalformed},
		{"empty body", "getCertificate", textXML, nil, wire.CodeMalformed},
		{"not SOAP", "getCertificate", textXML, []byte(`<cer:GetCertificateRequest ` + ns + `/>`), wire.CodeMalformed},
		{"invalid UTF-8", "getCertificate", textXML, envelope([]byte("<cer:GetCertificateRequest " + ns + "><Environment>\xff</Environment></cer:GetCertificateRequest>")), wire.CodeMalformed},
		{"Latin-1 declared", "getCertificate", textXML, append([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?>`), getBody(t, customer, "a")[len(`<?xml version="1.0" encoding="UTF-8"?>`):]...), wire.CodeMalformed},
		{"charset latin1", "getCertificate", "text/xml; charset=iso-8859-1", getBody(t, customer, "a"), wire.CodeContentType},
		{"no Content-Type", "getCertificate", "", getBody(t, customer, "a"), wire.CodeContentType},
		{"deep nesting", "getCertificate", textXML, envelope([]byte(strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100))), wire.CodeMalformed},
		{"element in another namespace", "-", textXML, envelope([]byte(`<x:GetCertificateRequest xmlns:x="urn:other"/>`)), wire.CodeUnknownOp},
		{"response element sent as request", "-", textXML, envelope([]byte(`<cer:GetCertificateResponse ` + ns + `/>`)), wire.CodeUnknownOp},
		{"action of another operation", "signNewCertificate", textXML, getBody(t, customer, "a"), wire.CodeActionMismatch},
		{"comment inside a value", "getCertificate", textXML, envelope([]byte(`<cer:GetCertificateRequest ` + ns + `><Environment>TEST</Environment><CustomerId>1234567-1<!--x--></CustomerId><RetrievalId>a</RetrievalId></cer:GetCertificateRequest>`)), wire.CodeSchema},
		{"qualified child", "getCertificate", textXML, envelope([]byte(`<cer:GetCertificateRequest ` + ns + `><cer:Environment>TEST</cer:Environment><CustomerId>1234567-1</CustomerId><RetrievalId>a</RetrievalId></cer:GetCertificateRequest>`)), wire.CodeSchema},
		{"RetrievalId too long", "getCertificate", textXML, getBody(t, customer, strings.Repeat("a", 33)), wire.CodeSchema},
		{"unknown environment", "getCertificate", textXML, envelope([]byte(`<cer:GetCertificateRequest ` + ns + `><Environment>DEV</Environment><CustomerId>1234567-1</CustomerId><RetrievalId>a</RetrievalId></cer:GetCertificateRequest>`)), wire.CodeSchema},
		{"signed renew without CertificateRequest", "renewCertificate", textXML, envelope([]byte(`<cer:RenewCertificateRequest ` + ns + `><Environment>TEST</Environment><CustomerId>1234567-1</CustomerId><ds:Signature xmlns:ds="` + wire.DSigNamespace + `"/></cer:RenewCertificateRequest>`)), wire.CodeSchema},
		{"SignNew CSR not base64", "signNewCertificate", textXML, envelope([]byte(`<cer:SignNewCertificateRequest ` + ns + `><Environment>TEST</Environment><CustomerId>1234567-1</CustomerId><TransferId>a</TransferId><TransferPassword>b</TransferPassword><CertificateRequest>***</CertificateRequest></cer:SignNewCertificateRequest>`)), wire.CodeSchema},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, s.URL, tc.action, tc.ctype, tc.body)
			if got := faultCode(t, r); got != tc.want {
				t.Errorf("fault %s, want %s\n%s", got, tc.want, r.body)
			}
		})
	}
	// Methods other than POST and GET.
	req, _ := http.NewRequest(http.MethodPut, s.URL, strings.NewReader("x"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT: HTTP %d", resp.StatusCode)
	}
}

// failCases trigger each FAIL code end to end; each starts its own server.
var failCases = map[wire.Code]func(t *testing.T){
	wire.CodeEnvironment: func(t *testing.T) {
		s := start(t)
		c, err := client.New(s.URL, client.Options{Environment: wire.EnvProduction, Trust: s.Trust(), Now: s.Clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		cred := s.Order(t, customer, 0)
		_, err = c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
		wantCode(t, err, wire.CodeEnvironment)
		_, err = c.GetCertificate(context.Background(), customer, "0123")
		wantCode(t, err, wire.CodeEnvironment)
		// A PRODUCTION certificate renewing at the TEST endpoint: the
		// certificate is not this service's, but the request says which
		// endpoint it was meant for (found in review: SIGNER_UNKNOWN).
		p := irpkidtest.Start(t, irpkidtest.Config{Environment: wire.EnvProduction})
		p.AddOrg(t, customer, "Acme Oy")
		e := p.Enroll(t, customer, 0)
		s.Clock.Set(e.Cert.NotAfter.AddDate(0, 0, -1))
		_, err = c.RenewCertificate(context.Background(), customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), e.Key, e.Cert)
		wantCode(t, err, wire.CodeEnvironment)
	},
	wire.CodeCustomerInvalid: func(t *testing.T) {
		s := start(t)
		cred := s.Order(t, customer, 0)
		_, err := s.Client(t).SignNewCertificate(context.Background(), "1234567-2", cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
		wantCode(t, err, wire.CodeCustomerInvalid)
		_, err = s.Client(t).GetCertificate(context.Background(), "not an id", "0123")
		wantCode(t, err, wire.CodeCustomerInvalid)
	},
	wire.CodeUnknownCustomer: func(t *testing.T) {
		s := start(t)
		cred := s.Order(t, customer, 0)
		// A valid business ID that is no organisation of this service.
		_, err := s.Client(t).SignNewCertificate(context.Background(), "0245437-2", cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
		wantCode(t, err, wire.CodeUnknownCustomer)
	},
	wire.CodeTransferInvalid: func(t *testing.T) {
		s := start(t)
		s.AddOrg(t, other, "Other Oy")
		cred := s.Order(t, customer, 0)
		c := s.Client(t)
		csr := irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)
		_, err := c.SignNewCertificate(context.Background(), customer, cred.TransferID, "WRONGPASSWORD234", csr)
		wantCode(t, err, wire.CodeTransferInvalid)
		_, err = c.SignNewCertificate(context.Background(), customer, "NOSUCHTRANSFERID", cred.TransferPassword, csr)
		wantCode(t, err, wire.CodeTransferInvalid)
		// Right credentials, but another customer's.
		_, err = c.SignNewCertificate(context.Background(), other, cred.TransferID, cred.TransferPassword, csr)
		wantCode(t, err, wire.CodeTransferInvalid)
		// The wrong password is in no log line and no audit record.
		if strings.Contains(s.Logs.String(), "WRONGPASSWORD234") || strings.Contains(s.Logs.String(), cred.TransferPassword) {
			t.Error("a transfer password reached the logs")
		}
		log, err := s.Service.AuditLog(context.Background(), "", 100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range log {
			if strings.Contains(e.Detail, "WRONGPASSWORD234") || strings.Contains(e.Detail, cred.TransferPassword) {
				t.Error("a transfer password reached the audit log")
			}
			if e.Code == string(wire.CodeTransferInvalid) {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%d TRANSFER_INVALID audit entries, want 3", n)
		}
	},
	wire.CodeTransferExpired: func(t *testing.T) {
		s := start(t)
		cred := s.Order(t, customer, 0)
		s.Clock.Set(cred.Expires)
		_, err := s.Client(t).SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
		wantCode(t, err, wire.CodeTransferExpired)
	},
	wire.CodeTransferUsed: func(t *testing.T) {
		s := start(t)
		cred := s.Order(t, customer, 0)
		c := s.Client(t)
		key := irpkidtest.NewKey(t)
		rid, err := c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, key, customer))
		if err != nil {
			t.Fatal(err)
		}
		// A retry with the same key (a lost answer) gets the same RetrievalId.
		rid2, err := c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, key, customer))
		if err != nil || rid2 != rid {
			t.Fatalf("retry with the same key: %q, %v; want %q", rid2, err, rid)
		}
		_, err = c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
		wantCode(t, err, wire.CodeTransferUsed)
	},
	wire.CodeOrderCancelled: func(t *testing.T) {
		s := start(t)
		cred := s.Order(t, customer, 0)
		ctx := context.Background()
		views, err := s.Service.Orders(ctx, customer)
		if err != nil || len(views) != 1 {
			t.Fatalf("orders %d, %v", len(views), err)
		}
		if err := s.Service.CancelOrder(ctx, customer, views[0].Ref, "test"); err != nil {
			t.Fatal(err)
		}
		_, err = s.Client(t).SignNewCertificate(ctx, customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
		wantCode(t, err, wire.CodeOrderCancelled)
		if cs, err := s.Service.Certificates(ctx, customer); err != nil || len(cs) != 0 {
			t.Fatalf("%d certificates for a cancelled order, %v", len(cs), err)
		}
	},
	wire.CodeTransferLocked: func(t *testing.T) {
		s := start(t)
		cred := s.Order(t, customer, 0)
		c := s.Client(t)
		csr := irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)
		for i := 1; i <= 5; i++ {
			_, err := c.SignNewCertificate(context.Background(), customer, cred.TransferID, "WRONGPASSWORD234", csr)
			want := wire.CodeTransferInvalid
			if i == 5 {
				want = wire.CodeTransferLocked
			}
			wantCode(t, err, want)
		}
		// Now even the right password is refused, and nothing was issued.
		_, err := c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, csr)
		wantCode(t, err, wire.CodeTransferLocked)
		if cs, err := s.Service.Certificates(context.Background(), customer); err != nil || len(cs) != 0 {
			t.Fatalf("%d certificates after a locked order, %v", len(cs), err)
		}
	},
	wire.CodeCSRInvalid: func(t *testing.T) {
		s := start(t)
		cred := s.Order(t, customer, 0)
		_, err := s.Client(t).SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, []byte("-----BEGIN CERTIFICATE REQUEST-----"))
		wantCode(t, err, wire.CodeCSRInvalid)
	},
	wire.CodeCSRSignature: func(t *testing.T) {
		s := start(t)
		cred := s.Order(t, customer, 0)
		csr := irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)
		csr[len(csr)-1] ^= 1
		_, err := s.Client(t).SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, csr)
		wantCode(t, err, wire.CodeCSRSignature)
	},
	wire.CodeKeyNotAllowed: func(t *testing.T) {
		s := start(t)
		cred := s.Order(t, customer, 0)
		c := s.Client(t)
		small, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []crypto.Signer{small, ec} {
			_, err = c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, k, customer))
			wantCode(t, err, wire.CodeKeyNotAllowed)
		}
		// RSA-3072 is refused by default, as the real service supports
		// only RSA-2048, and its message says what is certified.
		k3072, err := rsa.GenerateKey(rand.Reader, 3072)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, k3072, customer))
		wantCode(t, err, wire.CodeKeyNotAllowed)
		if se := (*client.ServiceError)(nil); !errors.As(err, &se) || !strings.Contains(se.Message, "only RSA keys of 2048 bits") {
			t.Errorf("message: %v", err)
		}
		// A refused CSR costs no attempt and does not use the order.
		if _, err := c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)); err != nil {
			t.Fatalf("good CSR after refused ones: %v", err)
		}
		// With the setting widened (serve --rsa-key-sizes 2048,3072,4096)
		// RSA-3072 is certified.
		wide := irpkidtest.Start(t, irpkidtest.Config{Mutate: func(c *service.Config) { c.Profile.RSASizes = ca.AllowedRSASizes }})
		wide.AddOrg(t, customer, "Acme Oy")
		cred = wide.Order(t, customer, 0)
		wc := wide.Client(t)
		rid, err := wc.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, k3072, customer))
		if err != nil {
			t.Fatalf("RSA-3072 with the sizes widened: %v", err)
		}
		cert, err := wc.GetCertificate(context.Background(), customer, rid)
		if err != nil || cert.PublicKey.(*rsa.PublicKey).N.BitLen() != 3072 {
			t.Fatalf("RSA-3072 certificate: %v", err)
		}
	},
	wire.CodeNotReady: func(t *testing.T) {
		s := irpkidtest.Start(t, irpkidtest.Config{Mutate: func(c *service.Config) { c.IssueDelay = 45 * time.Second }})
		s.AddOrg(t, customer, "Acme Oy")
		cred := s.Order(t, customer, 0)
		c := s.Client(t)
		rid, err := c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
		if err != nil {
			t.Fatal(err)
		}
		s.Clock.Advance(15 * time.Second)
		_, err = c.GetCertificate(context.Background(), customer, rid)
		wantCode(t, err, wire.CodeNotReady)
		if se := (*client.ServiceError)(nil); !errors.As(err, &se) || !strings.Contains(se.Message, "Try again in 30 seconds, at 2026-03-02T09:00:45Z") {
			t.Errorf("message: %v", err)
		}
		s.Clock.Advance(30 * time.Second)
		if _, err := c.GetCertificate(context.Background(), customer, rid); err != nil {
			t.Fatalf("GetCertificate once ready: %v", err)
		}
	},
	wire.CodeCSRWeakHash: func(t *testing.T) {
		s := start(t)
		cred := s.Order(t, customer, 0)
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{SignatureAlgorithm: x509.SHA1WithRSA}, irpkidtest.NewKey(t))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Client(t).SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, der)
		wantCode(t, err, wire.CodeCSRWeakHash)
	},
	wire.CodeKeyExponent: func(t *testing.T) {
		s := start(t)
		cred := s.Order(t, customer, 0)
		_, err := s.Client(t).SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.LoadRawKey(t, irpkidtest.RawExponent3), customer))
		wantCode(t, err, wire.CodeKeyExponent)
	},
	wire.CodeKeySmallPrime: func(t *testing.T) {
		s := start(t)
		cred := s.Order(t, customer, 0)
		_, err := s.Client(t).SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.LoadRawKey(t, irpkidtest.RawSmallPrime), customer))
		wantCode(t, err, wire.CodeKeySmallPrime)
	},
	wire.CodeKeyIsCA: func(t *testing.T) {
		s := start(t)
		cred := s.Order(t, customer, 0)
		c := s.Client(t)
		keys := []crypto.Signer{s.CA.SigningKey}
		for _, is := range s.CA.Issuers {
			keys = append(keys, is.Key)
		}
		for _, k := range keys {
			_, err := c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, k, customer))
			wantCode(t, err, wire.CodeKeyIsCA)
		}
		// Through a renewal too.
		e := s.Enroll(t, customer, 0)
		s.Clock.Set(e.Cert.NotAfter.Add(-24 * time.Hour))
		_, err := c.RenewCertificate(context.Background(), customer, irpkidtest.CSR(t, s.CA.IssuingKey, customer), e.Key, e.Cert)
		wantCode(t, err, wire.CodeKeyIsCA)
	},
	wire.CodeKeyReused: func(t *testing.T) {
		s := start(t)
		e := s.Enroll(t, customer, 0)
		// A new order with the enrolled key.
		cred := s.Order(t, customer, 0)
		c := s.Client(t)
		_, err := c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, e.Key, customer))
		wantCode(t, err, wire.CodeKeyReused)
		// A renewal with the current key.
		s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
		_, err = c.RenewCertificate(context.Background(), customer, irpkidtest.CSR(t, e.Key, customer), e.Key, e.Cert)
		wantCode(t, err, wire.CodeKeyReused)
	},
	wire.CodeSigMissing: func(t *testing.T) {
		s := start(t)
		e := s.Enroll(t, customer, 0)
		el, err := wire.Serialize(wire.EncodeRenew(&wire.RenewCertificateRequest{Environment: wire.EnvTest, CustomerID: customer, CertificateRequest: irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)}))
		if err != nil {
			t.Fatal(err)
		}
		_ = e
		r := post(t, s.URL, "renewCertificate", textXML, envelope(el))
		if got := failCode(t, s, wire.OpRenew, r); got != wire.CodeSigMissing {
			t.Fatalf("code %s, want %s", got, wire.CodeSigMissing)
		}
	},
	wire.CodeSigAlgorithm: func(t *testing.T) {
		s := start(t)
		e := s.Enroll(t, customer, 0)
		s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
		// A genuine signature, but RSA-SHA1 over a SHA-1 digest.
		ctx, err := dsig.NewSigningContext(e.Key, [][]byte{e.Cert.Raw})
		if err != nil {
			t.Fatal(err)
		}
		ctx.Hash = crypto.SHA1
		ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
		if err := ctx.SetSignatureMethod(dsig.RSASHA1SignatureMethod); err != nil {
			t.Fatal(err)
		}
		el := wire.EncodeRenew(&wire.RenewCertificateRequest{Environment: wire.EnvTest, CustomerID: customer, CertificateRequest: irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)})
		signed, err := ctx.SignEnveloped(el)
		if err != nil {
			t.Fatal(err)
		}
		b, err := wire.Serialize(signed)
		if err != nil {
			t.Fatal(err)
		}
		r := post(t, s.URL, "renewCertificate", textXML, envelope(b))
		if got := failCode(t, s, wire.OpRenew, r); got != wire.CodeSigAlgorithm {
			t.Fatalf("code %s, want %s", got, wire.CodeSigAlgorithm)
		}
	},
	wire.CodeSigInvalid: func(t *testing.T) {
		s := start(t)
		e := s.Enroll(t, customer, 0)
		s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
		body := string(renewBody(t, customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), e.Key, e.Cert))
		// Added after signing: the digest no longer matches.
		body = strings.Replace(body, "<CertificateRequest>", "<CustomerName>Evil Oy</CustomerName><CertificateRequest>", 1)
		r := post(t, s.URL, "renewCertificate", textXML, []byte(body))
		if got := failCode(t, s, wire.OpRenew, r); got != wire.CodeSigInvalid {
			t.Fatalf("code %s, want %s", got, wire.CodeSigInvalid)
		}
	},
	wire.CodeSignerUnknown: func(t *testing.T) {
		s := start(t)
		s.Enroll(t, customer, 0)
		c := s.Client(t)
		key := irpkidtest.NewKey(t)
		csr := irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)
		_, err := c.RenewCertificate(context.Background(), customer, csr, key, selfSigned(t, key, customer, s.Clock.Now()))
		wantCode(t, err, wire.CodeSignerUnknown)
		// Issued by this CA but never recorded: pinned to the store.
		unrecorded, err := s.CA.Issue(nil, ca.DefaultProfile, &key.PublicKey, ca.Subject{CustomerID: customer}, s.Clock.Now().AddDate(-2, 0, 30), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.RenewCertificate(context.Background(), customer, csr, key, unrecorded)
		wantCode(t, err, wire.CodeSignerUnknown)
		// Issued by the other environment's CA.
		prod := irpkidtest.Hierarchy(t, wire.EnvProduction)
		foreign, err := prod.Issue(nil, ca.DefaultProfile, &key.PublicKey, ca.Subject{CustomerID: customer}, s.Clock.Now().AddDate(-2, 0, 30), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.RenewCertificate(context.Background(), customer, csr, key, foreign)
		wantCode(t, err, wire.CodeSignerUnknown)
	},
	wire.CodeSignerExpired: func(t *testing.T) {
		s := start(t)
		e := s.Enroll(t, customer, 50*24*time.Hour)
		s.Clock.Set(e.Cert.NotAfter.Add(time.Second))
		_, err := s.Client(t).RenewCertificate(context.Background(), customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), e.Key, e.Cert)
		wantCode(t, err, wire.CodeSignerExpired)
	},
	wire.CodeSignerRevoked: func(t *testing.T) {
		s := start(t)
		e := s.Enroll(t, customer, 0)
		if _, err := s.Service.Revoke(context.Background(), e.Cert.SerialNumber.Text(16), "key_compromise", "", "test", nil); err != nil {
			t.Fatal(err)
		}
		s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
		_, err := s.Client(t).RenewCertificate(context.Background(), customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), e.Key, e.Cert)
		wantCode(t, err, wire.CodeSignerRevoked)
	},
	wire.CodeSignerCustomer: func(t *testing.T) {
		s := start(t)
		s.AddOrg(t, other, "Other Oy")
		e := s.Enroll(t, customer, 0)
		s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
		_, err := s.Client(t).RenewCertificate(context.Background(), other, irpkidtest.CSR(t, irpkidtest.NewKey(t), other), e.Key, e.Cert)
		wantCode(t, err, wire.CodeSignerCustomer)
	},
	wire.CodeWindowNotOpen: func(t *testing.T) {
		s := start(t)
		e := s.Enroll(t, customer, 0)
		s.Clock.Set(e.Cert.NotAfter.Add(-60*24*time.Hour - time.Second))
		c := s.Client(t)
		csr := irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)
		_, err := c.RenewCertificate(context.Background(), customer, csr, e.Key, e.Cert)
		wantCode(t, err, wire.CodeWindowNotOpen)
		s.Clock.Set(e.Cert.NotAfter.Add(-60 * 24 * time.Hour)) // the window opens
		if _, err := c.RenewCertificate(context.Background(), customer, csr, e.Key, e.Cert); err != nil {
			t.Fatalf("renew as the window opens: %v", err)
		}
	},
	wire.CodeAlreadyRenewed: func(t *testing.T) {
		s := start(t)
		e := s.Enroll(t, customer, 0)
		s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
		c := s.Client(t)
		rid, err := c.RenewCertificate(context.Background(), customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), e.Key, e.Cert)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetCertificate(context.Background(), customer, rid); err != nil {
			t.Fatal(err)
		}
		_, err = c.RenewCertificate(context.Background(), customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), e.Key, e.Cert)
		wantCode(t, err, wire.CodeAlreadyRenewed)
	},
	wire.CodeRetrievalUnknown: func(t *testing.T) {
		s := start(t)
		s.AddOrg(t, other, "Other Oy")
		cred := s.Order(t, customer, 0)
		c := s.Client(t)
		rid, err := c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetCertificate(context.Background(), customer, "0123456789abcdef0123456789abcdef")
		wantCode(t, err, wire.CodeRetrievalUnknown)
		_, err = c.GetCertificate(context.Background(), other, rid) // another customer's id
		wantCode(t, err, wire.CodeRetrievalUnknown)
		s.Clock.Set(s.Clock.Now().Add(s.Service.Config().RetrievalRetention + time.Second))
		_, err = c.GetCertificate(context.Background(), customer, rid) // expired
		wantCode(t, err, wire.CodeRetrievalUnknown)
	},
	wire.CodeSuperseded: func(t *testing.T) {
		s := start(t)
		e := s.Enroll(t, customer, 0)
		s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
		c := s.Client(t)
		first, err := c.RenewCertificate(context.Background(), customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), e.Key, e.Cert)
		if err != nil {
			t.Fatal(err)
		}
		k2 := irpkidtest.NewKey(t)
		second, err := c.RenewCertificate(context.Background(), customer, irpkidtest.CSR(t, k2, customer), e.Key, e.Cert)
		if err != nil {
			t.Fatal(err)
		}
		if second == first {
			t.Fatal("a different request got the same RetrievalId")
		}
		_, err = c.GetCertificate(context.Background(), customer, first)
		wantCode(t, err, wire.CodeSuperseded)
		succ, err := c.GetCertificate(context.Background(), customer, second)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.VerifyIssued(succ, &k2.PublicKey, customer); err != nil {
			t.Fatal(err)
		}
	},
	wire.CodeCertRevoked: func(t *testing.T) {
		s := start(t)
		cred := s.Order(t, customer, 0)
		c := s.Client(t)
		rid, err := c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
		if err != nil {
			t.Fatal(err)
		}
		cs, err := s.Service.Certificates(context.Background(), customer)
		if err != nil || len(cs) != 1 {
			t.Fatalf("%d certificates, %v", len(cs), err)
		}
		if _, err := s.Service.Revoke(context.Background(), cs[0].Serial, "key_compromise", "", "test", nil); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetCertificate(context.Background(), customer, rid)
		wantCode(t, err, wire.CodeCertRevoked)
	},
	wire.CodeInternal: func(t *testing.T) {
		s := start(t)
		url := serve(t, s, brokenStore{}, nil)
		c, err := client.New(url, client.Options{Environment: wire.EnvTest, Trust: s.Trust(), Now: s.Clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.SignNewCertificate(context.Background(), customer, "T", "P", irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
		wantCode(t, err, wire.CodeInternal)
		_, err = c.GetCertificate(context.Background(), customer, "0123")
		wantCode(t, err, wire.CodeInternal)
		key := irpkidtest.NewKey(t)
		cert, err := s.CA.Issue(nil, ca.DefaultProfile, &key.PublicKey, ca.Subject{CustomerID: customer}, s.Clock.Now().AddDate(-2, 0, 30), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.RenewCertificate(context.Background(), customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), key, cert)
		wantCode(t, err, wire.CodeInternal)
		var se *client.ServiceError
		if errors.As(err, &se) && strings.Contains(se.Message, "disk on fire") {
			t.Errorf("INTERNAL message leaks the cause: %q", se.Message)
		}
		if !strings.Contains(s.Logs.String(), "disk on fire") {
			t.Error("the store failure was not logged")
		}
	},
}

// brokenStore fails every transaction.
type brokenStore struct{}

var errBroken = errors.New("disk on fire")

func (brokenStore) Update(context.Context, func(*store.Tx) error) error { return errBroken }
func (brokenStore) View(context.Context, func(*store.Tx) error) error   { return errBroken }
func (brokenStore) UpdateKeyed(context.Context, func(*store.Tx) error) error {
	return errBroken
}

// start starts a test server with the organisation of customer.
func start(t *testing.T) *irpkidtest.Server {
	t.Helper()
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, customer, "Acme Oy")
	return s
}

func TestEveryFailCode(t *testing.T) {
	for _, code := range wire.FailCodes {
		t.Run(string(code), func(t *testing.T) {
			f, ok := failCases[code]
			if !ok {
				t.Fatalf("no end-to-end test for FAIL code %s", code)
			}
			t.Parallel()
			f(t)
		})
	}
	for code := range failCases {
		if !isFailCode(code) {
			t.Errorf("test for %s, which is no FAIL code of the catalogue", code)
		}
	}
}

func isFailCode(c wire.Code) bool {
	for _, x := range wire.FailCodes {
		if x == c {
			return true
		}
	}
	return false
}

var (
	_ = base64.StdEncoding
	_ = etree.NewDocument
	_ = x509.ParseCertificate
)

// withHeader puts header entries into an envelope made by wire.Envelope.
func withHeader(env []byte, entries string) []byte {
	return []byte(strings.Replace(string(env), "<SOAP-ENV:Header/>", "<SOAP-ENV:Header>"+entries+"</SOAP-ENV:Header>", 1))
}

// Header entries the service may ignore are ignored; one it must understand
// is a MustUnderstand fault, with SOAP 1.1's own faultcode.
func TestMustUnderstandHeaders(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	for _, tc := range []struct {
		name    string
		entries string
		fault   bool
	}{
		{"optional entry", `<t:Trace xmlns:t="urn:example:t">1</t:Trace>`, false},
		{"mustUnderstand 0", `<t:Trace xmlns:t="urn:example:t" SOAP-ENV:mustUnderstand="0">1</t:Trace>`, false},
		{"for another actor", `<t:Trace xmlns:t="urn:example:t" SOAP-ENV:mustUnderstand="1" SOAP-ENV:actor="urn:example:gateway">1</t:Trace>`, false},
		{"unqualified mustUnderstand attribute", `<t:Trace xmlns:t="urn:example:t" mustUnderstand="1">1</t:Trace>`, false},
		{"mustUnderstand 1", `<t:Tx xmlns:t="urn:example:t" SOAP-ENV:mustUnderstand="1">1</t:Tx>`, true},
		{"mustUnderstand 1 for the next actor", `<t:Tx xmlns:t="urn:example:t" SOAP-ENV:mustUnderstand="1" SOAP-ENV:actor="http://schemas.xmlsoap.org/soap/actor/next">1</t:Tx>`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, s.URL, "getCertificate", textXML, withHeader(getBody(t, customer, "abc"), tc.entries))
			if !tc.fault {
				if r.status != http.StatusOK {
					t.Fatalf("HTTP %d, want a normal (FAIL) answer\n%s", r.status, r.body)
				}
				return
			}
			if got := faultCode(t, r); got != wire.CodeMustUnderstand || !strings.Contains(string(r.body), "<faultcode>SOAP-ENV:MustUnderstand</faultcode>") {
				t.Errorf("code %s, want %s with faultcode MustUnderstand\n%s", got, wire.CodeMustUnderstand, r.body)
			}
		})
	}
}

// TestAnswersCarryTheirLength: a signed answer (here a refused
// GetCertificate, whose signature holds the signing certificate: more
// than net/http buffers before it starts chunking) and a fault are sent
// with Content-Length, not chunked.
func TestAnswersCarryTheirLength(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	for _, tc := range []struct {
		name string
		body []byte
		want int
	}{
		{"signed answer", getBody(t, customer, "abc"), http.StatusOK},
		{"fault", []byte("hello"), http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, s.URL, "-", textXML, tc.body)
			b := r.body
			if r.status != tc.want {
				t.Fatalf("HTTP %d, want %d\n%s", r.status, tc.want, b)
			}
			if len(r.encoding) != 0 || r.length != int64(len(b)) {
				t.Errorf("Transfer-Encoding %q, Content-Length %d for a body of %d bytes", r.encoding, r.length, len(b))
			}
			if tc.want == http.StatusOK && len(b) <= 2048 {
				t.Errorf("the signed answer is %d bytes: too short to show chunking", len(b))
			}
		})
	}
}
