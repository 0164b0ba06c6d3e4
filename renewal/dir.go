package renewal

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

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

// Settings are what a state directory remembers about its service and
// organisation, so that later runs need only the directory.
type Settings struct {
	Endpoint     string `json:"endpoint"`
	Environment  string `json:"environment"`            // TEST or PRODUCTION
	CustomerID   string `json:"customer_id"`            // business ID, the certificate's CN
	Organization string `json:"organization,omitempty"` // O of the CSR and CustomerName; optional
	Trust        string `json:"trust"`                  // path of the PEM trust bundle (response signatures)
	IssuerTrust  string `json:"issuer_trust,omitempty"` // path of the PEM bundle issued certificates chain to; "" = Trust
	KeySize      int    `json:"key_size"`               // RSA bits of new keys
}

// Validate checks the settings for use.
func (s Settings) Validate() error {
	switch {
	case s.Endpoint == "":
		return errors.New("settings: endpoint is required")
	case s.Environment != "TEST" && s.Environment != "PRODUCTION":
		return errors.New("settings: environment must be TEST or PRODUCTION") // the value is not shown: it may come from a file
	case s.CustomerID == "" || len(s.CustomerID) > 30:
		return errors.New("settings: customer id (the business ID, e.g. 1234567-8) is required")
	case len(s.Organization) > 100:
		return errors.New("settings: organization name is longer than 100 characters")
	case s.Trust == "":
		return errors.New("settings: a trust bundle (PEM file of the service's CA chain) is required")
	case s.KeySize != 2048 && s.KeySize != 3072 && s.KeySize != 4096:
		return errors.New("settings: key size must be 2048, 3072 or 4096")
	}
	return nil
}

// pending is an enrolment or renewal in flight, written before each step
// that talks to the service so that a run killed at any point resumes where
// it stood: with the same key and CSR (so the service recognises the
// repeated request), the RetrievalId once it is known, and the certificate
// once it was fetched.
type pending struct {
	Operation   string    `json:"operation"` // "enroll" or "renew"
	Created     time.Time `json:"created"`
	CustomerID  string    `json:"customer_id"`
	TransferID  string    `json:"transfer_id,omitempty"` // enroll: the credentials this key was sent with
	Predecessor string    `json:"predecessor,omitempty"` // renew: serial of the certificate renewed
	KeyPEM      string    `json:"key_pem"`               // the new private key (file is 0600)
	CSR         []byte    `json:"csr"`                   // DER, sent as is on every retry
	RetrievalID string    `json:"retrieval_id,omitempty"`
	CertPEM     string    `json:"cert_pem,omitempty"` // fetched and verified, not yet installed
	// UnverifiedCertPEM is the certificate GetCertificate delivered, saved
	// before it is verified: the service may answer its RetrievalId only
	// for a while after delivering it, so a certificate refused for its
	// chain (a wrong or missing issuer trust bundle) is kept here and
	// verified again by the next run, without asking the service. It is
	// never installed unverified. Empty in files written before it existed.
	UnverifiedCertPEM string `json:"unverified_cert_pem,omitempty"`
	// PreviousSettings, of a re-enrolment (one begun while a certificate
	// was current), are the settings that certificate renews with, from
	// before the enrolment's own were saved in settings.json: put back
	// when the enrolment is refused for good or given up (see
	// restoreSettings). Nil for a first enrolment, a renewal, and in files
	// written before it existed.
	PreviousSettings *Settings `json:"previous_settings,omitempty"`

	// The last attempt to send the request got a signed FAIL answer whose
	// code is not one of irpkid's definite ones (the real service's codes
	// are not public, so it is kept, not abandoned): when, the code and
	// message, and how many such refusals in a row. Unlike a lost answer
	// (no response, a transport error, an untrusted response, INTERNAL),
	// which resumes at once, a refused request is sent again only inside
	// the renewal window and after a backoff (see retryAt), unless forced.
	// Refused, its code and message are cleared on disk before the request
	// is sent again (its answer is then unknown); Refusals stays until an
	// answer other than such a refusal is recorded.
	// Zero in files written before these fields existed.
	Refused        time.Time `json:"refused,omitzero"`
	RefusedCode    string    `json:"refused_code,omitempty"`
	RefusedMessage string    `json:"refused_message,omitempty"`
	Refusals       int       `json:"refusals,omitempty"`
}

// Backoff between sending again a request the service refused: doubling
// from refusalRetryInitial per refusal in a row, at most refusalRetryMax.
const (
	refusalRetryInitial = time.Hour
	refusalRetryMax     = 24 * time.Hour
)

// refusal returns the last refusal of the request, or nil.
func (p *pending) refusal() *Refusal {
	if p == nil || p.Refused.IsZero() || p.RetrievalID != "" {
		return nil
	}
	r := &Refusal{At: p.Refused, Code: p.RefusedCode, Message: p.RefusedMessage, Count: p.Refusals}
	if p.Operation == opRenew {
		r.RetryAt = p.retryAt() // an enrolment is sent again only by Enroll
	}
	return r
}

// retryAt returns the earliest moment the refused request is sent again
// without --force; zero when it was not refused. The backoff step d (an
// hour doubling per refusal in a row, at most a day) is jittered to
// between 3/4 d and d, by a fraction derived from the request's CSR:
// installations refused at the same moment (say, by a service that
// refused everyone for a while) come back spread over a quarter of the
// step, and each installation's moment is the same at every check and
// restart, so a timer-driven irpki decides the same way every time.
func (p *pending) retryAt() time.Time {
	if p.Refused.IsZero() {
		return time.Time{}
	}
	d := refusalRetryInitial
	for i := 1; i < p.Refusals && d < refusalRetryMax; i++ {
		d *= 2
	}
	d = min(d, refusalRetryMax)
	sum := sha256.Sum256(p.CSR)
	frac := float64(binary.BigEndian.Uint64(sum[:8])>>11) / float64(1<<53)
	return p.Refused.Add(d - time.Duration(frac*float64(d/4)))
}

// Refusal is a signed FAIL answer of the service to a pending request that
// was kept because its code may not be final.
type Refusal struct {
	At      time.Time `json:"at"`
	Code    string    `json:"code"`
	Message string    `json:"message,omitempty"`
	Count   int       `json:"count"` // refusals in a row
	// RetryAt, for a renewal: not sent again before this without --force
	// (nor outside the window). Zero for an enrolment: nothing sends it
	// again by itself, only irpki enroll (Enroll) with its credentials.
	RetryAt time.Time `json:"retry_at,omitzero"`
}

func (r *Refusal) String() string {
	return fmt.Sprintf("the service refused the request on %s (%s: %s)", r.At.UTC().Format("2006-01-02 15:04 MST"), client.CleanText(r.Code), client.CleanText(r.Message))
}

// certSerial returns the serial of the fetched certificate, or "".
func (p *pending) certSerial() string {
	c := pemCert(p.CertPEM)
	if c == nil {
		return ""
	}
	return serialHex(c)
}

// pemCert parses s as exactly one PEM certificate; nil if s is empty or
// anything else.
func pemCert(s string) *x509.Certificate {
	if s == "" {
		return nil
	}
	certs, err := client.ParseCertificates([]byte(s))
	if err != nil || len(certs) != 1 {
		return nil
	}
	return certs[0]
}

// clearRefusal forgets the last refusal of p (Refused, its code and
// message); the count of refusals in a row is the caller's to keep or
// reset.
func (p *pending) clearRefusal() { p.Refused, p.RefusedCode, p.RefusedMessage = time.Time{}, "", "" }

// state is what the directory remembers about past runs.
type state struct {
	LastAttempt    time.Time `json:"last_attempt,omitzero"`
	LastResult     string    `json:"last_result,omitempty"` // "ok" or "error"
	LastError      string    `json:"last_error,omitempty"`
	LastRenewal    time.Time `json:"last_renewal,omitzero"`
	RevokedSerial  string    `json:"revoked_serial,omitempty"` // the service refused a renewal: SIGNER_REVOKED
	RevokedSeen    time.Time `json:"revoked_seen,omitzero"`
	RevokedMessage string    `json:"revoked_message,omitempty"`
}

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

func (m *Manager) loadState() (state, error) {
	var st state
	_, err := m.readJSON(stateFile, &st)
	return st, err
}

func (m *Manager) saveState(st state) error { return writeJSON(m.path(stateFile), st, 0o600) }

func (m *Manager) loadPending() (*pending, error) {
	var p pending
	ok, err := m.readJSON(pendingFile, &p)
	if err != nil || !ok {
		return nil, err
	}
	return &p, nil
}

func (m *Manager) savePending(p *pending) error { return writeJSON(m.path(pendingFile), p, 0o600) }

// abandon moves the pending file into archive/abandoned and returns its
// new path ("" if there was none): the request it describes was refused
// for good, replaced, or given up (Abandon), but its key is never deleted.
func (m *Manager) abandon(why string) (string, error) {
	dir := m.path(archiveDir, abandonedDir)
	if err := atomicfile.MkdirPrivate(dir); err != nil {
		return "", err
	}
	base := m.opt.Now().UTC().Format("20060102T150405Z") + "-" + sanitize(why)
	name := base + ".json"
	// Never rename over an earlier abandoned request (and its key): the
	// lock keeps other renewers out between this check and the rename.
	for i := 2; ; i++ {
		if _, err := os.Lstat(filepath.Join(dir, name)); errors.Is(err, fs.ErrNotExist) {
			break
		} else if err != nil {
			return "", err
		}
		name = fmt.Sprintf("%s-%d.json", base, i)
	}
	if err := atomicfile.Rename(m.path(pendingFile), filepath.Join(dir, name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", err
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return "", err
	}
	return filepath.Join(dir, name), atomicfile.SyncDir(m.dir)
}

// restoreSettings puts back in settings.json the settings of the
// certificate that was current when the enrolment p began (its
// PreviousSettings), when p is given up or refused for good: that
// certificate goes on renewing with the settings it was enrolled with, not
// with the abandoned enrolment's endpoint, trust, key size or
// organisation. A first enrolment has none, and nothing is restored.
func (m *Manager) restoreSettings(p *pending) error {
	if p == nil || p.Operation != opEnroll || p.PreviousSettings == nil {
		return nil
	}
	var cur Settings
	if ok, err := m.readJSON(settingsFile, &cur); err == nil && ok && cur == *p.PreviousSettings {
		return nil
	}
	return writeJSON(m.path(settingsFile), *p.PreviousSettings, 0o600)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, s)
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
