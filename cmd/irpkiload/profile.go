package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/pprof/profile"
)

// signFuncs are the functions whose CPU is an RSA signature: a sample
// with one of them on its stack is the signatures' (the private-key
// operation, its padding and the check of the result Go makes after it),
// whoever called it (x509.CreateCertificate for the certificate,
// goxmldsig for the responses).
var signFuncs = map[string]bool{
	"crypto/rsa.SignPKCS1v15": true,
	"crypto/rsa.SignPSS":      true,
}

// profileShare fetches a CPU profile of seconds from a server's
// net/http/pprof (irpkid serve --metrics-listen ADDR --pprof, at base
// http://ADDR) and returns the share of its CPU spent in RSA signatures.
// It reads the signatures off the server itself: the sampled signature
// time (sign ms) is another process's, on a machine whose speed drifts
// from one moment to the next.
func profileShare(ctx context.Context, base string, seconds int) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, seconds), nil)
	if err != nil {
		return 0, err
	}
	hc := &http.Client{Timeout: time.Duration(seconds)*time.Second + 30*time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("the server's CPU profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("the server's CPU profile: %s from %s (is it serve --pprof, and is no other profile running?)", resp.Status, base)
	}
	p, err := profile.Parse(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("the server's CPU profile: %w", err)
	}
	return signatureShare(p)
}

// signatureShare is the share of a CPU profile's time whose stack holds
// one of signFuncs.
func signatureShare(p *profile.Profile) (float64, error) {
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			idx = i
		}
	}
	if idx < 0 {
		return 0, fmt.Errorf("the server's profile has no CPU samples (sample types %v)", p.SampleType)
	}
	var total, sig int64
	for _, s := range p.Sample {
		v := s.Value[idx]
		total += v
		if signing(s) {
			sig += v
		}
	}
	if total == 0 {
		return 0, fmt.Errorf("the server's profile is empty: no CPU used in %s", time.Duration(p.DurationNanos))
	}
	return float64(sig) / float64(total), nil
}

func signing(s *profile.Sample) bool {
	for _, loc := range s.Location {
		for _, line := range loc.Line {
			if line.Function != nil && signFuncs[line.Function.Name] {
				return true
			}
		}
	}
	return false
}
