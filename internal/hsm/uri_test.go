package hsm_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/irpki/irpki/internal/hsm"
)

func TestParseURI(t *testing.T) {
	u, err := hsm.ParseURI("pkcs11:token=irpki%20prod;object=irpki-TEST-signing;id=%01%AB?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/irpkid/pin")
	if err != nil {
		t.Fatal(err)
	}
	if u.Token != "irpki prod" || u.Object != "irpki-TEST-signing" || !bytes.Equal(u.ID, []byte{1, 0xab}) ||
		u.ModulePath != "/usr/lib/softhsm/libsofthsm2.so" || u.PinSource != "file:/etc/irpkid/pin" {
		t.Errorf("parsed %+v", u)
	}
	again, err := hsm.ParseURI(u.String())
	if err != nil || again.String() != u.String() || again.Token != u.Token || !bytes.Equal(again.ID, u.ID) {
		t.Errorf("String does not round-trip: %s → %+v %v", u, again, err)
	}
	if _, err := hsm.ParseURI("pkcs11:token=t?module-path=/m.so&pin-source=env:IRPKI_PIN"); err != nil {
		t.Errorf("env: pin-source refused: %v", err)
	}
	for uri, want := range map[string]string{
		"token=t": "begins with pkcs11:",
		"pkcs11:object=k?module-path=/m.so&pin-source=file:/p":           "token=",
		"pkcs11:token=t?pin-source=file:/p":                              "module-path=",
		"pkcs11:token=t?module-path=/m.so":                               "pin-source=",
		"pkcs11:token=t?module-path=/m.so&pin-source=file:relative":      "absolute",
		"pkcs11:token=t?module-path=/m.so&pin-source=%7Ccat%20/p":        "file:PATH or env:NAME",
		"pkcs11:token=t;type=cert?module-path=/m.so&pin-source=file:/p":  "type=private",
		"pkcs11:token=t;colour=red?module-path=/m.so&pin-source=file:/p": `unknown path attribute "colour"`,
		"pkcs11:token=t?module-name=softhsm2&pin-source=file:/p":         "module-path",
	} {
		if _, err := hsm.ParseURI(uri); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", uri, err, want)
		}
	}
	// Text where a name should be is not repeated: it may be a PIN.
	for _, uri := range []string{"pkcs11:token=t;4711?module-path=/m.so&pin-source=file:/p", "pkcs11:token=t?module-path=/m.so&4711=x&pin-source=file:/p"} {
		if _, err := hsm.ParseURI(uri); err == nil || strings.Contains(err.Error(), "4711") {
			t.Errorf("%s: %v", uri, err)
		}
	}
	// A PIN written into the URI is refused, and the error does not repeat it.
	_, err = hsm.ParseURI("pkcs11:token=t?module-path=/m.so&pin-value=s3cret-PIN-42")
	if err == nil || !strings.Contains(err.Error(), "pin-value is refused") || strings.Contains(err.Error(), "s3cret-PIN-42") {
		t.Errorf("pin-value: %v", err)
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pass")
	for content, want := range map[string]string{"horse battery\n": "horse battery", "crlf\r\n": "crlf", "two\n\n": "two\n", "none": "none"} {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if b, err := hsm.ReadSecret(p, "passphrase"); err != nil || string(b) != want {
			t.Errorf("%q: %q %v", content, b, err)
		}
	}
	os.WriteFile(p, []byte("\n"), 0o600)
	if _, err := hsm.ReadSecret(p, "passphrase"); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty: %v", err)
	}
	os.WriteFile(p, []byte("world-readable-secret\n"), 0o600)
	os.Chmod(p, 0o644)
	if _, err := hsm.ReadSecret(p, "PIN"); err == nil || !strings.Contains(err.Error(), "readable by others") || strings.Contains(err.Error(), "world-readable-secret") {
		t.Errorf("0644: %v", err)
	}
	os.Chmod(p, 0o640) // owner and group (root:irpkid) is fine
	if _, err := hsm.ReadSecret(p, "PIN"); err != nil {
		t.Errorf("0640: %v", err)
	}
	if _, err := hsm.ReadSecret(filepath.Join(dir, "missing"), "PIN"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

// The error of a build without cgo says what to do.
func TestNeedsCgoMessage(t *testing.T) {
	msg := hsm.ErrNeedsCgo.Error()
	for _, want := range []string{"PKCS#11", "cgo", "CGO_ENABLED=1", "C compiler"} {
		if !strings.Contains(msg, want) {
			t.Errorf("ErrNeedsCgo %q lacks %q", msg, want)
		}
	}
}
