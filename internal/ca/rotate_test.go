package ca_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/atomicfile"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/ca/catest"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/wire"
)

// Hierarchies and keys minted once per test binary: catest's ready-made
// keys run out after a few hierarchies, and generating them takes seconds.
var (
	templatesOnce sync.Once
	templates     [2]map[string][]byte
	keyPool       []*rsa.PrivateKey
	keyNext       atomic.Int64
	templatesErr  error
)

// newDirCA writes a hierarchy (one of two: other picks the second) into
// a temporary data directory and returns it loaded from there.
func newDirCA(t *testing.T, other ...bool) *ca.Hierarchy {
	t.Helper()
	templatesOnce.Do(func() {
		for i := range templates {
			if _, templates[i], templatesErr = ca.Create(wire.EnvTest, now.AddDate(-1, 0, 0), catest.Options()); templatesErr != nil {
				return
			}
		}
		for range 6 {
			k, err := catest.Options().NewKey(2048)
			if err != nil {
				templatesErr = err
				return
			}
			keyPool = append(keyPool, k)
		}
	})
	if templatesErr != nil {
		t.Fatal(templatesErr)
	}
	files := templates[0]
	if len(other) > 0 && other[0] {
		files = templates[1]
	}
	dir := filepath.Join(t.TempDir(), "ca", wire.EnvTest)
	if err := atomicfile.WriteDir(dir, files, 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := ca.Load(dir, wire.EnvTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func rotateOpts(overlap time.Duration) ca.RotateOptions {
	return ca.RotateOptions{Overlap: overlap, NewKey: func(int) (*rsa.PrivateKey, error) {
		return keyPool[int(keyNext.Add(1))%len(keyPool)], nil
	}}
}

// signers returns the non-CA certificates of a bundle.
func signers(t *testing.T, h *ca.Hierarchy, purpose string, at time.Time) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for _, c := range h.BundleCerts(purpose, at) {
		if !c.IsCA {
			out = append(out, c)
		}
	}
	return out
}

func certsEqual(a, b []*x509.Certificate) bool {
	return slices.EqualFunc(a, b, func(x, y *x509.Certificate) bool { return x.Equal(y) })
}

// The lifecycle of a response-signer rotation in the files, by the time:
// both signers in the bundles from the rotation to the switch, the current
// one signing; the next one signing from the switch, the old one retired
// from the bundles; finish tidies the files.
func TestRotateSignerLifecycle(t *testing.T) {
	h := newDirCA(t)
	old := h.Signing
	t0 := now
	h, err := ca.RotateSigner(h, t0, rotateOpts(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r := h.Rotation
	if r == nil || !h.Signing.Equal(old) {
		t.Fatalf("after RotateSigner: Rotation %v, current signer changed: %v", r, !h.Signing.Equal(old))
	}
	next := r.Next.Cert
	if next.Equal(old) || !r.SwitchAt.Equal(t0.Add(30*24*time.Hour)) || !r.Started.Equal(t0) {
		t.Fatalf("rotation %+v", r)
	}
	if err := next.CheckSignatureFrom(h.Services.Cert); err != nil || next.IsCA || next.KeyUsage != x509.KeyUsageDigitalSignature ||
		next.Subject.String() != old.Subject.String() || !next.NotBefore.Equal(t0.Add(-time.Minute)) {
		t.Errorf("next signer: %v, IsCA %v, usage %v, subject %q, not before %v", err, next.IsCA, next.KeyUsage, next.Subject, next.NotBefore)
	}
	if next.PublicKey.(*rsa.PublicKey).Equal(old.PublicKey) {
		t.Error("the next signer has the current one's key")
	}
	fi, err := os.Stat(filepath.Join(h.Dir, "signer-next", "signing.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("next signer's key: %v %v", fi, err)
	}
	// irpkid ca encrypt-keys finds it.
	if plain, err := ca.PlainKeyFiles(h.Dir); err != nil || !slices.Contains(plain, filepath.Join("signer-next", "signing.key")) {
		t.Errorf("PlainKeyFiles = %v %v, want the next signer's key among them", plain, err)
	}
	// The overlap.
	for _, at := range []time.Time{t0, r.SwitchAt.Add(-time.Second)} {
		if s := h.SignerAt(at); !s.Cert.Equal(old) || s.Key != h.SigningKey {
			t.Errorf("at %v the signer is %s, want the current one", at, ca.SerialHex(s.Cert))
		}
		for _, p := range []string{ca.TrustResponses, ca.TrustAll} {
			if got := signers(t, h, p, at); !certsEqual(got, []*x509.Certificate{old, next}) {
				t.Errorf("at %v the %s bundle pins %d signers, want both", at, p, len(got))
			}
		}
		if got := signers(t, h, ca.TrustCertificates, at); len(got) != 0 {
			t.Errorf("the certificates bundle holds %d signers", len(got))
		}
		roles := map[string]*x509.Certificate{}
		for _, rc := range h.Certificates(at) {
			roles[rc.Role] = rc.Cert
		}
		if !roles[ca.RoleSigner].Equal(old) || roles[ca.RoleNextSigner] == nil || !roles[ca.RoleNextSigner].Equal(next) {
			t.Errorf("at %v Certificates: %v", at, roles)
		}
	}
	// The switch: the next one signs, the old one is retired.
	for _, at := range []time.Time{r.SwitchAt, r.SwitchAt.AddDate(1, 0, 0)} {
		if s := h.SignerAt(at); !s.Cert.Equal(next) || s.Key != r.Next.Key {
			t.Errorf("at %v the signer is %s, want the next one", at, ca.SerialHex(s.Cert))
		}
		if got := signers(t, h, ca.TrustAll, at); !certsEqual(got, []*x509.Certificate{next}) {
			t.Errorf("at %v the bundle pins %d signers, want the next one only", at, len(got))
		}
		for _, rc := range h.Certificates(at) {
			if rc.Cert.Equal(old) || rc.Role == ca.RoleNextSigner {
				t.Errorf("at %v Certificates lists %s %s", at, rc.Role, ca.SerialHex(rc.Cert))
			}
		}
	}
	var pubs int
	for _, k := range h.PublicKeys() {
		if k.(*rsa.PublicKey).Equal(old.PublicKey) || k.(*rsa.PublicKey).Equal(next.PublicKey) {
			pubs++
		}
	}
	if pubs != 2 {
		t.Errorf("PublicKeys holds %d of the two signers' keys", pubs)
	}
	if err := h.CheckKeys(nil); err != nil {
		t.Errorf("CheckKeys: %v", err)
	}

	// A second rotation while one is pending is refused and changes
	// nothing; finish before the switch too.
	before := snapshot(t, h.Dir)
	if _, err := ca.RotateSigner(h, t0.Add(time.Hour), rotateOpts(0)); !errors.Is(err, ca.ErrRotationPending) {
		t.Errorf("second rotation: %v, want ErrRotationPending", err)
	}
	if _, err := ca.FinishRotation(h, r.SwitchAt.Add(-time.Minute), false); !errors.Is(err, ca.ErrRotationPending) {
		t.Errorf("finish before the switch: %v, want ErrRotationPending", err)
	}
	if after := snapshot(t, h.Dir); !maps.Equal(before, after) {
		t.Error("a refused rotation or finish changed the directory")
	}

	// After the switch, finish: the next signer is signing.crt/.key, the
	// old certificate is kept, its key gone, and nothing changes for
	// clients.
	h, err = ca.FinishRotation(h, r.SwitchAt.Add(time.Hour), false)
	if err != nil {
		t.Fatal(err)
	}
	if h.Rotation != nil || !h.Signing.Equal(next) || !h.SigningKey.Public().(*rsa.PublicKey).Equal(next.PublicKey) {
		t.Fatalf("after finish: rotation %v, signer %s", h.Rotation, ca.SerialHex(h.Signing))
	}
	if _, err := os.Stat(filepath.Join(h.Dir, "signer-next")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("signer-next after finish: %v", err)
	}
	kept, err := os.ReadFile(filepath.Join(h.Dir, "retired-signers", "signing-"+ca.SerialHex(old)+".crt"))
	if err != nil || !bytes.Contains(kept, []byte("CERTIFICATE")) {
		t.Errorf("retired certificate: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(h.Dir, "retired-signers")); len(ents) != 1 {
		t.Errorf("retired-signers holds %d files, want the certificate only", len(ents))
	}
	if got := signers(t, h, ca.TrustAll, r.SwitchAt.Add(time.Hour)); !certsEqual(got, []*x509.Certificate{next}) {
		t.Errorf("after finish the bundle pins %d signers", len(got))
	}
}

// snapshot returns every file under dir with its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[strings.TrimPrefix(p, dir)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// --replace makes another next signer; a rotation after the switch first
// finishes the one before; finish --now switches at once.
func TestRotateSignerReplaceAndAgain(t *testing.T) {
	h := newDirCA(t)
	old := h.Signing
	h, err := ca.RotateSigner(h, now, rotateOpts(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	first := h.Rotation.Next.Cert
	opt := rotateOpts(72 * time.Hour)
	opt.Replace = true
	if h, err = ca.RotateSigner(h, now.Add(time.Hour), opt); err != nil {
		t.Fatal(err)
	}
	if h.Rotation.Next.Cert.Equal(first) || !h.Rotation.SwitchAt.Equal(now.Add(73*time.Hour)) || !h.Signing.Equal(old) {
		t.Errorf("replaced rotation: next %s, switch %v", ca.SerialHex(h.Rotation.Next.Cert), h.Rotation.SwitchAt)
	}
	second := h.Rotation.Next.Cert
	// After its switch, another rotation finishes it first.
	later := now.Add(100 * time.Hour)
	if h, err = ca.RotateSigner(h, later, rotateOpts(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !h.Signing.Equal(second) || h.Rotation == nil || h.Rotation.Next.Cert.Equal(second) {
		t.Errorf("rotation after the switch: current %s, want %s", ca.SerialHex(h.Signing), ca.SerialHex(second))
	}
	if got := signers(t, h, ca.TrustAll, later); !certsEqual(got, []*x509.Certificate{second, h.Rotation.Next.Cert}) {
		t.Errorf("bundle pins %d signers", len(got))
	}
	third := h.Rotation.Next.Cert
	if h, err = ca.FinishRotation(h, later, true); err != nil {
		t.Fatal(err)
	}
	if !h.Signing.Equal(third) || h.Rotation != nil || !h.SignerAt(later).Cert.Equal(third) {
		t.Errorf("finish --now: signer %s", ca.SerialHex(h.Signing))
	}
}

// A rotation that fails (no key) leaves the directory as it was.
func TestRotateSignerFailureChangesNothing(t *testing.T) {
	h := newDirCA(t)
	before := snapshot(t, h.Dir)
	opt := rotateOpts(0)
	opt.NewKey = func(int) (*rsa.PrivateKey, error) { return nil, errors.New("no entropy") }
	if _, err := ca.RotateSigner(h, now, opt); err == nil || !strings.Contains(err.Error(), "no entropy") {
		t.Fatalf("RotateSigner: %v", err)
	}
	if after := snapshot(t, h.Dir); !maps.Equal(before, after) {
		t.Error("a failed rotation changed the directory")
	}
	if _, err := ca.RotateSigner(h, now, ca.RotateOptions{Overlap: -time.Hour}); err == nil {
		t.Error("a negative overlap was taken")
	}
}

// A finish interrupted between its writes reads as finished, and running
// it again completes it.
func TestFinishRotationInterrupted(t *testing.T) {
	for _, step := range []string{"key", "key+cert"} {
		t.Run(step, func(t *testing.T) {
			h := newDirCA(t)
			h, err := ca.RotateSigner(h, now, rotateOpts(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			next := h.Rotation.Next.Cert
			files := []string{"signing.key"}
			if step == "key+cert" {
				files = append(files, "signing.crt")
			}
			for _, f := range files {
				b, err := os.ReadFile(filepath.Join(h.Dir, "signer-next", f))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(h.Dir, f), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			h2, err := ca.Load(h.Dir, wire.EnvTest, nil)
			if err != nil {
				t.Fatalf("Load after an interrupted finish: %v", err)
			}
			if h2.Rotation != nil || !h2.Signing.Equal(next) || !h2.SignerAt(now).Cert.Equal(next) {
				t.Fatalf("interrupted finish reads as rotation %v, signer %s", h2.Rotation, ca.SerialHex(h2.Signing))
			}
			if h2, err = ca.FinishRotation(h2, now, false); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(h.Dir, "signer-next")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("signer-next left: %v", err)
			}
			h3, err := ca.Load(h.Dir, wire.EnvTest, nil)
			if err != nil || !h3.Signing.Equal(next) || h3.Rotation != nil {
				t.Errorf("after finishing again: %v", err)
			}
		})
	}
	// A signing.key that belongs to neither signer is refused.
	h := newDirCA(t)
	other := newDirCA(t, true)
	b, err := os.ReadFile(filepath.Join(other.Dir, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.Dir, "signing.key"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Load(h.Dir, wire.EnvTest, nil); err == nil || !strings.Contains(err.Error(), "signing.key is not the key of the certificate") {
		t.Errorf("Load with a foreign signing.key: %v", err)
	}
}

// With the root offline (irpkid ca init --offline-dir), the data directory
// lacks the services CA's key: rotation is refused, naming what it needs,
// and works with the offline copy holding the services CA's key alone.
func TestRotateSignerOfflineRoot(t *testing.T) {
	full := newDirCA(t).Dir // the offline copy
	part := filepath.Join(t.TempDir(), "ca", wire.EnvTest)
	if err := os.MkdirAll(part, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(full)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if slices.Contains(ca.OfflineKeys, e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(full, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(part, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The offline copy with the services CA's key only.
	for _, f := range []string{"root.key", "intermediate.key"} {
		if err := os.Remove(filepath.Join(full, f)); err != nil {
			t.Fatal(err)
		}
	}
	h, err := ca.Load(part, wire.EnvTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.RotateSigner(h, now, rotateOpts(0)); err == nil || !strings.Contains(err.Error(), "services.key") {
		t.Fatalf("rotation without the services CA's key: %v", err)
	}
	opt := rotateOpts(0)
	opt.IssuerKeyDir = part // the online directory does not hold it either
	if _, err := ca.RotateSigner(h, now, opt); err == nil {
		t.Fatal("rotation with a directory lacking the key")
	}
	opt.IssuerKeyDir = full
	h, err = ca.RotateSigner(h, now, opt)
	if err != nil {
		t.Fatal(err)
	}
	if h.Rotation == nil || h.Rotation.Next.Cert.CheckSignatureFrom(h.Services.Cert) != nil || h.Services.Key != nil {
		t.Fatalf("offline rotation: %+v", h.Rotation)
	}
	for _, f := range ca.OfflineKeys {
		if _, err := os.Stat(filepath.Join(part, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s in the online directory after rotation: %v", f, err)
		}
	}
	// Another CA's services key is refused.
	opt.IssuerKeyDir = newDirCA(t, true).Dir
	opt.Replace = true
	if _, err := ca.RotateSigner(h, now, opt); err == nil || !strings.Contains(err.Error(), "is not the key of") {
		t.Errorf("another CA's services key: %v", err)
	}
}

// A running server's SignerWatch picks up a rotation begun in the
// directory and switches by its clock, without a restart; a directory that
// does not load keeps the signers it had.
func TestSignerWatch(t *testing.T) {
	h := newDirCA(t)
	old := h.Signing
	clk := clock.NewFixed(now)
	w := ca.NewSignerWatch(h, clk)
	if changed, err := w.Refresh(); changed || err != nil {
		t.Fatalf("Refresh of an unchanged directory: %v %v", changed, err)
	}
	h2, err := ca.RotateSigner(h, now, rotateOpts(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	next := h2.Rotation.Next.Cert
	if !w.Current().Cert.Equal(old) {
		t.Fatal("signer changed before a refresh")
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	w.Check(log)
	if w.Hierarchy().Rotation == nil || !strings.Contains(logs.String(), "rotation picked up") {
		t.Fatalf("rotation not picked up:\n%s", logs.String())
	}
	key, chain := w.Key()
	if !w.Current().Cert.Equal(old) || key != w.Hierarchy().SigningKey || !bytes.Equal(chain[0], old.Raw) {
		t.Error("the current signer does not sign during the overlap")
	}
	if roles := w.Certificates(); len(roles) < 2 || roles[len(roles)-1].Role != ca.RoleNextSigner {
		t.Errorf("Certificates during the overlap: %v", roles)
	}
	clk.Advance(24 * time.Hour)
	if key, chain := w.Key(); !bytes.Equal(chain[0], next.Raw) || key != w.Hierarchy().Rotation.Next.Key {
		t.Error("the next signer does not sign after the switch")
	}
	w.Check(log)
	if !strings.Contains(logs.String(), "response signer switched") {
		t.Errorf("no switch logged:\n%s", logs.String())
	}
	// A broken next signer is not taken.
	if err := os.WriteFile(filepath.Join(h.Dir, "signer-next", "rotation.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := w.Refresh(); changed || err == nil {
		t.Errorf("Refresh of a broken rotation: %v %v", changed, err)
	}
	if !w.Current().Cert.Equal(next) {
		t.Error("a broken directory changed the signer")
	}
}

// The next signer's key is kept as the current one's: encrypted with the
// same passphrase when that one is; a signer whose key is in a token is
// not rotated into a file.
func TestRotateSignerKeyCustody(t *testing.T) {
	opt := catest.Options()
	opt.Passphrase = []byte("correct horse")
	_, files, err := ca.Create(wire.EnvTest, now.AddDate(-1, 0, 0), opt)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ca", wire.EnvTest)
	if err := atomicfile.WriteDir(dir, files, 0o600); err != nil {
		t.Fatal(err)
	}
	keys := &ca.Keys{Passphrase: func() ([]byte, error) { return []byte("correct horse"), nil }}
	h, err := ca.Load(dir, wire.EnvTest, keys)
	if err != nil {
		t.Fatal(err)
	}
	if h, err = ca.RotateSigner(h, now, rotateOpts(time.Hour)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "signer-next", "signing.key"))
	if err != nil || !ca.IsEncryptedKeyPEM(b) {
		t.Fatalf("the next signer's key is not encrypted like the current one's: %v", err)
	}
	if _, err := ca.Load(dir, wire.EnvTest, nil); err == nil {
		t.Error("an encrypted hierarchy loaded without the passphrase")
	}
	if h, err = ca.FinishRotation(h, now.Add(time.Hour), false); err != nil || h.Rotation != nil {
		t.Fatalf("finish: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "signing.key")); err != nil || !ca.IsEncryptedKeyPEM(b) {
		t.Errorf("signing.key after finish is not encrypted: %v", err)
	}

	// A token-held signer whose reference is no PKCS#11 URI: refused,
	// nothing written (TestRotateTokenSigner rotates a real token signer).
	h = newDirCA(t)
	if err := os.Rename(filepath.Join(h.Dir, "signing.key"), filepath.Join(h.Dir, "signing.pkcs11")); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, h.Dir)
	if _, err := ca.RotateSigner(h, now, rotateOpts(0)); err == nil || !strings.Contains(err.Error(), "signing.pkcs11") {
		t.Errorf("rotation of a token-held signer: %v", err)
	}
	if !maps.Equal(before, snapshot(t, h.Dir)) {
		t.Error("a refused rotation changed the directory")
	}
}
