//go:build cgo

package hsm_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/irpki/irpki/internal/hsm"
	"github.com/irpki/irpki/internal/hsm/softhsmtest"
)

// A key made in a SoftHSM2 token is found again by the URI Generate
// completed, signs (PKCS#1 v1.5 and PSS) signatures that verify, from many
// goroutines at once, and stops after Close; a second key of the same
// label is refused.
func TestTokenKeys(t *testing.T) {
	tok := softhsmtest.New(t, "irpki-unit")
	u, err := hsm.ParseURI(tok.URI())
	if err != nil {
		t.Fatal(err)
	}
	u.Object = "irpki-TEST-signing"
	tokens := &hsm.Tokens{}
	defer tokens.Close()
	made, err := tokens.Generate(u, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == nil || !strings.Contains(u.String(), ";id=%") {
		t.Errorf("Generate set no id: %s", u)
	}
	if _, err := tokens.Generate(&hsm.URI{Token: u.Token, Object: u.Object, ModulePath: u.ModulePath, PinSource: u.PinSource}, 2048); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("a second key of the same label: %v", err)
	}

	// Another process (here: another Tokens) opens it by its URI.
	again, err := hsm.ParseURI(u.String())
	if err != nil {
		t.Fatal(err)
	}
	other := &hsm.Tokens{}
	key, err := other.Open(again)
	if err != nil {
		t.Fatal(err)
	}
	pub := key.Public().(*rsa.PublicKey)
	if !pub.Equal(made.Public()) || pub.N.BitLen() != 2048 {
		t.Fatalf("opened another key: %d bits", pub.N.BitLen())
	}

	// Concurrent signatures: each goroutine's verifies.
	const workers, each = 16, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				d := sha256.Sum256(fmt.Appendf(nil, "probe %d/%d", w, i))
				var opts crypto.SignerOpts = crypto.SHA256
				if i%2 == 1 {
					opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
				}
				sig, err := key.Sign(rand.Reader, d[:], opts)
				if err == nil {
					if pss, ok := opts.(*rsa.PSSOptions); ok {
						err = rsa.VerifyPSS(pub, crypto.SHA256, d[:], sig, pss)
					} else {
						err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig)
					}
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("after close"))
	if _, err := key.Sign(rand.Reader, d[:], crypto.SHA256); err == nil {
		t.Error("a key signed after its Tokens closed")
	}
	if _, err := other.Open(again); err == nil {
		t.Error("Open after Close")
	}

	// Unknown label; wrong PIN (the error names neither the PIN nor its file's content).
	missing := *again
	missing.Object, missing.ID = "no-such-key", nil
	if _, err := tokens.Open(&missing); err == nil || !strings.Contains(err.Error(), "no such RSA private key") {
		t.Errorf("unknown label: %v", err)
	}
	// (Login state is the process's: close the other context first, or
	// the token stays logged in and no PIN is asked.)
	if err := tokens.Close(); err != nil {
		t.Fatal(err)
	}
	wrong := *again
	wrong.PinSource = "env:IRPKI_TEST_WRONG_PIN"
	t.Setenv("IRPKI_TEST_WRONG_PIN", "9999-wrong")
	_, err = (&hsm.Tokens{}).Open(&wrong)
	if err == nil || strings.Contains(err.Error(), "9999-wrong") || strings.Contains(err.Error(), tok.PIN) || !strings.Contains(err.Error(), "PIN_INCORRECT") {
		t.Errorf("wrong PIN: %v", err)
	}
}

// BenchmarkTokenSign measures RSA-2048 signatures by a SoftHSM2 key, in
// parallel as irpkid signs (go test -bench TokenSign -run x ./internal/hsm).
func BenchmarkTokenSign(b *testing.B) {
	tok := softhsmtest.New(b, "irpki-bench")
	u, err := hsm.ParseURI(tok.URI())
	if err != nil {
		b.Fatal(err)
	}
	u.Object = "bench"
	tokens := &hsm.Tokens{}
	defer tokens.Close()
	key, err := tokens.Generate(u, 2048)
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("bench"))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := key.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
