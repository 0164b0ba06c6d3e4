package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/buildinfo"
	"github.com/irpki/irpki/internal/certapi"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/eservice"
	"github.com/irpki/irpki/internal/metrics"
	"github.com/irpki/irpki/internal/notify"
	"github.com/irpki/irpki/internal/server"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// fullConfig is a server with every part: e-service, mail and SMS to
// their outboxes, the reminder job, CRL publication and audit pruning.
func fullConfig(t *testing.T) server.Config {
	t.Helper()
	dir := t.TempDir()
	ecfg := eservice.DefaultConfig("http://127.0.0.1:1")
	return server.Config{
		CoreConfig: server.CoreConfig{Environment: wire.EnvTest, DataDir: dir, CA: irpkidtest.Hierarchy(t, wire.EnvTest),
			Clock: clock.NewFixed(irpkidtest.Epoch), Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		PublicURL:      "http://127.0.0.1:1",
		Mail:           &server.MailConfig{SMTP: notify.SMTPConfig{From: "Tulorekisteri <no-reply@irpki.test>"}},
		EService:       &ecfg,
		SMS:            &server.SMSConfig{Interval: time.Hour},
		Reminder:       &server.ReminderConfig{Days: []int{60}, Interval: time.Hour},
		CRLInterval:    time.Hour,
		AuditRetention: time.Hour,
	}
}

// settled waits until the number of goroutines is at most n (goroutines
// that were told to end may take a moment to return) and reports whether
// it got there.
func settled(n int) bool {
	for range 200 {
		if runtime.NumGoroutine() <= n {
			return true
		}
		time.Sleep(10 * time.Millisecond) // waiting for goroutines to exit; no clock involved
	}
	return false
}

// TestNewFailingLateLeavesNothingRunning: a start-up failure after the
// store is open and the SMS dispatcher built (a reminder job that cannot
// be built) closes everything New opened: no goroutine of the store, the
// dispatcher or a job is left behind.
func TestNewFailingLateLeavesNothingRunning(t *testing.T) {
	cfg := fullConfig(t)
	cfg.Reminder.Days = []int{400} // out of range: notify.NewReminder refuses it
	irpkidtest.Hierarchy(t, wire.EnvTest)
	before := runtime.NumGoroutine()
	for range 3 {
		s, err := server.New(context.Background(), cfg)
		if err == nil {
			s.Close()
			t.Fatal("New: no error for a reminder day out of range")
		}
		if !strings.Contains(err.Error(), "400") {
			t.Errorf("New: %v, want the reminder day's error", err)
		}
	}
	if !settled(before) {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left running after New failed (%d before):\n%s", runtime.NumGoroutine()-before, before, buf[:runtime.Stack(buf, true)])
	}
	// The SMS outbox was made before the failure: the dispatcher was built.
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "sms-outbox")); err != nil {
		t.Errorf("the SMS dispatcher was not built before the failing step: %v", err)
	}
}

// TestStartAndClose: the assembled server serves SOAP, the CRLs and the
// e-service from one handler, runs its jobs after Start, and Close stops
// every one of them.
func TestStartAndClose(t *testing.T) {
	cfg := fullConfig(t)
	irpkidtest.Hierarchy(t, wire.EnvTest)
	before := runtime.NumGoroutine()
	s, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	hs := httptest.NewServer(s.Handler())
	tr := &http.Transport{}
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]int{
		certapi.Path + "?wsdl":     http.StatusOK,
		"/healthz":                 http.StatusOK,
		"/readyz":                  http.StatusOK,
		eservice.Path:              http.StatusSeeOther,
		"/crl/no-such-list.crl":    http.StatusNotFound,
		"/nothing-is-served-here/": http.StatusNotFound,
	} {
		resp, err := c.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("GET %s: no request ID", path)
		}
	}
	tr.CloseIdleConnections()
	hs.Close()
	if runtime.NumGoroutine() <= before {
		t.Errorf("no goroutine runs after Start")
	}
	s.Close()
	s.Close() // a second Close does nothing
	if !settled(before) {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left running after Close (%d before):\n%s", runtime.NumGoroutine()-before, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestPartsAreOptional: without mail, the e-service and the reminder job
// are refused rather than built half; a PIN by SMS needs the SMS settings.
func TestPartsAreOptional(t *testing.T) {
	for name, mutate := range map[string]func(*server.Config){
		"e-service without mail": func(c *server.Config) { c.Mail, c.Reminder = nil, nil },
		"reminders without mail": func(c *server.Config) { c.Mail, c.EService = nil, nil },
		"PIN by SMS without SMS": func(c *server.Config) { c.SMS = nil },
		"CA of the other env":    func(c *server.Config) { c.CA = irpkidtest.Hierarchy(t, wire.EnvProduction) },
	} {
		cfg := fullConfig(t)
		mutate(&cfg)
		if s, err := server.New(context.Background(), cfg); err == nil {
			s.Close()
			t.Errorf("%s: built", name)
		}
	}
}

// TestTestServerIsTheServer: the in-process test server is the server
// irpkid serve runs (server.New), not a copy of its wiring: its answers
// carry request IDs, it is ready, and it serves the CRLs its revocations
// publish.
func TestTestServerIsTheServer(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	for path, want := range map[string]int{
		certapi.Path + "?wsdl":  http.StatusOK,
		"/readyz":               http.StatusOK,
		"/crl/no-such-list.crl": http.StatusNotFound,
	} {
		resp, err := s.HTTP.Client().Get(s.Base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("GET %s: %d, request ID %q; want %d and an ID", path, resp.StatusCode, resp.Header.Get("X-Request-Id"), want)
		}
	}
	if !strings.Contains(s.Logs.String(), `msg="http request"`) {
		t.Errorf("no request logged:\n%s", s.Logs.String())
	}
}

// TestCloseWaitsForMetricsServer: Close returns only once the metrics
// server's goroutine has: right after Close none of it is running.
// (net/http's Close already waits for Serve to leave its accept loop, so
// without Close's wait this fails only in the short window before that
// goroutine returns: the test guards against a regression, it does not
// reproduce the race every run.)
func TestCloseWaitsForMetricsServer(t *testing.T) {
	cfg := fullConfig(t)
	cfg.Metrics = metrics.New(buildinfo.Info{})
	s, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ServeMetrics(ln, false); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tr.CloseIdleConnections()
	s.Close()
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if strings.Contains(stacks, "server.(*Server).ServeMetrics") {
		t.Fatalf("the metrics server's goroutine still runs after Close:\n%s", stacks)
	}
}

// TestAdmissionGauges: /metrics tells the SOAP requests being served
// apart from those admitted in all (served and waiting): with one request
// holding the only place and one waiting for it, running is 1 and
// admitted 2; when both are gone, 0 and 0.
func TestAdmissionGauges(t *testing.T) {
	cfg := fullConfig(t)
	cfg.Metrics = metrics.New(buildinfo.Info{})
	cfg.SOAP.MaxInFlight, cfg.SOAP.MaxQueued = 1, 1
	s, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ServeMetrics(ln, false); err != nil {
		t.Fatal(err)
	}
	gauges := func() (running, admitted string) {
		t.Helper()
		resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(body), "\n") {
			if v, ok := strings.CutPrefix(line, "irpkid_soap_requests_running "); ok {
				running = v
			}
			if v, ok := strings.CutPrefix(line, "irpkid_soap_requests_admitted "); ok {
				admitted = v
			}
		}
		return running, admitted
	}
	q := s.API.Admission()
	release, err := q.Enter(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error, 1)
	go func() { _, err := q.Enter(ctx, ""); waited <- err }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if all, _ := q.Queued(""); all == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second request did not start waiting within 10 s")
		}
	}
	if r, a := gauges(); r != "1" || a != "2" {
		t.Errorf("one served, one waiting: running %q, admitted %q; want 1 and 2", r, a)
	}
	cancel()
	<-waited
	release()
	if r, a := gauges(); r != "0" || a != "0" {
		t.Errorf("none left: running %q, admitted %q; want 0 and 0", r, a)
	}
}
