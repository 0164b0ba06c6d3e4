package ca_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/ca/catest"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

var now = time.Date(2026, 5, 14, 10, 30, 0, 0, time.UTC)

func TestIssueProfile(t *testing.T) {
	h := irpkidtest.Hierarchy(t, wire.EnvTest)
	key := irpkidtest.NewKey(t)
	cert, err := h.Issue(nil, ca.DefaultProfile, &key.PublicKey, ca.Subject{CustomerID: "1234567-1", Name: "Acme Oy"}, now, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2028, 5, 14, 10, 30, 0, 0, time.UTC); !cert.NotAfter.Equal(want) {
		t.Errorf("NotAfter = %v, want %v (two calendar years)", cert.NotAfter, want)
	}
	if want := now.Add(-time.Minute); !cert.NotBefore.Equal(want) {
		t.Errorf("NotBefore = %v, want %v (backdated one minute)", cert.NotBefore, want)
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage = %v, want digitalSignature only", cert.KeyUsage)
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || len(cert.UnknownExtKeyUsage) != 0 {
		t.Errorf("ExtKeyUsage = %v %v, want clientAuth only", cert.ExtKeyUsage, cert.UnknownExtKeyUsage)
	}
	if cert.IsCA || !cert.BasicConstraintsValid {
		t.Errorf("IsCA=%v BasicConstraintsValid=%v, want an end-entity certificate", cert.IsCA, cert.BasicConstraintsValid)
	}
	if !bytes.Equal(cert.SubjectKeyId, ca.SubjectKeyID(&key.PublicKey)) || len(cert.SubjectKeyId) != 20 {
		t.Errorf("SubjectKeyId = %x", cert.SubjectKeyId)
	}
	if len(h.Issuing.SubjectKeyId) == 0 || !bytes.Equal(cert.AuthorityKeyId, h.Issuing.SubjectKeyId) {
		t.Errorf("AuthorityKeyId = %x, want the issuing CA's %x", cert.AuthorityKeyId, h.Issuing.SubjectKeyId)
	}
	if cert.Subject.CommonName != "1234567-1" || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "Acme Oy" ||
		len(cert.Subject.Country) != 1 || cert.Subject.Country[0] != "FI" {
		t.Errorf("Subject = %v", cert.Subject)
	}
	if !h.NamesUsAsIssuer(cert) {
		t.Error("NamesUsAsIssuer = false for our own certificate")
	}
	if h.NamesUsAsIssuer(h.Issuing) {
		t.Error("NamesUsAsIssuer = true for the issuing CA itself (issued by the root)")
	}
	roots := x509.NewCertPool()
	roots.AddCert(h.Root)
	inter := x509.NewCertPool()
	inter.AddCert(h.Issuing)
	inter.AddCert(h.Intermediate)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("chain: %v", err)
	}
}

func TestIssueCalendarYearsAndShortValidity(t *testing.T) {
	h := irpkidtest.Hierarchy(t, wire.EnvTest)
	key := irpkidtest.NewKey(t)
	leap := time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC)
	c, err := h.Issue(nil, ca.DefaultProfile, &key.PublicKey, ca.Subject{CustomerID: "1234567-1"}, leap, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want := leap.AddDate(2, 0, 0); !c.NotAfter.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", c.NotAfter, want)
	}
	if len(c.Subject.Organization) != 0 {
		t.Errorf("Organization = %v, want none when the name is empty", c.Subject.Organization)
	}
	short := now.Add(50 * 24 * time.Hour)
	c, err = h.Issue(nil, ca.DefaultProfile, &key.PublicKey, ca.Subject{CustomerID: "1234567-1"}, now, short)
	if err != nil {
		t.Fatal(err)
	}
	if !c.NotAfter.Equal(short) {
		t.Errorf("NotAfter = %v, want the explicit %v", c.NotAfter, short)
	}
}

func TestSerialsRandom128Bit(t *testing.T) {
	h := irpkidtest.Hierarchy(t, wire.EnvTest)
	key := irpkidtest.NewKey(t)
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		c, err := h.Issue(nil, ca.DefaultProfile, &key.PublicKey, ca.Subject{CustomerID: "1234567-1"}, now, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if n := c.SerialNumber.BitLen(); n <= 64 || n > 128 || c.SerialNumber.Sign() <= 0 {
			t.Errorf("serial %x has %d bits, want a positive serial of 65..128 bits", c.SerialNumber, n)
		}
		if seen[c.SerialNumber.String()] {
			t.Fatalf("serial %x repeated", c.SerialNumber)
		}
		seen[c.SerialNumber.String()] = true
	}
	// RandomSerial draws 16 bytes and retries short draws.
	r := bytes.NewReader(append(make([]byte, 16), bytes.Repeat([]byte{0xff}, 16)...))
	s, err := ca.RandomSerial(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1)); s.Cmp(want) != 0 {
		t.Errorf("RandomSerial = %x, want the second draw %x", s, want)
	}
	if _, err := ca.RandomSerial(bytes.NewReader(make([]byte, 5))); err == nil {
		t.Error("RandomSerial with a failing reader: no error")
	}
}

func csrFor(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "1234567-1"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func csrWith(t *testing.T, key crypto.Signer, alg x509.SignatureAlgorithm) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "1234567-1"}, SignatureAlgorithm: alg}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestSmallPrimeFactors: the GCD check finds every prime factor below the
// bound, and none in sound moduli; the raw keys' signatures verify, so
// only the factor check refuses them.
func TestSmallPrimeFactors(t *testing.T) {
	for _, k := range []*rsa.PrivateKey{irpkidtest.NewKey(t), irpkidtest.NewKey(t)} {
		if err := ca.DefaultProfile.CheckKey(&k.PublicKey); err != nil {
			t.Fatalf("a sound RSA-2048 key: %v", err)
		}
	}
	q := irpkidtest.NewKey(t).Primes[0]   // 1024 bits
	for _, p := range []int64{3, 65521} { // the first odd prime, and the last below 2^16 (also the raw key's, below)
		for i := 0; ; i++ {
			r, err := rand.Prime(rand.Reader, 1024-big.NewInt(p).BitLen()+i%2)
			if err != nil {
				t.Fatal(err)
			}
			n := new(big.Int).Mul(big.NewInt(p), new(big.Int).Mul(q, r))
			if n.BitLen() != 2048 {
				continue
			}
			if err := ca.DefaultProfile.CheckKey(&rsa.PublicKey{N: n, E: 65537}); !errors.Is(err, ca.ErrKeySmallPrime) {
				t.Errorf("factor %d: %v", p, err)
			}
			break
		}
	}
	for _, name := range []string{irpkidtest.RawExponent3, irpkidtest.RawSmallPrime} {
		der := csrFor(t, irpkidtest.LoadRawKey(t, name))
		csr, err := x509.ParseCertificateRequest(der)
		if err != nil || csr.CheckSignature() != nil {
			t.Fatalf("%s: the CSR's own signature does not verify: %v", name, err)
		}
	}
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckCSR(t *testing.T) {
	p := ca.DefaultProfile
	good := csrFor(t, irpkidtest.NewKey(t))
	csr, err := p.CheckCSR(good)
	if err != nil {
		t.Fatalf("RSA-2048 CSR: %v", err)
	}
	if csr.Subject.CommonName != "1234567-1" {
		t.Errorf("CheckCSR returned subject %v", csr.Subject)
	}
	// RSA-2048 only, as the real service; RSA-4096 when widened.
	if _, err := p.CheckCSR(readFixture(t, "csr-rsa4096.der")); !errors.Is(err, ca.ErrKeyNotAllowed) {
		t.Errorf("RSA-4096 CSR (openssl) with the default profile: %v", err)
	}
	wide := p
	wide.RSASizes = ca.AllowedRSASizes
	if _, err := wide.CheckCSR(readFixture(t, "csr-rsa4096.der")); err != nil {
		t.Errorf("RSA-4096 CSR (openssl) with the profile widened: %v", err)
	}
	if got := wide.SizesText(); got != "2048, 3072 or 4096" {
		t.Errorf("SizesText = %q", got)
	}

	badPOP := bytes.Clone(good)
	badPOP[len(badPOP)-1] ^= 0x01 // last octet of the signature
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		der  []byte
		want error
	}{
		{"empty", nil, ca.ErrCSRInvalid},
		{"garbage", []byte("not a certificate request"), ca.ErrCSRInvalid},
		{"truncated", good[:len(good)/2], ca.ErrCSRInvalid},
		{"trailing data", append(bytes.Clone(good), 0), ca.ErrCSRInvalid},
		{"PEM instead of DER", []byte("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"), ca.ErrCSRInvalid},
		{"bad proof of possession", badPOP, ca.ErrCSRSignature},
		{"RSA-1024", readFixture(t, "csr-rsa1024.der"), ca.ErrKeyNotAllowed},
		{"RSA-8192", readFixture(t, "csr-rsa8192.der"), ca.ErrKeyNotAllowed},
		{"ECDSA P-256", csrFor(t, ec), ca.ErrKeyNotAllowed},
		{"SHA-1 signature", csrWith(t, irpkidtest.NewKey(t), x509.SHA1WithRSA), ca.ErrCSRWeakHash},
		{"public exponent 3", csrFor(t, irpkidtest.LoadRawKey(t, irpkidtest.RawExponent3)), ca.ErrKeyExponent},
		{"prime factor 65521", csrFor(t, irpkidtest.LoadRawKey(t, irpkidtest.RawSmallPrime)), ca.ErrKeySmallPrime},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.CheckCSR(tc.der)
			if !errors.Is(err, tc.want) {
				t.Errorf("CheckCSR = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	opt := catest.Options()
	h, created, err := ca.LoadOrCreate(dir, wire.EnvTest, now, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("first LoadOrCreate: created = false")
	}
	caDir := filepath.Join(dir, "ca", wire.EnvTest)
	files := []string{"root", "intermediate", "services", "signing"}
	for _, ch := range ca.Channels {
		files = append(files, "issuing-"+ch)
	}
	for _, f := range files {
		for _, ext := range []string{".crt", ".key"} {
			st, err := os.Stat(filepath.Join(caDir, f+ext))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v, want 0600", f+ext, st.Mode().Perm())
			}
		}
	}
	if h.Signing.IsCA || h.Signing.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("signing certificate: IsCA=%v KeyUsage=%v", h.Signing.IsCA, h.Signing.KeyUsage)
	}
	if h.TwoLevel() || len(h.Issuers) != len(ca.Channels) || h.Services == nil {
		t.Fatalf("TwoLevel=%v, %d issuers, services %v", h.TwoLevel(), len(h.Issuers), h.Services)
	}
	// root → intermediate → each issuing CA; services CA → signer.
	if h.Intermediate.CheckSignatureFrom(h.Root) != nil || h.Signing.CheckSignatureFrom(h.Services.Cert) != nil {
		t.Error("intermediate not signed by the root, or signer not by the services CA")
	}
	for _, is := range append(append([]*ca.Issuer{}, h.Issuers...), h.Services) {
		if !is.Cert.IsCA || !is.Cert.MaxPathLenZero || is.Cert.CheckSignatureFrom(h.Intermediate) != nil {
			t.Errorf("%s: IsCA=%v MaxPathLenZero=%v, or not signed by the intermediate", is.Channel, is.Cert.IsCA, is.Cert.MaxPathLenZero)
		}
	}
	if !h.Root.IsCA || !h.Intermediate.IsCA || h.Intermediate.MaxPathLen != 1 {
		t.Error("root and intermediate must be CAs, the intermediate with path length 1")
	}
	if !h.Issuing.Equal(h.IssuerFor(ca.ChannelReportsWS).Cert) || !h.IssuerFor("").Cert.Equal(h.Issuing) {
		t.Error("Issuing is not the reports_ws issuing CA")
	}

	h2, created, err := ca.LoadOrCreate(dir, wire.EnvTest, now.Add(time.Hour), opt)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("second LoadOrCreate: created = true")
	}
	if !h2.Root.Equal(h.Root) || !h2.Intermediate.Equal(h.Intermediate) || !h2.Services.Cert.Equal(h.Services.Cert) || !h2.Signing.Equal(h.Signing) {
		t.Error("reloaded certificates differ")
	}
	for i, is := range h.Issuers {
		if got := h2.Issuers[i]; got.Channel != is.Channel || got.Package != is.Package || !got.Cert.Equal(is.Cert) ||
			!got.Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(is.Key.Public()) {
			t.Errorf("reloaded issuer %d differs: %s %s", i, got.Channel, got.Package)
		}
	}
	if !h2.SigningKey.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(h.SigningKey.Public()) {
		t.Error("reloaded keys differ")
	}
	// The bundles: responses (root, intermediate, services CA, signer);
	// certificates (root, intermediate, four issuing CAs); all: both, each
	// once. Never a key.
	for purpose, want := range map[string]int{ca.TrustResponses: 4, ca.TrustCertificates: 6, ca.TrustAll: 8} {
		if b := h2.BundleFor(purpose, now); bytes.Count(b, []byte("BEGIN CERTIFICATE")) != want || bytes.Contains(b, []byte("PRIVATE")) {
			t.Errorf("BundleFor(%s):\n%s", purpose, b)
		}
	}
	if !bytes.Equal(h2.Bundle(now), h2.BundleFor(ca.TrustAll, now)) || h2.BundleFor("other", now) != nil {
		t.Error("Bundle is not BundleFor(all), or an unknown purpose has a bundle")
	}

	// The root's, the intermediate's and the services CA's keys need not
	// be online.
	for _, f := range []string{"root.key", "intermediate.key", "services.key"} {
		if err := os.Rename(filepath.Join(caDir, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if h3, err := ca.Load(caDir, wire.EnvTest, nil); err != nil || h3.Services.Key != nil {
		t.Fatalf("Load without the offline keys: %v", err)
	}

	// A key readable by others is refused, not silently used.
	if err := os.Chmod(filepath.Join(caDir, "signing.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ca.LoadOrCreate(dir, wire.EnvTest, now, opt); err == nil {
		t.Error("LoadOrCreate accepted a 0644 private key")
	}
}

// TestHierarchyNames: the real service's names, "Test" in TEST only, and
// the package names of its published CA chains; a prefix brands them.
func TestHierarchyNames(t *testing.T) {
	for _, tc := range []struct {
		env, prefix       string
		root, inter, sign string
		issuers           map[string]string // channel → CN
		packages          map[string]string // channel → package
	}{
		{env: wire.EnvTest, root: "Verohallinto Root Test CA v1", inter: "Verohallinto Intermediate Test CA v1", sign: "IR Certificate Services Test Signing v1",
			issuers: map[string]string{"reports_ws": "Data Providers Test Issuing CA v1", "reports_sftp": "Data Providers SFTP Test Issuing CA v1",
				"datause_ws": "IR Income Data Users Test Issuing CA v1", "datause_sftp": "IR Income Data Users SFTP Test Issuing CA v1", "services": "IR Services Test Issuing CA v1"},
			packages: map[string]string{"reports_ws": "DataProvidersTestIssuingCAv1", "reports_sftp": "DataProvidersSFTPTestIssuingCAv1",
				"datause_ws": "IRIncomeDataUsersTestIssuingCAv1", "datause_sftp": "IRIncomeDataUsersSFTPTestIssuingCAv1", "services": "IRServicesTestIssuingCAv1"}},
		{env: wire.EnvProduction, root: "Verohallinto Root CA v1", inter: "Verohallinto Intermediate CA v1", sign: "IR Certificate Services Signing v1",
			issuers: map[string]string{"reports_ws": "Data Providers Issuing CA v1", "reports_sftp": "Data Providers SFTP Issuing CA v1",
				"datause_ws": "IR Income Data Users Issuing CA v1", "datause_sftp": "IR Income Data Users SFTP Issuing CA v1", "services": "IR Services Issuing CA v1"},
			packages: map[string]string{"reports_ws": "DataProvidersIssuingCAv1", "reports_sftp": "DataProvidersSFTPIssuingCAv1",
				"datause_ws": "IRIncomeDataUsersIssuingCAv1", "datause_sftp": "IRIncomeDataUsersSFTPIssuingCAv1", "services": "IRServicesIssuingCAv1"}},
		{env: wire.EnvTest, prefix: "Acme Payroll Lab", root: "Acme Payroll Lab Root Test CA v1", inter: "Acme Payroll Lab Intermediate Test CA v1", sign: "Acme Payroll Lab IR Certificate Services Test Signing v1",
			issuers:  map[string]string{"reports_ws": "Acme Payroll Lab Data Providers Test Issuing CA v1", "services": "Acme Payroll Lab IR Services Test Issuing CA v1"},
			packages: map[string]string{"reports_ws": "DataProvidersTestIssuingCAv1", "services": "IRServicesTestIssuingCAv1"}},
	} {
		t.Run(tc.env+"/"+tc.prefix, func(t *testing.T) {
			opt := catest.Options()
			opt.NamePrefix = tc.prefix
			h, _, err := ca.Create(tc.env, now, opt)
			if err != nil {
				t.Fatal(err)
			}
			org := "Verohallinto"
			if tc.prefix != "" {
				org = tc.prefix
			}
			if h.Root.Subject.CommonName != tc.root || h.Intermediate.Subject.CommonName != tc.inter || h.Signing.Subject.CommonName != tc.sign {
				t.Errorf("names %q, %q, %q", h.Root.Subject.CommonName, h.Intermediate.Subject.CommonName, h.Signing.Subject.CommonName)
			}
			if h.Root.Subject.Organization[0] != org || h.Services.Cert.Subject.Organization[0] != org || h.Root.Subject.Country[0] != "FI" {
				t.Errorf("subject %v, %v", h.Root.Subject, h.Services.Cert.Subject)
			}
			all := append(append([]*ca.Issuer{}, h.Issuers...), h.Services)
			for _, is := range all {
				if want, ok := tc.issuers[is.Channel]; ok && is.Cert.Subject.CommonName != want {
					t.Errorf("%s: %q, want %q", is.Channel, is.Cert.Subject.CommonName, want)
				}
				if want, ok := tc.packages[is.Channel]; ok && is.Package != want {
					t.Errorf("%s package: %q, want %q", is.Channel, is.Package, want)
				}
				if len(is.Cert.Subject.CommonName) > 64 {
					t.Errorf("%q is longer than 64", is.Cert.Subject.CommonName)
				}
			}
			pk := h.Packages()
			if len(pk) != 5 || pk[4].Name != tc.packages["services"] || !pk[4].Chain[0].Equal(h.Services.Cert) || !pk[4].Chain[2].Equal(h.Root) {
				t.Errorf("packages: %+v", pk)
			}
		})
	}
	for _, bad := range []string{" Acme", "Acme\n", "A very long brand name here", "Tab\tin"} {
		if ca.ValidNamePrefix(bad) {
			t.Errorf("ValidNamePrefix(%q) = true", bad)
		}
		opt := catest.Options()
		opt.NamePrefix = bad
		if _, _, err := ca.LoadOrCreate(t.TempDir(), wire.EnvTest, now, opt); err == nil {
			t.Errorf("LoadOrCreate with prefix %q: no error", bad)
		}
	}
}

// TestIssuePerChannel: each channel's certificates come from its own
// issuing CA; an order without a channel from reports_ws's.
func TestIssuePerChannel(t *testing.T) {
	h := irpkidtest.Hierarchy(t, wire.EnvTest)
	for _, ch := range append([]string{""}, ca.Channels...) {
		key := irpkidtest.NewKey(t)
		cert, err := h.Issue(nil, ca.DefaultProfile, &key.PublicKey, ca.Subject{CustomerID: "1234567-1", Channel: ch}, now, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		want := h.IssuerFor(ch).Cert
		if ch == "" {
			want = h.IssuerFor(ca.ChannelReportsWS).Cert
		}
		if cert.CheckSignatureFrom(want) != nil || cert.Issuer.CommonName != want.Subject.CommonName || !h.NamesUsAsIssuer(cert) {
			t.Errorf("channel %q: issued by %q, want %q", ch, cert.Issuer.CommonName, want.Subject.CommonName)
		}
	}
	if h.NamesUsAsIssuer(h.Signing) {
		t.Error("NamesUsAsIssuer = true for the signer (issued by the services CA)")
	}
}

// TestLoadTwoLevel: a data directory made before the intermediate and the
// per-channel issuing CAs (testdata/legacy, made by that version) keeps
// its CA: every channel is issued by its one issuing CA, the signer stays
// under the root, and the bundles are what they were.
func TestLoadTwoLevel(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("testdata", "legacy", "ca", wire.EnvTest)
	dst := filepath.Join(dir, "ca", wire.EnvTest)
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h, created, err := ca.LoadOrCreate(dir, wire.EnvTest, now, catest.Options())
	if err != nil || created {
		t.Fatalf("LoadOrCreate: created=%v %v", created, err)
	}
	if !h.TwoLevel() || h.Intermediate != nil || h.Services != nil || len(h.Issuers) != 1 || h.Root.Subject.CommonName != "irpki TEST Root CA" {
		t.Fatalf("not the stored two-level hierarchy: %v", h.Root.Subject)
	}
	for _, ch := range ca.Channels {
		key := irpkidtest.NewKey(t)
		cert, err := h.Issue(nil, ca.DefaultProfile, &key.PublicKey, ca.Subject{CustomerID: "1234567-1", Channel: ch}, now, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if cert.CheckSignatureFrom(h.Issuing) != nil || !h.NamesUsAsIssuer(cert) {
			t.Errorf("channel %s: not issued by the one issuing CA", ch)
		}
	}
	if b := h.BundleFor(ca.TrustAll, now); bytes.Count(b, []byte("BEGIN CERTIFICATE")) != 3 {
		t.Errorf("bundle of a two-level hierarchy:\n%s", b)
	}
	if h.Packages() != nil {
		t.Error("a two-level hierarchy has no per-purpose packages")
	}
}

func TestKeyFingerprint(t *testing.T) {
	k1, k2 := irpkidtest.NewKey(t), irpkidtest.NewKey(t)
	f1, err := ca.KeyFingerprint(&k1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	f1b, _ := ca.KeyFingerprint(&k1.PublicKey)
	f2, _ := ca.KeyFingerprint(&k2.PublicKey)
	if f1 != f1b || f1 == f2 || len(f1) != 64 {
		t.Errorf("fingerprints %s %s %s", f1, f1b, f2)
	}
}

// Two processes starting together on a fresh data directory (irpkid serve
// and an operator command) both find no CA and make one; exactly one
// hierarchy lands, and both use it instead of one of them failing.
func TestLoadOrCreateConcurrentFirstStart(t *testing.T) {
	dir := t.TempDir()
	opt := catest.Options()
	const n = 4
	var wg sync.WaitGroup
	roots := make([][]byte, n)
	errs := make([]error, n)
	created := make([]bool, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, c, err := ca.LoadOrCreate(dir, wire.EnvTest, now, opt)
			errs[i], created[i] = err, c
			if err == nil {
				roots[i] = h.Root.Raw
			}
		}()
	}
	wg.Wait()
	winners := 0
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		if !bytes.Equal(roots[i], roots[0]) {
			t.Fatalf("start %d got another root than start 0", i)
		}
		if created[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("%d starts say they created the CA, want 1", winners)
	}
}

// TestIssueDERDescribesTheCertificate: what IssueDER reports is what the
// certificate encodes, also for times with fractions of a second and in
// another zone.
func TestIssueDERDescribesTheCertificate(t *testing.T) {
	h := irpkidtest.Hierarchy(t, wire.EnvTest)
	key := irpkidtest.NewKey(t)
	now := time.Date(2026, 3, 2, 11, 4, 5, 987654321, time.FixedZone("EET", 2*3600))
	for _, notAfter := range []time.Time{{}, now.Add(50*24*time.Hour + 123*time.Millisecond)} {
		got, err := h.IssueDER(nil, ca.DefaultProfile, &key.PublicKey, ca.Subject{CustomerID: "1234567-1", Name: "Acme Oy"}, now, notAfter)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(got.DER)
		if err != nil {
			t.Fatal(err)
		}
		if c.SerialNumber.Cmp(got.Serial) != 0 || !c.NotBefore.Equal(got.NotBefore) || !c.NotAfter.Equal(got.NotAfter) ||
			got.NotBefore.Location() != time.UTC || got.NotAfter.Location() != time.UTC {
			t.Errorf("IssueDER says serial %x, %v – %v; the certificate has %x, %v – %v",
				got.Serial, got.NotBefore, got.NotAfter, c.SerialNumber, c.NotBefore, c.NotAfter)
		}
	}
}
