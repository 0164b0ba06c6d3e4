// Package hsm opens RSA keys held in a PKCS#11 token (an HSM, or SoftHSM2
// for tests) as crypto.Signers, through github.com/ThalesGroup/crypto11.
// A key is named by a PKCS#11 URI (RFC 7512), e.g.
//
//	pkcs11:token=irpki;object=irpki-TEST-signing?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/irpkid/pin
//
// The token's PIN is never part of the URI: pin-source names a file
// (file:PATH) or an environment variable (env:NAME) that holds it, and
// pin-value is refused. Neither the PIN nor its source's content appears
// in an error.
//
// The PKCS#11 part needs cgo (hsm_cgo.go); a build without cgo still
// parses URIs and answers every attempt to open a token with ErrNeedsCgo.
package hsm

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// URI is a parsed PKCS#11 URI naming one key.
type URI struct {
	Token      string // token label (required)
	Object     string // the key's label (CKA_LABEL)
	ID         []byte // the key's CKA_ID; nil: any
	ModulePath string // the PKCS#11 library (required)
	PinSource  string // file:PATH or env:NAME (required)
}

// ParseURI parses a key URI. Its errors never repeat the URI's text, which
// a mistyped pin-value would put there.
func ParseURI(s string) (*URI, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "pkcs11:")
	if !ok {
		return nil, errors.New("a PKCS#11 key URI begins with pkcs11:")
	}
	path, query, _ := strings.Cut(rest, "?")
	u := &URI{}
	err := eachAttr(path, ";", func(k, v string) error {
		switch k {
		case "token":
			u.Token = v
		case "object":
			u.Object = v
		case "id":
			u.ID = []byte(v)
		case "type":
			if v != "private" {
				return errors.New("PKCS#11 URI: a key URI names the private key (type=private, or no type)")
			}
		case "manufacturer", "model", "serial", "library-manufacturer", "library-description", "library-version", "slot-description", "slot-manufacturer", "slot-id":
			return fmt.Errorf("PKCS#11 URI: attribute %q is not supported: select the token by its label (token=)", k)
		default:
			return fmt.Errorf("PKCS#11 URI: unknown path attribute %s", attrName(k))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = eachAttr(query, "&", func(k, v string) error {
		switch k {
		case "module-path":
			u.ModulePath = v
		case "pin-source":
			u.PinSource = v
		case "pin-value":
			return errors.New("PKCS#11 URI: pin-value is refused: the PIN would be written where the URI is (a file, a command line, a log); use pin-source=file:PATH or pin-source=env:NAME")
		case "module-name":
			return errors.New("PKCS#11 URI: give the library's full path as module-path, not module-name")
		default:
			return fmt.Errorf("PKCS#11 URI: unknown query attribute %s", attrName(k))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case u.Token == "":
		return nil, errors.New("PKCS#11 URI: token= (the token's label) is required")
	case u.ModulePath == "":
		return nil, errors.New("PKCS#11 URI: module-path= (the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so) is required")
	case u.PinSource == "":
		return nil, errors.New("PKCS#11 URI: pin-source= is required: file:PATH (a file holding the user PIN) or env:NAME (an environment variable)")
	}
	if _, _, err := splitPinSource(u.PinSource); err != nil {
		return nil, err
	}
	return u, nil
}

// eachAttr calls f with each name and (percent-decoded) value of the
// attributes in s, separated by sep.
func eachAttr(s, sep string, f func(k, v string) error) error {
	if s == "" {
		return nil
	}
	for _, attr := range strings.Split(s, sep) {
		k, v, ok := strings.Cut(attr, "=")
		if !ok {
			return fmt.Errorf("PKCS#11 URI: attribute %s has no value", attrName(k))
		}
		dec, err := url.PathUnescape(v)
		if err != nil {
			return fmt.Errorf("PKCS#11 URI: attribute %s: bad percent-encoding", attrName(k))
		}
		if err := f(k, dec); err != nil {
			return err
		}
	}
	return nil
}

// attrName quotes an attribute's name for an error when it looks like
// one, and only then: a mistyped URI may hold a PIN where a name should be.
func attrName(k string) string {
	if len(k) == 0 || len(k) > 24 || strings.Trim(k, "abcdefghijklmnopqrstuvwxyz-") != "" {
		return "(a name that is none of RFC 7512's)"
	}
	return strconv.Quote(k)
}

// String is the URI in its canonical form (values percent-encoded, the id
// byte by byte).
func (u *URI) String() string {
	var b strings.Builder
	b.WriteString("pkcs11:token=" + escape(u.Token))
	if u.Object != "" {
		b.WriteString(";object=" + escape(u.Object))
	}
	if u.ID != nil {
		b.WriteString(";id=")
		for _, c := range u.ID {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	b.WriteString("?module-path=" + escape(u.ModulePath) + "&pin-source=" + escape(u.PinSource))
	return b.String()
}

// Name is how errors and logs name the key: token and label, nothing else.
func (u *URI) Name() string {
	if u.Object == "" {
		return fmt.Sprintf("token %q", u.Token)
	}
	return fmt.Sprintf("key %q in token %q", u.Object, u.Token)
}

// escape percent-encodes all but RFC 7512's unreserved characters and
// those that mean nothing inside a value ('/' and ':').
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~/:", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func splitPinSource(src string) (kind, where string, err error) {
	switch {
	case strings.HasPrefix(src, "file://"):
		where = strings.TrimPrefix(src, "file://")
		kind = "file"
	case strings.HasPrefix(src, "file:"):
		where, kind = strings.TrimPrefix(src, "file:"), "file"
	case strings.HasPrefix(src, "env:"):
		where, kind = strings.TrimPrefix(src, "env:"), "env"
	default:
		return "", "", errors.New("PKCS#11 URI: pin-source must be file:PATH or env:NAME")
	}
	if where == "" || kind == "file" && !strings.HasPrefix(where, "/") {
		return "", "", errors.New("PKCS#11 URI: pin-source: give file:/absolute/path or env:NAME")
	}
	return kind, where, nil
}

// ReadSecret reads a secret (a PIN, a passphrase) from a file: the file's
// content without one trailing newline. A file that others (not the owner,
// not the group) may read is refused, and so is an empty secret. Errors
// name the file, never its content.
func ReadSecret(path, what string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s file: %w", what, err)
	}
	if st.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("%s file %s is readable by others (mode %04o): chmod 600 (or 640 with a group) it", what, path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s file: %w", what, err)
	}
	b = trimNewline(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("%s file %s is empty", what, path)
	}
	return b, nil
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// pin reads the PIN that u's pin-source names.
func (u *URI) pin(lookupEnv func(string) (string, bool)) (string, error) {
	kind, where, err := splitPinSource(u.PinSource)
	if err != nil {
		return "", err
	}
	if kind == "env" {
		v, ok := lookupEnv(where)
		if !ok || v == "" {
			return "", fmt.Errorf("%s: the PIN's environment variable %s is not set", u.Name(), where)
		}
		return v, nil
	}
	b, err := ReadSecret(where, "PIN")
	if err != nil {
		return "", fmt.Errorf("%s: %w", u.Name(), err)
	}
	return string(b), nil
}
