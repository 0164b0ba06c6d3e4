package hsm

import (
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sync"
)

// ErrNeedsCgo is what a build without cgo answers to every PKCS#11 key.
var ErrNeedsCgo = errors.New("PKCS#11 (HSM) keys need an irpkid built with cgo (CGO_ENABLED=1 and a C compiler, e.g. gcc); this build has no cgo, so it can use key files only")

// Available reports whether this build can use PKCS#11 tokens.
func Available() bool { return cgoBuild }

// token is one logged-in token: the cgo build's crypto11 context.
type token interface {
	// find returns the RSA private key with label and (if not nil) id, or
	// nil when there is none.
	find(id, label []byte) (crypto.Signer, error)
	// generate makes an RSA key pair in the token, sensitive and not
	// extractable.
	generate(id, label []byte, bits int) (crypto.Signer, error)
	close() error
}

// Tokens opens keys in PKCS#11 tokens and keeps one logged-in context per
// module and token, shared by the keys it holds; Close logs out of them.
// The keys it returns are safe for concurrent use: crypto11 takes a session
// of its pool for each signature, so signatures run in parallel up to the
// sessions the token allows.
type Tokens struct {
	// LookupEnv reads the environment variables of pin-source=env:NAME;
	// nil: os.LookupEnv.
	LookupEnv func(string) (string, bool)

	mu     sync.Mutex
	open   map[[2]string]token
	closed bool
}

func (t *Tokens) token(u *URI) (token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errors.New("hsm: tokens closed")
	}
	k := [2]string{u.ModulePath, u.Token}
	if tok, ok := t.open[k]; ok {
		return tok, nil
	}
	if !cgoBuild {
		return nil, ErrNeedsCgo
	}
	if _, err := os.Stat(u.ModulePath); err != nil {
		return nil, fmt.Errorf("%s: PKCS#11 module: %w", u.Name(), err)
	}
	lookup := t.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	pin, err := u.pin(lookup)
	if err != nil {
		return nil, err
	}
	tok, err := openToken(u.ModulePath, u.Token, pin)
	if err != nil {
		return nil, fmt.Errorf("token %q (module %s): %w", u.Token, u.ModulePath, err)
	}
	if t.open == nil {
		t.open = map[[2]string]token{}
	}
	t.open[k] = tok
	return tok, nil
}

// Login opens and logs in to the token u names (its module, its PIN), so
// that a wrong PIN or module is reported before anything is made.
func (t *Tokens) Login(u *URI) error {
	_, err := t.token(u)
	return err
}

// Open returns the private key u names.
func (t *Tokens) Open(u *URI) (crypto.Signer, error) {
	if u.Object == "" && u.ID == nil {
		return nil, fmt.Errorf("%s: the URI names no key (object= or id=)", u.Name())
	}
	tok, err := t.token(u)
	if err != nil {
		return nil, err
	}
	k, err := tok.find(u.ID, label(u))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u.Name(), err)
	}
	if k == nil {
		return nil, fmt.Errorf("%s: no such RSA private key in the token", u.Name())
	}
	return k, nil
}

// Generate makes an RSA key of bits in the token, labelled u.Object, with
// a new random CKA_ID (set in u), and refuses when the token already holds
// a key of that label: an old key is never taken for a new one.
func (t *Tokens) Generate(u *URI, bits int) (crypto.Signer, error) {
	if u.Object == "" {
		return nil, fmt.Errorf("%s: a new key needs a label (object=)", u.Name())
	}
	tok, err := t.token(u)
	if err != nil {
		return nil, err
	}
	if old, err := tok.find(nil, []byte(u.Object)); err != nil {
		return nil, fmt.Errorf("%s: %w", u.Name(), err)
	} else if old != nil {
		return nil, fmt.Errorf("%s exists already: remove it (pkcs11-tool --delete-object) or use another token", u.Name())
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	k, err := tok.generate(id, []byte(u.Object), bits)
	if err != nil {
		return nil, fmt.Errorf("%s: generate RSA-%d key: %w", u.Name(), bits, err)
	}
	u.ID = id
	return k, nil
}

// Delete removes a key that Generate made (when what it was for failed).
func Delete(k crypto.Signer) error {
	if d, ok := k.(interface{ Delete() error }); ok {
		return d.Delete()
	}
	return nil
}

// Close logs out of every token and unloads the modules; it waits for
// signatures under way. Keys opened through t stop working. A nil Tokens
// has nothing to close.
func (t *Tokens) Close() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	var errs []error
	for k, tok := range t.open {
		if err := tok.close(); err != nil {
			errs = append(errs, fmt.Errorf("token %q: %w", k[1], err))
		}
	}
	t.open = nil
	return errors.Join(errs...)
}

func label(u *URI) []byte {
	if u.Object == "" {
		return nil
	}
	return []byte(u.Object)
}
