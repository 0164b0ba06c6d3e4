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
	"time"
)

// Errors of CSR checks; the service maps them to wire codes.
var (
	ErrCSRInvalid    = errors.New("certificate request is not a DER PKCS#10 request")
	ErrCSRSignature  = errors.New("certificate request signature (proof of possession) does not verify")
	ErrKeyNotAllowed = errors.New("key type or size not allowed")
)

// Profile is what an organisation certificate looks like.
type Profile struct {
	MinRSABits, MaxRSABits int
	Backdate               time.Duration // NotBefore = issuance − Backdate
	ValidityYears          int           // calendar years from issuance
}

// DefaultProfile: RSA 2048–4096, backdated a minute, two calendar years.
var DefaultProfile = Profile{MinRSABits: 2048, MaxRSABits: 4096, Backdate: time.Minute, ValidityYears: 2}

// CheckCSR parses a DER PKCS#10 request, checks its proof of possession and
// that its key fits the profile, and returns it. The subject is ignored: the
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
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCSRSignature, err)
	}
	return csr, nil
}

// CheckKey reports whether the profile allows pub: RSA of MinRSABits to
// MaxRSABits with an odd public exponent of at least 3. Errors wrap
// ErrKeyNotAllowed. Only such keys are ever certified, so it also bounds
// the cost of verifying with a key a request claims as ours.
func (p Profile) CheckKey(pub crypto.PublicKey) error {
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: %T, only RSA is allowed", ErrKeyNotAllowed, pub)
	}
	if n := k.N.BitLen(); n < p.MinRSABits || n > p.MaxRSABits {
		return fmt.Errorf("%w: RSA-%d, allowed are RSA %d to %d bits", ErrKeyNotAllowed, n, p.MinRSABits, p.MaxRSABits)
	}
	if k.E < 3 || k.E%2 == 0 {
		return fmt.Errorf("%w: RSA public exponent %d", ErrKeyNotAllowed, k.E)
	}
	return nil
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
