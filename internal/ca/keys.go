package ca

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"time"
)

// Role names a certificate's place in the hierarchy (metrics, listings).
const (
	RoleRoot         = "root"
	RoleIntermediate = "intermediate"
	RoleIssuing      = "issuing"
	RoleSigner       = "signer"
	// RoleNextSigner is the response signer that a rotation switches in
	// (listed during the overlap).
	RoleNextSigner = "signer_next"
)

// RoleCert is a certificate of the hierarchy with its role.
type RoleCert struct {
	Role string
	Cert *x509.Certificate
}

// Certificates returns every certificate of the hierarchy at now, the
// response-signing certificate included (and during a rotation's overlap
// the next one), each once, with its role.
func (h *Hierarchy) Certificates(now time.Time) []RoleCert {
	out := []RoleCert{{RoleRoot, h.Root}}
	if h.Intermediate != nil {
		out = append(out, RoleCert{RoleIntermediate, h.Intermediate})
	}
	seen := map[*x509.Certificate]bool{}
	for _, is := range h.Issuers {
		if !seen[is.Cert] {
			seen[is.Cert] = true
			out = append(out, RoleCert{RoleIssuing, is.Cert})
		}
	}
	if h.Services != nil && !seen[h.Services.Cert] {
		out = append(out, RoleCert{RoleIssuing, h.Services.Cert})
	}
	out = append(out, RoleCert{RoleSigner, h.SignerAt(now).Cert})
	if h.Rotation != nil && now.Before(h.Rotation.SwitchAt) {
		out = append(out, RoleCert{RoleNextSigner, h.Rotation.Next.Cert})
	}
	return out
}

// CheckKeys makes every online key of the hierarchy (the issuing CAs' and
// the response signer's) sign a probe and verifies each signature against
// its certificate: the readiness check that every signer signs, whatever
// holds the key (a file, a PKCS#11 token). During a rotation the next
// signer's key is checked too, before it has to sign.
func (h *Hierarchy) CheckKeys(r io.Reader) error {
	digest := sha256.Sum256([]byte("irpkid readiness probe"))
	check := func(name string, key crypto.Signer, cert *x509.Certificate) error {
		sig, err := key.Sign(r, digest[:], crypto.SHA256)
		if err != nil {
			return fmt.Errorf("%s cannot sign: %w", name, err)
		}
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s: not an RSA key", name)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			return fmt.Errorf("%s: its signature does not verify against %q: %w", name, cert.Subject.CommonName, err)
		}
		return nil
	}
	seen := map[crypto.Signer]bool{}
	for _, is := range append(append([]*Issuer{}, h.Issuers...), h.Services) {
		if is == nil || is.Key == nil || seen[is.Key] {
			continue
		}
		seen[is.Key] = true
		if err := check("issuing CA "+is.Cert.Subject.CommonName, is.Key, is.Cert); err != nil {
			return err
		}
	}
	if err := check("the response signer", h.SigningKey, h.Signing); err != nil {
		return err
	}
	if h.Rotation != nil {
		return check("the next response signer", h.Rotation.Next.Key, h.Rotation.Next.Cert)
	}
	return nil
}

// OfflineKeys are the files of a hierarchy's directory that hold the keys
// a serving irpkid never uses: the root's, the intermediate's and the
// services issuing CA's (they sign only CA and signer certificates).
var OfflineKeys = []string{fileRootKey, fileIntermediateKey, fileServicesKey}
