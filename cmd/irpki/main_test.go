package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/buildinfo/buildinfotest"
	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/renewal"
)

const customer = "1234567-1"

type harness struct {
	s     *irpkidtest.Server
	dir   string
	trust string
	env   map[string]string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, customer, "Acme Oy")
	trust := s.TrustFile(t)
	return &harness{s: s, dir: filepath.Join(t.TempDir(), "irpki"), trust: trust, env: map[string]string{}}
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs irpki in-process with the service's clock and no real waits.
func (h *harness) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return h.runCtx(t, context.Background(), nil, stdin, args...)
}

func (h *harness) runCtx(t *testing.T, ctx context.Context, sleep func(context.Context, time.Duration) error, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	if sleep == nil {
		sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	}
	a := &app{
		stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		lookupEnv: func(k string) (string, bool) { v, ok := h.env[k]; return v, ok },
		now:       h.s.Clock.Now, sleep: sleep,
	}
	code := a.run(ctx, args)
	return result{code, out.String(), errb.String()}
}

func (h *harness) enroll(t *testing.T, validity time.Duration) {
	t.Helper()
	cred := h.s.Order(t, customer, validity)
	r := h.run(t, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--customer-id", customer, "--organization", "Acme Oy",
		"--transfer-id", cred.TransferID, "--transfer-password-stdin", "--endpoint", h.s.URL, "--trust", h.trust)
	if r.code != 0 {
		t.Fatalf("enroll: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, cred.TransferPassword) {
		t.Fatal("enroll printed the transfer password")
	}
}

// enrollThrough orders a certificate of validity (0: two years) and runs
// irpki enroll with its credentials against endpoint, a proxy in front of
// the service; the caller checks the result.
func (h *harness) enrollThrough(t *testing.T, endpoint string, validity time.Duration) (result, service.Credentials) {
	t.Helper()
	cred := h.s.Order(t, customer, validity)
	return h.run(t, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--customer-id", customer, "--transfer-id", cred.TransferID,
		"--transfer-password-stdin", "--endpoint", endpoint, "--trust", h.trust), cred
}

// reenrollThrough orders new credentials and runs irpki enroll --dir with
// them against endpoint, for a directory enrolled before; the caller
// checks the result.
func (h *harness) reenrollThrough(t *testing.T, endpoint string) (result, service.Credentials) {
	t.Helper()
	cred := h.s.Order(t, customer, 0)
	return h.run(t, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--transfer-id", cred.TransferID,
		"--transfer-password-stdin", "--endpoint", endpoint), cred
}

func (h *harness) status(t *testing.T) (renewal.Status, int) {
	t.Helper()
	r := h.run(t, "", "status", "--dir", h.dir, "--json")
	var st renewal.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	// Serials at full width, leading zeros kept, as irpkid shows them.
	if cur := st.Serial; cur != "" && (len(cur) != serial.Width || !strings.Contains(r.stdout, `"serial": "`+cur+`"`)) {
		t.Errorf("status --json: serial %q is not %d digits", cur, serial.Width)
	}
	return st, r.code
}

func (h *harness) current(t *testing.T) *renewal.Installed {
	t.Helper()
	m, err := renewal.Open(h.dir, renewal.Options{Now: h.s.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := m.Current()
	if err != nil || cur == nil {
		t.Fatalf("current: %v", err)
	}
	return cur
}

func TestEnrollStatusRenew(t *testing.T) {
	h := newHarness(t)
	if err := os.Mkdir(h.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if r := h.run(t, "", "status", "--dir", h.dir); r.code != statusInvalid || !strings.Contains(r.stdout, "irpki enroll") {
		t.Fatalf("status of an empty dir: exit %d\n%s", r.code, r.stdout)
	}
	h.enroll(t, 0)
	st, code := h.status(t)
	if code != statusValid || st.State != renewal.StateValid || st.DaysLeft < 729 {
		t.Fatalf("status after enrol: exit %d %+v", code, st)
	}
	r := h.run(t, "", "status", "--dir", h.dir)
	for _, want := range []string{"Subject:", "CN=" + customer, "Serial:", "Not after:", "days left", "Window opens:", "State:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status output lacks %q:\n%s", want, r.stdout)
		}
	}
	// Renew outside the window: nothing, and says when it opens.
	r = h.run(t, "", "renew", "--dir", h.dir)
	if r.code != 0 || !strings.Contains(r.stdout, "renewal window opens "+fmtTime(st.WindowOpens)) {
		t.Fatalf("renew outside window: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Inside the window: status 1, renew succeeds, status 0 again.
	h.s.Clock.Set(st.NotAfter.Add(-59 * 24 * time.Hour))
	if _, code := h.status(t); code != statusRenew {
		t.Fatalf("status in window: exit %d", code)
	}
	old := h.current(t)
	r = h.run(t, "", "renew", "--dir", h.dir)
	if r.code != 0 || !strings.Contains(r.stdout, "renewed:") {
		t.Fatalf("renew: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "GetCertificate") {
		t.Errorf("renew shows no progress:\n%s", r.stderr)
	}
	if h.current(t).Serial() == old.Serial() {
		t.Fatal("not renewed")
	}
	if _, code := h.status(t); code != statusValid {
		t.Fatalf("status after renewal: exit %d", code)
	}
	// Expired: status 2, renew exit 3 with what to do.
	h.s.Clock.Set(h.current(t).Cert.NotAfter)
	if st, code := h.status(t); code != statusInvalid || st.State != renewal.StateExpired {
		t.Fatalf("status expired: exit %d %s", code, st.State)
	}
	r = h.run(t, "", "renew", "--dir", h.dir)
	if r.code != exitNewOrder || !strings.Contains(r.stderr, "order a new certificate in the e-service and run irpki enroll") {
		t.Fatalf("renew expired: exit %d\n%s", r.code, r.stderr)
	}
	// Nor is it exported, as the exit-code table says (found in review).
	out := filepath.Join(t.TempDir(), "chain.pem")
	if r := h.run(t, "", "export", "--dir", h.dir, "--pem-chain", out); r.code != exitNewOrder || !strings.Contains(r.stderr, "expired") {
		t.Errorf("export expired: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the expired certificate was exported")
	}
}

func TestRenewRevoked(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 0)
	cur := h.current(t)
	if _, err := h.s.Service.Revoke(context.Background(), cur.Serial(), service.ReasonKeyCompromise, "", "test", nil); err != nil {
		t.Fatal(err)
	}
	h.s.Clock.Set(cur.Cert.NotAfter.Add(-30 * 24 * time.Hour))
	r := h.run(t, "", "renew", "--dir", h.dir)
	if r.code != exitNewOrder || !strings.Contains(r.stderr, "revoked") || !strings.Contains(r.stderr, "order a new certificate in the e-service and run irpki enroll") {
		t.Fatalf("renew revoked: exit %d\n%s", r.code, r.stderr)
	}
	st, code := h.status(t)
	if code != statusInvalid || st.State != renewal.StateRevoked {
		t.Fatalf("status revoked: exit %d %s", code, st.State)
	}
	p12 := filepath.Join(t.TempDir(), "cert.p12")
	if r := h.run(t, "pkcs12 password\n", "export", "--dir", h.dir, "--pkcs12", p12, "--password-stdin"); r.code != exitNewOrder || !strings.Contains(r.stderr, "revoked") {
		t.Errorf("export revoked: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(p12); err == nil {
		t.Error("the revoked certificate was exported")
	}
	// Re-enrolling needs only the new credentials.
	cred := h.s.Order(t, customer, 0)
	h.env["IRPKI_TRANSFER_PASSWORD"] = cred.TransferPassword
	r = h.run(t, "", "enroll", "--dir", h.dir, "--transfer-id", cred.TransferID)
	if r.code != 0 {
		t.Fatalf("re-enrol: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "warning") {
		t.Errorf("a password from the environment drew a warning:\n%s", r.stderr)
	}
	if _, code := h.status(t); code != statusValid {
		t.Fatalf("status after re-enrol: exit %d", code)
	}
}

func TestEnrollPasswordSources(t *testing.T) {
	h := newHarness(t)
	cred := h.s.Order(t, customer, 0)
	base := []string{"enroll", "--dir", h.dir, "--customer-id", customer, "--transfer-id", cred.TransferID, "--endpoint", h.s.URL, "--trust", h.trust}
	// No password at all.
	if r := h.run(t, "", base...); r.code != exitUsage || !strings.Contains(r.stderr, "TransferPassword is required") {
		t.Fatalf("no password: exit %d\n%s", r.code, r.stderr)
	}
	// Two sources.
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte(cred.TransferPassword+"\n"), 0o600)
	if r := h.run(t, "x\n", append(base, "--transfer-password-file", pw, "--transfer-password-stdin")...); r.code != exitUsage || !strings.Contains(r.stderr, "one way") {
		t.Fatalf("two sources: exit %d\n%s", r.code, r.stderr)
	}
	// On the command line: works, with a warning.
	r := h.run(t, "", append(base, "--transfer-password", cred.TransferPassword)...)
	if r.code != 0 || !strings.Contains(r.stderr, "warning: a password on the command line") {
		t.Fatalf("argv password: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, cred.TransferPassword) {
		t.Error("the password was printed")
	}
	// A file, for a second directory and order.
	h.dir = filepath.Join(t.TempDir(), "second")
	cred = h.s.Order(t, customer, 0)
	os.WriteFile(pw, []byte(cred.TransferPassword+"\n"), 0o600)
	r = h.run(t, "", "enroll", "--dir", h.dir, "--customer-id", customer, "--transfer-id", cred.TransferID, "--transfer-password-file", pw, "--endpoint", h.s.URL, "--trust", h.trust)
	if r.code != 0 || strings.Contains(r.stderr, "warning") {
		t.Fatalf("password file: exit %d\n%s", r.code, r.stderr)
	}
}

func TestServicePresets(t *testing.T) {
	for _, tc := range []struct {
		svc, env, wantEP, wantEnv, err string
	}{
		{"test", "", "https://pkiws-testi.vero.fi/2017/10/CertificateServices", "TEST", ""},
		{"production", "", "https://pkiws.vero.fi/2017/10/CertificateServices", "PRODUCTION", ""},
		{"local", "", EndpointLocal, "TEST", ""},
		{"local", "production", EndpointLocal, "PRODUCTION", ""},
		{"test", "PRODUCTION", "", "", "is the TEST environment"},
		{"staging", "", "", "", "use test, production or local"},
	} {
		ep, env, err := resolveService("", tc.svc, tc.env, "")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s/%s: err %v, want %q", tc.svc, tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || ep != tc.wantEP || env != tc.wantEnv {
			t.Errorf("%s/%s = %s %s %v", tc.svc, tc.env, ep, env, err)
		}
	}
	if _, _, err := resolveService("https://x", "test", "", ""); err == nil {
		t.Error("--endpoint with --service accepted")
	}
}

func TestHelp(t *testing.T) {
	h := newHarness(t)
	// Every command's help goes to standard output (for a pager or grep)
	// and exits 0, however asked for.
	for _, cmd := range []string{"enroll", "renew", "status", "watch", "export", "abandon"} {
		for _, args := range [][]string{{cmd, "--help"}, {cmd, "-h"}, {cmd, "-help"}, {"help", cmd}, {cmd, "--dir", "x", "--help"}} {
			var out, errb bytes.Buffer
			a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, lookupEnv: func(string) (string, bool) { return "", false }, now: h.s.Clock.Now}
			if code := a.run(context.Background(), args); code != 0 {
				t.Errorf("%v: exit %d", args, code)
			}
			if !strings.Contains(out.String(), "Usage: irpki "+cmd) || !strings.Contains(out.String(), "[IRPKI_DIR]") || errb.Len() != 0 {
				t.Errorf("%v: stdout:\n%s\nstderr:\n%s", args, out.String(), errb.String())
			}
		}
	}
	// A wrong flag still goes to standard error, with the usage, exit 2.
	if r := h.run(t, "", "renew", "--no-such-flag"); r.code != exitUsage || !strings.Contains(r.stderr, "no-such-flag") || !strings.Contains(r.stderr, "Usage: irpki renew") || r.stdout != "" {
		t.Errorf("renew --no-such-flag: exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	if r := h.run(t, "", "status"); r.code != statusError || !strings.Contains(r.stderr, "--dir is required") {
		t.Errorf("status without --dir: exit %d %s", r.code, r.stderr)
	}
	if r := h.run(t, "", "renew"); r.code != exitUsage {
		t.Errorf("renew without --dir: exit %d", r.code)
	}
}

func TestWatchOnceDeployHook(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 30*24*time.Hour)
	old := h.current(t)
	envFile := filepath.Join(t.TempDir(), "hook.env")
	hook := "env | grep ^IRPKI_ > " + envFile
	// Not due yet: nothing happens, exit 0, no hook.
	r := h.run(t, "", "watch", "--dir", h.dir, "--once", "--deploy-hook", hook)
	if r.code != 0 {
		t.Fatalf("watch --once: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(envFile); err == nil {
		t.Fatal("hook ran without a renewal")
	}
	st, _ := h.status(t)
	h.s.Clock.Set(st.RenewAt)
	r = h.run(t, "", "watch", "--dir", h.dir, "--once", "--deploy-hook", hook)
	if r.code != 0 {
		t.Fatalf("watch --once at the renewal moment: exit %d\n%s", r.code, r.stderr)
	}
	cur := h.current(t)
	if cur.Serial() == old.Serial() {
		t.Fatal("not renewed")
	}
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatalf("hook did not run: %v\n%s", err, r.stderr)
	}
	certF, keyF, chainF, _ := cur.Files()
	for _, want := range []string{
		"IRPKI_CERT_FILE=" + certF, "IRPKI_KEY_FILE=" + keyF, "IRPKI_CHAIN_FILE=" + chainF,
		"IRPKI_SERIAL=" + cur.SerialText(), "IRPKI_NOT_AFTER=" + cur.Cert.NotAfter.UTC().Format(time.RFC3339),
	} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("hook environment lacks %s:\n%s", want, b)
		}
	}
	// A failing hook makes the one-shot run fail.
	h.s.Clock.Set(h.current(t).Cert.NotAfter.Add(-time.Hour))
	r = h.run(t, "", "watch", "--dir", h.dir, "--once", "--deploy-hook", "exit 7")
	if r.code != exitError || !strings.Contains(r.stderr, "deploy hook failed") {
		t.Fatalf("failing hook: exit %d\n%s", r.code, r.stderr)
	}
}

func TestWatchOnceExpired(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 0)
	h.s.Clock.Set(h.current(t).Cert.NotAfter.Add(time.Hour))
	r := h.run(t, "", "watch", "--dir", h.dir, "--once")
	if r.code != exitNewOrder || !strings.Contains(r.stderr, "irpki enroll") {
		t.Fatalf("watch --once expired: exit %d\n%s", r.code, r.stderr)
	}
}

// TestWatchLoop runs the long-running watcher with a sleeper that moves the
// service's clock: it renews by itself at the certificate's renewal moment,
// runs the hook, serves metrics, and stops when its context is cancelled
// (as on SIGTERM).
func TestWatchLoop(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 30*24*time.Hour)
	old := h.current(t)
	st, _ := h.status(t)
	hookDir := t.TempDir()
	hook := "echo $IRPKI_SERIAL >> " + filepath.Join(hookDir, "serials")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errb syncBuffer
	var metricsBody string
	var sleeps []time.Duration
	sleep := func(ctx context.Context, d time.Duration) error {
		sleeps = append(sleeps, d)
		if d > time.Hour {
			t.Errorf("slept %v, more than --check-interval", d)
		}
		h.s.Clock.Advance(d)
		b, _ := os.ReadFile(filepath.Join(hookDir, "serials"))
		if len(b) > 0 && metricsBody == "" {
			m := regexp.MustCompile(`url=(http://\S+/metrics)`).FindStringSubmatch(errb.String())
			if m == nil {
				t.Error("no metrics address in the log")
			} else if resp, err := http.Get(m[1]); err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				metricsBody = string(body)
			} else {
				t.Error(err)
			}
			cancel() // SIGTERM
		}
		if len(sleeps) > 2000 {
			t.Error("watch did not renew")
			cancel()
		}
		return ctx.Err()
	}
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &errb,
		lookupEnv: func(string) (string, bool) { return "", false }, now: h.s.Clock.Now, sleep: sleep}
	code := a.run(ctx, []string{"watch", "--dir", h.dir, "--deploy-hook", hook, "--metrics", "127.0.0.1:0", "--check-interval", "1h"})
	if code != 0 {
		t.Fatalf("watch: exit %d\n%s", code, errb.String())
	}
	cur := h.current(t)
	if cur.Serial() == old.Serial() {
		t.Fatal("watch did not renew")
	}
	renewedAt := cur.Cert.NotBefore.Add(time.Minute) // issuance time (NotBefore is backdated a minute)
	if renewedAt.Before(st.RenewAt.Truncate(time.Second)) || renewedAt.After(st.RenewAt.Add(time.Hour)) {
		t.Errorf("renewed at %v, want at the renewal moment %v", renewedAt, st.RenewAt)
	}
	b, _ := os.ReadFile(filepath.Join(hookDir, "serials"))
	if strings.TrimSpace(string(b)) != cur.SerialText() {
		t.Errorf("hook ran for %q, want once for %s", b, cur.SerialText())
	}
	for _, want := range []string{
		"irpki_certificate_not_after_timestamp_seconds" + dirLabel(h.dir) + " ",
		"irpki_renewal_last_attempt_timestamp_seconds" + dirLabel(h.dir) + " ",
		"irpki_renewal_last_result" + dirLabel(h.dir) + " 1",
		`irpki_renewal_attempts_total{dir="` + h.dir + `",result="success"} 1`,
		"irpki_certificate_status" + dirLabel(h.dir) + " 0",
	} {
		if !strings.Contains(metricsBody, want) {
			t.Errorf("metrics lack %q:\n%s", want, metricsBody)
		}
	}
	if !strings.Contains(errb.String(), "irpki watch stopping") {
		t.Error("no clean stop logged")
	}
}

func TestExport(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 0)
	out := t.TempDir()
	p12, chain := filepath.Join(out, "irpki.p12"), filepath.Join(out, "chain.pem")
	const pw = "Export-Pass-1"
	r := h.run(t, pw+"\n", "export", "--dir", h.dir, "--pkcs12", p12, "--password-stdin", "--pem-chain", chain)
	if r.code != 0 {
		t.Fatalf("export: exit %d\n%s", r.code, r.stderr)
	}
	if fi, err := os.Stat(p12); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pkcs12 file: %v %v", fi, err)
	}
	o, err := exec.Command("openssl", "pkcs12", "-in", p12, "-info", "-nokeys", "-passin", "pass:"+pw).CombinedOutput()
	if err != nil || !strings.Contains(string(o), "CN = "+customer) {
		t.Fatalf("openssl pkcs12: %v\n%s", err, o)
	}
	b, _ := os.ReadFile(chain)
	if n := strings.Count(string(b), "BEGIN CERTIFICATE"); n != 4 {
		t.Errorf("PEM chain holds %d certificates, want 4 (certificate, issuing CA, intermediate, root)", n)
	}
	if r := h.run(t, "", "export", "--dir", h.dir, "--pkcs12", p12); r.code != exitUsage || !strings.Contains(r.stderr, "needs a password") {
		t.Errorf("pkcs12 without password: exit %d %s", r.code, r.stderr)
	}
}

// TestBinary builds the real irpki and runs it against the test service:
// enroll, then status exit codes 0 (valid), 1 (window open) and 2 (none).
// The binary reads the wall clock, so the service's clock is set near it.
func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	h := newHarness(t)
	run := func(stdin string, args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader(stdin)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	enroll := func(dir string, validity time.Duration) {
		cred := h.s.Order(t, customer, validity)
		code, out := run(cred.TransferPassword+"\n", "enroll", "--dir", dir, "--customer-id", customer,
			"--transfer-id", cred.TransferID, "--transfer-password-stdin", "--endpoint", h.s.URL, "--trust", h.trust)
		if code != 0 || !strings.Contains(out, "enrolled: certificate") {
			t.Fatalf("irpki enroll: exit %d\n%s", code, out)
		}
	}
	none := filepath.Join(t.TempDir(), "none")
	if err := os.Mkdir(none, 0o700); err != nil {
		t.Fatal(err)
	}
	if code, out := run("", "status", "--dir", none); code != 2 {
		t.Errorf("status of an empty dir: exit %d, want 2\n%s", code, out)
	}
	// A two-year certificate issued now: valid, outside the window.
	h.s.Clock.Set(time.Now())
	valid := filepath.Join(t.TempDir(), "valid")
	enroll(valid, 0)
	if code, out := run("", "status", "--dir", valid); code != 0 || !strings.Contains(out, "valid for") {
		t.Errorf("status valid: exit %d, want 0\n%s", code, out)
	}
	// A 30-minute TEST certificate issued 20 minutes ago: its window (the
	// last third) is open for the next ten minutes.
	h.s.Clock.Set(time.Now().Add(-20 * time.Minute))
	window := filepath.Join(t.TempDir(), "window")
	enroll(window, 30*time.Minute)
	if code, out := run("", "status", "--dir", window, "--json"); code != 1 || !strings.Contains(out, `"state": "renewal_window_open"`) {
		t.Errorf("status in window: exit %d, want 1\n%s", code, out)
	}
	if code, out := run("", "--help"); code != 0 || !strings.Contains(out, "irpki enroll") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}

	// watch as a process stops cleanly on SIGTERM.
	cmd := exec.Command(bin, "watch", "--dir", valid, "--check-interval", "1h")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var log strings.Builder
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "next check") {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	rest, _ := io.ReadAll(stderr) // until the process exits
	log.Write(rest)
	if err := cmd.Wait(); err != nil {
		t.Errorf("watch after SIGTERM: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "irpki watch stopping") {
		t.Errorf("watch log:\n%s", log.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the watcher's and the test's
// goroutines.
type syncBuffer = irpkidtest.SyncBuffer

// TestBinaryKilled kills the real irpki renew with SIGKILL while the
// service holds its answer (the request processed, the response not yet
// delivered), first at RenewCertificate, then at GetCertificate; a second
// renewer meanwhile exits because of the lock; the third run finishes with
// the same key, and the service holds exactly one successor.
func TestBinaryKilled(t *testing.T) {
	bin := buildBinary(t)
	h := newHarness(t)
	h.s.Clock.Set(time.Now().Add(-20 * time.Minute))

	// A proxy that can hold the answer to one operation until released.
	var holdOp syncString
	held := make(chan struct{}, 1)
	release := make(chan struct{})
	proxy := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a, err := irpkidtest.Forward(context.Background(), r, h.s.URL, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if op := holdOp.get(); op != "" && bytes.Contains(body, []byte(op)) {
			held <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		a.Send(w)
	})
	cred := h.s.Order(t, customer, 30*time.Minute)
	dir := filepath.Join(t.TempDir(), "irpki")
	cmd := exec.Command(bin, "enroll", "--dir", dir, "--customer-id", customer, "--transfer-id", cred.TransferID,
		"--transfer-password-stdin", "--endpoint", proxy, "--trust", h.trust)
	cmd.Stdin = strings.NewReader(cred.TransferPassword + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("enroll: %v\n%s", err, out)
	}
	old := func() string {
		m, _ := renewal.Open(dir, renewal.Options{})
		cur, _ := m.Current()
		return cur.Serial()
	}()

	killAt := func(op string) {
		t.Helper()
		holdOp.set(op)
		cmd := exec.Command(bin, "renew", "--dir", dir)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		<-held
		// A second renewer meanwhile exits: the directory is locked.
		o, err := exec.Command(bin, "renew", "--dir", dir).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitError || !strings.Contains(string(o), "another irpki is enrolling or renewing") {
			t.Errorf("concurrent renew: %v\n%s", err, o)
		}
		cmd.Process.Kill()
		cmd.Wait()
		t.Logf("killed while waiting for %s:\n%s", op, out.String())
	}
	killAt("RenewCertificateRequest")
	killAt("GetCertificateRequest")
	holdOp.set("")
	close(release)
	out, err := exec.Command(bin, "renew", "--dir", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "resuming the renewal") || !strings.Contains(string(out), "renewed:") {
		t.Fatalf("resumed renew: %v\n%s", err, out)
	}
	n := 0
	cs, _ := h.s.Service.Certificates(context.Background(), customer)
	for _, c := range cs {
		if c.Predecessor == old {
			n++
			if c.Status != "valid" {
				t.Errorf("successor %s is %s", c.Serial, c.Status)
			}
		}
	}
	if n != 1 || len(cs) != 2 {
		t.Errorf("service holds %d certificates, %d successors; want 2 and 1", len(cs), n)
	}
}

type syncString struct {
	mu sync.Mutex
	s  string
}

func (s *syncString) get() string  { s.mu.Lock(); defer s.mu.Unlock(); return s.s }
func (s *syncString) set(v string) { s.mu.Lock(); s.s = v; s.mu.Unlock() }

func httptestServer(t *testing.T, h http.HandlerFunc) string {
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// buildBinary builds the real irpki once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "irpki-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "irpki")
		buildOut, buildErr = exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// TestWatchHookRetried: a deploy hook that fails is retried with the
// backoff, for the same certificate, without renewing again.
func TestWatchHookRetried(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 30*24*time.Hour)
	st, _ := h.status(t)
	h.s.Clock.Set(st.RenewAt)
	d := t.TempDir()
	log := filepath.Join(d, "runs")
	// Fails on its first run, succeeds after.
	hook := "echo $IRPKI_SERIAL >> " + log + "; [ $(wc -l < " + log + ") -ge 2 ]"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits []time.Duration
	sleep := func(ctx context.Context, dur time.Duration) error {
		waits = append(waits, dur)
		h.s.Clock.Advance(dur)
		if b, _ := os.ReadFile(log); strings.Count(string(b), "\n") >= 2 || len(waits) > 50 {
			cancel()
		}
		return ctx.Err()
	}
	r := h.runCtx(t, ctx, sleep, "", "watch", "--dir", h.dir, "--deploy-hook", hook, "--retry-initial", "2m")
	if r.code != 0 {
		t.Fatalf("watch: exit %d\n%s", r.code, r.stderr)
	}
	b, _ := os.ReadFile(log)
	lines := strings.Fields(string(b))
	if len(lines) != 2 || lines[0] != lines[1] || lines[0] != h.current(t).SerialText() {
		t.Fatalf("hook runs = %q, want the new serial twice\n%s", lines, r.stderr)
	}
	if waits[0] < time.Minute || waits[0] > 2*time.Minute {
		t.Errorf("first wait after the failed hook %v, want the retry backoff 2m, jittered: 1m to 2m", waits[0])
	}
	n := 0
	cs, _ := h.s.Service.Certificates(context.Background(), customer)
	for _, c := range cs {
		if c.Predecessor != "" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d renewals, want 1", n)
	}
}

// TestWatchBackoff: failed renewals are retried after --retry-initial,
// doubling up to --retry-max, then the renewal succeeds with one successor.
func TestWatchBackoff(t *testing.T) {
	h := newHarness(t)
	var fails atomic.Int32
	fails.Store(4)
	proxy := irpkidtest.Proxy(t, h.s.URL, func(w http.ResponseWriter, body []byte) bool {
		if bytes.Contains(body, []byte("RenewCertificateRequest")) && fails.Add(-1) >= 0 {
			irpkidtest.Unavailable(w)
			return true
		}
		return false
	})
	if r, _ := h.enrollThrough(t, proxy, 30*24*time.Hour); r.code != 0 {
		t.Fatalf("enroll: %s", r.stderr)
	}
	old := h.current(t).Serial()
	st, _ := h.status(t)
	h.s.Clock.Set(st.RenewAt)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits []time.Duration
	sleep := func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		h.s.Clock.Advance(d)
		if h.current(t).Serial() != old || len(waits) > 20 {
			cancel()
		}
		return ctx.Err()
	}
	r := h.runCtx(t, ctx, sleep, "", "watch", "--dir", h.dir, "--retry-initial", "1m", "--retry-max", "5m")
	if r.code != 0 || h.current(t).Serial() == old {
		t.Fatalf("watch: exit %d, renewed %v\n%s", r.code, h.current(t).Serial() != old, r.stderr)
	}
	// Doubling steps up to --retry-max, each jittered to between half of
	// it and all of it.
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute}
	if len(waits) < 4 {
		t.Fatalf("waits = %v, want steps %v then the success", waits, want)
	}
	for i, d := range want {
		if waits[i] < d/2 || waits[i] > d {
			t.Errorf("wait %d = %v, want %v jittered: between %v and %v", i, waits[i], d, d/2, d)
		}
	}
	if !strings.Contains(r.stderr, "renewal failed; will retry") {
		t.Errorf("failures not logged:\n%s", r.stderr)
	}
	st, _ = h.status(t)
	if st.LastResult != "ok" {
		t.Errorf("last result %q", st.LastResult)
	}
}

// TestConfigAndEnv: --dir from a JSON config file, from IRPKI_DIR, and an
// unknown config key refused.
func TestConfigAndEnv(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 0)
	cfg := filepath.Join(t.TempDir(), "irpki.json")
	os.WriteFile(cfg, []byte(`{"dir": "`+h.dir+`", "json": true}`), 0o600)
	if r := h.run(t, "", "status", "--config", cfg); r.code != statusValid || !strings.Contains(r.stdout, `"state": "valid"`) {
		t.Errorf("status --config: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	h.env["IRPKI_DIR"] = h.dir
	if r := h.run(t, "", "status"); r.code != statusValid {
		t.Errorf("status with IRPKI_DIR: exit %d\n%s", r.code, r.stderr)
	}
	os.WriteFile(cfg, []byte(`{"dri": "/x"}`), 0o600)
	if r := h.run(t, "", "status", "--config", cfg); r.code != statusError || !strings.Contains(r.stderr, `unknown setting "dri"`) {
		t.Errorf("unknown key: exit %d\n%s", r.code, r.stderr)
	}
}

// TestWatchOnceHookRetriedNextRun: with the timer form (watch --once), a
// deploy hook that failed after a renewal runs again at the next run, for
// the renewed certificate, without renewing again. Before, the pending hook
// lived only in the process's memory and the next run never deployed it.
func TestWatchOnceHookRetriedNextRun(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 30*24*time.Hour)
	old := h.current(t)
	st, _ := h.status(t)
	h.s.Clock.Set(st.RenewAt)
	r := h.run(t, "", "watch", "--dir", h.dir, "--once", "--deploy-hook", "exit 7")
	if r.code != exitError {
		t.Fatalf("failing hook: exit %d\n%s", r.code, r.stderr)
	}
	renewed := h.current(t)
	if renewed.Serial() == old.Serial() {
		t.Fatal("not renewed")
	}
	log := filepath.Join(t.TempDir(), "runs")
	hook := "echo $IRPKI_SERIAL >> " + log
	h.s.Clock.Advance(12 * time.Hour)
	r = h.run(t, "", "watch", "--dir", h.dir, "--once", "--deploy-hook", hook)
	if r.code != 0 {
		t.Fatalf("next run: exit %d\n%s", r.code, r.stderr)
	}
	b, _ := os.ReadFile(log)
	if strings.TrimSpace(string(b)) != renewed.SerialText() {
		t.Fatalf("hook runs on the next run = %q, want %s once\n%s", b, renewed.SerialText(), r.stderr)
	}
	if h.current(t).Serial() != renewed.Serial() {
		t.Fatal("renewed again instead of deploying")
	}
	// Deployed: a further run does not run the hook again.
	r = h.run(t, "", "watch", "--dir", h.dir, "--once", "--deploy-hook", hook)
	if b, _ := os.ReadFile(log); r.code != 0 || strings.Count(string(b), "\n") != 1 {
		t.Fatalf("third run: exit %d, hook runs %q\n%s", r.code, b, r.stderr)
	}
}

// TestPlainHTTPOnlyToThisMachine: an http:// endpoint on another host would
// carry the one-time TransferPassword (with which anyone on the path can
// enrol their own key in the organisation's name) unencrypted: refused;
// http:// to irpkid on this machine stays allowed.
func TestPlainHTTPOnlyToThisMachine(t *testing.T) {
	for _, ep := range []string{"http://irpki.example/2017/10/CertificateServices", "http://10.0.0.5:8080/x", "http://127.0.0.1.example/x"} {
		if _, _, err := resolveService(ep, "", "", ""); err == nil || !strings.Contains(err.Error(), "https://") {
			t.Errorf("%s: err %v, want a refusal asking for https://", ep, err)
		}
	}
	for _, ep := range []string{"http://127.0.0.1:8080/x", "http://localhost:8080/x", "http://[::1]:8080/x", "https://irpki.example/x"} {
		if _, _, err := resolveService(ep, "", "", ""); err != nil {
			t.Errorf("%s: %v", ep, err)
		}
	}
}

// TestBadFlagsExitTwo: flag mistakes exit 2 ("bad flags", as documented),
// with a message, not 1 ("failed; running again later resumes").
func TestBadFlagsExitTwo(t *testing.T) {
	h := newHarness(t)
	for _, args := range [][]string{
		{"enroll", "--dir", h.dir, "--customer-id", customer, "--transfer-id", "X", "--transfer-password", "Y", "--service", "staging", "--trust", h.trust},
		{"enroll", "--dir", h.dir, "--customer-id", customer, "--transfer-id", "X", "--transfer-password", "Y", "--endpoint", h.s.URL, "--environment", "PROD", "--trust", h.trust},
		{"enroll", "--dir", h.dir, "--customer-id", customer, "--transfer-id", "X", "--transfer-password", "Y", "--endpoint", h.s.URL, "--trust", h.trust, "--key-size", "1024"},
		{"enroll", "--dir", h.dir, "--customer-id", customer, "--transfer-id", "X", "--transfer-password", "Y"},
		{"enroll", "--dir", h.dir, "--customer-id", customer, "--transfer-id", "X", "--transfer-password", "Y", "--transfer-password-stdin", "--endpoint", h.s.URL, "--trust", h.trust},
		{"export", "--dir", h.dir, "--pkcs12", filepath.Join(t.TempDir(), "x.p12")},
	} {
		r := h.run(t, "", args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "irpki "+args[0]+": ") {
			t.Errorf("%q: exit %d, want %d with a message\n%s", args, r.code, exitUsage, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(h.dir, "archive")); err == nil {
		t.Error("a bad-flags run sent a request")
	}
}

// TestDeployHookEnvironment: the hook gets exactly the documented IRPKI_
// variables, not the watcher's own settings: an inherited IRPKI_CONFIG (a
// config file of watch's flags) made the documented hook
// "irpki export --dir $IRPKI_DIR …" fail on watch's keys.
func TestDeployHookEnvironment(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 30*24*time.Hour)
	cfg := filepath.Join(t.TempDir(), "watch.json")
	os.WriteFile(cfg, []byte(`{"check-interval": "2h"}`), 0o600)
	t.Setenv("IRPKI_CONFIG", cfg)
	t.Setenv("IRPKI_CHECK_INTERVAL", "2h")
	out := filepath.Join(t.TempDir(), "hook.env")
	st, _ := h.status(t)
	h.s.Clock.Set(st.RenewAt)
	r := h.run(t, "", "watch", "--dir", h.dir, "--once", "--deploy-hook", "env | grep ^IRPKI_ | cut -d= -f1 | sort > "+out)
	if r.code != 0 {
		t.Fatalf("watch --once: exit %d\n%s", r.code, r.stderr)
	}
	b, _ := os.ReadFile(out)
	want := "IRPKI_CERT_FILE IRPKI_CHAIN_FILE IRPKI_DIR IRPKI_FULLCHAIN_FILE IRPKI_KEY_FILE IRPKI_NOT_AFTER IRPKI_SERIAL"
	if got := strings.Join(strings.Fields(string(b)), " "); got != want {
		t.Errorf("hook's IRPKI_ variables = %s, want %s", got, want)
	}
}

// TestWatchFailingHookDoesNotStopRenewals: a deploy hook that keeps failing
// is retried, but does not keep the next renewal from happening: the check
// used to return at the failed hook, so the certificate would have expired.
func TestWatchFailingHookDoesNotStopRenewals(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 30*24*time.Hour)
	old := h.current(t)
	st, _ := h.status(t)
	h.s.Clock.Set(st.RenewAt)
	if r := h.run(t, "", "watch", "--dir", h.dir, "--once", "--deploy-hook", "exit 7"); r.code != exitError {
		t.Fatalf("failing hook: exit %d\n%s", r.code, r.stderr)
	}
	first := h.current(t)
	if first.Serial() == old.Serial() {
		t.Fatal("not renewed")
	}
	st, _ = h.status(t)
	h.s.Clock.Set(st.RenewAt)
	r := h.run(t, "", "watch", "--dir", h.dir, "--once", "--deploy-hook", "exit 7")
	if r.code != exitError {
		t.Errorf("still failing hook: exit %d, want %d", r.code, exitError)
	}
	if h.current(t).Serial() == first.Serial() {
		t.Fatalf("the failing hook kept the due renewal from happening\n%s", r.stderr)
	}
}

// TestEnrollResumeNeedsOnlyPassword: an enrolment whose answer was lost
// (the service issued, the RetrievalId never arrived) resumes with --dir
// and the password alone: the TransferId is in the pending request.
func TestEnrollResumeNeedsOnlyPassword(t *testing.T) {
	h := newHarness(t)
	var lose atomic.Bool
	lose.Store(true)
	proxy := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a, err := irpkidtest.Forward(context.Background(), r, h.s.URL, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if lose.Load() {
			http.Error(w, "gateway timeout", http.StatusGatewayTimeout)
			return
		}
		a.Send(w)
	})
	r, cred := h.enrollThrough(t, proxy, 0)
	if r.code != exitError {
		t.Fatalf("lost answer: exit %d\n%s", r.code, r.stderr)
	}
	lose.Store(false)
	r = h.run(t, cred.TransferPassword+"\n", "enroll", "--dir", h.dir, "--transfer-password-stdin")
	if r.code != 0 {
		t.Fatalf("resume with --dir and the password: exit %d\n%s", r.code, r.stderr)
	}
	if cs, _ := h.s.Service.Certificates(context.Background(), customer); len(cs) != 1 {
		t.Errorf("service has %d certificates, want 1", len(cs))
	}
}

// TestRenewOutsideServiceWindowNoForceHint: before the service's own 60-day
// window, renew does not suggest --force, which the service would only
// refuse (WINDOW_NOT_OPEN); inside it (a short TEST certificate before the
// client's window) the hint stays.
func TestRenewOutsideServiceWindowNoForceHint(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 0) // two years
	r := h.run(t, "", "renew", "--dir", h.dir)
	if r.code != 0 || strings.Contains(r.stdout, "--force") || !strings.Contains(r.stdout, "not renewed") {
		t.Errorf("renew two years before expiry: exit %d\n%s", r.code, r.stdout)
	}
	h.dir = filepath.Join(t.TempDir(), "short")
	h.enroll(t, 30*24*time.Hour)
	r = h.run(t, "", "renew", "--dir", h.dir)
	if r.code != 0 || !strings.Contains(r.stdout, "--force") {
		t.Errorf("renew of a 30-day certificate: exit %d\n%s", r.code, r.stdout)
	}
}

// TestWatchHookTimeoutMustBePositive: --deploy-hook-timeout 0 killed every
// hook at once, so it could never succeed; it is a flag error.
func TestWatchHookTimeoutMustBePositive(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 30*24*time.Hour)
	r := h.run(t, "", "watch", "--dir", h.dir, "--once", "--deploy-hook", "true", "--deploy-hook-timeout", "0")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--deploy-hook-timeout") {
		t.Fatalf("exit %d, want %d naming the flag\n%s", r.code, exitUsage, r.stderr)
	}
}

// TestSharedConfigFile: one config file (or IRPKI_CONFIG) serves every
// irpki command: watch's settings in it no longer make status, the
// monitoring check, fail with "unknown setting"; misspelt keys still do.
func TestSharedConfigFile(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 0)
	cfg := filepath.Join(t.TempDir(), "irpki.json")
	os.WriteFile(cfg, []byte(`{"dir": "`+h.dir+`", "deploy-hook": "true", "metrics": "127.0.0.1:0", "check-interval": "2h"}`), 0o600)
	h.env["IRPKI_CONFIG"] = cfg
	if r := h.run(t, "", "status"); r.code != statusValid {
		t.Errorf("status with watch's config file: exit %d\n%s", r.code, r.stderr)
	}
	if r := h.run(t, "", "renew"); r.code != exitOK {
		t.Errorf("renew with watch's config file: exit %d\n%s", r.code, r.stderr)
	}
	os.WriteFile(cfg, []byte(`{"dir": "`+h.dir+`", "deploy-hok": "true"}`), 0o600)
	if r := h.run(t, "", "status"); r.code != statusError || !strings.Contains(r.stderr, `unknown setting "deploy-hok"`) {
		t.Errorf("misspelt key: exit %d\n%s", r.code, r.stderr)
	}
}

// TestAllFlagsKnown: the list of every command's flags that lets commands
// share a config file names each flag of each command.
func TestAllFlagsKnown(t *testing.T) {
	h := newHarness(t)
	for _, cmd := range []string{"enroll", "renew", "status", "watch", "export", "abandon"} {
		r := h.run(t, "", cmd, "--help")
		flags := regexp.MustCompile(`(?m)^  --([a-z0-9-]+)$`).FindAllStringSubmatch(r.stdout, -1)
		if len(flags) < 2 {
			t.Fatalf("irpki %s --help lists %d flags:\n%s", cmd, len(flags), r.stdout)
		}
		for _, m := range flags {
			if !irpkiFlags[m[1]] {
				t.Errorf("irpki %s --%s is missing from irpkiFlags", cmd, m[1])
			}
		}
	}
}

// A restarted watch reports the directory's last renewal as
// irpki_renewal_last_success_timestamp_seconds, not 0, which an alert on
// the renewal's age would take for "never renewed" (found in review).
func TestWatchMetricsAfterRestart(t *testing.T) {
	h := newHarness(t)
	h.enroll(t, 30*24*time.Hour)
	h.s.Clock.Set(h.current(t).Cert.NotAfter.Add(-5 * 24 * time.Hour))
	if r := h.run(t, "", "renew", "--dir", h.dir); r.code != 0 {
		t.Fatalf("renew: exit %d %s", r.code, r.stderr)
	}
	st, _ := h.status(t)
	if st.LastRenewal.IsZero() {
		t.Fatal("status shows no last renewal after a renewal")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errb syncBuffer
	var body string
	sleep := func(ctx context.Context, d time.Duration) error {
		if m := regexp.MustCompile(`url=(http://\S+/metrics)`).FindStringSubmatch(errb.String()); m == nil {
			t.Error("no metrics address in the log")
		} else if resp, err := http.Get(m[1]); err != nil {
			t.Error(err)
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}
		cancel()
		return ctx.Err()
	}
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &errb,
		lookupEnv: func(string) (string, bool) { return "", false }, now: h.s.Clock.Now, sleep: sleep}
	if code := a.run(ctx, []string{"watch", "--dir", h.dir, "--metrics", "127.0.0.1:0", "--check-interval", "1h"}); code != 0 {
		t.Fatalf("watch: exit %d\n%s", code, errb.String())
	}
	want := "irpki_renewal_last_success_timestamp_seconds" + dirLabel(h.dir) + " " + strconv.FormatFloat(float64(st.LastRenewal.Unix()), 'g', -1, 64)
	if !strings.Contains(body, want+"\n") {
		t.Errorf("metrics lack %q:\n%s", want, body)
	}
	info := fmt.Sprintf("irpki_build_info{goversion=%q,revision=%q,version=%q} 1\n", build.GoVersion, build.Revision, build.Version)
	if !strings.Contains(body, info) {
		t.Errorf("metrics lack %q:\n%s", info, body)
	}
}

// TestVersion: the binary names the commit it was built from, not "dev".
func TestVersion(t *testing.T) {
	buildinfotest.CheckVersion(t, ".", "irpki")
}

// dirLabel is the label set of a directory's metrics.
func dirLabel(dir string) string { return `{dir="` + dir + `"}` }
