//go:build !cgo

package hsm_test

import (
	"errors"
	"testing"

	"github.com/irpki/irpki/internal/hsm"
)

// Built without cgo, every attempt to open or make a token key says that
// HSM keys need a cgo build; nothing is loaded.
func TestWithoutCgo(t *testing.T) {
	if hsm.Available() {
		t.Fatal("Available in a build without cgo")
	}
	u, err := hsm.ParseURI("pkcs11:token=t;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:IRPKI_TEST_PIN")
	if err != nil {
		t.Fatal(err)
	}
	tokens := &hsm.Tokens{LookupEnv: func(string) (string, bool) { return "1234", true }}
	if _, err := tokens.Open(u); !errors.Is(err, hsm.ErrNeedsCgo) {
		t.Errorf("Open: %v", err)
	}
	if _, err := tokens.Generate(u, 2048); !errors.Is(err, hsm.ErrNeedsCgo) {
		t.Errorf("Generate: %v", err)
	}
}
