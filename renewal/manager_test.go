package renewal

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
)

const customer = "1234567-1"

// noSleep is the injected sleeper: it never waits.
func noSleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

// env is a test service with an organisation and a state directory.
type env struct {
	s     *irpkidtest.Server
	dir   string
	trust string
	url   string // endpoint the managers use (the server, or a proxy)
	// layout of the state directory; nil: the platform's default.
	layout Layout
}

// layouts are the state directory layouts (see Layout): the crash-safety
// tests run against each, whatever the platform's default.
var layouts = []Layout{LayoutSymlink, LayoutPointerFile}

func newEnv(t *testing.T) *env {
	t.Helper()
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, customer, "Acme Oy")
	trust := s.TrustFile(t)
	return &env{s: s, dir: filepath.Join(t.TempDir(), "state"), trust: trust, url: s.URL}
}

func (e *env) settings() Settings {
	return Settings{Endpoint: e.url, Environment: "TEST", CustomerID: customer, Organization: "Acme Oy", Trust: e.trust, KeySize: 2048}
}

func (e *env) manager(t *testing.T, mut ...func(*Options)) *Manager {
	t.Helper()
	opt := Options{Now: e.s.Clock.Now, Sleep: noSleep, Layout: e.layout}
	for _, f := range mut {
		f(&opt)
	}
	m, err := Open(e.dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) enroll(t *testing.T, validity time.Duration) *Installed {
	t.Helper()
	cred := e.s.Order(t, customer, validity)
	inst, err := e.manager(t).Enroll(context.Background(), e.settings(), Credentials{cred.TransferID, cred.TransferPassword})
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// certs returns the organisation's certificates in the service's store.
func (e *env) certs(t *testing.T) []service.CertificateView {
	t.Helper()
	cs, err := e.s.Service.Certificates(context.Background(), customer)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// successors counts the live certificates renewed from serial.
func (e *env) successors(t *testing.T, serial string) int {
	n := 0
	for _, c := range e.certs(t) {
		if c.Predecessor == serial && c.Status != store.CertSuperseded {
			n++
		}
	}
	return n
}

func TestEnroll(t *testing.T) {
	e := newEnv(t)
	var events []Event
	cred := e.s.Order(t, customer, 0)
	m := e.manager(t, func(o *Options) { o.Progress = func(ev Event) { events = append(events, ev) } })
	inst, err := m.Enroll(context.Background(), e.settings(), Credentials{cred.TransferID, cred.TransferPassword})
	if err != nil {
		t.Fatal(err)
	}
	if inst.Cert.Subject.CommonName != customer {
		t.Errorf("CN = %q", inst.Cert.Subject.CommonName)
	}
	if len(events) == 0 || events[len(events)-1].Kind != EventInstall {
		t.Errorf("progress events = %v, want ending with %s", events, EventInstall)
	}
	fi, err := os.Stat(filepath.Join(e.dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key.pem mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(e.dir, pendingFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pending.json left behind: %v", err)
	}
	// Files a consumer reads are consistent: the key is the certificate's.
	cb, _ := os.ReadFile(filepath.Join(e.dir, CertFile))
	kb, _ := os.ReadFile(filepath.Join(e.dir, KeyFile))
	certs, _ := client.ParseCertificates(cb)
	key, err := parseKey(kb)
	if err != nil || len(certs) != 1 || !sameKey(key, certs[0].PublicKey) {
		t.Fatalf("cert.pem/key.pem are not a pair: %v", err)
	}
	// The settings are saved without the password; later runs need only the dir.
	sb, _ := os.ReadFile(filepath.Join(e.dir, settingsFile))
	if bytes.Contains(sb, []byte(cred.TransferPassword)) {
		t.Error("settings.json holds the transfer password")
	}
	for _, f := range []string{settingsFile, stateFile} {
		b, _ := os.ReadFile(filepath.Join(e.dir, f))
		if bytes.Contains(b, []byte(cred.TransferPassword)) {
			t.Errorf("%s holds the transfer password", f)
		}
	}
	s, err := Open(e.dir, Options{Now: e.s.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Settings()
	if err != nil || got.CustomerID != customer || got.Endpoint != e.url {
		t.Fatalf("settings = %+v, %v", got, err)
	}
	// The same credentials again: the service does not issue twice; a new
	// key with used credentials is refused and abandoned, not installed.
	_, err = e.manager(t).Enroll(context.Background(), e.settings(), Credentials{cred.TransferID, cred.TransferPassword})
	var se *client.ServiceError
	if !errors.As(err, &se) || se.Code != client.CodeTransferUsed {
		t.Fatalf("second enrol = %v, want TRANSFER_USED", err)
	}
	if cur, _ := m.Current(); cur.Serial() != inst.Serial() {
		t.Error("a refused enrolment changed the current certificate")
	}
	if len(e.certs(t)) != 1 {
		t.Errorf("service has %d certificates, want 1", len(e.certs(t)))
	}
}

func TestEnrollWrongPassword(t *testing.T) {
	e := newEnv(t)
	cred := e.s.Order(t, customer, 0)
	_, err := e.manager(t).Enroll(context.Background(), e.settings(), Credentials{cred.TransferID, "wrong-password1"})
	var se *client.ServiceError
	if !errors.As(err, &se) || se.Code != "TRANSFER_INVALID" {
		t.Fatalf("err = %v, want TRANSFER_INVALID", err)
	}
	if strings.Contains(err.Error(), "wrong-password1") {
		t.Error("the error shows the password")
	}
	// The right password then works.
	if _, err := e.manager(t).Enroll(context.Background(), e.settings(), Credentials{cred.TransferID, cred.TransferPassword}); err != nil {
		t.Fatal(err)
	}
}

func TestStatusStates(t *testing.T) {
	e := newEnv(t)
	m := e.manager(t)
	if _, err := m.Status(); !errors.Is(err, ErrNoDirectory) {
		t.Fatalf("directory that does not exist: %v, want ErrNoDirectory", err)
	}
	if _, err := os.Stat(e.dir); !errors.Is(err, os.ErrNotExist) {
		t.Error("Status created the state directory")
	}
	if err := os.Mkdir(e.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := m.Status()
	if err != nil || st.State != StateNone {
		t.Fatalf("empty dir: %v %v", st, err)
	}
	inst := e.enroll(t, 0)
	na := inst.Cert.NotAfter
	check := func(want State) *Status {
		t.Helper()
		st, err := m.Status()
		if err != nil {
			t.Fatal(err)
		}
		if st.State != want {
			t.Fatalf("state at %v = %s, want %s", e.s.Clock.Now(), st.State, want)
		}
		return st
	}
	st = check(StateValid)
	if !st.WindowOpens.Equal(na.Add(-60 * 24 * time.Hour)) {
		t.Errorf("window opens %v", st.WindowOpens)
	}
	if st.DaysLeft < 729 || st.Serial != inst.SerialText() {
		t.Errorf("status = %+v", st)
	}
	e.s.Clock.Set(na.Add(-60 * 24 * time.Hour))
	check(StateWindowOpen)
	e.s.Clock.Set(na)
	check(StateExpired)
	e.s.Clock.Set(na.Add(-30 * 24 * time.Hour))
	check(StateWindowOpen)
	if _, err := e.s.Service.Revoke(context.Background(), inst.Serial(), service.ReasonKeyCompromise, "", "test", nil); err != nil {
		t.Fatal(err)
	}
	// Revocation is known only when the service refuses a renewal.
	check(StateWindowOpen)
	_, err = m.Renew(context.Background(), RenewOptions{})
	if !errors.Is(err, ErrRevoked) {
		t.Fatalf("renew of a revoked certificate: %v, want ErrRevoked", err)
	}
	if !strings.Contains(err.Error(), "order a new certificate in the e-service and run irpki enroll") {
		t.Errorf("message %q does not tell what to do", err)
	}
	check(StateRevoked)
	// A second attempt does not ask the service again.
	_, err = m.Renew(context.Background(), RenewOptions{Force: true})
	if !errors.Is(err, ErrRevoked) {
		t.Fatalf("second renew: %v", err)
	}
	// A new enrolment replaces the revoked certificate.
	e.s.Clock.Set(na.Add(-29 * 24 * time.Hour))
	e.enroll(t, 0)
	check(StateValid)
}

func TestRenewInsideWindow(t *testing.T) {
	e := newEnv(t)
	old := e.enroll(t, 30*24*time.Hour)
	m := e.manager(t)
	// Fresh 30-day certificate: outside its effective window (last 10 days).
	res, err := m.Renew(context.Background(), RenewOptions{})
	if err != nil || res.Renewed {
		t.Fatalf("fresh short certificate renewed: %+v %v", res, err)
	}
	e.s.Clock.Set(old.Cert.NotAfter.Add(-9 * 24 * time.Hour))
	res, err = m.Renew(context.Background(), RenewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Renewed || res.Installed.Serial() == old.Serial() {
		t.Fatalf("not renewed: %+v", res)
	}
	nw := res.Installed
	if !sameKey(nw.Key, nw.Cert.PublicKey) || sameKey(nw.Key, old.Cert.PublicKey) {
		t.Error("successor does not certify a new key of ours")
	}
	if got, want := nw.Cert.NotAfter.Sub(nw.Cert.NotBefore), old.Cert.NotAfter.Sub(old.Cert.NotBefore); got != want {
		t.Errorf("successor lifetime %v, want %v", got, want)
	}
	cur, _ := m.Current()
	if cur.Serial() != nw.Serial() {
		t.Error("successor not current")
	}
	// The previous certificate and key are archived.
	for _, f := range []string{CertFile, KeyFile} {
		b, err := os.ReadFile(filepath.Join(e.dir, archiveDir, old.Serial(), f))
		if err != nil || len(b) == 0 {
			t.Errorf("archive of the previous %s: %v", f, err)
		}
	}
	if n := e.successors(t, old.Serial()); n != 1 {
		t.Errorf("%d successors in the service, want 1", n)
	}
	st, _ := m.Status()
	if st.State != StateValid || st.LastResult != "ok" {
		t.Errorf("status after renewal: %+v", st)
	}
}

func TestRenewOutsideWindow(t *testing.T) {
	e := newEnv(t)
	inst := e.enroll(t, 0)
	m := e.manager(t)
	e.s.Clock.Set(inst.Cert.NotAfter.Add(-61 * 24 * time.Hour))
	res, err := m.Renew(context.Background(), RenewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Renewed || !res.WindowOpens.Equal(inst.Cert.NotAfter.Add(-60*24*time.Hour)) {
		t.Fatalf("result %+v", res)
	}
	if len(e.certs(t)) != 1 {
		t.Error("a renewal outside the window reached the service")
	}
	// Forced, the service refuses; the new key is abandoned, not lost.
	_, err = m.Renew(context.Background(), RenewOptions{Force: true})
	var se *client.ServiceError
	if !errors.As(err, &se) || se.Code != client.CodeWindowNotOpen {
		t.Fatalf("forced renewal: %v, want WINDOW_NOT_OPEN", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, pendingFile)); !errors.Is(err, os.ErrNotExist) {
		t.Error("a refused request stays pending")
	}
	ab, _ := os.ReadDir(filepath.Join(e.dir, archiveDir, abandonedDir))
	if len(ab) != 1 {
		t.Errorf("abandoned requests: %d, want 1", len(ab))
	}
}

func TestRenewExpired(t *testing.T) {
	e := newEnv(t)
	inst := e.enroll(t, 0)
	e.s.Clock.Set(inst.Cert.NotAfter.Add(time.Second))
	_, err := e.manager(t).Renew(context.Background(), RenewOptions{Force: true})
	if !errors.Is(err, ErrExpired) || !strings.Contains(err.Error(), "irpki enroll") {
		t.Fatalf("err = %v, want ErrExpired", err)
	}
}

func TestRenewNoCertificate(t *testing.T) {
	e := newEnv(t)
	_, err := e.manager(t).Renew(context.Background(), RenewOptions{})
	if !errors.Is(err, ErrNoSettings) {
		t.Fatalf("err = %v, want ErrNoSettings", err)
	}
}

// TestRenewCrashAtEachStep stops a renewal at every step as if the process
// died there, then runs a fresh Manager on the same directory: it must
// finish the renewal with the same key, and the service must hold exactly
// one successor.
func TestRenewCrashAtEachStep(t *testing.T) {
	for _, layout := range layouts {
		t.Run(layout.String(), func(t *testing.T) { renewCrashAtEachStep(t, layout) })
	}
}

func renewCrashAtEachStep(t *testing.T, layout Layout) {
	for _, step := range Steps {
		t.Run(string(step), func(t *testing.T) {
			e := newEnv(t)
			e.layout = layout
			old := e.enroll(t, 30*24*time.Hour)
			e.s.Clock.Set(old.Cert.NotAfter.Add(-5 * 24 * time.Hour))
			m := e.manager(t)
			m.crash = func(s Step) bool { return s == step }
			_, err := m.Renew(context.Background(), RenewOptions{})
			if !errors.Is(err, errCrash) {
				t.Fatalf("run 1: %v, want a crash at %s", err, step)
			}
			var keyBefore []byte
			if p, _ := m.loadPending(); p != nil {
				keyBefore = []byte(p.KeyPEM)
			}
			// The working certificate and key are always a pair.
			cur, err := m.Current()
			if err != nil || !sameKey(cur.Key, cur.Cert.PublicKey) {
				t.Fatalf("after the crash current is not a pair: %v", err)
			}
			// Resume. After the swap the certificate is no longer in its
			// window; the pending renewal still finishes.
			res, err := e.manager(t).Renew(context.Background(), RenewOptions{})
			if err != nil {
				t.Fatalf("resume: %v", err)
			}
			cur, _ = e.manager(t).Current()
			if cur.Serial() == old.Serial() {
				t.Fatalf("not renewed after resume: %+v", res)
			}
			if keyBefore != nil {
				kb, _ := os.ReadFile(filepath.Join(e.dir, KeyFile))
				if !bytes.Equal(kb, keyBefore) {
					t.Error("resumed with another key")
				}
			}
			checkTopLevel(t, e.dir, layout, cur)
			if n := e.successors(t, old.Serial()); n != 1 {
				t.Errorf("%d successors in the service, want 1", n)
			}
			if len(e.certs(t)) != 2 {
				t.Errorf("service holds %d certificates, want 2", len(e.certs(t)))
			}
			if _, err := os.Stat(filepath.Join(e.dir, pendingFile)); !errors.Is(err, os.ErrNotExist) {
				t.Error("pending.json left after the resumed run")
			}
			if _, err := os.Stat(filepath.Join(e.dir, archiveDir, abandonedDir)); !errors.Is(err, os.ErrNotExist) {
				t.Error("the resumed run abandoned the interrupted request instead of finishing it")
			}
			if !res.Renewed || res.Previous.Serial() != old.Serial() {
				t.Errorf("resumed result: renewed=%v previous=%v", res.Renewed, res.Previous)
			}
		})
	}
}

// checkTopLevel checks that "current" has the form of layout and that the
// top-level files are those of cur, the key the certificate's.
func checkTopLevel(t *testing.T, dir string, layout Layout, cur *Installed) {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(dir, currentLink))
	if err != nil {
		t.Fatal(err)
	}
	if isLink := fi.Mode()&os.ModeSymlink != 0; isLink != (layout == LayoutSymlink) {
		t.Errorf("layout %s: current has mode %v", layout, fi.Mode())
	}
	for _, name := range topFiles {
		top, err1 := os.ReadFile(filepath.Join(dir, name))
		arch, err2 := os.ReadFile(filepath.Join(cur.Dir, name))
		if err1 != nil || err2 != nil || !bytes.Equal(top, arch) {
			t.Errorf("layout %s: top-level %s is not the current certificate's: %v %v", layout, name, err1, err2)
		}
		if fi, err := os.Lstat(filepath.Join(dir, name)); err != nil || (fi.Mode()&os.ModeSymlink != 0) != (layout == LayoutSymlink) {
			t.Errorf("layout %s: %s: %v %v", layout, name, fi.Mode(), err)
		}
	}
	cb, _ := os.ReadFile(filepath.Join(dir, CertFile))
	kb, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	certs, _ := client.ParseCertificates(cb)
	key, err := parseKey(kb)
	if err != nil || len(certs) != 1 || !sameKey(key, certs[0].PublicKey) {
		t.Errorf("layout %s: cert.pem and key.pem are not a pair: %v", layout, err)
	}
}

// TestEnrollCrashAtEachStep does the same for enrolment: the resumed run
// uses the same credentials (the password is never stored) and the same key.
func TestEnrollCrashAtEachStep(t *testing.T) {
	for _, layout := range layouts {
		t.Run(layout.String(), func(t *testing.T) { enrollCrashAtEachStep(t, layout) })
	}
}

func enrollCrashAtEachStep(t *testing.T, layout Layout) {
	for _, step := range Steps {
		t.Run(string(step), func(t *testing.T) {
			e := newEnv(t)
			e.layout = layout
			cred := e.s.Order(t, customer, 0)
			m := e.manager(t)
			m.crash = func(s Step) bool { return s == step }
			if _, err := m.Enroll(context.Background(), e.settings(), Credentials{cred.TransferID, cred.TransferPassword}); !errors.Is(err, errCrash) {
				t.Fatalf("run 1: %v", err)
			}
			c := Credentials{cred.TransferID, cred.TransferPassword}
			if _, resumable, _ := m.PendingEnrollment(); resumable {
				c = Credentials{} // the RetrievalId is known: no credentials needed
			}
			if _, err := e.manager(t).Enroll(context.Background(), e.settings(), c); err != nil {
				t.Fatalf("resume: %v", err)
			}
			if n := len(e.certs(t)); n != 1 {
				t.Errorf("service issued %d certificates, want 1", n)
			}
			if _, err := os.Stat(filepath.Join(e.dir, archiveDir, abandonedDir)); !errors.Is(err, os.ErrNotExist) {
				t.Error("the resumed run abandoned the interrupted enrolment")
			}
			cur, err := e.manager(t).Current()
			if err != nil || cur == nil || !sameKey(cur.Key, cur.Cert.PublicKey) {
				t.Fatalf("no consistent certificate after resume: %v", err)
			}
			checkTopLevel(t, e.dir, layout, cur)
		})
	}
}

func TestConcurrentRenewers(t *testing.T) {
	e := newEnv(t)
	old := e.enroll(t, 30*24*time.Hour)
	e.s.Clock.Set(old.Cert.NotAfter.Add(-5 * 24 * time.Hour))

	// A stops after sending its request, holding the lock.
	inA, release := make(chan struct{}), make(chan struct{})
	a := e.manager(t, func(o *Options) {
		o.Progress = func(ev Event) {
			if ev.Kind == EventPoll && ev.Attempt == 0 {
				close(inA)
				<-release
			}
		}
	})
	aDone := make(chan error, 1)
	go func() {
		_, err := a.Renew(context.Background(), RenewOptions{})
		aDone <- err
	}()
	<-inA

	// B without waiting exits with a clear message.
	_, err := e.manager(t).Renew(context.Background(), RenewOptions{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second renewer: %v, want ErrLocked", err)
	}
	// C waits: its sleeper lets A finish, then C sees the renewed
	// certificate and has nothing to do.
	waited := false
	c := e.manager(t, func(o *Options) {
		o.LockWait = time.Minute
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			if !waited {
				waited = true
				close(release)
				if err := <-aDone; err != nil {
					t.Errorf("first renewer: %v", err)
				}
			}
			return nil
		}
	})
	res, err := c.Renew(context.Background(), RenewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !waited || res.Renewed {
		t.Errorf("waiting renewer: waited=%v renewed=%v", waited, res.Renewed)
	}
	if n := e.successors(t, old.Serial()); n != 1 {
		t.Errorf("%d successors, want 1", n)
	}
}

// tamperProxy forwards to the service and flips a character of the
// RetrievalId or Certificate in responses while tamper is set.
func tamperProxy(t *testing.T, target string, tamper *atomic.Bool) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a, err := irpkidtest.Forward(r.Context(), r, target, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out := a.Body
		if tamper.Load() {
			for _, tag := range []string{"<RetrievalId>", "<Certificate>"} {
				if i := bytes.Index(out, []byte(tag)); i >= 0 {
					j := i + len(tag) + 3
					if out[j] == 'A' {
						out[j] = 'B'
					} else {
						out[j] = 'A'
					}
				}
			}
		}
		w.Header().Set("Content-Type", a.Header.Get("Content-Type"))
		a.Send(w)
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}

func TestBrokenSignatureRefused(t *testing.T) {
	e := newEnv(t)
	old := e.enroll(t, 30*24*time.Hour)
	var tamper atomic.Bool
	e.url = tamperProxy(t, e.s.URL, &tamper)
	// Point the directory at the proxy.
	if err := writeJSON(filepath.Join(e.dir, settingsFile), e.settings(), 0o600); err != nil {
		t.Fatal(err)
	}
	e.s.Clock.Set(old.Cert.NotAfter.Add(-5 * 24 * time.Hour))
	tamper.Store(true)
	_, err := e.manager(t).Renew(context.Background(), RenewOptions{})
	if !errors.Is(err, client.ErrUntrustedResponse) {
		t.Fatalf("tampered response: %v, want ErrUntrustedResponse", err)
	}
	if cur, _ := e.manager(t).Current(); cur.Serial() != old.Serial() {
		t.Fatal("a tampered response changed the current certificate")
	}
	// The request is still pending (the tampering may be transient); an
	// honest answer completes it with the same key and one successor.
	if _, err := os.Stat(filepath.Join(e.dir, pendingFile)); err != nil {
		t.Fatalf("pending state lost: %v", err)
	}
	tamper.Store(false)
	res, err := e.manager(t).Renew(context.Background(), RenewOptions{})
	if err != nil || !res.Renewed {
		t.Fatalf("after tampering stopped: %+v %v", res, err)
	}
	if n := e.successors(t, old.Serial()); n != 1 {
		t.Errorf("%d successors, want 1", n)
	}
}

// TestPollBackoff makes the first GetCertificate answers fail (HTTP 503
// from a proxy): the manager polls again with growing waits, reports each
// attempt, and installs the certificate.
func TestPollBackoff(t *testing.T) {
	e := newEnv(t)
	var gets atomic.Int32
	e.url = irpkidtest.Proxy(t, e.s.URL, func(w http.ResponseWriter, body []byte) bool {
		if bytes.Contains(body, []byte("GetCertificateRequest")) && gets.Add(1) <= 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	var waits []time.Duration
	var polls []Event
	m := e.manager(t, func(o *Options) {
		o.Sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
		o.Progress = func(ev Event) {
			if ev.Kind == EventPoll && ev.Attempt > 0 {
				polls = append(polls, ev)
			}
		}
	})
	cred := e.s.Order(t, customer, 0)
	if _, err := m.Enroll(context.Background(), e.settings(), Credentials{cred.TransferID, cred.TransferPassword}); err != nil {
		t.Fatal(err)
	}
	// Backoff steps of 5 s doubling, each jittered to between half of
	// it and all of it (client.Jitter).
	steps := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second}
	if len(waits) != 3 {
		t.Fatalf("waits = %v, want 3 within %v", waits, steps)
	}
	for i, d := range steps {
		if waits[i] < d/2 || waits[i] > d {
			t.Errorf("wait %d = %v, want between %v and %v", i, waits[i], d/2, d)
		}
	}
	if len(polls) != 3 || !strings.Contains(polls[0].Message, "asking again in "+waits[0].String()) {
		t.Errorf("poll progress = %+v", polls)
	}
}

func TestExportPKCS12(t *testing.T) {
	e := newEnv(t)
	inst := e.enroll(t, 0)
	m := e.manager(t)
	const pw = "s3cret-Pass"
	for _, legacy := range []bool{false, true} {
		p12, err := m.PKCS12(pw, legacy)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "out.p12")
		if err := os.WriteFile(f, p12, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("openssl", "pkcs12", "-in", f, "-info", "-nokeys", "-passin", "pass:"+pw).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl pkcs12 (legacy=%v): %v\n%s", legacy, err, out)
		}
		if !strings.Contains(string(out), "CN = "+customer) || strings.Count(string(out), "BEGIN CERTIFICATE") != 1+len(inst.Chain) {
			t.Errorf("openssl output (legacy=%v):\n%s", legacy, out)
		}
		// The key comes back too and matches.
		out, err = exec.Command("openssl", "pkcs12", "-in", f, "-nocerts", "-nodes", "-passin", "pass:"+pw).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PRIVATE KEY") {
			t.Fatalf("openssl pkcs12 -nocerts: %v\n%s", err, out)
		}
		kt, err := exec.LookPath("keytool")
		if err != nil {
			t.Fatal("keytool not found: install a JRE (.ci/run installs default-jre-headless)")
		}
		out, err = exec.Command(kt, "-list", "-storetype", "PKCS12", "-keystore", f, "-storepass", pw).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PrivateKeyEntry") {
			t.Errorf("keytool -list (legacy=%v): %v\n%s", legacy, err, out)
		}
	}
	chain, err := m.PEMChain()
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(chain, []byte("BEGIN CERTIFICATE")); got != 1+len(inst.Chain) || len(inst.Chain) != 3 { // issuing CA, intermediate, root
		t.Errorf("PEM chain has %d certificates (chain %d)", got, len(inst.Chain))
	}
}

// TestEnrollKeepsForeignFiles: a directory that already holds a key.pem
// irpki did not make (say, the certificate installed by hand before irpki)
// is refused before anything is sent; the symlink used to be renamed over
// it, deleting the user's key.
func TestEnrollKeepsForeignFiles(t *testing.T) {
	e := newEnv(t)
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(e.dir, KeyFile)
	if err := os.WriteFile(mine, []byte("the user's old key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cred := e.s.Order(t, customer, 0)
	_, err := e.manager(t).Enroll(context.Background(), e.settings(), Credentials{cred.TransferID, cred.TransferPassword})
	if err == nil || !strings.Contains(err.Error(), KeyFile) {
		t.Fatalf("enrol over a foreign key.pem = %v, want a refusal naming it", err)
	}
	if b, _ := os.ReadFile(mine); string(b) != "the user's old key\n" {
		t.Fatalf("the user's key.pem was replaced: %q", b)
	}
	if n := len(e.certs(t)); n != 0 {
		t.Errorf("service issued %d certificates, want none", n)
	}
	// Moved away, the same credentials enrol.
	if err := os.Rename(mine, mine+".old"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.manager(t).Enroll(context.Background(), e.settings(), Credentials{cred.TransferID, cred.TransferPassword}); err != nil {
		t.Fatal(err)
	}
}

// TestRenewKeepsForeignFiles: the same for a renewal, if cert.pem was
// replaced by a regular file after enrolment.
func TestRenewKeepsForeignFiles(t *testing.T) {
	e := newEnv(t)
	inst := e.enroll(t, 30*24*time.Hour)
	e.s.Clock.Set(inst.Cert.NotAfter.Add(-time.Hour))
	p := filepath.Join(e.dir, CertFile)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("copied by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := e.manager(t).Renew(context.Background(), RenewOptions{})
	if err == nil || !strings.Contains(err.Error(), CertFile) {
		t.Fatalf("renew over a foreign cert.pem = %v, want a refusal naming it", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "copied by hand\n" {
		t.Fatalf("the user's cert.pem was replaced: %q", b)
	}
	if n := e.successors(t, inst.Serial()); n != 0 {
		t.Errorf("%d successors issued, want none", n)
	}
}

// TestLockWaitReportedOnce: a Manager waiting for the lock says so once,
// not at every retry (four times a second: a minute's wait filled the
// watcher's log with 240 identical lines).
func TestLockWaitReportedOnce(t *testing.T) {
	e := newEnv(t)
	e.enroll(t, 30*24*time.Hour)
	lk, err := e.manager(t).lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer lk.unlock()
	n := 0
	m := e.manager(t, func(o *Options) {
		o.LockWait = 10 * time.Second
		o.Progress = func(ev Event) {
			if ev.Kind == EventLockWait {
				n++
			}
		}
	})
	if _, err := m.Renew(context.Background(), RenewOptions{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("renew while locked = %v, want ErrLocked", err)
	}
	if n != 1 {
		t.Errorf("%d lock-wait reports, want 1", n)
	}
}

// TestRenewAfterEnrollKilledAfterInstall: an enrolment killed after its
// certificate became current, before pending.json was removed, no longer
// blocks renewals (irpki watch from a timer failed on every run until the
// user ran irpki enroll again): Renew finishes its clean-up.
func TestRenewAfterEnrollKilledAfterInstall(t *testing.T) {
	for _, layout := range layouts {
		t.Run(layout.String(), func(t *testing.T) { renewAfterEnrollKilledAfterInstall(t, layout) })
	}
}

func renewAfterEnrollKilledAfterInstall(t *testing.T, layout Layout) {
	for _, step := range []Step{StepSwapped, StepLinked} {
		t.Run(string(step), func(t *testing.T) {
			e := newEnv(t)
			e.layout = layout
			cred := e.s.Order(t, customer, 30*24*time.Hour)
			m := e.manager(t)
			m.crash = func(s Step) bool { return s == step }
			if _, err := m.Enroll(context.Background(), e.settings(), Credentials{cred.TransferID, cred.TransferPassword}); !errors.Is(err, errCrash) {
				t.Fatalf("run 1: %v", err)
			}
			res, err := e.manager(t).Renew(context.Background(), RenewOptions{})
			if err != nil {
				t.Fatalf("renew after the interrupted enrolment: %v", err)
			}
			if res.Renewed {
				t.Error("renewed outside the window")
			}
			if _, err := os.Stat(filepath.Join(e.dir, pendingFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("pending.json left behind: %v", err)
			}
			checkTopLevel(t, e.dir, layout, res.Previous)
			if n := len(e.certs(t)); n != 1 {
				t.Errorf("service has %d certificates, want 1", n)
			}
		})
	}
}

// TestFailedReenrolKeepsSettings: a re-enrolment the service refuses for
// good (here: the wrong environment) leaves the directory's settings as they
// were, so its renewals keep going to the right service. They used to be
// overwritten before the request was sent.
func TestFailedReenrolKeepsSettings(t *testing.T) {
	e := newEnv(t)
	e.enroll(t, 30*24*time.Hour)
	cred := e.s.Order(t, customer, 0)
	bad := e.settings()
	bad.Environment = "PRODUCTION"
	_, err := e.manager(t).Enroll(context.Background(), bad, Credentials{cred.TransferID, cred.TransferPassword})
	var se *client.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("enrol in the wrong environment = %v, want a refusal", err)
	}
	got, err := e.manager(t).Settings()
	if err != nil || got != e.settings() {
		t.Fatalf("settings after the refused enrolment = %+v, %v; want %+v", got, err, e.settings())
	}
}

// TestAbandonKeepsEveryKey: two requests refused for the same reason in the
// same second both keep their pending file (and key) in archive/abandoned;
// the second used to be renamed over the first.
func TestAbandonKeepsEveryKey(t *testing.T) {
	e := newEnv(t)
	cred := e.s.Order(t, customer, 0)
	for range 2 {
		_, err := e.manager(t).Enroll(context.Background(), e.settings(), Credentials{cred.TransferID, "wrong-password1"})
		var se *client.ServiceError
		if !errors.As(err, &se) {
			t.Fatalf("err = %v, want a refusal", err)
		}
	}
	ents, err := os.ReadDir(filepath.Join(e.dir, archiveDir, abandonedDir))
	if err != nil || len(ents) != 2 {
		t.Fatalf("archive/abandoned holds %d files (%v), want 2", len(ents), err)
	}
}

// TestRenewReadsSettingsUnderLock: a renewer that waited for the lock uses
// the settings as the holder left them (say, an enrolment that corrected the
// endpoint), not those it read before waiting.
func TestRenewReadsSettingsUnderLock(t *testing.T) {
	e := newEnv(t)
	inst := e.enroll(t, 30*24*time.Hour)
	e.s.Clock.Set(inst.Cert.NotAfter.Add(-time.Hour))
	stale := e.settings()
	stale.Endpoint = "http://127.0.0.1:1/2017/10/CertificateServices"
	if err := writeJSON(filepath.Join(e.dir, settingsFile), stale, 0o600); err != nil {
		t.Fatal(err)
	}
	lk, err := e.manager(t).lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	released := false
	m := e.manager(t, func(o *Options) {
		o.LockWait = time.Minute
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			if !released {
				released = true
				if err := writeJSON(filepath.Join(e.dir, settingsFile), e.settings(), 0o600); err != nil {
					t.Error(err)
				}
				lk.unlock()
			}
			return nil
		}
	})
	res, err := m.Renew(context.Background(), RenewOptions{})
	if err != nil || !res.Renewed {
		t.Fatalf("renew after waiting for the lock: %v", err)
	}
}

// sameKey reports whether signer's public key is pub.
func sameKey(signer crypto.Signer, pub crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	k, ok := signer.Public().(equaler)
	return ok && k.Equal(pub)
}
