// Package ca is the issuing core of irpkid: the per-environment hierarchy (a
// root, an issuing CA for organisation certificates, and a service signing
// certificate for SOAP responses), the organisation certificate profile, and
// CSR checks. It knows nothing of HTTP or SQL.
//
// Use LoadOrCreate at start-up; it creates the hierarchy on first start, with
// private keys 0600, all files appearing at once, and loads it afterwards.
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
	"time"

	"github.com/irpki/irpki/internal/atomicfile"
)

// Hierarchy is one environment's CA: root → issuing CA → organisation
// certificates, and root → service signing certificate.
type Hierarchy struct {
	Environment string
	Root        *x509.Certificate
	Issuing     *x509.Certificate
	IssuingKey  crypto.Signer
	Signing     *x509.Certificate
	SigningKey  crypto.Signer
}

// Options set key sizes and lifetimes of a new hierarchy.
type Options struct {
	RootBits, IssuingBits, SigningBits int
	Rand                               io.Reader
}

// DefaultOptions: RSA-3072 root; RSA-2048 issuing and signing keys, the key
// type the real service's clients use.
var DefaultOptions = Options{RootBits: 3072, IssuingBits: 2048, SigningBits: 2048}

const (
	fileRoot       = "root.crt"
	fileIssuing    = "issuing.crt"
	fileIssuingKey = "issuing.key"
	fileSigning    = "signing.crt"
	fileSigningKey = "signing.key"
	fileRootKey    = "root.key"
)

// LoadOrCreate loads the hierarchy for env from dir/ca/<env>, creating it on
// first use with now as the start of its validity.
func LoadOrCreate(dir, env string, now time.Time, opt Options) (h *Hierarchy, created bool, err error) {
	path := filepath.Join(dir, "ca", env)
	if _, err := os.Stat(path); err == nil {
		h, err := Load(path, env)
		return h, false, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("ca: %w", err)
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
			h, err := Load(path, env)
			return h, false, err
		}
		return nil, false, fmt.Errorf("ca: %w", err)
	}
	return h, true, nil
}

// Create makes a new hierarchy in memory and returns it with the files that
// store it (name → PEM).
func Create(env string, now time.Time, opt Options) (*Hierarchy, map[string][]byte, error) {
	r := opt.Rand
	if r == nil {
		r = rand.Reader
	}
	rootKey, err := rsa.GenerateKey(r, opt.RootBits)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: root key: %w", err)
	}
	issKey, err := rsa.GenerateKey(r, opt.IssuingBits)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: issuing key: %w", err)
	}
	sigKey, err := rsa.GenerateKey(r, opt.SigningBits)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: signing key: %w", err)
	}
	nb := now.Add(-time.Minute)
	rootT := &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"FI"}, Organization: []string{"irpki"}, CommonName: "irpki " + env + " Root CA"},
		NotBefore:             nb,
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          SubjectKeyID(&rootKey.PublicKey),
	}
	root, err := sign(r, rootT, rootT, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, nil, err
	}
	issT := &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"FI"}, Organization: []string{"irpki"}, CommonName: "irpki " + env + " Data Providers Issuing CA"},
		NotBefore:             nb,
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          SubjectKeyID(&issKey.PublicKey),
	}
	iss, err := sign(r, issT, root, &issKey.PublicKey, rootKey)
	if err != nil {
		return nil, nil, err
	}
	sigT := &x509.Certificate{
		Subject:               pkix.Name{Country: []string{"FI"}, Organization: []string{"irpki"}, CommonName: "irpki " + env + " Certificate Service Signing"},
		NotBefore:             nb,
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SubjectKeyId:          SubjectKeyID(&sigKey.PublicKey),
	}
	sigc, err := sign(r, sigT, root, &sigKey.PublicKey, rootKey)
	if err != nil {
		return nil, nil, err
	}
	h := &Hierarchy{Environment: env, Root: root, Issuing: iss, IssuingKey: issKey, Signing: sigc, SigningKey: sigKey}
	files := map[string][]byte{
		fileRoot:       pemCert(root),
		fileRootKey:    pemKey(rootKey),
		fileIssuing:    pemCert(iss),
		fileIssuingKey: pemKey(issKey),
		fileSigning:    pemCert(sigc),
		fileSigningKey: pemKey(sigKey),
	}
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

// Load reads a hierarchy from path.
func Load(path, env string) (*Hierarchy, error) {
	h := &Hierarchy{Environment: env}
	var err error
	if h.Root, err = readCert(filepath.Join(path, fileRoot)); err != nil {
		return nil, err
	}
	if h.Issuing, err = readCert(filepath.Join(path, fileIssuing)); err != nil {
		return nil, err
	}
	if h.Signing, err = readCert(filepath.Join(path, fileSigning)); err != nil {
		return nil, err
	}
	if h.IssuingKey, err = readKey(filepath.Join(path, fileIssuingKey)); err != nil {
		return nil, err
	}
	if h.SigningKey, err = readKey(filepath.Join(path, fileSigningKey)); err != nil {
		return nil, err
	}
	if err := h.Issuing.CheckSignatureFrom(h.Root); err != nil {
		return nil, fmt.Errorf("ca: %s: issuing CA not signed by root: %w", path, err)
	}
	if err := h.Signing.CheckSignatureFrom(h.Root); err != nil {
		return nil, fmt.Errorf("ca: %s: signing certificate not signed by root: %w", path, err)
	}
	return h, nil
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

func readKey(p string) (crypto.Signer, error) {
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
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("ca: %s: no PEM key", p)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ca: %s: cannot parse private key", p)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("ca: %s: unsupported key type", p)
	}
	return s, nil
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

// Bundle returns the PEM trust bundle a client needs: the root, the issuing
// CA and the service signing certificate.
func (h *Hierarchy) Bundle() []byte {
	var out []byte
	out = append(out, pemCert(h.Root)...)
	out = append(out, pemCert(h.Issuing)...)
	out = append(out, pemCert(h.Signing)...)
	return out
}

// SigningChain returns the service signing certificate chain for KeyInfo.
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
