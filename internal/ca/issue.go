package ca

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors of CSR checks; the service maps each to its own wire code.
var (
	ErrCSRInvalid    = errors.New("certificate request is not a DER PKCS#10 request")
	ErrCSRSignature  = errors.New("certificate request signature (proof of possession) does not verify")
	ErrCSRWeakHash   = errors.New("certificate request is signed with SHA-1 or a weaker algorithm")
	ErrKeyNotAllowed = errors.New("key type or size not allowed")
	ErrKeyExponent   = errors.New("RSA public exponent is not 65537")
	ErrKeySmallPrime = errors.New("RSA modulus has a small prime factor")
)

// Profile is what an organisation certificate looks like.
type Profile struct {
	// RSASizes are the RSA modulus sizes, in bits, that may be certified.
	RSASizes      []int
	Backdate      time.Duration // NotBefore = issuance − Backdate
	ValidityYears int           // calendar years from issuance
	// CRLBaseURL, when set (scheme://host[:port] of the service), puts a
	// CRL distribution point in every certificate: the issuing CA's list at
	// CRLBaseURL/crl/NAME.crl (Issuer.CRLName), which clients such as
	// irpki status check.
	CRLBaseURL string
}

// DefaultProfile: RSA-2048 only, as the real service states it supports,
// backdated a minute, two calendar years.
var DefaultProfile = Profile{RSASizes: []int{2048}, Backdate: time.Minute, ValidityYears: 2}

// AllowedRSASizes are the sizes a profile may widen to (irpkid serve
// --rsa-key-sizes): what earlier versions accepted.
var AllowedRSASizes = []int{2048, 3072, 4096}

// CheckCSR parses a DER PKCS#10 request, checks that its key fits the
// profile and is sound, that it is signed with SHA-256 or stronger, and
// its proof of possession, and returns it. The subject is ignored: the
// service sets the subject from its own records.
func (p Profile) CheckCSR(der []byte) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCSRInvalid, err)
	}
	// The key is checked before the signature: verifying with an oversized
	// key (a 10 KiB CSR can carry a 70000-bit modulus) costs hundreds of
	// times a normal verification, and its refusal is KEY_NOT_ALLOWED.
	if err := p.CheckKey(csr.PublicKey); err != nil {
		return nil, err
	}
	switch csr.SignatureAlgorithm {
	case x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA,
		x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS:
	default:
		// SHA-1 (which Go still verifies in CSRs), MD5, MD2, or an
		// algorithm Go does not know.
		return nil, fmt.Errorf("%w: %v", ErrCSRWeakHash, csr.SignatureAlgorithm)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCSRSignature, err)
	}
	return csr, nil
}

// CheckKey reports whether the profile allows pub: RSA of one of RSASizes
// (ErrKeyNotAllowed), public exponent 65537 (ErrKeyExponent), and no prime
// factor below SmallPrimeBound (ErrKeySmallPrime).
func (p Profile) CheckKey(pub crypto.PublicKey) error {
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: %T, only RSA is allowed", ErrKeyNotAllowed, pub)
	}
	if n := k.N.BitLen(); !slices.Contains(p.RSASizes, n) {
		return fmt.Errorf("%w: RSA-%d, allowed is RSA of %s bits", ErrKeyNotAllowed, n, p.SizesText())
	}
	if k.E != 65537 {
		return fmt.Errorf("%w: %d", ErrKeyExponent, k.E)
	}
	if hasSmallFactor(k.N) {
		return ErrKeySmallPrime
	}
	return nil
}

// SizesText is the profile's RSA sizes as people read them: "2048", "2048,
// 3072 or 4096".
func (p Profile) SizesText() string {
	var parts []string
	for _, n := range p.RSASizes {
		parts = append(parts, strconv.Itoa(n))
	}
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// CheckSignerKey reports whether pub is a key that irpkid may ever have
// certified (RSA of 2048 to 4096 bits, an odd public exponent of at least
// 3), whatever today's profile: a renewal request's certificate is
// sorted out with it before its signature is verified with that key,
// which bounds the cost of verifying with a key a request claims as ours.
func CheckSignerKey(pub crypto.PublicKey) error {
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: %T, only RSA is allowed", ErrKeyNotAllowed, pub)
	}
	if n := k.N.BitLen(); n < 2048 || n > 4096 || k.E < 3 || k.E%2 == 0 {
		return fmt.Errorf("%w: RSA-%d with exponent %d", ErrKeyNotAllowed, n, k.E)
	}
	return nil
}

// SmallPrimeBound: CheckKey refuses a modulus with a prime factor below
// it. A sound RSA-2048 modulus has two 1024-bit prime factors; one below
// 2^16 means a broken key generator, and anyone can factor the modulus.
// The check is one remainder and one GCD against the product of those
// primes (about 94,000 bits, made once): about a twelfth of one RSA-2048
// signature (BenchmarkSmallFactor). With 2^20 the product has 1.5 million bits and the check cost
// as much as a signature, for every request; a generator that slips to a
// factor between 2^16 and 2^20 is no likelier than to a larger one.
// No cheap check finds larger small factors (a 64-bit one needs about 2^32
// steps of Pollard's rho), so a key with one is refused only if its maker
// slipped further.
const SmallPrimeBound = 1 << 16

var (
	primorialOnce sync.Once
	primorial     *big.Int
)

// hasSmallFactor reports whether n has a prime factor below
// SmallPrimeBound.
func hasSmallFactor(n *big.Int) bool {
	primorialOnce.Do(func() { primorial = primeProduct(SmallPrimeBound) })
	if n.Sign() <= 0 {
		return true
	}
	r := new(big.Int).Mod(primorial, n)
	if r.Sign() == 0 {
		return true // n divides the product: n itself is small
	}
	return new(big.Int).GCD(nil, nil, r, n).Cmp(big.NewInt(1)) != 0
}

// primeProduct is the product of the primes below bound, multiplied as a
// balanced tree (a running product would cost quadratic time).
func primeProduct(bound int) *big.Int {
	sieve := make([]bool, bound)
	var nums []*big.Int
	for i := 2; i < bound; i++ {
		if sieve[i] {
			continue
		}
		nums = append(nums, big.NewInt(int64(i)))
		for j := i * i; j < bound; j += i {
			sieve[j] = true
		}
	}
	for len(nums) > 1 {
		next := make([]*big.Int, 0, (len(nums)+1)/2)
		for i := 0; i+1 < len(nums); i += 2 {
			next = append(next, new(big.Int).Mul(nums[i], nums[i+1]))
		}
		if len(nums)%2 == 1 {
			next = append(next, nums[len(nums)-1])
		}
		nums = next
	}
	return nums[0]
}

// Subject is the organisation an issued certificate names, and the channel
// whose issuing CA issues it.
type Subject struct {
	CustomerID string // business ID, the CN
	Name       string // organisation name, the O
	Channel    string // the order's purpose code; "" for DefaultChannel
}

// Issued is a certificate just signed, described by what went into it so
// that the service need not parse back what it has just encoded.
type Issued struct {
	DER                 []byte
	Serial              *big.Int
	NotBefore, NotAfter time.Time // as encoded: UTC, whole seconds
}

// Issue signs an organisation certificate for pub. NotBefore is now minus
// the profile's backdate; NotAfter is notAfter if non-zero (a shorter TEST
// validity), else now plus the profile's calendar years.
func (h *Hierarchy) Issue(r io.Reader, p Profile, pub crypto.PublicKey, s Subject, now, notAfter time.Time) (*x509.Certificate, error) {
	c, err := h.IssueDER(r, p, pub, s, now, notAfter)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(c.DER)
}

// IssueDER is Issue without parsing the result.
func (h *Hierarchy) IssueDER(r io.Reader, p Profile, pub crypto.PublicKey, s Subject, now, notAfter time.Time) (Issued, error) {
	if r == nil {
		r = rand.Reader
	}
	if notAfter.IsZero() {
		notAfter = now.AddDate(p.ValidityYears, 0, 0)
	}
	serial, err := RandomSerial(r)
	if err != nil {
		return Issued{}, err
	}
	name := pkix.Name{CommonName: s.CustomerID, Country: []string{"FI"}}
	if s.Name != "" {
		name.Organization = []string{s.Name}
	}
	t := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               name,
		NotBefore:             now.Add(-p.Backdate).UTC().Truncate(time.Second),
		NotAfter:              notAfter.UTC().Truncate(time.Second),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		SubjectKeyId:          SubjectKeyID(pub),
	}
	is := h.IssuerFor(s.Channel)
	if p.CRLBaseURL != "" {
		t.CRLDistributionPoints = []string{strings.TrimSuffix(p.CRLBaseURL, "/") + "/crl/" + is.CRLName()}
	}
	der, err := x509.CreateCertificate(r, t, is.Cert, pub, is.Key)
	if err != nil {
		return Issued{}, fmt.Errorf("ca: issue for %s: %w", s.CustomerID, err)
	}
	return Issued{DER: der, Serial: serial, NotBefore: t.NotBefore, NotAfter: t.NotAfter}, nil
}

// NamesUsAsIssuer reports whether cert names one of this hierarchy's issuing
// CAs of organisation certificates as its issuer: the same issuer name and
// authority key identifier. It does not
// verify cert's signature and so is no proof that the CA issued it; it
// sorts out certificates of other CAs early. The proof is elsewhere: the
// service trusts a signer only if its exact DER is a certificate it stored
// when it issued it.
func (h *Hierarchy) NamesUsAsIssuer(cert *x509.Certificate) bool {
	for _, is := range h.Issuers {
		if bytes.Equal(cert.RawIssuer, is.Cert.RawSubject) &&
			len(is.Cert.SubjectKeyId) > 0 && bytes.Equal(cert.AuthorityKeyId, is.Cert.SubjectKeyId) {
			return true
		}
	}
	return false
}
