// Package ca is the issuing core of irpkid: the per-environment hierarchy
// (root → intermediate → one issuing CA per order channel, and a services
// issuing CA that certifies the response-signing certificate; see names.go
// for the names and files), the organisation certificate profile, and CSR
// checks. It knows nothing of HTTP or SQL.
//
// Use LoadOrCreate at start-up; it creates the hierarchy on first start, with
// private keys 0600, all files appearing at once, and loads it afterwards —
// also the two-level hierarchy of data directories made by earlier versions.
package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/atomicfile"
)

// Hierarchy is one environment's CA.
type Hierarchy struct {
	Environment string
	Root        *x509.Certificate
	// Intermediate is nil in a two-level hierarchy of an older data
	// directory, where the root signs the issuing CA and the signer.
	Intermediate *x509.Certificate
	// Issuers are the issuing CAs of organisation certificates, one per
	// channel in the order of Channels; an older data directory has one,
	// with Channel "", for every channel.
	Issuers []*Issuer
	// Services is the issuing CA of the response-signing certificate; nil
	// in an older data directory.
	Services *Issuer
	// Issuing and IssuingKey are the issuing CA of DefaultChannel.
	Issuing    *x509.Certificate
	IssuingKey crypto.Signer
	// Signing and SigningKey are the response signer of signing.crt and
	// signing.key: the one that signs, unless Rotation has switched in.
	Signing    *x509.Certificate
	SigningKey crypto.Signer
	// Rotation is the next response signer while a rotation is under way
	// (rotate.go); nil otherwise.
	Rotation *Rotation
	// Dir is the directory the hierarchy was loaded from; "" for one made
	// in memory by Create.
	Dir string
	// keys opens the keys of Dir that are no plain files.
	keys *Keys
}

// Issuer is an issuing CA.
type Issuer struct {
	Channel string // a channel of Channels, ServicesChannel, or "" for the one CA of an older data directory
	Package string // the real service's CA package name, e.g. DataProvidersTestIssuingCAv1; "" in an older data directory
	Cert    *x509.Certificate
	Key     crypto.Signer // nil for the services CA when its key is not online
}

// CRLName is the file name of the issuing CA's revocation list: its CA
// package name (as the real service publishes them) with .crl, or
// issuing.crl for the one issuing CA of an older data directory.
func (is *Issuer) CRLName() string {
	if is.Package == "" {
		return "issuing.crl"
	}
	return is.Package + ".crl"
}

// Options set key sizes, lifetimes and names of a new hierarchy.
type Options struct {
	RootBits, IntermediateBits, IssuingBits, SigningBits int // IntermediateBits 0: RootBits
	// NamePrefix, if not "", brands the CA names instead of the real
	// service's (see names.go); ValidNamePrefix tells which are allowed.
	NamePrefix string
	Rand       io.Reader
	// NewKey, if set, makes the hierarchy's keys instead of
	// rsa.GenerateKey: tests hand out keys made in advance.
	NewKey func(bits int) (*rsa.PrivateKey, error)
	// Passphrase, if not empty, encrypts every key file written
	// (EncryptKeyPEM).
	Passphrase []byte
	// OnlineKey, if set, makes the keys a serving irpkid uses (the
	// issuing CAs' and the response signer's) elsewhere, e.g. in a PKCS#11
	// token: name is the key's file name without ".key" (signing,
	// issuing-reports_ws), ref the key's URI, written as NAME.pkcs11
	// instead of a key file; a nil key leaves that one a key file.
	OnlineKey func(name string, bits int) (key crypto.Signer, ref string, err error)
	// Keys opens an existing hierarchy's keys (LoadOrCreate).
	Keys *Keys
}

// DefaultOptions: RSA-3072 root and intermediate; RSA-2048 issuing and
// signing keys, the key type the real service's clients use.
var DefaultOptions = Options{RootBits: 3072, IntermediateBits: 3072, IssuingBits: 2048, SigningBits: 2048}

// Files of a hierarchy's directory.
const (
	fileRoot            = "root.crt"
	fileRootKey         = "root.key"
	fileIntermediate    = "intermediate.crt"
	fileIntermediateKey = "intermediate.key"
	fileServices        = "services.crt"
	fileServicesKey     = "services.key"
	fileSigning         = "signing.crt"
	fileSigningKey      = "signing.key"
	// an older data directory's one issuing CA
	fileIssuing    = "issuing.crt"
	fileIssuingKey = "issuing.key"
)

func issuerFiles(channel string) (cert, key string) {
	return "issuing-" + channel + ".crt", "issuing-" + channel + ".key"
}

// LoadOrCreate loads the hierarchy for env from dir/ca/<env>, creating it on
// first use with now as the start of its validity.
func LoadOrCreate(dir, env string, now time.Time, opt Options) (h *Hierarchy, created bool, err error) {
	path := filepath.Join(dir, "ca", env)
	if _, err := os.Stat(path); err == nil {
		h, err := Load(path, env, opt.Keys)
		return h, false, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("ca: %w", err)
	}
	if !ValidNamePrefix(opt.NamePrefix) {
		return nil, false, fmt.Errorf("ca: name prefix %q: use one line of at most %d characters without surrounding spaces", opt.NamePrefix, MaxNamePrefix)
	}
	h, files, err := Create(env, now, opt)
	if err != nil {
		return nil, false, err
	}
	if err := atomicfile.WriteDir(path, files, 0o600); err != nil {
		if errors.Is(err, os.ErrExist) {
			// Another process on the same data directory (serve and an
			// operator command started together) made it first: the
			// directory appeared whole, so use that one.
			h, err := Load(path, env, opt.Keys)
			return h, false, err
		}
		return nil, false, fmt.Errorf("ca: %w", err)
	}
	return h, true, nil
}

// caTemplate is a CA certificate of the hierarchy.
func caTemplate(n naming, cn string, pub crypto.PublicKey, nb, na time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"FI"}, Organization: []string{n.org()}, CommonName: cn},
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          SubjectKeyID(pub),
	}
}

// Create makes a new hierarchy in memory and returns it with the files that
// store it (name → PEM).
func Create(env string, now time.Time, opt Options) (*Hierarchy, map[string][]byte, error) {
	r := opt.Rand
	if r == nil {
		r = rand.Reader
	}
	if opt.IntermediateBits == 0 {
		opt.IntermediateBits = opt.RootBits
	}
	n := naming{env: env, prefix: opt.NamePrefix}
	files := map[string][]byte{}
	newKey := func(what string, bits int, file string) (crypto.Signer, error) {
		if opt.OnlineKey != nil && !slices.Contains(OfflineKeys, file) {
			k, ref, err := opt.OnlineKey(strings.TrimSuffix(file, ".key"), bits)
			if err != nil {
				return nil, fmt.Errorf("ca: %s key: %w", what, err)
			}
			if k != nil {
				files[keyRef(file)] = []byte(ref + "\n")
				return k, nil
			}
		}
		gen := opt.NewKey
		if gen == nil {
			gen = func(bits int) (*rsa.PrivateKey, error) { return rsa.GenerateKey(r, bits) }
		}
		k, err := gen(bits)
		if err != nil {
			return nil, fmt.Errorf("ca: %s key: %w", what, err)
		}
		if len(opt.Passphrase) > 0 {
			if files[file], err = EncryptKeyPEM(k, opt.Passphrase); err != nil {
				return nil, err
			}
		} else {
			files[file] = pemKey(k)
		}
		return k, nil
	}
	nb := now.Add(-time.Minute)

	rootKey, err := newKey("root", opt.RootBits, fileRootKey)
	if err != nil {
		return nil, nil, err
	}
	rootT := caTemplate(n, n.root(), rootKey, nb, now.AddDate(20, 0, 0))
	root, err := sign(r, rootT, rootT, rootKey.Public(), rootKey)
	if err != nil {
		return nil, nil, err
	}
	files[fileRoot] = pemCert(root)

	interKey, err := newKey("intermediate", opt.IntermediateBits, fileIntermediateKey)
	if err != nil {
		return nil, nil, err
	}
	interT := caTemplate(n, n.intermediate(), interKey, nb, now.AddDate(15, 0, 0))
	interT.MaxPathLen = 1
	inter, err := sign(r, interT, root, interKey.Public(), rootKey)
	if err != nil {
		return nil, nil, err
	}
	files[fileIntermediate] = pemCert(inter)

	h := &Hierarchy{Environment: env, Root: root, Intermediate: inter}
	newIssuer := func(channel, certFile, keyFile string) (*Issuer, error) {
		k, err := newKey(channel+" issuing", opt.IssuingBits, keyFile)
		if err != nil {
			return nil, err
		}
		t := caTemplate(n, n.issuer(channel), k, nb, now.AddDate(10, 0, 0))
		t.MaxPathLenZero = true
		if channel != ServicesChannel {
			t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		}
		c, err := sign(r, t, inter, k.Public(), interKey)
		if err != nil {
			return nil, err
		}
		files[certFile] = pemCert(c)
		return &Issuer{Channel: channel, Package: n.pkg(channel), Cert: c, Key: k}, nil
	}
	for _, ch := range Channels {
		cf, kf := issuerFiles(ch)
		is, err := newIssuer(ch, cf, kf)
		if err != nil {
			return nil, nil, err
		}
		h.Issuers = append(h.Issuers, is)
	}
	if h.Services, err = newIssuer(ServicesChannel, fileServices, fileServicesKey); err != nil {
		return nil, nil, err
	}

	sigKey, err := newKey("signing", opt.SigningBits, fileSigningKey)
	if err != nil {
		return nil, nil, err
	}
	sigT := &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"FI"}, Organization: []string{n.org()}, CommonName: n.signing()},
		NotBefore:             nb,
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SubjectKeyId:          SubjectKeyID(sigKey.Public()),
	}
	if h.Signing, err = sign(r, sigT, h.Services.Cert, sigKey.Public(), h.Services.Key); err != nil {
		return nil, nil, err
	}
	h.SigningKey = sigKey
	files[fileSigning] = pemCert(h.Signing)
	h.setDefault()
	return h, files, nil
}

func sign(r io.Reader, t, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) (*x509.Certificate, error) {
	serial, err := RandomSerial(r)
	if err != nil {
		return nil, err
	}
	t.SerialNumber = serial
	der, err := x509.CreateCertificate(r, t, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("ca: sign %s: %w", t.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// Load reads a hierarchy from path: the layout of names.go when path has
// an intermediate.crt, else the two-level one of older data directories.
// The root's, the intermediate's and the services CA's private keys are
// not needed (they sign only CA and signer certificates); the issuing CAs'
// and the signer's are.
//
// keys opens the keys that are no plain files (see keysource.go); nil
// opens plain files only.
func Load(path, env string, keys *Keys) (*Hierarchy, error) {
	h := &Hierarchy{Environment: env, Dir: path, keys: keys}
	var err error
	if h.Root, err = readCert(filepath.Join(path, fileRoot)); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(path, fileIntermediate)); errors.Is(err, os.ErrNotExist) {
		return loadTwoLevel(h, path, keys)
	}
	if h.Intermediate, err = readCert(filepath.Join(path, fileIntermediate)); err != nil {
		return nil, err
	}
	if err := checkIssued(path, h.Intermediate, h.Root, "intermediate CA", "root"); err != nil {
		return nil, err
	}
	for _, ch := range Channels {
		cf, kf := issuerFiles(ch)
		is, err := loadIssuer(path, ch, cf, kf, h.Intermediate, true, keys)
		if err != nil {
			return nil, err
		}
		is.Package = naming{env: env}.pkg(ch)
		h.Issuers = append(h.Issuers, is)
	}
	if h.Services, err = loadIssuer(path, ServicesChannel, fileServices, fileServicesKey, h.Intermediate, false, keys); err != nil {
		return nil, err
	}
	h.Services.Package = naming{env: env}.pkg(ServicesChannel)
	if err := loadSigners(h, path, h.Services.Cert); err != nil {
		return nil, err
	}
	if err := checkIssued(path, h.Signing, h.Services.Cert, "signing certificate", "services issuing CA"); err != nil {
		return nil, err
	}
	h.setDefault()
	return h, nil
}

// loadTwoLevel loads the rest of an older data directory's hierarchy: root
// → issuing CA, root → signing certificate.
func loadTwoLevel(h *Hierarchy, path string, keys *Keys) (*Hierarchy, error) {
	is, err := loadIssuer(path, "", fileIssuing, fileIssuingKey, h.Root, true, keys)
	if err != nil {
		return nil, err
	}
	h.Issuers = []*Issuer{is}
	if err := loadSigners(h, path, h.Root); err != nil {
		return nil, err
	}
	if err := checkIssued(path, h.Signing, h.Root, "signing certificate", "root"); err != nil {
		return nil, err
	}
	h.setDefault()
	return h, nil
}

// loadIssuer reads an issuing CA signed by parent; its key must be there
// if needKey, and is read if it is.
func loadIssuer(path, channel, certFile, keyFile string, parent *x509.Certificate, needKey bool, keys *Keys) (*Issuer, error) {
	c, err := readCert(filepath.Join(path, certFile))
	if err != nil {
		return nil, err
	}
	if err := checkIssued(path, c, parent, certFile, parent.Subject.CommonName); err != nil {
		return nil, err
	}
	is := &Issuer{Channel: channel, Cert: c}
	k, present, err := keys.openKey(path, keyFile)
	switch {
	case err != nil:
		return nil, err
	case !present && needKey:
		return nil, missingKey(path, keyFile)
	case present:
		if err := checkKeyMatches(filepath.Join(path, keyFile), k, c); err != nil {
			return nil, err
		}
		is.Key = k
	}
	return is, nil
}

func checkIssued(path string, c, parent *x509.Certificate, what, by string) error {
	if err := c.CheckSignatureFrom(parent); err != nil {
		return fmt.Errorf("ca: %s: %s not signed by the %s: %w", path, what, by, err)
	}
	return nil
}

// setDefault sets Issuing and IssuingKey to DefaultChannel's issuing CA.
func (h *Hierarchy) setDefault() {
	is := h.IssuerFor(DefaultChannel)
	h.Issuing, h.IssuingKey = is.Cert, is.Key
}

// IssuerFor returns the issuing CA of a channel's certificates: the
// channel's own, DefaultChannel's for "" or an unknown channel, and the
// one issuing CA of an older data directory for every channel.
func (h *Hierarchy) IssuerFor(channel string) *Issuer {
	for _, is := range h.Issuers {
		if is.Channel == channel || is.Channel == "" {
			return is
		}
	}
	for _, is := range h.Issuers {
		if is.Channel == DefaultChannel {
			return is
		}
	}
	return h.Issuers[0]
}

// TwoLevel reports whether h is the two-level hierarchy of an older data
// directory.
func (h *Hierarchy) TwoLevel() bool { return h.Intermediate == nil }

// PublicKeys returns the public keys of every certificate of the
// hierarchy: no organisation certificate may certify one of them.
func (h *Hierarchy) PublicKeys() []crypto.PublicKey {
	out := []crypto.PublicKey{h.Root.PublicKey, h.Signing.PublicKey}
	if h.Rotation != nil {
		out = append(out, h.Rotation.Next.Cert.PublicKey)
	}
	if h.Intermediate != nil {
		out = append(out, h.Intermediate.PublicKey)
	}
	for _, is := range h.Issuers {
		out = append(out, is.Cert.PublicKey)
	}
	if h.Services != nil {
		out = append(out, h.Services.Cert.PublicKey)
	}
	return out
}

func readCert(p string) (*x509.Certificate, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("ca: %s: no PEM certificate", p)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ca: %s: %w", p, err)
	}
	return c, nil
}

// readKey reads a PEM key file, which only its owner may read.
func readKey(p string, keys *Keys) (crypto.Signer, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("ca: %s: private key readable by others (mode %v); chmod 600 it", p, st.Mode().Perm())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	return ParseKeyPEM(p, b, keys)
}

// openRequired opens a key that must be there.
func (keys *Keys) openRequired(dir, keyFile string) (crypto.Signer, error) {
	k, present, err := keys.openKey(dir, keyFile)
	if err == nil && !present {
		err = missingKey(dir, keyFile)
	}
	return k, err
}

func missingKey(dir, keyFile string) error {
	return fmt.Errorf("ca: %s: neither %s nor %s (a PKCS#11 key reference) is there", dir, keyFile, keyRef(keyFile))
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemKey(k crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err) // only RSA keys made here
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Bundle returns the PEM trust bundle of every purpose at now:
// BundleFor(TrustAll, now).
func (h *Hierarchy) Bundle(now time.Time) []byte { return h.BundleFor(TrustAll, now) }

// Trust purposes of a bundle.
const (
	// TrustResponses verifies the service's response signatures: root,
	// intermediate, services issuing CA, and the signing certificate itself
	// (which pins it: a client then accepts no other signer), both signing
	// certificates during a rotation's overlap.
	TrustResponses = "responses"
	// TrustCertificates verifies delivered organisation certificates:
	// root, intermediate and every channel's issuing CA.
	TrustCertificates = "certificates"
	// TrustAll is both, each certificate once.
	TrustAll = "all"
)

// BundleFor returns the PEM bundle for a trust purpose at now, root first.
func (h *Hierarchy) BundleFor(purpose string, now time.Time) []byte {
	return PEM(h.BundleCerts(purpose, now)...)
}

// BundleCerts returns the certificates of BundleFor(purpose, now): nil for
// an unknown purpose.
func (h *Hierarchy) BundleCerts(purpose string, now time.Time) []*x509.Certificate {
	resp, certs := purpose == TrustResponses || purpose == TrustAll, purpose == TrustCertificates || purpose == TrustAll
	if !resp && !certs {
		return nil
	}
	out := []*x509.Certificate{h.Root}
	if h.Intermediate != nil {
		out = append(out, h.Intermediate)
	}
	if certs {
		for _, is := range h.Issuers {
			out = append(out, is.Cert)
		}
	}
	if resp {
		if h.Services != nil {
			out = append(out, h.Services.Cert)
		}
		out = append(out, h.SigningCertsAt(now)...)
	}
	return out
}

// Package is one CA package as the real service publishes them: an issuing
// CA's chain, issuing CA first, root last.
type Package struct {
	Name    string // e.g. DataProvidersTestIssuingCAv1
	Channel string // a channel, or ServicesChannel
	Chain   []*x509.Certificate
}

// Packages returns the per-purpose CA packages: one per channel's issuing
// CA and one for the services issuing CA. An older data directory has none.
func (h *Hierarchy) Packages() []Package {
	if h.TwoLevel() {
		return nil
	}
	var out []Package
	for _, is := range append(append([]*Issuer{}, h.Issuers...), h.Services) {
		out = append(out, Package{Name: is.Package, Channel: is.Channel, Chain: []*x509.Certificate{is.Cert, h.Intermediate, h.Root}})
	}
	return out
}

// PEM encodes certificates as PEM blocks, in order.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pemCert(c)...)
	}
	return out
}

// SigningChain returns the service signing certificate chain for KeyInfo
// of signing.crt (see SignerAt during a rotation): the signing certificate
// alone, as the real service sends it.
func (h *Hierarchy) SigningChain() [][]byte { return [][]byte{h.Signing.Raw} }

// RandomSerial returns a random positive 128-bit serial number.
func RandomSerial(r io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("ca: serial: %w", err)
		}
		s := new(big.Int).SetBytes(b)
		if s.BitLen() > 64 { // never a short serial
			return s, nil
		}
	}
}

// SubjectKeyID is the RFC 7093 method 1 key identifier: the leftmost 160
// bits of the SHA-256 of the subjectPublicKey bits.
func SubjectKeyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20]
}

// KeyFingerprint is the SHA-256 of the DER SubjectPublicKeyInfo, hex, the
// identity of a key in the store ("never certified before").
func KeyFingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return fmt.Sprintf("%x", sum), nil
}
