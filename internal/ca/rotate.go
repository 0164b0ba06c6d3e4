package ca

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/atomicfile"
	"github.com/irpki/irpki/internal/hsm"
	"github.com/irpki/irpki/internal/serial"
)

// Response-signer rotation. The signer's lifecycle, all in the hierarchy's
// directory and decided by the time alone, so that every replica holding
// the same files and a synchronised clock does the same thing at once:
//
//  1. RotateSigner (irpkid ca rotate-signer) makes the next signer: a new
//     key and certificate from the signer's issuing CA, written with its
//     switch time into the directory signer-next/, which appears whole or
//     not at all. From then until the switch, the trust bundles hold both
//     signing certificates while the current one goes on signing: the
//     overlap, in which clients that pin the signer install the new bundle.
//  2. At the switch time the next signer signs every response, and the
//     previous one is retired: no bundle holds it any more. A running
//     server follows this by its clock, without a restart.
//  3. FinishRotation (rotate-signer --finish, or the next rotation) tidies
//     the files: the next signer becomes signing.crt and signing.key, the
//     retired certificate is kept in retired-signers/, its key deleted.
//     Before the switch time it switches at once if told to (a signing key
//     that must go now).
//
// Each step is crash-safe: an interrupted finish leaves files that Load
// reads as the finished state, and that FinishRotation completes.

// Signer is a response-signing certificate and its key.
type Signer struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Rotation is a change of response signer that RotateSigner began.
type Rotation struct {
	Next Signer
	// Started is when RotateSigner made Next; the trust bundles hold both
	// signers from then.
	Started time.Time
	// SwitchAt is when Next begins to sign every response and the current
	// signer is retired.
	SwitchAt time.Time
}

// Files of a rotation.
const (
	dirNextSigner     = "signer-next"
	fileRotation      = "rotation.json"
	dirRetiredSigners = "retired-signers"
)

// rotationRecord is rotation.json.
type rotationRecord struct {
	Started  time.Time `json:"started"`
	SwitchAt time.Time `json:"switch_at"`
	// Previous is the serial (hex) of the signer that the rotation
	// replaces, for whoever reads the record.
	Previous string `json:"previous_serial"`
}

// SignerAt returns the signer of the responses made at t: the next one
// from its switch time on, else the current one.
func (h *Hierarchy) SignerAt(t time.Time) Signer {
	if h.Rotation != nil && !t.Before(h.Rotation.SwitchAt) {
		return h.Rotation.Next
	}
	return Signer{h.Signing, h.SigningKey}
}

// SigningCertsAt returns the signing certificates that clients must trust
// at t: both during a rotation's overlap (the current one first), else the
// one that signs.
func (h *Hierarchy) SigningCertsAt(t time.Time) []*x509.Certificate {
	if h.Rotation != nil && t.Before(h.Rotation.SwitchAt) {
		return []*x509.Certificate{h.Signing, h.Rotation.Next.Cert}
	}
	return []*x509.Certificate{h.SignerAt(t).Cert}
}

// RotateOptions are the settings of a new response signer.
type RotateOptions struct {
	// Overlap is the time from now to the switch, during which the trust
	// bundles hold both signers (DefaultOverlap if 0).
	Overlap time.Duration
	// Replace discards a rotation whose switch is still to come, instead
	// of refusing to begin another.
	Replace bool
	// IssuerKeyDir is a directory holding the key of the signer's issuing
	// CA (SignerIssuerKeyFile: the services CA's) when the hierarchy's
	// directory does not: the offline copy that irpkid ca init
	// --offline-dir made. Only that key is read from it.
	IssuerKeyDir string
	Rand         io.Reader
	// NewKey, if set, makes the signer's key instead of rsa.GenerateKey
	// (of the current signer's size).
	NewKey func(bits int) (*rsa.PrivateKey, error)
}

// DefaultOverlap is the overlap of a rotation: the time clients have to
// install the new trust bundle.
const DefaultOverlap = 30 * 24 * time.Hour

// ErrRotationPending is returned by RotateSigner while a rotation's switch
// is still to come, and by FinishRotation before it.
var ErrRotationPending = errors.New("a response-signer rotation is pending")

// SignerIssuerKeyFile is the file name of the key that signs response
// signers in h's directory: the services CA's, or the root's in an older
// two-level hierarchy.
func (h *Hierarchy) SignerIssuerKeyFile() string {
	if h.Services == nil {
		return fileRootKey
	}
	return fileServicesKey
}

// signerIssuer returns the CA certificate that signs response signers and
// its key: from keyDir if given, else from the hierarchy's directory (a
// file, an encrypted file or a token key, as Load opens keys).
func (h *Hierarchy) signerIssuer(keyDir string) (*x509.Certificate, crypto.Signer, error) {
	cert := h.Root
	var key crypto.Signer
	if h.Services != nil {
		cert, key = h.Services.Cert, h.Services.Key
	}
	name := h.SignerIssuerKeyFile()
	if keyDir != "" || key == nil {
		dir := keyDir
		if dir == "" {
			dir = h.Dir
		}
		k, present, err := h.keys.openKey(dir, name)
		switch {
		case err != nil:
			return nil, nil, err
		case !present && keyDir == "":
			return nil, nil, fmt.Errorf("ca: the key of %q, which signs response signers, is not in %s (%s): give the directory of the offline copy that holds it", cert.Subject.CommonName, h.Dir, name)
		case !present:
			return nil, nil, fmt.Errorf("ca: the key of %q, which signs response signers, is not in %s (%s)", cert.Subject.CommonName, keyDir, name)
		}
		key = k
	}
	if err := checkKeyMatches(filepath.Join(keyDir, name), key, cert); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// newSignerKey makes the next signer's key, kept as the current signer's
// is, and returns it with the name and content of its file in
// signer-next/: a file (signing.key) encrypted with the same passphrase
// when the current one is; or, when the current key is in a PKCS#11 token
// (signing.pkcs11), a new key made in the same token, labelled with the
// time (LABEL-next-YYYYMMDDTHHMMSSZ), and its URI (signing.pkcs11).
func (h *Hierarchy) newSignerKey(r io.Reader, now time.Time, bits int, gen func(int) (*rsa.PrivateKey, error)) (crypto.Signer, string, []byte, error) {
	if ref, err := os.ReadFile(filepath.Join(h.Dir, keyRef(fileSigningKey))); err == nil {
		u, err := hsm.ParseURI(string(bytes.TrimSpace(ref)))
		if err != nil {
			return nil, "", nil, fmt.Errorf("ca: %s: %w", keyRef(fileSigningKey), err)
		}
		if h.keys == nil || h.keys.Tokens == nil {
			return nil, "", nil, fmt.Errorf("ca: the response signer's key is in a PKCS#11 token (%s) and this command opens no token", keyRef(fileSigningKey))
		}
		base, _, _ := strings.Cut(u.Object, "-next-")
		u.Object, u.ID = base+"-next-"+now.UTC().Format("20060102T150405Z"), nil
		k, err := h.keys.Tokens.Generate(u, bits)
		if err != nil {
			return nil, "", nil, fmt.Errorf("ca: next signing key: %w", err)
		}
		return k, keyRef(fileSigningKey), []byte(u.String() + "\n"), nil
	}
	if gen == nil {
		gen = func(bits int) (*rsa.PrivateKey, error) { return rsa.GenerateKey(r, bits) }
	}
	key, err := gen(bits)
	if err != nil {
		return nil, "", nil, fmt.Errorf("ca: signing key: %w", err)
	}
	cur, err := os.ReadFile(filepath.Join(h.Dir, fileSigningKey))
	if err != nil {
		return nil, "", nil, fmt.Errorf("ca: %w", err)
	}
	if !IsEncryptedKeyPEM(cur) {
		return key, fileSigningKey, pemKey(key), nil
	}
	if h.keys == nil || h.keys.Passphrase == nil {
		return nil, "", nil, fmt.Errorf("ca: %s is encrypted and no passphrase was given: the next signer's key is encrypted with the same one", fileSigningKey)
	}
	pass, err := h.keys.Passphrase()
	if err != nil {
		return nil, "", nil, fmt.Errorf("ca: the passphrase of %s: %w", fileSigningKey, err)
	}
	enc, err := EncryptKeyPEM(key, pass)
	return key, fileSigningKey, enc, err
}

// RotateSigner begins a rotation of h's response signer at now: it makes
// the next signer and writes it, with the switch time now+Overlap, into the
// directory h was loaded from. A rotation whose switch has passed is
// finished first; one still to come is refused (ErrRotationPending) unless
// opt.Replace. h is loaded again from the directory and returned.
func RotateSigner(h *Hierarchy, now time.Time, opt RotateOptions) (*Hierarchy, error) {
	if h.Dir == "" {
		return nil, errors.New("ca: the hierarchy was not loaded from a directory")
	}
	if opt.Overlap == 0 {
		opt.Overlap = DefaultOverlap
	}
	if opt.Overlap < 0 {
		return nil, fmt.Errorf("ca: overlap %v: give a positive time", opt.Overlap)
	}
	r := opt.Rand
	if r == nil {
		r = rand.Reader
	}
	issuer, issuerKey, err := h.signerIssuer(opt.IssuerKeyDir)
	if err != nil {
		return nil, err
	}
	var replaced crypto.Signer // the next signer's key that this rotation discards
	if h.Rotation != nil {
		if now.Before(h.Rotation.SwitchAt) {
			replaced = h.Rotation.Next.Key
		}
		if now.Before(h.Rotation.SwitchAt) && !opt.Replace {
			return nil, fmt.Errorf("%w: the next signer (serial %s) switches in at %s",
				ErrRotationPending, SerialHex(h.Rotation.Next.Cert), h.Rotation.SwitchAt.UTC().Format(time.RFC3339))
		}
		if !now.Before(h.Rotation.SwitchAt) {
			if h, err = FinishRotation(h, now, false); err != nil {
				return nil, err
			}
		}
	}
	bits := 2048
	if pub, ok := h.Signing.PublicKey.(*rsa.PublicKey); ok {
		bits = pub.N.BitLen()
	}
	key, keyFile, keyContent, err := h.newSignerKey(r, now, bits, opt.NewKey)
	if err != nil {
		return nil, err
	}
	written := false
	defer func() {
		if !written && keyFile != fileSigningKey {
			hsm.Delete(key) // a token key made for a rotation that failed
		}
	}()
	na := now.AddDate(5, 0, 0)
	if na.After(issuer.NotAfter) {
		na = issuer.NotAfter
	}
	t := &x509.Certificate{
		Subject:               pkix.Name{Country: h.Signing.Subject.Country, Organization: h.Signing.Subject.Organization, CommonName: h.Signing.Subject.CommonName},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SubjectKeyId:          SubjectKeyID(key.Public()),
	}
	cert, err := sign(r, t, issuer, key.Public(), issuerKey)
	if err != nil {
		return nil, err
	}
	rec, err := json.MarshalIndent(rotationRecord{Started: now.UTC(), SwitchAt: now.Add(opt.Overlap).UTC(), Previous: SerialHex(h.Signing)}, "", "  ")
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{fileSigning: pemCert(cert), keyFile: keyContent, fileRotation: append(rec, '\n')}
	if err := writeNextSigner(h.Dir, files); err != nil {
		return nil, err
	}
	written = true
	if replaced != nil {
		// A token key made for the discarded next signer, which never
		// signed a response, is not left behind in the token.
		hsm.Delete(replaced)
	}
	return Load(h.Dir, h.Environment, h.keys)
}

// writeNextSigner writes signer-next/ in one piece, in place of any there.
func writeNextSigner(dir string, files map[string][]byte) error {
	next := filepath.Join(dir, dirNextSigner)
	staged := next + ".new"
	if err := os.RemoveAll(staged); err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	if err := atomicfile.WriteDir(staged, files, 0o600); err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	if err := removeDir(next); err != nil {
		return err
	}
	if err := atomicfile.Rename(staged, next); err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	return atomicfile.SyncDir(dir)
}

// StaleRotationDirs are what a rotation that stopped midway (a crash)
// may leave in a CA directory: signer-next.new (being written) and
// signer-next.removed (being removed). Either may hold a plain private key
// and neither is read: RemoveStaleRotationDirs removes them, and a backup
// does not copy them.
var StaleRotationDirs = []string{dirNextSigner + ".new", dirNextSigner + ".removed"}

// RemoveStaleRotationDirs removes the StaleRotationDirs in the CA
// directory dir and returns the paths it removed, for the caller to log.
func RemoveStaleRotationDirs(dir string) ([]string, error) {
	var removed []string
	for _, name := range StaleRotationDirs {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return removed, fmt.Errorf("ca: removing what an interrupted rotation left: %w", err)
		}
		removed = append(removed, p)
	}
	if len(removed) > 0 {
		if err := atomicfile.SyncDir(dir); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// removeDir removes a directory by renaming it away first, so that it is
// never seen half removed.
func removeDir(p string) error {
	gone := p + ".removed"
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	if err := os.Rename(p, gone); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("ca: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(p)); err != nil {
		return err
	}
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	return nil
}

// FinishRotation ends h's rotation in the files: the next signer becomes
// signing.crt and signing.key, the retired signer's certificate is kept in
// retired-signers/ and its key deleted (a signer in a PKCS#11 token: the
// next key's signing.pkcs11 replaces the current one's; the retired key
// stays in the token until the operator removes it). Before the switch time it is
// refused (ErrRotationPending) unless now is set: then the next signer
// signs from this moment. Without a rotation it does nothing. h is loaded
// again from the directory and returned.
func FinishRotation(h *Hierarchy, at time.Time, now bool) (*Hierarchy, error) {
	if h.Dir == "" {
		return nil, errors.New("ca: the hierarchy was not loaded from a directory")
	}
	nextDir := filepath.Join(h.Dir, dirNextSigner)
	if h.Rotation == nil {
		// A finish interrupted after the new key was in place leaves
		// signer-next/ behind, and maybe the old signing.crt: complete it.
		if _, err := os.Stat(nextDir); err == nil {
			if err := atomicfile.WriteFile(filepath.Join(h.Dir, fileSigning), pemCert(h.Signing), 0o600); err != nil {
				return nil, fmt.Errorf("ca: %w", err)
			}
			if err := removeDir(nextDir); err != nil {
				return nil, err
			}
		}
		return Load(h.Dir, h.Environment, h.keys)
	}
	if at.Before(h.Rotation.SwitchAt) && !now {
		return nil, fmt.Errorf("%w: the next signer switches in at %s, and until then clients that have not installed the new trust bundle still verify responses",
			ErrRotationPending, h.Rotation.SwitchAt.UTC().Format(time.RFC3339))
	}
	retired := filepath.Join(h.Dir, dirRetiredSigners)
	if err := atomicfile.MkdirPrivate(retired); err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	// Each step leaves files that Load reads as the finished rotation.
	if err := atomicfile.WriteFile(filepath.Join(retired, "signing-"+SerialHex(h.Signing)+".crt"), pemCert(h.Signing), 0o600); err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	// The next signer's key: a file, or a token key's reference.
	keyFile := fileSigningKey
	if _, err := os.Stat(filepath.Join(nextDir, keyRef(fileSigningKey))); err == nil {
		keyFile = keyRef(fileSigningKey)
	}
	for _, f := range []string{keyFile, fileSigning} {
		b, err := os.ReadFile(filepath.Join(nextDir, f))
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(h.Dir, f), b, 0o600); err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
	}
	if err := removeDir(nextDir); err != nil {
		return nil, err
	}
	return Load(h.Dir, h.Environment, h.keys)
}

// loadSigners reads the current signer and any rotation of the directory
// path into h, issued by issuer. A finish that was interrupted reads as
// finished: signing.key already the next signer's (the next certificate
// then stands for signing.crt), or signing.crt already the next one (the
// rotation is over).
func loadSigners(h *Hierarchy, path string, issuer *x509.Certificate) error {
	var err error
	if h.Signing, err = readCert(filepath.Join(path, fileSigning)); err != nil {
		return err
	}
	if h.SigningKey, err = h.keys.openRequired(path, fileSigningKey); err != nil {
		return err
	}
	next, rec, err := readNextSigner(path, h.keys)
	if err != nil {
		return err
	}
	if next != nil {
		if err := checkIssued(path, next.Cert, issuer, "next signing certificate ("+dirNextSigner+")", "CA that issued the signing certificate"); err != nil {
			return err
		}
		switch {
		case next.Cert.Equal(h.Signing):
			next = nil // finished; only signer-next/ was left
		case samePublicKey(h.SigningKey.Public(), next.Cert.PublicKey):
			h.Signing, next = next.Cert, nil // finished up to signing.crt
		}
	}
	if err := checkKeyMatches(filepath.Join(path, fileSigningKey), h.SigningKey, h.Signing); err != nil {
		return err
	}
	if next != nil {
		h.Rotation = &Rotation{Next: *next, Started: rec.Started, SwitchAt: rec.SwitchAt}
	}
	return nil
}

// readNextSigner reads signer-next/ of path, if there is one.
func readNextSigner(path string, keys *Keys) (*Signer, *rotationRecord, error) {
	dir := filepath.Join(path, dirNextSigner)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	cert, err := readCert(filepath.Join(dir, fileSigning))
	if err != nil {
		return nil, nil, err
	}
	key, err := keys.openRequired(dir, fileSigningKey)
	if err != nil {
		return nil, nil, err
	}
	if err := checkKeyMatches(filepath.Join(dir, fileSigningKey), key, cert); err != nil {
		return nil, nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, fileRotation))
	if err != nil {
		return nil, nil, fmt.Errorf("ca: %w", err)
	}
	var rec rotationRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.SwitchAt.IsZero() {
		return nil, nil, fmt.Errorf("ca: %s: not a rotation record (switch_at): %v", filepath.Join(dir, fileRotation), err)
	}
	return &Signer{Cert: cert, Key: key}, &rec, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}

// SerialHex is a certificate's serial number as people see it.
func SerialHex(c *x509.Certificate) string { return serial.Text(c.SerialNumber) }

// SignerChanged reports whether the signers of h and o differ (a running
// server compares the directory's with its own).
func (h *Hierarchy) SignerChanged(o *Hierarchy) bool {
	if !h.Signing.Equal(o.Signing) || (h.Rotation == nil) != (o.Rotation == nil) {
		return true
	}
	return h.Rotation != nil && (!h.Rotation.Next.Cert.Equal(o.Rotation.Next.Cert) || !h.Rotation.SwitchAt.Equal(o.Rotation.SwitchAt))
}
