package eservice_test

import (
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/irpki/irpki/internal/accounts"
	"github.com/irpki/irpki/internal/eservice"
	"github.com/irpki/irpki/internal/notify"
	"github.com/irpki/irpki/internal/server/irpkidtest"
)

const (
	customer    = "1234567-1"
	repEmail    = "edustaja@palkat.test"
	repPassword = "oikea hevonen patteri niitti"
	opEmail     = "operator@vero.test"
	opPassword  = "operator password 123"
)

// cheap argon2 parameters keep tests fast; production uses DefaultArgon2.
var cheap = eservice.Argon2Params{Memory: 1024, Time: 1, Threads: 1}

type env struct {
	S      *irpkidtest.Server
	H      *eservice.Handler
	Web    *httptest.Server
	URL    string // the e-service root: .../eservice/
	Outbox string
	Cfg    eservice.Config
}

type envOptions struct {
	Env    string // TEST (default) or PRODUCTION
	TLS    bool
	Mailer notify.Mailer
	Mutate func(*eservice.Config)
	// Database is the store (default SQLite in a temporary directory);
	// replica starts a second e-service on it.
	Database string
	// PreStart runs before the e-service is built (to start what its
	// configuration names, such as an OpenID provider).
	PreStart func(*irpkidtest.Server)
}

func start(t *testing.T, o envOptions) *env {
	t.Helper()
	s := irpkidtest.Start(t, irpkidtest.Config{Environment: o.Env, Database: o.Database})
	s.AddOrg(t, customer, "Palkat Oy")
	if o.PreStart != nil {
		o.PreStart(s)
	}
	e := serveEService(t, s, o)
	ctx := context.Background()
	if _, err := accounts.Add(ctx, s.DB, s.Clock, cheap, accounts.NewAccount{Email: repEmail, Name: "Eeva Edustaja", CustomerID: customer, Password: repPassword}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := accounts.Add(ctx, s.DB, s.Clock, cheap, accounts.NewAccount{Email: opEmail, Name: "Olli Operaattori", Operator: true, Password: opPassword}, "test"); err != nil {
		t.Fatal(err)
	}
	return e
}

// replica starts another service and e-service on e's database and clock,
// as a second irpkid serve behind the same load balancer.
func (e *env) replica(t *testing.T, o envOptions) *env {
	t.Helper()
	s := irpkidtest.Start(t, irpkidtest.Config{Environment: o.Env, Database: o.Database, Clock: e.S.Clock})
	return serveEService(t, s, o)
}

func serveEService(t *testing.T, s *irpkidtest.Server, o envOptions) *env {
	t.Helper()
	outbox := filepath.Join(s.Dir, "outbox")
	m := o.Mailer
	if m == nil {
		ob, err := notify.Outbox(outbox, "Tulorekisteri <no-reply@irpki.test>", s.Clock, s.Log)
		if err != nil {
			t.Fatal(err)
		}
		m = ob
	}
	mux := http.NewServeMux()
	web := httptest.NewUnstartedServer(mux)
	if o.TLS {
		web.StartTLS()
	} else {
		web.Start()
	}
	t.Cleanup(web.Close)
	cfg := eservice.DefaultConfig(web.URL)
	cfg.Argon2 = cheap
	cfg.PINDelivery = eservice.PINOnScreen // the SMS tests set PINBySMS
	if o.Mutate != nil {
		o.Mutate(&cfg)
	}
	h, err := eservice.New(cfg, s.Service, s.DB, m, s.Clock, s.Log)
	if err != nil {
		t.Fatal(err)
	}
	h.Register(mux)
	return &env{S: s, H: h, Web: web, URL: web.URL + eservice.Path, Outbox: outbox, Cfg: cfg}
}

// client is a cookie-keeping HTTP client that does not follow redirects.
func (e *env) client(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	cc := *e.Web.Client() // a copy: the server's client is shared
	c := &cc
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, body := getResp(t, c, u)
	return resp.StatusCode, body
}

func getResp(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept-Language", "en")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "en")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func csrfOf(t *testing.T, html string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", html)
	}
	return m[1]
}

// signIn signs c in and returns the session's CSRF token.
func (e *env) signIn(t *testing.T, c *http.Client, email, password string) string {
	t.Helper()
	_, page := get(t, c, e.URL+"signin")
	resp, body := post(t, c, e.URL+"signin", url.Values{"csrf": {csrfOf(t, page)}, "email": {email}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d\n%s", resp.StatusCode, body)
	}
	_, page = get(t, c, e.URL+"certificates")
	if email == opEmail {
		_, page = get(t, c, e.URL+"admin/orgs")
	}
	return csrfOf(t, page)
}

// mails returns the outbox's messages, oldest first.
type outMail struct {
	To, Subject, Lang, Body string
}

func (e *env) mails(t *testing.T) []outMail {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(e.Outbox, "*.eml"))
	sort.Strings(files)
	var out []outMail
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(fh)
		if err != nil {
			t.Fatal(err)
		}
		var body []byte
		if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body, err = io.ReadAll(quotedprintable.NewReader(m.Body))
		} else {
			body, err = io.ReadAll(m.Body)
		}
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		to, _ := mail.ParseAddress(m.Header.Get("To"))
		out = append(out, outMail{To: to.Address, Subject: subj, Lang: m.Header.Get("Content-Language"), Body: string(body)})
	}
	return out
}

var linkRE = regexp.MustCompile(`https?://[^\s]+/eservice/delivery/[A-Za-z0-9_-]{43}`)

func linkIn(t *testing.T, body string) string {
	t.Helper()
	l := linkRE.FindString(body)
	if l == "" {
		t.Fatalf("no delivery link in mail:\n%s", body)
	}
	return l
}
