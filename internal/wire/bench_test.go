package wire_test

import (
	"testing"

	"github.com/irpki/irpki/internal/wire"
)

// The pieces of reading a signed RenewCertificateRequest, each alone, to
// show where BenchmarkRenewRoundTrip (internal/certapi) spends the time it
// does not spend on signatures; docs/benchmark.md.

func BenchmarkParseEnvelope(b *testing.B) {
	body := wire.Envelope(signedRenew(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wire.ParseEnvelope(body, wire.DefaultLimits); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDetachDecode(b *testing.B) {
	el, err := wire.ParseEnvelope(wire.Envelope(signedRenew(b)), wire.DefaultLimits)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wire.DecodeRenew(wire.Detach(el), true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignatureCertificate(b *testing.B) {
	el := parse(b, wire.Envelope(signedRenew(b)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wire.SignatureCertificate(el); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	el := parse(b, wire.Envelope(signedRenew(b)))
	cert := testSigner(b).cert
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wire.Verify(el, cert, now); err != nil {
			b.Fatal(err)
		}
	}
}
