package renewal

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/atomicfile"
	"github.com/irpki/irpki/internal/serial"
)

// Names in the state directory. See the package documentation.
const (
	settingsFile  = "settings.json"
	stateFile     = "state.json"
	pendingFile   = "pending.json"
	lockFile      = "lock"
	currentLink   = "current"
	archiveDir    = "archive"
	abandonedDir  = "abandoned"
	CertFile      = "cert.pem"      // the certificate
	KeyFile       = "key.pem"       // its private key, PKCS#8, 0600
	ChainFile     = "chain.pem"     // the CA certificates above it, issuer first
	FullChainFile = "fullchain.pem" // the certificate followed by its chain
)

func (m *Manager) path(name ...string) string {
	return filepath.Join(append([]string{m.dir}, name...)...)
}

// readJSON reads the JSON file DIR/rel (see readFile); a missing file
// leaves v untouched and returns false.
func (m *Manager) readJSON(rel string, v any) (bool, error) {
	b, err := m.readFile(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, decodeJSON(m.path(rel), b, v)
}

// decodeJSON decodes b, the content of the file at path, strictly. Its
// errors say where the file is wrong, never what it holds: the text of a
// planted or mistaken file (a key, a password) must not reach a log.
func decodeJSON(path string, b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	why := "it is not what irpki writes"
	switch {
	case errors.As(err, &syn):
		why = fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		why = fmt.Sprintf("a value of the wrong type at byte %d", typ.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		why = "a field irpki does not know"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		why = "it is empty or cut short"
	}
	return fmt.Errorf("%s: unreadable: %s (its content is not shown); irpki writes it itself: restore it from a backup, or move it out of the state directory", path, why)
}

func writeJSON(path string, v any, perm os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), perm)
}

// Installed is a certificate installed in the state directory.
type Installed struct {
	Cert  *x509.Certificate
	Chain []*x509.Certificate // CA certificates above it, issuer first
	Key   crypto.Signer
	Dir   string // archive/<serial>: its immutable files
}

// Files returns the paths of the installed files.
func (i *Installed) Files() (cert, key, chain, fullchain string) {
	return filepath.Join(i.Dir, CertFile), filepath.Join(i.Dir, KeyFile), filepath.Join(i.Dir, ChainFile), filepath.Join(i.Dir, FullChainFile)
}

// Serial returns the certificate's serial number as the state directory
// keys it: lower-case hex without leading zeros, the name of its
// archive/<serial> directory and what state files record. Show people
// SerialText.
func (i *Installed) Serial() string { return serialHex(i.Cert) }

// SerialText returns the certificate's serial number for people: lower-case
// hex at full width, leading zeros kept (32 digits for a 128-bit serial), as
// irpkid and its e-service show it.
func (i *Installed) SerialText() string { return serial.Text(i.Cert.SerialNumber) }

func serialHex(c *x509.Certificate) string { return fmt.Sprintf("%x", c.SerialNumber) }

func certPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// install makes a verified certificate the current one, in steps that are
// each safe to repeat after a crash:
//
//  1. archive/<serial>/ is created with cert, key and chain files in one
//     atomic directory rename (atomicfile.WriteDir); an existing one from a
//     crashed run is checked to hold the same certificate and key;
//  2. "current" is pointed at it in one atomic rename (see Layout): the
//     one moment at which certificate and key change, together;
//  3. the top-level cert.pem, key.pem, chain.pem and fullchain.pem are
//     made to show it (symlinks through "current", or copies).
func (m *Manager) install(cert *x509.Certificate, chain []*x509.Certificate, keyPEM []byte) (*Installed, error) {
	serial := serialHex(cert)
	rel := archiveDir + "/" + serial
	dir := m.path(archiveDir, serial)
	files := map[string][]byte{
		CertFile:      certPEM(cert),
		KeyFile:       keyPEM,
		ChainFile:     certPEM(chain...),
		FullChainFile: certPEM(append([]*x509.Certificate{cert}, intermediates(chain)...)...),
	}
	if err := m.checkArchiveDir(rel); err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := atomicfile.WriteDir(dir, files, 0o600); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	} else {
		for _, name := range []string{CertFile, KeyFile} {
			b, err := m.readFile(rel + "/" + name)
			if err != nil || !bytes.Equal(b, files[name]) {
				return nil, fmt.Errorf("%s exists and holds another %s; refusing to overwrite it", dir, name)
			}
		}
	}
	if err := m.crashPoint(stepArchived); err != nil {
		return nil, err
	}
	if err := m.opt.Layout.swap(m, rel); err != nil {
		return nil, err
	}
	if err := m.crashPoint(stepSwapped); err != nil {
		return nil, err
	}
	if err := m.opt.Layout.expose(m, rel); err != nil {
		return nil, err
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	return &Installed{Cert: cert, Chain: chain, Key: key, Dir: dir}, nil
}

// intermediates drops a self-signed root from the end of chain: what a TLS
// client sends with its certificate.
func intermediates(chain []*x509.Certificate) []*x509.Certificate {
	if n := len(chain); n > 0 && bytes.Equal(chain[n-1].RawIssuer, chain[n-1].RawSubject) {
		return chain[:n-1]
	}
	return chain
}

// current reads the installed certificate that "current" names; nil
// without error when there is none.
func (m *Manager) current() (*Installed, error) {
	rel, ok, err := m.currentTarget()
	if err != nil || !ok {
		return nil, err
	}
	return m.readInstalled(rel)
}

// readInstalled reads the archive directory rel (archive/<serial>), after
// checking it and its files (see checkFile).
func (m *Manager) readInstalled(rel string) (*Installed, error) {
	if err := m.checkArchiveDir(rel); err != nil {
		return nil, err
	}
	dir := m.path(filepath.FromSlash(rel))
	cb, err := m.readFile(rel + "/" + CertFile)
	if err != nil {
		return nil, err
	}
	kb, err := m.readFile(rel + "/" + KeyFile)
	if err != nil {
		return nil, err
	}
	certs, err := client.ParseCertificates(cb)
	if err != nil || len(certs) != 1 {
		return nil, fmt.Errorf("%s: not one PEM certificate", filepath.Join(dir, CertFile))
	}
	key, err := parseKey(kb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, KeyFile), err)
	}
	var chain []*x509.Certificate
	if b, err := m.readFile(rel + "/" + ChainFile); err == nil {
		chain, _ = client.ParseCertificates(b)
	}
	return &Installed{Cert: certs[0], Chain: chain, Key: key, Dir: dir}, nil
}

func parseKey(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM PKCS#8 private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported key type %T", k)
	}
	return s, nil
}

// checkDir returns ErrNoDirectory, with the path, when the state directory
// does not exist.
func (m *Manager) checkDir() error {
	if _, err := os.Stat(m.dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", m.dir, ErrNoDirectory)
	}
	return nil
}
