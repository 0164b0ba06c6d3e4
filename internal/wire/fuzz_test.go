package wire_test

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/irpki/irpki/internal/wire"
)

// requestSeeds are valid requests of each operation in the shapes seen on
// the wire, and a few hostile ones.
func requestSeeds(t testing.TB) [][]byte {
	s := testSigner(t)
	csr := base64.StdEncoding.EncodeToString(s.csr)
	wrapped := csr[:64] + "&#13;\n" + csr[64:128] + "\n" + csr[128:]
	signNew := func(cr string) string {
		return `<ser:SignNewCertificateRequest><Environment>TEST</Environment><CustomerId>1234567-1</CustomerId><CustomerName>Acme Oy</CustomerName><TransferId>ABCDEFGHJKLMNPQRSTUVWXYZ23456789</TransferId><TransferPassword>ABCDEFGHJKLMNPQR</TransferPassword><CertificateRequest>` + cr + `</CertificateRequest></ser:SignNewCertificateRequest>`
	}
	signedEl := signedRenew(t)
	return [][]byte{
		envelope(signNew(csr)),
		[]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ser="` + wire.Namespace + `"><SOAP-ENV:Header/><SOAP-ENV:Body>` + signNew(wrapped) + `</SOAP-ENV:Body></SOAP-ENV:Envelope>`),
		envelope(getInner),
		envelope(`<ser:GetCertificateRequest><Environment>PRODUCTION</Environment><CustomerId>1234567-1</CustomerId><CustomerName>Ä&#9;Ö</CustomerName><RetrievalId>0123456789abcdef0123456789abcdef</RetrievalId></ser:GetCertificateRequest>`),
		wire.Envelope(signedEl),
		envelope(string(signedEl)),
		envelope(`<ser:RenewCertificateRequest><Environment>TEST</Environment><CustomerId>1234567-1</CustomerId><CertificateRequest>` + csr + `</CertificateRequest></ser:RenewCertificateRequest>`),
		append([]byte(`<!DOCTYPE x [<!ENTITY a "b">]>`), envelope(getInner)...),
		envelope(`<ser:GetCertificateRequest><Environment>TEST</Environment><CustomerId>1<!--c-->234567-1</CustomerId><RetrievalId>a</RetrievalId></ser:GetCertificateRequest>`),
		envelope(`<ser:Unknown/>`),
	}
}

// FuzzParseRequest runs the server's request path up to the service: the
// envelope parser under its limits, the operation dispatch, and the strict
// decoders. It must never panic; every error must be one the handler maps to
// a catalogue code; and whatever decodes must survive encode → decode
// unchanged.
func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		el, err := wire.ParseEnvelope(body, wire.DefaultLimits)
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) && !errors.Is(err, wire.ErrTooLarge) {
				t.Fatalf("ParseEnvelope error outside the catalogue: %v", err)
			}
			return
		}
		op, err := wire.RequestOperation(el)
		if err != nil {
			if !errors.Is(err, wire.ErrUnknownOp) {
				t.Fatalf("RequestOperation: %v", err)
			}
			return
		}
		st := wire.Detach(el)
		known := func(err error) {
			t.Helper()
			if !errors.Is(err, wire.ErrSchema) && !errors.Is(err, wire.ErrSigMissing) && !errors.Is(err, wire.ErrUnknownOp) {
				t.Fatalf("decode error outside the catalogue: %v", err)
			}
		}
		reparse := func(t *testing.T, b []byte) []byte {
			env := wire.Envelope(b)
			el, err := wire.ParseEnvelope(env, wire.Limits{MaxBytes: 1 << 30, MaxDepth: 100, MaxElements: 1 << 20, MaxAttributes: 100, MaxTokenBytes: 1 << 30})
			if err != nil {
				t.Fatalf("re-encoded request does not parse: %v\n%s", err, env)
			}
			b, err = wire.Serialize(wire.Detach(el))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		switch op {
		case wire.OpSignNew:
			r, err := wire.DecodeSignNew(st)
			if err != nil {
				known(err)
				return
			}
			r2, err := wire.DecodeSignNew(mustParseEl(t, reparse(t, mustSer(t, wire.EncodeSignNew(r)))))
			if err != nil || !reflect.DeepEqual(r, r2) {
				t.Fatalf("round trip: %+v → %+v, %v", r, r2, err)
			}
		case wire.OpGet:
			r, err := wire.DecodeGet(st)
			if err != nil {
				known(err)
				return
			}
			r2, err := wire.DecodeGet(mustParseEl(t, reparse(t, mustSer(t, wire.EncodeGet(r)))))
			if err != nil || !reflect.DeepEqual(r, r2) {
				t.Fatalf("round trip: %+v → %+v, %v", r, r2, err)
			}
		case wire.OpRenew:
			r, err := wire.DecodeRenew(st, true)
			if err != nil {
				known(err)
				return
			}
			r2, err := wire.DecodeRenew(mustParseEl(t, reparse(t, mustSer(t, wire.EncodeRenew(r)))), false)
			if err != nil || !reflect.DeepEqual(r, r2) {
				t.Fatalf("round trip: %+v → %+v, %v", r, r2, err)
			}
			if _, err := wire.SignatureCertificate(st); err != nil && !errors.Is(err, wire.ErrSigMissing) && !errors.Is(err, wire.ErrSigAlgorithm) && !errors.Is(err, wire.ErrSigInvalid) {
				t.Fatalf("SignatureCertificate error outside the catalogue: %v", err)
			}
		}
	})
}

func mustSer(t *testing.T, el *etree.Element) []byte {
	t.Helper()
	b, err := wire.Serialize(el)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParseEl(t *testing.T, b []byte) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return doc.Root()
}

// FuzzVerify runs the server's signature path on a RenewCertificateRequest
// in an envelope: the profile check, then verification with the KeyInfo
// certificate (as the server does once it found that certificate in its
// store). It must never panic, every error must map to a catalogue code, and
// since nobody can forge the seed signer's signature, anything that verifies
// must carry exactly the values that signer signed.
func FuzzVerify(f *testing.F) {
	s := testSigner(f)
	signed := signedRenew(f)
	f.Add(wire.Envelope(signed))
	f.Add(envelope(string(signed)))
	// The same request with its transforms reduced to enveloped-signature.
	f.Add(envelope(strings.Replace(string(signed), `<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>`, "", 1)))
	f.Add(envelope(strings.Replace(string(signed), "<ds:DigestValue>", "<ds:DigestValue>\n", 1)))
	f.Add(envelope(strings.Replace(string(signed), "<ds:X509Certificate>", "<ds:X509Certificate>&#13;\n", 1)))
	want := wire.RenewCertificateRequest{Environment: wire.EnvTest, CustomerID: customer, CertificateRequest: s.csr}
	f.Fuzz(func(t *testing.T, body []byte) {
		el, err := wire.ParseEnvelope(body, wire.DefaultLimits)
		if err != nil {
			return
		}
		st := wire.Detach(el)
		cert, err := wire.SignatureCertificate(st)
		if err != nil {
			if !errors.Is(err, wire.ErrSigMissing) && !errors.Is(err, wire.ErrSigAlgorithm) && !errors.Is(err, wire.ErrSigInvalid) {
				t.Fatalf("SignatureCertificate error outside the catalogue: %v", err)
			}
			return
		}
		v, err := wire.Verify(st, cert, now)
		if err != nil {
			if !errors.Is(err, wire.ErrSigMissing) && !errors.Is(err, wire.ErrSigAlgorithm) && !errors.Is(err, wire.ErrSigInvalid) {
				t.Fatalf("Verify error outside the catalogue: %v", err)
			}
			return
		}
		// Fields of the KeyInfo certificate may change (the server pins the
		// whole certificate to its store); its key cannot.
		if !s.key.PublicKey.Equal(cert.PublicKey) {
			t.Fatalf("verified with a key that is not the seed signer's")
		}
		r, err := wire.DecodeRenew(v, false)
		if err != nil {
			// The signer signed a valid request; what verifies is that request.
			t.Fatalf("verified element does not decode: %v", err)
		}
		if !reflect.DeepEqual(*r, want) {
			t.Fatalf("verified values %+v differ from the signed %+v", *r, want)
		}
	})
}
