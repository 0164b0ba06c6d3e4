package sms_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/sms"
	"github.com/irpki/irpki/internal/store"
)

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func TestNormalizePhone(t *testing.T) {
	good := map[string]string{
		"040 123 4567":     "+358401234567",
		"040-1234567":      "+358401234567",
		"+358 40 123 4567": "+358401234567",
		"00358401234567":   "+358401234567",
		"(09) 123 4567":    "+35891234567",
		"+46 70 123 45 67": "+46701234567",
		" +358401234567 ":  "+358401234567",
		"050 1234 567":     "+358501234567",
	}
	for in, want := range good {
		got, err := sms.NormalizePhone(in)
		if err != nil || got != want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "401234567", "+0401234567", "040 12", "+358 0401234567", "040 123 4567 ext 5", "+358+40", "+1234567890123456", "04O1234567"} {
		if got, err := sms.NormalizePhone(bad); err == nil {
			t.Errorf("NormalizePhone(%q) = %q, want an error", bad, got)
		}
	}
}

// gateway is a local SMS gateway: it answers the first fail requests with
// 503, then accepts, delivering one SMS per Idempotency-Key.
type gateway struct {
	mu        sync.Mutex
	fail      int
	requests  []*http.Request
	bodies    []string
	delivered map[string]string // key → body
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = append(g.requests, r)
	g.bodies = append(g.bodies, string(b))
	if g.fail > 0 {
		g.fail--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if g.delivered == nil {
		g.delivered = map[string]string{}
	}
	if _, dup := g.delivered[r.Header.Get("Idempotency-Key")]; !dup {
		g.delivered[r.Header.Get("Idempotency-Key")] = string(b)
	}
	w.WriteHeader(http.StatusAccepted)
}

func (g *gateway) count() (requests, delivered int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.requests), len(g.delivered)
}

type fixture struct {
	db  *store.DB
	clk *clock.Fixed
	log *slog.Logger
}

func newFixture(t *testing.T) *fixture {
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "irpki.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &fixture{db: db, clk: clock.NewFixed(t0), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func (f *fixture) enqueue(t *testing.T, id string) {
	t.Helper()
	err := f.db.Update(context.Background(), func(tx *store.Tx) error {
		return tx.EnqueueSMS(context.Background(), store.SMS{ID: id, CustomerID: "1234567-1", To: "+358401234567", Text: "PIN 12345678", CreatedAt: f.clk.Now(), ExpiresAt: f.clk.Now().Add(24 * time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) row(t *testing.T, id string) store.SMS {
	t.Helper()
	var m store.SMS
	err := f.db.Update(context.Background(), func(tx *store.Tx) error {
		var err error
		m, err = tx.SMSByID(context.Background(), id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (f *fixture) dispatcher(t *testing.T, db sms.Store, s sms.Sender) *sms.Dispatcher {
	t.Helper()
	d, err := sms.NewDispatcher(sms.DefaultDispatchConfig(), db, s, f.clk, f.log)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (f *fixture) audits(t *testing.T) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	err := f.db.View(context.Background(), func(tx *store.Tx) error {
		var err error
		out, err = tx.AuditLog(context.Background(), "1234567-1", 100)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The gateway adapter against a local gateway that fails twice, then
// accepts: retried with backoff, sent once, the text erased and audited.
func TestGatewayRetriesUntilAccepted(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	g := &gateway{fail: 2}
	srv := httptest.NewServer(g)
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600)
	gw, err := sms.Gateway(sms.GatewayConfig{URL: srv.URL + "/send", Headers: map[string]string{"X-Api-Client": "irpki"}, TokenFile: tokenFile,
		BodyTemplate: `{"recipient":{{json .To}},"text":{{json .Text}},"ref":{{json .ID}}}`}, f.log)
	if err != nil {
		t.Fatal(err)
	}
	f.enqueue(t, "delivery-1")
	d := f.dispatcher(t, f.db, gw)
	for i, want := range []int{0, 0, 1} {
		n, err := d.RunOnce(ctx)
		if err != nil || n != want {
			t.Fatalf("run %d: sent %d, %v; want %d", i, n, err, want)
		}
		if i < 2 {
			// Not due again before the backoff has passed.
			if n, _ := d.RunOnce(ctx); n != 0 {
				t.Fatal("retried before the backoff")
			}
			if r, _ := g.count(); r != i+1 {
				t.Fatalf("requests %d, want %d", r, i+1)
			}
			f.clk.Advance(sms.DefaultDispatchConfig().RetryMax)
		}
	}
	req, deliv := g.count()
	if req != 3 || deliv != 1 {
		t.Fatalf("%d requests, %d delivered; want 3 and 1", req, deliv)
	}
	r := g.requests[2]
	if r.Header.Get("Authorization") != "Bearer s3cret-token" || r.Header.Get("X-Api-Client") != "irpki" || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Idempotency-Key") != "delivery-1" {
		t.Errorf("headers: %v", r.Header)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(g.bodies[2]), &body); err != nil || body["recipient"] != "+358401234567" || body["text"] != "PIN 12345678" || body["ref"] != "delivery-1" {
		t.Errorf("body %q: %v", g.bodies[2], err)
	}
	m := f.row(t, "delivery-1")
	if m.State != store.SMSSent || m.Text != "" || m.Attempts != 3 {
		t.Errorf("row after sending: %+v", m)
	}
	if n, _ := d.RunOnce(ctx); n != 0 {
		t.Error("a sent message went again")
	}
	var ok int
	for _, a := range f.audits(t) {
		if a.Action == "delivery_sms" && a.Outcome == "ok" {
			ok++
		}
		if strings.Contains(a.Detail, "12345678") {
			t.Errorf("the PIN reached the audit log: %+v", a)
		}
	}
	if ok != 1 {
		t.Errorf("%d delivery_sms ok audit entries, want 1", ok)
	}
}

// A permanent refusal (4xx) is not retried.
func TestGatewayPermanentRefusal(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad number", http.StatusBadRequest) }))
	defer srv.Close()
	gw, err := sms.Gateway(sms.GatewayConfig{URL: srv.URL}, f.log)
	if err != nil {
		t.Fatal(err)
	}
	f.enqueue(t, "d2")
	d := f.dispatcher(t, f.db, gw)
	if n, err := d.RunOnce(ctx); n != 0 || err != nil {
		t.Fatal(n, err)
	}
	if m := f.row(t, "d2"); m.State != store.SMSGaveUp || m.Text != "" {
		t.Errorf("%+v", m)
	}
}

// An unsent message is given up when its credentials expire.
func TestExpiredMessageGivenUp(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, "d3")
	f.clk.Advance(25 * time.Hour)
	d := f.dispatcher(t, f.db, sms.SenderFunc(func(context.Context, sms.Message) error { t.Error("an expired message was sent"); return nil }))
	if n, err := d.RunOnce(context.Background()); n != 0 || err != nil {
		t.Fatal(n, err)
	}
	if m := f.row(t, "d3"); m.State != store.SMSGaveUp || m.Text != "" {
		t.Errorf("%+v", m)
	}
}

// crashStore is a store whose process has died: once crashed is set,
// nothing more is written.
type crashStore struct {
	sms.Store
	crashed *atomic.Bool
}

func (c crashStore) Update(ctx context.Context, fn func(*store.Tx) error) error {
	if c.crashed.Load() {
		return errors.New("the process died")
	}
	return c.Store.Update(ctx, fn)
}

// crashAfterSend sends, then kills the process before the send is
// recorded.
func crashAfterSend(s sms.Sender, crashed *atomic.Bool) sms.Sender {
	return sms.SenderFunc(func(ctx context.Context, m sms.Message) error {
		err := s.Send(ctx, m)
		crashed.Store(true)
		return err
	})
}

// A crash between the gateway's acceptance and the record: the message is
// sent again after the lease, with the same idempotency key, and the
// gateway delivers exactly one SMS.
func TestCrashBetweenSendAndRecordGatewayOneSMS(t *testing.T) {
	f := newFixture(t)
	g := &gateway{}
	srv := httptest.NewServer(g)
	defer srv.Close()
	gw, err := sms.Gateway(sms.GatewayConfig{URL: srv.URL}, f.log)
	if err != nil {
		t.Fatal(err)
	}
	testCrash(t, f, gw)
	req, deliv := g.count()
	if req != 2 || deliv != 1 {
		t.Fatalf("%d requests, %d SMS delivered; want 2 requests (at least once) and 1 SMS", req, deliv)
	}
	if g.requests[0].Header.Get("Idempotency-Key") != g.requests[1].Header.Get("Idempotency-Key") || g.bodies[0] != g.bodies[1] {
		t.Error("the second attempt is not the same message")
	}
}

// The same crash with the development outbox: one file.
func TestCrashBetweenSendAndRecordOutboxOneFile(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "sms-outbox")
	ob, err := sms.Outbox(dir, f.log)
	if err != nil {
		t.Fatal(err)
	}
	testCrash(t, f, ob)
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("outbox holds %v, want one file", files)
	}
	b, _ := os.ReadFile(files[0])
	if string(b) != "To: +358401234567\nID: order-1\n\nPIN 12345678\n" {
		t.Errorf("outbox file:\n%s", b)
	}
	if fi, _ := os.Stat(files[0]); fi.Mode().Perm() != 0o600 {
		t.Errorf("outbox file mode %v, want 0600", fi.Mode().Perm())
	}
}

func testCrash(t *testing.T, f *fixture, s sms.Sender) {
	t.Helper()
	ctx := context.Background()
	f.enqueue(t, "order-1")
	var crashed atomic.Bool
	dead := f.dispatcher(t, crashStore{f.db, &crashed}, crashAfterSend(s, &crashed))
	if n, _ := dead.RunOnce(ctx); n != 1 {
		t.Fatalf("the first attempt sent %d", n)
	}
	if m := f.row(t, "order-1"); m.State != store.SMSClaimed {
		t.Fatalf("after the crash the row is %q, want claimed", m.State)
	}
	// A restarted server: nothing before the lease runs out.
	again := f.dispatcher(t, f.db, s)
	if n, _ := again.RunOnce(ctx); n != 0 {
		t.Fatal("taken over inside the lease")
	}
	f.clk.Advance(sms.DefaultDispatchConfig().Lease)
	if n, err := again.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("after the lease: sent %d, %v", n, err)
	}
	if m := f.row(t, "order-1"); m.State != store.SMSSent || m.Text != "" {
		t.Fatalf("%+v", m)
	}
	if n, _ := again.RunOnce(ctx); n != 0 {
		t.Fatal("sent a third time")
	}
}

// A gateway URL that is refused is not repeated in the error: it may carry
// the gateway's key.
func TestGatewayURLErrorKeepsTheKeyOut(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, u := range []string{"htps://sms.example/send?apikey=s3cr3tkey", "https://user:s3cr3tkey@/send", "sms.example/send?key=s3cr3tkey"} {
		_, err := sms.Gateway(sms.GatewayConfig{URL: u}, log)
		if err == nil {
			t.Fatalf("%s accepted", u)
		}
		if strings.Contains(err.Error(), "s3cr3tkey") {
			t.Errorf("the error for %s shows the key: %v", u, err)
		}
	}
}

func TestGatewayConfigErrors(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []sms.GatewayConfig{
		{URL: "ftp://x"},
		{URL: "https://sms.example/send", BodyTemplate: "{{.Nope}}"},
		{URL: "https://sms.example/send", BodyTemplate: "{{"},
		{URL: "https://sms.example/send", Headers: map[string]string{"Bad Header": "x"}},
		{URL: "https://sms.example/send", TokenFile: "/nonexistent/token"},
	} {
		if _, err := sms.Gateway(c, log); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
