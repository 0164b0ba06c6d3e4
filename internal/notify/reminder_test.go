package notify_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/notify"
	"github.com/irpki/irpki/internal/pgtest"
	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
)

const customer = "1234567-1"

// enroll orders and retrieves a certificate whose technical contact is
// email, writing mail in lang.
func enroll(t *testing.T, s *irpkidtest.Server, email, lang string) irpkidtest.Enrolled {
	t.Helper()
	ctx := context.Background()
	cred, err := s.Service.CreateOrder(ctx, service.OrderRequest{CustomerID: customer, Purpose: "reports_ws", Description: "Palkat Oy integration",
		ContactName: "Tea Tekninen", ContactEmail: email, ContactLanguage: lang}, "test")
	if err != nil {
		t.Fatal(err)
	}
	key := irpkidtest.NewKey(t)
	c := s.Client(t)
	rid, err := c.SignNewCertificate(ctx, customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, key, customer))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.GetCertificate(ctx, customer, rid)
	if err != nil {
		t.Fatal(err)
	}
	return irpkidtest.Enrolled{Key: key, Cert: cert}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newServer(t *testing.T) *irpkidtest.Server {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, customer, "Palkat Oy")
	return s
}

func smtpMailer(t *testing.T, m *smtpServer) notify.Mailer {
	t.Helper()
	cfg := notify.SMTPConfig{Host: m.Host, Port: m.Port, TLS: notify.TLSNone, From: "Tulorekisteri <no-reply@irpki.test>", Timeout: 10 * time.Second}
	if m.Pool != nil {
		cfg.TLS = notify.TLSStartTLS
		if m.implicit {
			cfg.TLS = notify.TLSImplicit
		}
		cfg.TLSConfig = &tls.Config{RootCAs: m.Pool, ServerName: "127.0.0.1"}
	}
	if m.user != "" {
		cfg.Username, cfg.Password = m.user, m.pass
	}
	mm, err := notify.SMTP(cfg, discard())
	if err != nil {
		t.Fatal(err)
	}
	return mm
}

func newReminder(t *testing.T, s *irpkidtest.Server, db notify.Store, m notify.Mailer, days ...int) *notify.Reminder {
	t.Helper()
	cfg := notify.DefaultReminderConfig()
	if len(days) > 0 {
		cfg.Days = days
	}
	cfg.EServiceURL = "https://eservice.irpki.test/eservice/"
	r, err := notify.NewReminder(cfg, db, s.Clock, m, s.Log)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func run(t *testing.T, r *notify.Reminder) notify.Result {
	t.Helper()
	res, err := r.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestReminderOnceRightAddressAndLanguage(t *testing.T) {
	s := newServer(t)
	srv := startSMTP(t, smtpOptions{})
	// One register each: the Finnish mail says "sinä" and the Swedish "du",
	// as the pages do; the environment is named in the mail's language.
	want := map[string]struct{ lang, subject, phrase, purpose, env string }{
		"fi@palkat.test": {"fi", "Tulorekisterin varmenne vanhenee", "Näin uusit varmenteen", "Käyttötarkoitus: Ilmoittaminen – Web Service -rajapinta", "Ympäristö:       TESTI"},
		"sv@palkat.test": {"sv", "Certifikatet för inkomstregistret går ut", "Så här förnyar du certifikatet", "Användningsändamål:  Anmälan – Web Service-gränssnitt", "Miljö:               TEST"},
		"en@palkat.test": {"en", "Your Incomes Register certificate expires on", "How to renew", "Purpose:       Reporting – Web Service interface", "Environment:   TEST"},
	}
	var notAfter time.Time
	serials := map[string]string{}
	for addr, w := range want {
		e := enroll(t, s, addr, w.lang)
		notAfter = e.Cert.NotAfter
		serials[addr] = serial.Text(e.Cert.SerialNumber) // at full width
	}
	r := newReminder(t, s, s.DB, smtpMailer(t, srv))

	if res := run(t, r); res.Sent != 0 || len(srv.messages()) != 0 {
		t.Fatalf("at issuance: %+v, %d mails; want none", res, len(srv.messages()))
	}
	s.Clock.Set(notAfter.Add(-60*24*time.Hour - time.Minute))
	if res := run(t, r); res.Sent != 0 {
		t.Fatalf("61 days before expiry: %+v; want nothing sent", res)
	}
	s.Clock.Set(notAfter.Add(-60 * 24 * time.Hour))
	if res := run(t, r); res.Sent != 3 {
		t.Fatalf("60 days before expiry: %+v; want 3 sent", res)
	}
	// Again, from a "restarted" job, and later on: nothing more.
	run(t, r)
	s.Clock.Advance(24 * time.Hour)
	run(t, newReminder(t, s, s.DB, smtpMailer(t, srv)))
	s.Clock.Advance(50 * 24 * time.Hour)
	run(t, r)

	msgs := srv.messages()
	if len(msgs) != 3 {
		t.Fatalf("%d mails, want 3", len(msgs))
	}
	for _, m := range msgs {
		if len(m.To) != 1 {
			t.Fatalf("recipients %v", m.To)
		}
		w, ok := want[m.To[0]]
		if !ok {
			t.Fatalf("mail to unexpected %v", m.To)
		}
		delete(want, m.To[0])
		if !strings.HasPrefix(m.Subject, w.subject) {
			t.Errorf("%s: subject %q, want prefix %q", m.To[0], m.Subject, w.subject)
		}
		if got := m.Header.Get("Content-Language"); got != w.lang {
			t.Errorf("%s: Content-Language %q, want %q", m.To[0], got, w.lang)
		}
		// The purpose by its name in the mail's language, not its code.
		if strings.Contains(m.Body, "reports_ws") {
			t.Errorf("%s: body shows the purpose code:\n%s", m.To[0], m.Body)
		}
		// The mail links to the certificate's page in the e-service.
		link := "https://eservice.irpki.test/eservice/certificates/" + serials[m.To[0]]
		for _, p := range []string{w.phrase, w.purpose, w.env, serials[m.To[0]], "RenewCertificate", link, "Palkat Oy", customer} {
			if !strings.Contains(m.Body, p) {
				t.Errorf("%s: body lacks %q:\n%s", m.To[0], p, m.Body)
			}
		}
		for _, formal := range []string{"uusitte", "Tilatkaa", "Saatte", "olette", "ohjelmistonne", " ni ", "Ni får", " er "} {
			if strings.Contains(m.Body, formal) || strings.Contains(m.Subject, formal) {
				t.Errorf("%s: the mail addresses the reader formally (%q), the pages do not", m.To[0], formal)
			}
		}
		// A stable id at the public URL's domain, not the host name.
		if got, want := m.Header.Get("Message-Id"), "<reminder-60d-"+serials[m.To[0]]+"@eservice.irpki.test>"; got != want {
			t.Errorf("Message-Id %q, want %q", got, want)
		}
	}
	st, err := notify.Statuses(context.Background(), s.DB, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range st {
		if x.State != "sent" || x.Attempts != 1 {
			t.Errorf("status %+v, want sent after 1 attempt", x)
		}
	}
	log, _ := s.Service.AuditLog(context.Background(), customer, 100)
	n := 0
	for _, e := range log {
		if e.Action == "reminder" && e.Outcome == "ok" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d reminder audit entries, want 3", n)
	}
}

func TestNoReminderForRenewedOrRevoked(t *testing.T) {
	s := newServer(t)
	srv := startSMTP(t, smtpOptions{})
	renewed := enroll(t, s, "renewed@palkat.test", "fi")
	revoked := enroll(t, s, "revoked@palkat.test", "fi")
	plain := enroll(t, s, "plain@palkat.test", "fi")
	ctx := context.Background()
	s.Clock.Set(renewed.Cert.NotAfter.Add(-59 * 24 * time.Hour))
	c := s.Client(t)
	newKey := irpkidtest.NewKey(t)
	if _, err := c.RenewCertificate(ctx, customer, irpkidtest.CSR(t, newKey, customer), renewed.Key, renewed.Cert); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Service.Revoke(ctx, service.SerialHex(revoked.Cert), service.ReasonNotNeeded, customer, "test", nil); err != nil {
		t.Fatal(err)
	}
	r := newReminder(t, s, s.DB, smtpMailer(t, srv))
	run(t, r)
	s.Clock.Advance(30 * 24 * time.Hour)
	run(t, r)
	msgs := srv.messages()
	if len(msgs) != 1 || msgs[0].To[0] != "plain@palkat.test" {
		t.Fatalf("mails %v, want one to plain@palkat.test", msgs)
	}
	if !strings.Contains(msgs[0].Body, service.SerialHex(plain.Cert)) {
		t.Errorf("mail is not about the plain certificate")
	}
}

func TestContactChangeRedirectsReminder(t *testing.T) {
	s := newServer(t)
	srv := startSMTP(t, smtpOptions{})
	e := enroll(t, s, "old@palkat.test", "fi")
	ctx := context.Background()
	if err := s.DB.Update(ctx, func(tx *store.Tx) error {
		return tx.SetCertificateContact(ctx, service.SerialHex(e.Cert), "Uusi Henkilö", "new@palkat.test", "sv")
	}); err != nil {
		t.Fatal(err)
	}
	s.Clock.Set(e.Cert.NotAfter.Add(-59 * 24 * time.Hour))
	run(t, newReminder(t, s, s.DB, smtpMailer(t, srv)))
	msgs := srv.messages()
	if len(msgs) != 1 || msgs[0].To[0] != "new@palkat.test" || msgs[0].Header.Get("Content-Language") != "sv" {
		t.Fatalf("mails %+v, want one Swedish mail to new@palkat.test", msgs)
	}
}

func TestExtraReminders(t *testing.T) {
	s := newServer(t)
	srv := startSMTP(t, smtpOptions{})
	early := enroll(t, s, "early@palkat.test", "en")
	r := newReminder(t, s, s.DB, smtpMailer(t, srv), 3, 60, 14)
	ctx := context.Background()
	for _, step := range []struct {
		before time.Duration
		sent   int
	}{{59 * 24 * time.Hour, 1}, {58 * 24 * time.Hour, 0}, {13 * 24 * time.Hour, 1}, {12 * 24 * time.Hour, 0}, {2 * 24 * time.Hour, 1}, {time.Hour, 0}} {
		s.Clock.Set(early.Cert.NotAfter.Add(-step.before))
		if res := run(t, r); res.Sent != step.sent {
			t.Fatalf("%v before expiry: %+v, want %d sent", step.before, res, step.sent)
		}
	}
	s.Clock.Set(early.Cert.NotAfter.Add(time.Hour))
	if res := run(t, r); res.Sent != 0 {
		t.Fatalf("after expiry: %+v, want nothing", res)
	}
	st, _ := notify.Statuses(ctx, s.DB, service.SerialHex(early.Cert))
	var kinds []string
	for _, x := range st {
		kinds = append(kinds, x.Kind+":"+x.State)
	}
	if strings.Join(kinds, ",") != "14d:sent,3d:sent,60d:sent" {
		t.Errorf("reminders %v", kinds)
	}
	if n := len(srv.messages()); n != 3 {
		t.Errorf("%d mails, want 3", n)
	}
}

func TestFirstSeenLateGetsOnlyTheMostUrgentReminder(t *testing.T) {
	s := newServer(t)
	srv := startSMTP(t, smtpOptions{})
	e := enroll(t, s, "late@palkat.test", "en")
	s.Clock.Set(e.Cert.NotAfter.Add(-10 * 24 * time.Hour))
	r := newReminder(t, s, s.DB, smtpMailer(t, srv), 60, 14)
	if res := run(t, r); res.Sent != 1 {
		t.Fatalf("%+v, want 1 sent", res)
	}
	run(t, r)
	st, _ := notify.Statuses(context.Background(), s.DB, "")
	if len(st) != 1 || st[0].Kind != "14d" {
		t.Fatalf("reminders %+v, want only 14d", st)
	}
}

func TestMain(m *testing.M) { pgtest.Main(m) }

// eachBackend runs test with a server whose store is on SQLite, then on
// PostgreSQL; dsn opens more handles on it (replicas).
func eachBackend(t *testing.T, test func(t *testing.T, s *irpkidtest.Server, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		s := newServer(t)
		test(t, s, filepath.Join(s.Dir, "irpki.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		s := irpkidtest.Start(t, irpkidtest.Config{Database: url})
		s.AddOrg(t, customer, "Palkat Oy")
		test(t, s, url)
	})
}

func TestTwoJobsRacingSendOneMail(t *testing.T) { eachBackend(t, testTwoJobsRacing) }

func testTwoJobsRacing(t *testing.T, s *irpkidtest.Server, dsn string) {
	srv := startSMTP(t, smtpOptions{})
	e := enroll(t, s, "race@palkat.test", "fi")
	s.Clock.Set(e.Cert.NotAfter.Add(-59 * 24 * time.Hour))
	// Two replicas: separate handles on one database.
	db2, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	a := newReminder(t, s, s.DB, smtpMailer(t, srv))
	b := newReminder(t, s, db2, smtpMailer(t, srv))

	// A holds the claim and is inside DATA while B runs to completion.
	srv.mu.Lock()
	srv.dataStarted, srv.release = make(chan struct{}, 4), make(chan struct{})
	started, release := srv.dataStarted, srv.release
	srv.mu.Unlock()
	done := make(chan notify.Result)
	go func() {
		res, err := a.RunOnce(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	<-started
	resB := run(t, b)
	close(release)
	resA := <-done
	if resA.Sent != 1 || resB.Sent != 0 || resB.Skipped != 1 {
		t.Fatalf("A %+v, B %+v: want A to send and B to skip", resA, resB)
	}
	if n := len(srv.messages()); n != 1 {
		t.Fatalf("%d mails, want 1", n)
	}
}

func TestManyJobsRacingSendOneMailEach(t *testing.T) { eachBackend(t, testManyJobsRacing) }

func testManyJobsRacing(t *testing.T, s *irpkidtest.Server, dsn string) {
	srv := startSMTP(t, smtpOptions{})
	var notAfter time.Time
	for _, a := range []string{"a@palkat.test", "b@palkat.test", "c@palkat.test"} {
		notAfter = enroll(t, s, a, "en").Cert.NotAfter
	}
	s.Clock.Set(notAfter.Add(-59 * 24 * time.Hour))
	var jobs []*notify.Reminder
	for i := 0; i < 4; i++ {
		db, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		jobs = append(jobs, newReminder(t, s, db, smtpMailer(t, srv)))
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := j.RunOnce(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	count := map[string]int{}
	for _, m := range srv.messages() {
		count[m.To[0]]++
	}
	if len(count) != 3 || count["a@palkat.test"] != 1 || count["b@palkat.test"] != 1 || count["c@palkat.test"] != 1 {
		t.Fatalf("mails per address %v, want one each", count)
	}
}

func TestFailingSMTPIsRetriedNotLost(t *testing.T) {
	s := newServer(t)
	srv := startSMTP(t, smtpOptions{})
	e := enroll(t, s, "retry@palkat.test", "sv")
	s.Clock.Set(e.Cert.NotAfter.Add(-59 * 24 * time.Hour))
	r := newReminder(t, s, s.DB, smtpMailer(t, srv))
	ctx := context.Background()

	srv.fail(2)
	if res := run(t, r); res.Failed != 1 || res.Sent != 0 {
		t.Fatalf("first run %+v, want 1 failed", res)
	}
	st, _ := notify.Statuses(ctx, s.DB, "")
	if len(st) != 1 || st[0].State != "pending" || !strings.Contains(st[0].LastError, "451") {
		t.Fatalf("after failure: %+v, want pending with the 451 error", st)
	}
	// Before the retry time: no new attempt.
	if res := run(t, r); res.Skipped != 1 || srv.dataAttempts() != 1 {
		t.Fatalf("before retry: %+v, %d attempts; want skipped, 1 attempt", res, srv.dataAttempts())
	}
	s.Clock.Advance(5 * time.Minute)
	if res := run(t, r); res.Failed != 1 {
		t.Fatalf("second try %+v, want failed", res)
	}
	s.Clock.Advance(9 * time.Minute) // backoff doubled to 10 min
	if res := run(t, r); res.Skipped != 1 {
		t.Fatalf("within backoff %+v, want skipped", res)
	}
	s.Clock.Advance(time.Minute)
	if res := run(t, r); res.Sent != 1 {
		t.Fatalf("third try %+v, want sent", res)
	}
	run(t, r)
	if msgs := srv.messages(); len(msgs) != 1 || msgs[0].To[0] != "retry@palkat.test" {
		t.Fatalf("mails %+v, want exactly one", msgs)
	}
	st, _ = notify.Statuses(ctx, s.DB, "")
	if st[0].State != "sent" || st[0].Attempts != 3 {
		t.Errorf("final %+v, want sent after 3 attempts", st[0])
	}
	log, _ := s.Service.AuditLog(ctx, customer, 100)
	fails := 0
	for _, e := range log {
		if e.Action == "reminder" && e.Outcome == "fail" {
			fails++
		}
	}
	if fails != 2 {
		t.Errorf("%d failed-reminder audit entries, want 2", fails)
	}
}

// A mail server may accept a message (250 after DATA) and lose the
// connection before RSET or QUIT are answered. The message is on its way:
// counting it as failed would send the reminder again at every retry.
func TestMailAcceptedBeforeTheConnectionFailsIsNotSentAgain(t *testing.T) {
	s := newServer(t)
	srv := startSMTP(t, smtpOptions{DropOnReset: true})
	e := enroll(t, s, "once@palkat.test", "fi")
	s.Clock.Set(e.Cert.NotAfter.Add(-59 * 24 * time.Hour))
	r := newReminder(t, s, s.DB, smtpMailer(t, srv))
	if res := run(t, r); res.Sent != 1 || res.Failed != 0 {
		t.Fatalf("first run %+v, want 1 sent", res)
	}
	for range 3 {
		s.Clock.Advance(time.Hour)
		run(t, r)
	}
	if msgs := srv.messages(); len(msgs) != 1 {
		t.Fatalf("the mail server accepted %d copies of one reminder, want 1", len(msgs))
	}
	st, _ := notify.Statuses(context.Background(), s.DB, "")
	if len(st) != 1 || st[0].State != "sent" {
		t.Errorf("reminder %+v, want sent", st)
	}
}

func TestSMTPStartTLSWithAuth(t *testing.T) {
	srv := startSMTP(t, smtpOptions{TLS: true, User: "irpkid", Password: "s3cret-pass"})
	m := smtpMailer(t, srv)
	if err := m.Send(context.Background(), notify.Message{To: "x@palkat.test", Subject: "Hei – testi", Text: "Hyvää päivää", Language: "fi"}); err != nil {
		t.Fatal(err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 || msgs[0].Subject != "Hei – testi" || !strings.Contains(msgs[0].Body, "Hyvää päivää") {
		t.Fatalf("mails %+v", msgs)
	}
	// A server without STARTTLS is refused in starttls mode: no silent
	// downgrade to plain text.
	plain := startSMTP(t, smtpOptions{})
	pm, err := notify.SMTP(notify.SMTPConfig{Host: plain.Host, Port: plain.Port, TLS: notify.TLSStartTLS, From: "a@b.test", Timeout: 5 * time.Second}, discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := pm.Send(context.Background(), notify.Message{To: "x@palkat.test", Subject: "x", Text: "x"}); err == nil || len(plain.messages()) != 0 {
		t.Fatal("mail sent in clear although STARTTLS was required")
	}
	// Wrong password: an error, not a silent success.
	srv.mu.Lock()
	srv.pass = "other"
	srv.mu.Unlock()
	if err := m.Send(context.Background(), notify.Message{To: "x@palkat.test", Subject: "x", Text: "x"}); err == nil {
		t.Fatal("send with a wrong password succeeded")
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	srv := startSMTP(t, smtpOptions{Implicit: true, User: "irpkid", Password: "pw-over-tls"})
	if err := smtpMailer(t, srv).Send(context.Background(), notify.Message{To: "x@palkat.test", Subject: "SMTPS", Text: "hej"}); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.messages()); n != 1 {
		t.Fatalf("%d mails", n)
	}
	// A server whose certificate is not trusted is refused.
	cfg := notify.SMTPConfig{Host: srv.Host, Port: srv.Port, TLS: notify.TLSImplicit, From: "a@b.test", Timeout: 5 * time.Second}
	m, err := notify.SMTP(cfg, discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), notify.Message{To: "x@palkat.test", Subject: "x", Text: "x"}); err == nil {
		t.Fatal("an untrusted server certificate was accepted")
	}
}

func TestSMTPConfigErrors(t *testing.T) {
	for name, c := range map[string]notify.SMTPConfig{
		"no host":       {From: "a@b.test"},
		"no from":       {Host: "localhost"},
		"bad tls":       {Host: "localhost", From: "a@b.test", TLS: "ssl3"},
		"auth in clear": {Host: "localhost", From: "a@b.test", TLS: "none", Username: "u", Password: "p"},
		"bad port":      {Host: "localhost", From: "a@b.test", Port: 70000},
		"bad from":      {Host: "localhost", From: "not an address"},
	} {
		if _, err := notify.SMTP(c, discard()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestOutboxWritesEML(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	s := newServer(t)
	m, err := notify.Outbox(dir, "no-reply@irpki.test", s.Clock, s.Log)
	if err != nil {
		t.Fatal(err)
	}
	e := enroll(t, s, "box@palkat.test", "fi")
	s.Clock.Set(e.Cert.NotAfter.Add(-59 * 24 * time.Hour))
	if res := run(t, newReminder(t, s, s.DB, m)); res.Sent != 1 {
		t.Fatalf("%+v", res)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("outbox holds %v", files)
	}
	fi, _ := os.Stat(files[0])
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(files[0])
	if !strings.Contains(string(b), "To: <box@palkat.test>") || !strings.Contains(string(b), "Content-Language: fi") {
		t.Errorf("eml:\n%s", b)
	}
	if !strings.Contains(s.Logs.String(), files[0]) {
		t.Errorf("the log does not say where the mail went")
	}
	if err := m.Send(context.Background(), notify.Message{To: "bad address", Subject: "x"}); err == nil {
		t.Error("bad recipient accepted")
	}
}

func TestParseDays(t *testing.T) {
	d, err := notify.ParseDays("60, 14,3,14")
	if err != nil || len(d) != 3 {
		t.Fatalf("%v %v", d, err)
	}
	for _, bad := range []string{"", "0", "x", "60,,3", "400"} {
		if _, err := notify.ParseDays(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
