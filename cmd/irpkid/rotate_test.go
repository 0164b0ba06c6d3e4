package main

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/ca/catest"
	"github.com/irpki/irpki/internal/wire"
)

// pinned returns the signing certificates of a PEM trust bundle.
func pinned(t *testing.T, pemData string) []*x509.Certificate {
	t.Helper()
	certs, err := client.ParseTrustBundle([]byte(pemData))
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for _, c := range certs {
		if !c.IsCA {
			out = append(out, c)
		}
	}
	return out
}

// irpkid ca rotate-signer from the command line: the new signer is in
// irpkid trust (and its --out-dir bundles) beside the current one, with a
// word on standard error; a second rotation and an early finish are
// refused with what to do; --finish --now switches and retires the old
// signer from the bundles. A running serve exports both signers' expiry
// and the switch time, still signs with the current one and is ready.
func TestRotateSignerCommand(t *testing.T) {
	dataDir := t.TempDir()
	if _, _, err := ca.LoadOrCreate(dataDir, wire.EnvTest, time.Now(), catest.Options()); err != nil {
		t.Fatal(err)
	}
	dd := []string{"--data-dir", dataDir}
	rot := func(args ...string) (string, string, int) {
		return irpkid(t, nil, append(append([]string{"ca", "rotate-signer"}, dd...), args...)...)
	}
	trust := func(args ...string) (string, string) {
		so, se, code := irpkid(t, nil, append(append([]string{"trust"}, dd...), args...)...)
		if code != 0 {
			t.Fatalf("trust: %d %s", code, se)
		}
		return so, se
	}
	so, se := trust()
	old := pinned(t, so)
	if len(old) != 1 || se != "" {
		t.Fatalf("before rotation: %d signers, stderr %q", len(old), se)
	}
	if so, se, code := rot("--status"); code != 0 || !strings.Contains(so, "No rotation under way") || !strings.Contains(so, ca.SerialHex(old[0])) {
		t.Errorf("--status: %d %s %s", code, so, se)
	}
	so, se, code := rot("--overlap", "30d")
	if code != 0 || !strings.Contains(so, "New response signer: serial") || !strings.Contains(se, "signer-next") {
		t.Fatalf("rotate-signer: %d\n%s\n%s", code, so, se)
	}
	so, se = trust()
	both := pinned(t, so)
	if len(both) != 2 || !both[0].Equal(old[0]) || !strings.Contains(se, "being rotated") || !strings.Contains(se, ca.SerialHex(both[1])) {
		t.Fatalf("trust during the overlap: %d signers, stderr %q", len(both), se)
	}
	next := both[1]
	if so, se := trust("--for", "certificates"); len(pinned(t, so)) != 0 || se != "" {
		t.Errorf("trust --for certificates during the overlap: stderr %q", se)
	}
	out := t.TempDir()
	trust("--out-dir", out)
	for f, want := range map[string]int{"responses.pem": 2, "all.pem": 2, "certificates.pem": 0} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil || len(pinned(t, string(b))) != want {
			t.Errorf("--out-dir %s: %v, want %d signers", f, err, want)
		}
	}
	if so, _, code := rot("--status"); code != 0 || !strings.Contains(so, "Switch:") || !strings.Contains(so, ca.SerialHex(next)) || !strings.Contains(so, "(in 29d 23h)") {
		t.Errorf("--status during the overlap: %d\n%s", code, so)
	}
	if _, se, code := rot(); code != 1 || !strings.Contains(se, "pending") || !strings.Contains(se, "--replace") {
		t.Errorf("second rotation: %d %s", code, se)
	}
	if _, se, code := rot("--finish"); code != 1 || !strings.Contains(se, "--now") {
		t.Errorf("--finish before the switch: %d %s", code, se)
	}
	if _, se, code := rot("--now"); code != 1 || !strings.Contains(se, "--now goes with --finish") {
		t.Errorf("--now alone: %d %s", code, se)
	}
	if _, se, code := rot("--overlap", "soon"); code != 1 || !strings.Contains(se, "--overlap") {
		t.Errorf("--overlap soon: %d %s", code, se)
	}

	// serve during the overlap.
	maddr := startServe(t, dataDir, "--metrics-listen", anyPort).Metrics
	if code, _ := get(t, "http://"+maddr+"/readyz"); code != 200 {
		t.Errorf("/readyz during the overlap: %d", code)
	}
	mf := scrape(t, "http://"+maddr+"/metrics")
	for role, c := range map[string]*x509.Certificate{"signer": old[0], "signer_next": next} {
		if v := value(mf, "irpkid_ca_certificate_not_after_timestamp_seconds", "role", role, "serial", ca.SerialHex(c)); v != float64(c.NotAfter.Unix()) {
			t.Errorf("expiry gauge of the %s: %v, want %d", role, v, c.NotAfter.Unix())
		}
	}
	if v := value(mf, "irpkid_response_signer_switch_timestamp_seconds"); v < float64(time.Now().Add(29*24*time.Hour).Unix()) {
		t.Errorf("switch gauge %v", v)
	}

	so, se, code = rot("--finish", "--now")
	if code != 0 || !strings.Contains(so, "Rotation finished: serial "+ca.SerialHex(next)) || !strings.Contains(se, "before the planned time") {
		t.Fatalf("--finish --now: %d\n%s\n%s", code, so, se)
	}
	so, se = trust()
	if after := pinned(t, so); len(after) != 1 || !after[0].Equal(next) || se != "" {
		t.Errorf("after finish: %d signers, stderr %q", len(after), se)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "ca", "TEST", "retired-signers", "signing-"+ca.SerialHex(old[0])+".crt")); err != nil {
		t.Errorf("retired certificate: %v", err)
	}
	if so, _, code := rot("--status"); code != 0 || !strings.Contains(so, ca.SerialHex(next)) || strings.Contains(so, ca.SerialHex(old[0])) {
		t.Errorf("--status after finish: %d\n%s", code, so)
	}
}

// With the root offline (irpkid ca init --offline-dir), rotation needs the
// services CA's key from the offline copy, and only that key.
func TestRotateSignerOfflineRootCommand(t *testing.T) {
	base := t.TempDir()
	dataDir, offline := filepath.Join(base, "data"), filepath.Join(base, "offline")
	if _, _, err := ca.LoadOrCreate(offline, wire.EnvTest, time.Now(), catest.Options()); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(offline, "ca", "TEST")
	online := filepath.Join(dataDir, "ca", "TEST")
	if err := os.MkdirAll(online, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(full)
	for _, e := range ents {
		if e.Name() == "root.key" || e.Name() == "intermediate.key" || e.Name() == "services.key" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(full, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(online, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(filepath.Join(full, "root.key"))
	os.Remove(filepath.Join(full, "intermediate.key"))
	if _, se, code := irpkid(t, nil, "ca", "rotate-signer", "--data-dir", dataDir); code != 1 || !strings.Contains(se, "services.key") || !strings.Contains(se, "offline") {
		t.Errorf("rotation without the services CA's key: %d %s", code, se)
	}
	if so, se, code := irpkid(t, nil, "ca", "rotate-signer", "--data-dir", dataDir, "--offline-dir", offline, "--overlap", "7d"); code != 0 || !strings.Contains(so, "New response signer") {
		t.Fatalf("rotation with the offline services key: %d %s %s", code, so, se)
	}
	if _, err := os.Stat(filepath.Join(online, "services.key")); err == nil {
		t.Error("services.key was copied online")
	}
	so, _, _ := irpkid(t, nil, "trust", "--data-dir", dataDir)
	if n := len(pinned(t, so)); n != 2 {
		t.Errorf("trust after an offline rotation pins %d signers", n)
	}
}

// An error from internal/ca under "irpkid ca" names "ca" once: "irpkid ca:
// …", not "irpkid ca: ca: …".
func TestCAErrorPrefixOnce(t *testing.T) {
	dataDir := t.TempDir()
	if _, _, err := ca.LoadOrCreate(dataDir, wire.EnvTest, time.Now(), catest.Options()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "ca", string(wire.EnvTest), "signing.key"), []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, se, code := irpkid(t, nil, "ca", "rotate-signer", "--data-dir", dataDir)
	if code != 1 || !strings.HasPrefix(se, "irpkid ca: ") || strings.Contains(se, "ca: ca:") {
		t.Fatalf("exit %d, stderr %q: want one error naming \"irpkid ca:\" once", code, se)
	}
}

// What a signer rotation that stopped midway leaves (signer-next.new,
// signer-next.removed, maybe with a plain key) is not copied by backup and
// is removed, with a word on standard error, by the next rotate-signer
// (not by --status, which changes nothing) and by encrypt-keys.
func TestStaleRotationDirs(t *testing.T) {
	dataDir := t.TempDir()
	if _, _, err := ca.LoadOrCreate(dataDir, wire.EnvTest, time.Now(), catest.Options()); err != nil {
		t.Fatal(err)
	}
	caDir := filepath.Join(dataDir, "ca", string(wire.EnvTest))
	stale := func() {
		for _, d := range ca.StaleRotationDirs {
			if err := os.MkdirAll(filepath.Join(caDir, d), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(caDir, d, "signing.key"), []byte("a plain key\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	left := func() []string {
		var out []string
		for _, d := range ca.StaleRotationDirs {
			if _, err := os.Stat(filepath.Join(caDir, d)); err == nil {
				out = append(out, d)
			}
		}
		return out
	}
	stale()
	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dataDir, "--customer-id", "1234567-1", "--name", "Org", "--contact-email", "it@org.example"); code != 0 {
		t.Fatalf("org add: %s", se)
	}
	bk := filepath.Join(t.TempDir(), "backup")
	if _, se, code := irpkid(t, nil, "backup", "--data-dir", dataDir, "--to", bk); code != 0 {
		t.Fatalf("backup: %d %s", code, se)
	}
	for _, d := range ca.StaleRotationDirs {
		if _, err := os.Stat(filepath.Join(bk, "ca", string(wire.EnvTest), d)); err == nil {
			t.Errorf("backup copied %s", d)
		}
	}
	if _, se, code := irpkid(t, nil, "ca", "rotate-signer", "--data-dir", dataDir, "--status"); code != 0 || len(left()) != 2 {
		t.Fatalf("rotate-signer --status: %d %s; left %v (it changes nothing)", code, se, left())
	}
	_, se, code := irpkid(t, nil, "ca", "rotate-signer", "--data-dir", dataDir)
	if code != 0 || len(left()) != 0 || !strings.Contains(se, "interrupted signer rotation") {
		t.Fatalf("rotate-signer: %d %s; left %v", code, se, left())
	}
	stale()
	pass := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pass, []byte("a passphrase for the test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, se, code = irpkid(t, nil, "ca", "encrypt-keys", "--data-dir", dataDir, "--key-passphrase-file", pass)
	if code != 0 || len(left()) != 0 || !strings.Contains(se, "interrupted signer rotation") {
		t.Fatalf("encrypt-keys: %d %s; left %v", code, se, left())
	}
}
