package notify_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// received is one message the test SMTP server accepted.
type received struct {
	From    string
	To      []string
	Subject string
	Header  mail.Header
	Body    string
}

// smtpServer is a real SMTP server (emersion/go-smtp) on a loopback port.
type smtpServer struct {
	Host string
	Port int
	Pool *x509.CertPool // trusts the server's TLS certificate

	implicit bool

	mu       sync.Mutex
	msgs     []received
	failNext int // DATA commands still to refuse with 451
	attempts int // DATA commands seen
	user     string
	pass     string
	// dataStarted, when set, receives once per DATA before it completes;
	// release, when set, is waited on before a DATA completes.
	dataStarted chan struct{}
	release     chan struct{}
}

type smtpOptions struct {
	TLS      bool   // offer STARTTLS
	Implicit bool   // TLS from the first byte (SMTPS)
	User     string // require AUTH PLAIN with this user and password
	Password string
	// DropOnReset cuts the connection when the client sends RSET or QUIT:
	// a message accepted with 250 is queued, but the client sees the
	// connection fail right after.
	DropOnReset bool
}

func startSMTP(t *testing.T, o smtpOptions) *smtpServer {
	t.Helper()
	s := &smtpServer{user: o.User, pass: o.Password}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &smtpSession{srv: s}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 1 << 20
	if o.TLS || o.Implicit {
		cert, pool := selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.Pool = pool
	} else {
		srv.AllowInsecureAuth = true
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.Implicit {
		ln = tls.NewListener(ln, srv.TLSConfig)
		s.implicit = true
	}
	if o.DropOnReset {
		ln = dropOnResetListener{ln}
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.Host = "127.0.0.1"
	s.Port = ln.Addr().(*net.TCPAddr).Port
	return s
}

func (s *smtpServer) fail(n int) {
	s.mu.Lock()
	s.failNext = n
	s.mu.Unlock()
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *smtpServer) dataAttempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

type smtpSession struct {
	srv    *smtpServer
	from   string
	to     []string
	authed bool
}

func (x *smtpSession) AuthMechanisms() []string {
	if x.srv.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		x.srv.mu.Lock()
		ok := username == x.srv.user && password == x.srv.pass
		x.srv.mu.Unlock()
		if !ok {
			return errors.New("invalid credentials")
		}
		x.authed = true
		return nil
	}), nil
}

func (x *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if x.srv.user != "" && !x.authed {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := x.srv
	s.mu.Lock()
	s.attempts++
	started, release := s.dataStarted, s.release
	s.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if release != nil {
		<-release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "temporary failure, try again later"}
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	var body []byte
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body, err = io.ReadAll(quotedprintable.NewReader(m.Body))
	} else {
		body, err = io.ReadAll(m.Body)
	}
	if err != nil {
		return err
	}
	s.msgs = append(s.msgs, received{From: x.from, To: append([]string(nil), x.to...), Subject: subj, Header: m.Header, Body: string(body)})
	return nil
}

func (x *smtpSession) Reset()        { x.from, x.to = "", nil }
func (x *smtpSession) Logout() error { return nil }

// dropOnResetListener's connections close themselves when the client's
// next command is RSET or QUIT.
type dropOnResetListener struct{ net.Listener }

func (l dropOnResetListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &dropOnResetConn{Conn: c}, nil
}

type dropOnResetConn struct {
	net.Conn
	line []byte // the start of the line being read
}

func (c *dropOnResetConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	for _, b := range p[:n] {
		if b == '\n' {
			c.line = c.line[:0]
			continue
		}
		if len(c.line) < 4 {
			c.line = append(c.line, b)
			if cmd := strings.ToUpper(string(c.line)); cmd == "RSET" || cmd == "QUIT" {
				c.Conn.Close()
				return 0, io.EOF
			}
		}
	}
	return n, err
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}
