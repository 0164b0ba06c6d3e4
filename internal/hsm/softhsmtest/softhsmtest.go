// Package softhsmtest makes throwaway SoftHSM2 tokens for tests: a token
// directory and configuration in the test's temporary directory
// (SOFTHSM2_CONF points there for the test and the processes it starts),
// a user PIN in a 0600 file. Without softhsm2, or in a test binary built
// without cgo, the test is skipped, except under CI=true, where it fails:
// .ci/run installs softhsm2 and a C compiler.
package softhsmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/irpki/irpki/internal/testenv"

	"github.com/irpki/irpki/internal/hsm"
)

// Modules are where Debian puts SoftHSM2's PKCS#11 library.
var Modules = []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"}

// Token is a new, empty token.
type Token struct {
	Label   string
	PIN     string // the user PIN (tests only)
	PinFile string // a 0600 file holding PIN
	Module  string // the PKCS#11 library
	Conf    string // the SOFTHSM2_CONF file
}

// need skips or, under CI=true, fails the test.
func need(t testing.TB, format string, args ...any) {
	t.Helper()
	testenv.Missing(t, format, args...)
}

// New makes a token labelled label; SOFTHSM2_CONF is set for the test.
func New(t testing.TB, label string) *Token {
	t.Helper()
	if !hsm.Available() {
		need(t, "this test binary was built without cgo, which PKCS#11 needs")
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		need(t, "softhsm2-util is not installed (Debian package softhsm2)")
	}
	var module string
	for _, m := range Modules {
		if _, err := os.Stat(m); err == nil {
			module = m
			break
		}
	}
	if module == "" {
		need(t, "the SoftHSM2 PKCS#11 library is not installed (looked in %v)", Modules)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	tk := &Token{Label: label, PIN: "4711-test-pin", Module: module, Conf: conf, PinFile: filepath.Join(dir, "pin")}
	if err := os.WriteFile(tk.PinFile, []byte(tk.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", tk.PIN, "--so-pin", "so-"+tk.PIN)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return tk
}

// URI is the token's PKCS#11 URI (no key), its PIN from PinFile.
func (tk *Token) URI() string {
	return (&hsm.URI{Token: tk.Label, ModulePath: tk.Module, PinSource: "file:" + tk.PinFile}).String()
}
