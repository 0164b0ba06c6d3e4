package ca

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/youmark/pkcs8"

	"github.com/irpki/irpki/internal/hsm"
)

// Where a key of a hierarchy's directory lives. For each key (root.key,
// issuing-reports_ws.key, signing.key, …) the directory holds one of:
//
//   - NAME.key, a PEM PKCS#8 private key: "PRIVATE KEY", or "ENCRYPTED
//     PRIVATE KEY" (PBES2: scrypt and AES-256-CBC), opened with the
//     passphrase that Keys.Passphrase gives;
//   - NAME.pkcs11, one line: the PKCS#11 URI (RFC 7512) of the key in a
//     token (see package hsm), opened through Keys.Tokens.
//
// Each key has its own: the issuing CAs' keys may be in a token while the
// signer's is an encrypted file. The rest of the package sees only a
// crypto.Signer.

// KeyRefExt is the extension of a key reference file.
const KeyRefExt = ".pkcs11"

// Keys tells Load how to open the keys that are not plain files.
type Keys struct {
	// Passphrase returns the passphrase of encrypted key files; nil when
	// none was configured (an encrypted key is then refused, saying so).
	Passphrase func() ([]byte, error)
	// Tokens opens the keys in PKCS#11 tokens; nil: a key reference is
	// refused. Whoever made it closes it.
	Tokens *hsm.Tokens
}

// EncryptOptions are how encrypted key files are made: PBES2 with scrypt
// (N=2^14, r=8, p=1: 16 MiB per guess, as `openssl pkcs8 -topk8 -scrypt`
// makes them) and AES-256-CBC. OpenSSL reads them within its default
// memory limit (openssl pkey -in KEY), which a larger N would exceed.
var EncryptOptions = pkcs8.Opts{
	Cipher:  pkcs8.AES256CBC,
	KDFOpts: pkcs8.ScryptOpts{SaltSize: 16, CostParameter: 1 << 14, BlockSize: 8, ParallelizationParameter: 1},
}

// pemBlockEncrypted is the PEM type of an encrypted PKCS#8 key.
const pemBlockEncrypted = "ENCRYPTED PRIVATE KEY"

// EncryptKeyPEM returns key as an encrypted PKCS#8 PEM block.
func EncryptKeyPEM(key crypto.Signer, passphrase []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("ca: an empty passphrase encrypts nothing")
	}
	opt := EncryptOptions
	der, err := pkcs8.MarshalPrivateKey(key, passphrase, &opt)
	if err != nil {
		return nil, fmt.Errorf("ca: encrypt key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemBlockEncrypted, Bytes: der}), nil
}

// IsEncryptedKeyPEM reports whether b is an encrypted PEM key.
func IsEncryptedKeyPEM(b []byte) bool {
	blk, _ := pem.Decode(b)
	return blk != nil && blk.Type == pemBlockEncrypted
}

// ParseKeyPEM parses a PEM private key, plain or encrypted (then with the
// passphrase from keys). name is the file, for errors; they never hold the
// passphrase.
func ParseKeyPEM(name string, b []byte, keys *Keys) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("ca: %s: no PEM key", name)
	}
	var k any
	switch blk.Type {
	case pemBlockEncrypted:
		if keys == nil || keys.Passphrase == nil {
			return nil, fmt.Errorf("ca: %s is encrypted and no passphrase was given (irpkid: --key-passphrase-file or IRPKI_KEY_PASSPHRASE)", name)
		}
		if err := checkEncryptedKey(blk.Bytes); err != nil {
			return nil, fmt.Errorf("ca: %s: the file is damaged: %w", name, err)
		}
		pass, err := keys.Passphrase()
		if err != nil {
			return nil, fmt.Errorf("ca: %s is encrypted: %w", name, err)
		}
		if k, _, err = pkcs8.ParsePrivateKey(blk.Bytes, pass); err != nil {
			return nil, fmt.Errorf("ca: %s: wrong passphrase, or the file is damaged", name)
		}
	case "PRIVATE KEY":
		var err error
		if k, err = x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil {
			return nil, fmt.Errorf("ca: %s: cannot parse private key", name)
		}
	default:
		return nil, fmt.Errorf("ca: %s: a %q PEM block is no PKCS#8 private key", name, blk.Type)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("ca: %s: unsupported key type", name)
	}
	return s, nil
}

// The largest key derivation costs an encrypted key file may ask for:
// far above what irpkid (scrypt N=2^14, r=8) and OpenSSL (scrypt N=2^14,
// PBKDF2 2048 rounds) write, far below what exhausts the machine.
const (
	maxScryptMemory = 256 << 20 // 128·N·r bytes
	maxScryptP      = 16
	maxPBKDF2Rounds = 10_000_000
)

var (
	oidPBES2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidScrypt    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
	oidPBKDF2    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidDESEDE3   = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
	oidAESPrefix = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1}
)

// checkEncryptedKey checks an encrypted PKCS#8 key (RFC 5958, PBES2 of
// RFC 8018) before package pkcs8 decrypts it: that library panics on an
// IV that is not one cipher block and on a ciphertext that is not whole
// blocks, and derives the key with whatever cost the file names (scrypt
// with N=2^30 takes a terabyte). A damaged or planted file is refused
// instead. Nothing here depends on the passphrase.
func checkEncryptedKey(der []byte) error {
	var info struct {
		Algo pkix.AlgorithmIdentifier
		Data []byte
	}
	var params struct{ KDF, Scheme pkix.AlgorithmIdentifier }
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) != 0 {
		return errors.New("not an encrypted PKCS#8 key")
	}
	if !info.Algo.Algorithm.Equal(oidPBES2) {
		return errors.New("not encrypted with PBES2")
	}
	if rest, err := asn1.Unmarshal(info.Algo.Parameters.FullBytes, &params); err != nil || len(rest) != 0 {
		return errors.New("bad PBES2 parameters")
	}
	block := 16 // AES
	switch s := params.Scheme.Algorithm; {
	case s.Equal(oidDESEDE3):
		block = 8
	case len(s) == len(oidAESPrefix)+1 && s[:len(oidAESPrefix)].Equal(oidAESPrefix):
	default:
		return errors.New("the cipher is neither AES nor 3DES")
	}
	var iv []byte
	if rest, err := asn1.Unmarshal(params.Scheme.Parameters.FullBytes, &iv); err != nil || len(rest) != 0 || len(iv) != block {
		return errors.New("bad cipher IV")
	}
	if len(info.Data) == 0 || len(info.Data)%block != 0 {
		return errors.New("the encrypted key is not whole cipher blocks")
	}
	switch k := params.KDF.Algorithm; {
	case k.Equal(oidScrypt):
		var p struct {
			Salt      []byte
			N, R, P   int
			KeyLength int `asn1:"optional"`
		}
		if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &p); err != nil {
			return errors.New("bad scrypt parameters")
		}
		if p.N < 2 || p.R < 1 || p.P < 1 || p.P > maxScryptP || p.N > maxScryptMemory/128/p.R {
			return fmt.Errorf("scrypt cost N=%d r=%d p=%d is out of bounds", p.N, p.R, p.P)
		}
	case k.Equal(oidPBKDF2):
		var p struct {
			Salt   []byte
			Rounds int
			Rest   asn1.RawValue `asn1:"optional"`
		}
		if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &p); err != nil {
			return errors.New("bad PBKDF2 parameters")
		}
		if p.Rounds < 1 || p.Rounds > maxPBKDF2Rounds {
			return fmt.Errorf("PBKDF2 with %d rounds is out of bounds", p.Rounds)
		}
	default:
		return errors.New("the key derivation is neither scrypt nor PBKDF2")
	}
	return nil
}

// keyRef is the reference file of a key file: issuing-x.key → issuing-x.pkcs11.
func keyRef(keyFile string) string { return strings.TrimSuffix(keyFile, ".key") + KeyRefExt }

// openKey opens the key that keyFile (a name in dir) stands for: the file,
// or the token key its reference names. present is false when there is
// neither.
func (keys *Keys) openKey(dir, keyFile string) (k crypto.Signer, present bool, err error) {
	kp, rp := filepath.Join(dir, keyFile), filepath.Join(dir, keyRef(keyFile))
	_, kerr := os.Stat(kp)
	ref, rerr := os.ReadFile(rp)
	switch {
	case rerr == nil && kerr == nil:
		return nil, true, fmt.Errorf("ca: %s and %s both exist: a key lives in a file or in a token, not both; remove the one not used", kp, rp)
	case rerr == nil:
		k, err := keys.openRef(rp, ref)
		return k, true, err
	case !errors.Is(rerr, os.ErrNotExist):
		return nil, true, fmt.Errorf("ca: %w", rerr)
	case errors.Is(kerr, os.ErrNotExist):
		return nil, false, nil
	}
	k, err = readKey(kp, keys)
	return k, true, err
}

func (keys *Keys) openRef(path string, ref []byte) (crypto.Signer, error) {
	u, err := hsm.ParseURI(string(bytes.TrimSpace(ref)))
	if err != nil {
		return nil, fmt.Errorf("ca: %s: %w", path, err)
	}
	if !hsm.Available() {
		return nil, fmt.Errorf("ca: %s: %w", path, hsm.ErrNeedsCgo)
	}
	if keys == nil || keys.Tokens == nil {
		return nil, fmt.Errorf("ca: %s: this command opens no PKCS#11 token", path)
	}
	k, err := keys.Tokens.Open(u)
	if err != nil {
		return nil, fmt.Errorf("ca: %s: %w", path, err)
	}
	return k, nil
}

// checkKeyMatches refuses a key that is not the certificate's.
func checkKeyMatches(name string, k crypto.Signer, c *x509.Certificate) error {
	pub, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(c.PublicKey) {
		return fmt.Errorf("ca: %s is not the key of the certificate %q", name, c.Subject.CommonName)
	}
	return nil
}

// PlainKeyFiles returns the names of the plain (unencrypted) key files of
// a hierarchy's directory, relative to it: a pending signer rotation's
// next key (signer-next/signing.key) among them.
func PlainKeyFiles(dir string) ([]string, error) {
	var out []string
	for _, sub := range []string{"", dirNextSigner} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			if sub != "" && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("ca: %w", err)
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".key") {
				continue
			}
			name := filepath.Join(sub, e.Name())
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return nil, fmt.Errorf("ca: %w", err)
			}
			if !IsEncryptedKeyPEM(b) {
				out = append(out, name)
			}
		}
	}
	return out, nil
}
