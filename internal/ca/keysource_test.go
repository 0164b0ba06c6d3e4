package ca_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/ca/catest"
	"github.com/irpki/irpki/internal/hsm"
	"github.com/irpki/irpki/internal/hsm/softhsmtest"
	"github.com/irpki/irpki/internal/wire"
)

func passphrase(p string) *ca.Keys {
	return &ca.Keys{Passphrase: func() ([]byte, error) { return []byte(p), nil }}
}

// A hierarchy created with a passphrase has every key file encrypted
// (PKCS#8 PBES2); it loads with the passphrase, and without it or with a
// wrong one it is refused with an error that names the key file and never
// the passphrase. OpenSSL reads the encrypted files too.
func TestEncryptedKeyFiles(t *testing.T) {
	const pass = "correct horse battery staple"
	dir := t.TempDir()
	opt := catest.Options()
	opt.Passphrase = []byte(pass)
	h, _, err := ca.LoadOrCreate(dir, wire.EnvTest, now, opt)
	if err != nil {
		t.Fatal(err)
	}
	caDir := filepath.Join(dir, "ca", wire.EnvTest)
	ents, _ := os.ReadDir(caDir)
	keys := 0
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".key") {
			continue
		}
		keys++
		b, _ := os.ReadFile(filepath.Join(caDir, e.Name()))
		if !bytes.HasPrefix(b, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----")) || !ca.IsEncryptedKeyPEM(b) {
			t.Errorf("%s is not encrypted:\n%.60s", e.Name(), b)
		}
	}
	if keys != 8 {
		t.Errorf("%d key files, want 8", keys)
	}
	if plain, err := ca.PlainKeyFiles(caDir); err != nil || len(plain) != 0 {
		t.Errorf("PlainKeyFiles: %v %v", plain, err)
	}

	h2, err := ca.Load(caDir, wire.EnvTest, passphrase(pass))
	if err != nil {
		t.Fatal(err)
	}
	if !h2.SigningKey.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(h.SigningKey.Public()) || h2.Services.Key == nil {
		t.Error("the keys read back differ")
	}
	if err := h2.CheckKeys(nil); err != nil {
		t.Errorf("CheckKeys: %v", err)
	}

	_, err = ca.Load(caDir, wire.EnvTest, nil)
	if err == nil || !strings.Contains(err.Error(), "is encrypted and no passphrase was given") || !strings.Contains(err.Error(), caDir) {
		t.Errorf("without a passphrase: %v", err)
	}
	_, err = ca.Load(caDir, wire.EnvTest, passphrase("wrong horse"))
	if err == nil || !strings.Contains(err.Error(), "wrong passphrase") || !strings.Contains(err.Error(), ".key") || strings.Contains(err.Error(), "wrong horse") {
		t.Errorf("a wrong passphrase: %v", err)
	}
	failing := &ca.Keys{Passphrase: func() ([]byte, error) { return nil, errors.New("no passphrase was given") }}
	if _, err := ca.Load(caDir, wire.EnvTest, failing); err == nil || !strings.Contains(err.Error(), "is encrypted: no passphrase was given") {
		t.Errorf("the passphrase source failing: %v", err)
	}

	if openssl, err := exec.LookPath("openssl"); err == nil {
		pf := filepath.Join(t.TempDir(), "pass")
		os.WriteFile(pf, []byte(pass), 0o600)
		out, err := exec.Command(openssl, "pkey", "-in", filepath.Join(caDir, "signing.key"), "-passin", "file:"+pf, "-pubout").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "BEGIN PUBLIC KEY") {
			t.Errorf("openssl pkey cannot read the encrypted key: %v\n%s", err, out)
		}
	} else if os.Getenv("CI") == "true" {
		t.Error("openssl is missing (.ci/run installs it)")
	}
}

// A key lives in a file or a token, not both; a reference that is no
// PKCS#11 URI, a token that cannot be opened (or a build without cgo), and
// a key that is not its certificate's are refused, each naming the file.
func TestKeyReferences(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := ca.LoadOrCreate(dir, wire.EnvTest, now, catest.Options()); err != nil {
		t.Fatal(err)
	}
	caDir := filepath.Join(dir, "ca", wire.EnvTest)
	ref := filepath.Join(caDir, "signing.pkcs11")
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(ref, "pkcs11:token=irpki;object=k?module-path=/nonexistent/libpkcs11.so&pin-source=env:IRPKI_TEST_PIN\n")
	if _, err := ca.Load(caDir, wire.EnvTest, nil); err == nil || !strings.Contains(err.Error(), "both exist") {
		t.Errorf("key file and reference: %v", err)
	}
	key := filepath.Join(caDir, "signing.key")
	saved, _ := os.ReadFile(key)
	os.Remove(key)
	_, err := ca.Load(caDir, wire.EnvTest, &ca.Keys{Tokens: &hsm.Tokens{}})
	switch {
	case !hsm.Available():
		if !errors.Is(err, hsm.ErrNeedsCgo) || !strings.Contains(err.Error(), ref) {
			t.Errorf("without cgo: %v", err)
		}
	case err == nil || !strings.Contains(err.Error(), "/nonexistent/libpkcs11.so") || !strings.Contains(err.Error(), ref):
		t.Errorf("a missing module: %v", err)
	}
	write(ref, "pkcs11:token=irpki;object=k?module-path=/m.so&pin-value=1234")
	if _, err := ca.Load(caDir, wire.EnvTest, nil); err == nil || !strings.Contains(err.Error(), "pin-value is refused") || strings.Contains(err.Error(), "1234") {
		t.Errorf("pin-value in a reference: %v", err)
	}
	os.Remove(ref)
	if _, err := ca.Load(caDir, wire.EnvTest, nil); err == nil || !strings.Contains(err.Error(), "neither signing.key nor signing.pkcs11") {
		t.Errorf("no signing key: %v", err)
	}
	// Another issuing CA's key in the signer's place.
	other, _ := os.ReadFile(filepath.Join(caDir, "issuing-"+ca.ChannelReportsWS+".key"))
	write(key, string(other))
	if _, err := ca.Load(caDir, wire.EnvTest, nil); err == nil || !strings.Contains(err.Error(), "is not the key of the certificate") {
		t.Errorf("a foreign key: %v", err)
	}
	write(key, string(saved))
	if _, err := ca.Load(caDir, wire.EnvTest, nil); err != nil {
		t.Fatal(err)
	}
}

// A hierarchy whose response signer's key is made in a SoftHSM2 token:
// the directory holds signing.pkcs11 and no signing.key, Load opens the
// token key by its URI, CheckKeys (the readiness check) sees it sign, and
// once its token is closed CheckKeys reports the signer that cannot sign.
func TestTokenKeyInHierarchy(t *testing.T) {
	dir, h := tokenSignerHierarchy(t)
	caDir := filepath.Join(dir, "ca", wire.EnvTest)
	if _, err := os.Stat(filepath.Join(caDir, "signing.key")); err == nil {
		t.Error("signing.key written for a token key")
	}
	if _, err := os.Stat(filepath.Join(caDir, "issuing-"+ca.ChannelReportsWS+".key")); err != nil {
		t.Errorf("the issuing CAs' keys should be files: %v", err)
	}
	tokens := &hsm.Tokens{}
	h2, err := ca.Load(caDir, wire.EnvTest, &ca.Keys{Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	if !h2.SigningKey.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(h.Signing.PublicKey) {
		t.Fatal("the token key is not the signer's")
	}
	if err := h2.CheckKeys(nil); err != nil {
		t.Fatalf("CheckKeys with a token key: %v", err)
	}
	if err := tokens.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h2.CheckKeys(nil); err == nil || !strings.Contains(err.Error(), "the response signer cannot sign") {
		t.Errorf("CheckKeys after the token closed: %v", err)
	}
}

// tokenSignerHierarchy makes a hierarchy in a new data directory whose
// response signer's key is made in a new SoftHSM2 token (signing.pkcs11);
// the other keys are files.
func tokenSignerHierarchy(t *testing.T) (string, *ca.Hierarchy) {
	t.Helper()
	tok := softhsmtest.New(t, "irpki-ca")
	base, err := hsm.ParseURI(tok.URI())
	if err != nil {
		t.Fatal(err)
	}
	maker := &hsm.Tokens{}
	t.Cleanup(func() { maker.Close() })
	opt := catest.Options()
	opt.OnlineKey = func(name string, bits int) (crypto.Signer, string, error) {
		if name != "signing" {
			return nil, "", nil // the issuing CAs' keys stay files
		}
		u := *base
		u.Object = "irpki-TEST-" + name
		k, err := maker.Generate(&u, bits)
		if err != nil {
			return nil, "", err
		}
		return k, u.String(), nil
	}
	dir := t.TempDir()
	h, _, err := ca.LoadOrCreate(dir, wire.EnvTest, now, opt)
	if err != nil {
		t.Fatal(err)
	}
	return dir, h
}

// A response signer whose key is in a PKCS#11 token rotates within the
// token: the next signer's key is made there (signer-next/signing.pkcs11,
// no key file), signs for its certificate, and after the finish
// signing.pkcs11 names it; a second rotation makes yet another token key.
func TestRotateTokenSigner(t *testing.T) {
	dir, _ := tokenSignerHierarchy(t)
	caDir := filepath.Join(dir, "ca", wire.EnvTest)
	tokens := &hsm.Tokens{}
	defer tokens.Close()
	keys := &ca.Keys{Tokens: tokens}
	h, err := ca.Load(caDir, wire.EnvTest, keys)
	if err != nil {
		t.Fatal(err)
	}
	first := h.Signing
	h, err = ca.RotateSigner(h, now, ca.RotateOptions{Overlap: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(caDir, "signer-next", "signing.key")); err == nil {
		t.Error("the next token signer got a key file")
	}
	ref, err := os.ReadFile(filepath.Join(caDir, "signer-next", "signing.pkcs11"))
	if err != nil || !strings.Contains(string(ref), "object=irpki-TEST-signing-next-20260514T103000Z;id=") {
		t.Fatalf("signer-next/signing.pkcs11: %v %q", err, ref)
	}
	if h.Rotation == nil || h.Rotation.Next.Cert.Equal(first) || !h.Rotation.Next.Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(h.Rotation.Next.Cert.PublicKey) {
		t.Fatal("no pending rotation to a new token key")
	}
	d := sha256.Sum256([]byte("probe"))
	sig, err := h.Rotation.Next.Key.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil || rsa.VerifyPKCS1v15(h.Rotation.Next.Cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, d[:], sig) != nil {
		t.Fatalf("the next token key does not sign for its certificate: %v", err)
	}
	next := h.Rotation.Next.Cert
	h, err = ca.FinishRotation(h, now.Add(2*time.Hour), false)
	if err != nil {
		t.Fatal(err)
	}
	if h.Rotation != nil || !h.Signing.Equal(next) {
		t.Fatal("the finished rotation does not sign with the next signer")
	}
	if err := h.CheckKeys(nil); err != nil {
		t.Fatalf("CheckKeys after the finish: %v", err)
	}
	if top, _ := os.ReadFile(filepath.Join(caDir, "signing.pkcs11")); !bytes.Equal(top, ref) {
		t.Errorf("signing.pkcs11 after the finish: %q, want %q", top, ref)
	}
	// Again: the label takes the new time, not a second -next-.
	if h, err = ca.RotateSigner(h, now.Add(3*time.Hour), ca.RotateOptions{Overlap: time.Hour}); err != nil {
		t.Fatal(err)
	}
	ref2, _ := os.ReadFile(filepath.Join(caDir, "signer-next", "signing.pkcs11"))
	if !strings.Contains(string(ref2), "object=irpki-TEST-signing-next-20260514T133000Z;") {
		t.Errorf("second rotation's reference: %q", ref2)
	}
	// Replaced before its switch: the discarded next key leaves the token.
	u2, err := hsm.ParseURI(string(bytes.TrimSpace(ref2)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Open(u2); err != nil {
		t.Fatalf("the next key before the replacement: %v", err)
	}
	if h, err = ca.RotateSigner(h, now.Add(3*time.Hour+time.Minute), ca.RotateOptions{Overlap: time.Hour, Replace: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Open(u2); err == nil || !strings.Contains(err.Error(), "no such RSA private key") {
		t.Errorf("the replaced next key is still in the token: %v", err)
	}
	if err := h.CheckKeys(nil); err != nil {
		t.Fatalf("CheckKeys after the replacement: %v", err)
	}
}
