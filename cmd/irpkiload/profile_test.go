package main

import (
	"testing"

	"github.com/google/pprof/profile"
)

// TestSignatureShare: the share is the CPU time of the samples with an
// RSA signature anywhere on their stack, over all CPU time; a signature
// check (VerifyPKCS1v15) or a function merely named alike is not one.
func TestSignatureShare(t *testing.T) {
	fn := map[string]*profile.Function{}
	loc := func(names ...string) []*profile.Location {
		var out []*profile.Location
		for _, n := range names {
			if fn[n] == nil {
				fn[n] = &profile.Function{ID: uint64(len(fn) + 1), Name: n}
			}
			out = append(out, &profile.Location{Line: []profile.Line{{Function: fn[n]}}})
		}
		return out
	}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample: []*profile.Sample{
			{Value: []int64{30, 300}, Location: loc("crypto/internal/fips140/bigmod.(*Nat).Exp", "crypto/rsa.SignPKCS1v15", "crypto/x509.CreateCertificate")},
			{Value: []int64{40, 400}, Location: loc("crypto/rsa.SignPKCS1v15", "github.com/russellhaering/goxmldsig.(*SigningContext).ConstructSignature")},
			{Value: []int64{10, 100}, Location: loc("crypto/rsa.VerifyPKCS1v15", "github.com/russellhaering/goxmldsig.(*ValidationContext).Validate")},
			{Value: []int64{15, 150}, Location: loc("example.com/x.SignPKCS1v15Later", "net/http.(*conn).serve")},
			{Value: []int64{5, 50}, Location: loc("modernc.org/sqlite/lib.Xfsync")},
		},
	}
	got, err := signatureShare(p)
	if err != nil || got != 0.7 {
		t.Fatalf("share %v, %v; want 0.7 (700 of 1000 ns)", got, err)
	}
	if _, err := signatureShare(&profile.Profile{SampleType: []*profile.ValueType{{Type: "alloc_space", Unit: "bytes"}}}); err == nil {
		t.Error("a profile without CPU samples: no error")
	}
	if _, err := signatureShare(&profile.Profile{SampleType: []*profile.ValueType{{Type: "cpu", Unit: "nanoseconds"}}}); err == nil {
		t.Error("an empty CPU profile: no error")
	}
}
