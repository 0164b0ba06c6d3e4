package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/buildinfo/buildinfotest"
	"github.com/irpki/irpki/internal/pgtest"
	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/internal/server/irpkidtest"
)

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "irpkid-bin-")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "irpkid")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build irpkid: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	pgtest.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

// irpkid runs the built binary and returns stdout, stderr and the exit code.
func irpkid(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return so.String(), se.String(), code
}

// anyPort is the --listen of a serve that is refused before it listens,
// or whose address the test reads from its log (listenAddrs): the kernel
// picks the port when the server binds it.
const anyPort = "127.0.0.1:0"

var (
	endpointRE = regexp.MustCompile(`"?endpoint"?[=:]"?https?://([^/" ]+)/`)
	metricsRE  = regexp.MustCompile(`"?url"?[=:]"?http://([^/" ]+)/metrics`)
)

// listenAddrs waits until a serve logs where it serves, and returns the
// endpoint's host:port and the metrics listener's ("" without one: serve
// logs the metrics listener before the endpoint). It fails the test when
// the server does not say so in time, or sooner when it could not bind
// its address: then inUse is true and the test may try another port.
func listenAddrs(t *testing.T, logs *irpkidtest.SyncBuffer) (addr, metrics string, inUse bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := logs.String()
		if m := endpointRE.FindStringSubmatch(out); m != nil {
			if mm := metricsRE.FindStringSubmatch(out); mm != nil {
				metrics = mm[1]
			}
			return m[1], metrics, false
		}
		if strings.Contains(out, "address already in use") {
			return "", "", true
		}
		if time.Now().After(deadline) {
			t.Fatalf("irpkid serve did not say where it serves: %s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// served is a running irpkid serve: its process and where it listens.
type served struct {
	*exec.Cmd
	Addr    string // host:port of the SOAP endpoint and the e-service
	Metrics string // host:port of --metrics-listen anyPort ("" without it)
}

// startServe starts irpkid serve on a free loopback port and waits until
// /healthz answers there. The port is named on the command line, not
// left to the kernel (:0), because serve makes its defaults (the CRL's
// address in certificates, the e-service's OpenID Connect callback) from
// --listen; another suite may take the port between the pick and the
// bind, and then serve is started again on another one. /healthz is asked
// only once serve has logged that it serves, so that it never reaches
// another suite's server.
func startServe(t *testing.T, dataDir string, extra ...string) served {
	t.Helper()
	for attempt := 1; ; attempt++ {
		l, err := net.Listen("tcp", anyPort)
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().String()
		l.Close()
		cmd := exec.Command(binPath, append([]string{"serve", "--data-dir", dataDir, "--listen", port}, extra...)...)
		se := &irpkidtest.SyncBuffer{}
		cmd.Stderr = se
		cmd.Stdout = &irpkidtest.SyncBuffer{} // the enrol line; see TestServePrintsEnrollLine
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		addr, metrics, inUse := listenAddrs(t, se)
		if inUse {
			cmd.Process.Kill()
			cmd.Wait()
			if attempt == 5 {
				t.Fatalf("irpkid serve found no free port in %d attempts: %s", attempt, se.String())
			}
			continue
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		if addr != port {
			t.Fatalf("irpkid serve listens on %s, not on --listen %s", addr, port)
		}
		if slices.Contains(extra, "--metrics-listen") && metrics == "" {
			t.Fatalf("irpkid serve did not say where it serves metrics: %s", se.String())
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get("http://" + addr + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return served{Cmd: cmd, Addr: addr, Metrics: metrics}
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("irpkid serve did not become healthy: %s", se.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestServeCycle runs the README's path: serve on an empty data dir, add an
// organisation, order, enrol, retrieve and renew over HTTP, and stop with
// SIGTERM; on the embedded SQLite and on PostgreSQL (serve given
// --database, the operator commands IRPKI_DATABASE).
func TestServeCycle(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testServeCycle(t, nil, nil) })
	t.Run("postgres", func(t *testing.T) {
		u := pgtest.URL(t)
		testServeCycle(t, []string{"--database", u}, []string{"IRPKI_DATABASE=" + u})
	})
}

func testServeCycle(t *testing.T, serveArgs, env []string) {
	dataDir := filepath.Join(t.TempDir(), "data")
	cmd := startServe(t, dataDir, serveArgs...)
	addr := cmd.Addr

	// Operator commands work on the data dir while the server runs.
	if out, se, code := irpkid(t, env, "org", "add", "--data-dir", dataDir, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example"); code != 0 {
		t.Fatalf("org add: %d %s %s", code, out, se)
	}
	out, se, code := irpkid(t, env, "order", "--data-dir", dataDir, "--customer-id", "1234567-1", "--validity", "30d", "--json")
	if code != 0 {
		t.Fatalf("order: %d %s", code, se)
	}
	var cred struct {
		TransferID       string    `json:"transfer_id"`
		TransferPassword string    `json:"transfer_password"`
		Expires          time.Time `json:"expires"`
	}
	if err := json.Unmarshal([]byte(out), &cred); err != nil || cred.TransferID == "" || cred.TransferPassword == "" || cred.Expires.IsZero() {
		t.Fatalf("order --json: %v %q", err, out)
	}
	trustPEM, _, code := irpkid(t, env, "trust", "--data-dir", dataDir)
	if code != 0 {
		t.Fatal("trust failed")
	}
	trust, err := client.ParseTrustBundle([]byte(trustPEM))
	if err != nil || len(trust) != 8 { // root, intermediate, four issuing CAs, services CA, signer
		t.Fatalf("trust bundle: %v, %d certs", err, len(trust))
	}

	c, err := client.New("http://"+addr+"/2017/10/CertificateServices", client.Options{Environment: "TEST", Trust: trust})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := irpkidtest.NewKey(t)
	rid, err := c.SignNewCertificate(ctx, "1234567-1", cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, key, "1234567-1"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.GetCertificate(ctx, "1234567-1", rid)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyIssued(cert, &key.PublicKey, "1234567-1"); err != nil {
		t.Fatal(err)
	}
	// A 30-day certificate is inside its 60-day renewal window at once.
	key2 := irpkidtest.NewKey(t)
	rid2, err := c.RenewCertificate(ctx, "1234567-1", irpkidtest.CSR(t, key2, "1234567-1"), key, cert)
	if err != nil {
		t.Fatal(err)
	}
	succ, err := c.GetCertificate(ctx, "1234567-1", rid2)
	if err != nil {
		t.Fatal(err)
	}

	out, _, code = irpkid(t, env, "certs", "--data-dir", dataDir, "--json")
	if code != 0 {
		t.Fatal("certs failed")
	}
	var rows []struct {
		Serial, Status, Predecessor string
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("certs --json: %v %s", err, out)
	}
	// Serials at full width, leading zeros kept, in the table as in JSON.
	if rows[1].Predecessor != serial.Text(cert.SerialNumber) || rows[1].Serial != serial.Text(succ.SerialNumber) || rows[0].Status != "renewed" {
		t.Errorf("certs: %+v", rows)
	}
	table, _, _ := irpkid(t, env, "certs", "--data-dir", dataDir)
	for _, r := range rows {
		if len(r.Serial) != serial.Width || !strings.Contains(table, "\n"+r.Serial+"  ") {
			t.Errorf("serial %q: not %d digits, or not so in the table:\n%s", r.Serial, serial.Width, table)
		}
	}

	// Revoke the successor.
	if _, se, code := irpkid(t, env, "revoke", "--data-dir", dataDir, "--serial", rows[1].Serial, "--reason", "keyCompromise"); code != 0 {
		t.Fatalf("revoke: %s", se)
	}
	// WSDL carries this server's address.
	resp, err := http.Get("http://" + addr + "/2017/10/CertificateServices?wsdl")
	if err != nil {
		t.Fatal(err)
	}
	wsdl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(wsdl), `location="http://`+addr+`/2017/10/CertificateServices"`) || !strings.Contains(string(wsdl), "CertificateCervicesPort") {
		t.Errorf("wsdl lacks this server's address:\n%s", wsdl)
	}

	// Graceful shutdown.
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}

	// Keys are private; a restart loads the same CA.
	for _, f := range []string{"root.key", "intermediate.key", "issuing-reports_ws.key", "services.key", "signing.key"} {
		st, err := os.Stat(filepath.Join(dataDir, "ca", "TEST", f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, err, st)
		}
	}
	trust2, _, _ := irpkid(t, env, "trust", "--data-dir", dataDir)
	if trust2 != trustPEM {
		t.Error("trust bundle changed across restarts")
	}
}

func TestServeRefusesPlainHTTPOffLoopback(t *testing.T) {
	_, se, code := irpkid(t, nil, "serve", "--data-dir", t.TempDir(), "--listen", "0.0.0.0:0")
	if code == 0 || !strings.Contains(se, "not a loopback address") {
		t.Fatalf("exit %d, stderr %q", code, se)
	}
}

func TestConfigPrecedenceAndStrictness(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "irpkid.json")
	os.WriteFile(cfg, []byte(`{"data-dir": "`+filepath.Join(dir, "fromfile")+`", "environment": "PRODUCTION"}`), 0o600)
	// The config file sets the data dir and environment.
	if _, se, code := irpkid(t, nil, "org", "add", "--config", cfg, "--customer-id", "1234567-1", "--name", "Acme", "--contact-email", "a@b.fi"); code != 0 {
		t.Fatalf("org add with config: %s", se)
	}
	if _, se, code := irpkid(t, nil, "trust", "--config", cfg); code != 0 {
		t.Fatalf("trust with config: %s", se)
	}
	if _, err := os.Stat(filepath.Join(dir, "fromfile", "ca", "PRODUCTION", "root.crt")); err != nil {
		t.Fatalf("config file not applied: %v", err)
	}
	// The environment variable beats the file; the flag beats both. (An
	// operator command does not create a TEST CA beside the PRODUCTION one:
	// it says which environment it was asked for.)
	if out, se, code := irpkid(t, []string{"IRPKI_ENVIRONMENT=TEST"}, "trust", "--config", cfg); code == 0 || !strings.Contains(se, "not TEST") {
		t.Fatalf("IRPKI_ENVIRONMENT not applied over the file: exit %d, stdout %q, stderr %q", code, out, se)
	}
	if _, se, code := irpkid(t, []string{"IRPKI_DATA_DIR=" + filepath.Join(dir, "fromenv")}, "org", "add", "--data-dir", filepath.Join(dir, "fromflag"),
		"--customer-id", "1234567-1", "--name", "Acme", "--contact-email", "a@b.fi"); code != 0 {
		t.Fatal(se)
	}
	if _, err := os.Stat(filepath.Join(dir, "fromflag", "ca")); err != nil {
		t.Fatalf("flag not applied over env: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "fromenv")); err == nil {
		t.Fatal("env var won over the flag")
	}
	// Unknown keys are refused.
	os.WriteFile(cfg, []byte(`{"data-dir": "x", "listne": "1.2.3.4:80"}`), 0o600)
	_, se, code := irpkid(t, nil, "serve", "--config", cfg)
	if code == 0 || !strings.Contains(se, `unknown setting "listne"`) {
		t.Fatalf("exit %d: %s", code, se)
	}
}

func TestOperatorInputErrors(t *testing.T) {
	dir := t.TempDir()
	// A refused org add on a new directory leaves nothing behind, and the
	// commands that read one do not make a CA in a mistyped one (found in
	// review: irpkid trust printed a new CA's bundle).
	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dir, "--customer-id", "1234567-8", "--name", "X", "--contact-email", "a@b.fi"); code == 0 || !strings.Contains(se, "check digit") {
		t.Errorf("org add with a wrong check digit: exit %d, %s", code, se)
	}
	for _, args := range [][]string{{"trust"}, {"certs"}, {"orgs"}, {"users"}, {"order", "--customer-id", "1234567-1"}, {"revoke", "--serial", "ab", "--reason", "key_compromise"}} {
		if _, se, code := irpkid(t, nil, append(args, "--data-dir", filepath.Join(dir, "typo"))...); code == 0 || !strings.Contains(se, "is not an irpkid data directory") {
			t.Errorf("%v on a directory that does not exist: exit %d, %s", args, code, se)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("refused commands left %v in the data directory", left)
	}
	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dir, "--customer-id", "1234567-1", "--name", "Acme", "--contact-email", "a@b.fi"); code != 0 {
		t.Fatalf("org add: %s", se)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"org", "add", "--customer-id", "1234567-8", "--name", "X", "--contact-email", "a@b.fi"}, "check digit"},
		{[]string{"org", "add", "--customer-id", "1234567-1", "--name", "X", "--contact-email", "not-an-address"}, "not an e-mail address"},
		{[]string{"order", "--customer-id", "2345678-0"}, "no organisation"},
		{[]string{"order", "--customer-id", "1234567-1", "--validity", "fortnight"}, "use e.g. 50d"},
		// 213505 days overflow a Duration to about one day (found in review).
		{[]string{"order", "--customer-id", "1234567-1", "--validity", "213505d"}, "at most 36525d"},
		{[]string{"order", "--customer-id", "1234567-1", "--validity", "800d"}, "longer than the 2-year maximum"},
		{[]string{"order", "--customer-id", "1234567-1", "--validity", "5m"}, "validity 5m0s is shorter than the TEST minimum, 10m0s"},
		{[]string{"order", "--customer-id", "1234567-1", "--purpose", "whatever I like"}, "use one of reports_ws"},
		{[]string{"certs", "--customer-id", "1234567-2"}, "check digit"},
		{[]string{"certs", "--customer-id", "2345678-0"}, "no organisation 2345678-0"},
		{[]string{"users", "--customer-id", "2345678-0"}, "no organisation 2345678-0"},
		{[]string{"revoke", "--serial", "abcd", "--reason", "bored"}, `--reason "bored": give key_compromise (RFC 5280: keyCompromise)`},
		{[]string{"revoke", "--serial", "abcd", "--reason", "keyCompromise"}, "no certificate with serial"},
		{[]string{"revoke", "--serial", "abcd", "--reason", "key_compromise"}, "no certificate with serial"},
		{[]string{"frobnicate"}, "unknown command"},
	} {
		_, se, code := irpkid(t, nil, append(tc.args, "--data-dir", dir)...)
		if code == 0 || !strings.Contains(se, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, se, tc.want)
		}
	}
	// Shorter validity only in TEST (a data directory of its own: this one
	// holds the TEST environment).
	prod := t.TempDir()
	irpkid(t, nil, "org", "add", "--data-dir", prod, "--environment", "PRODUCTION", "--customer-id", "1234567-1", "--name", "Acme", "--contact-email", "a@b.fi")
	_, se, code := irpkid(t, nil, "order", "--data-dir", prod, "--environment", "PRODUCTION", "--customer-id", "1234567-1", "--validity", "50d")
	if code == 0 || !strings.Contains(se, "only in the TEST environment") {
		t.Errorf("PRODUCTION short validity: exit %d %q", code, se)
	}
}

func TestServeHTTPS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile,
		"-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v %s", err, out)
	}
	cmd := exec.Command(binPath, "serve", "--data-dir", filepath.Join(dir, "data"), "--listen", anyPort, "--tls-cert", certFile, "--tls-key", keyFile)
	var se irpkidtest.SyncBuffer
	cmd.Stderr = &se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr, _, _ := listenAddrs(t, &se)
	pemBytes, _ := os.ReadFile(certFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get("https://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("HTTPS serve not healthy: %v %s", err, se.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Plain HTTP to the TLS port gets no service.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered on the HTTPS port")
		}
		resp.Body.Close()
	}
}

// An operator command run without the server's --environment on a data
// directory of the other environment says so, instead of creating a second
// CA and printing a trust bundle the server does not use.
func TestOperatorCommandsRefuseTheOtherEnvironment(t *testing.T) {
	dir := t.TempDir()
	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dir, "--environment", "PRODUCTION", "--customer-id", "1234567-1", "--name", "Acme", "--contact-email", "a@b.fi"); code != 0 {
		t.Fatalf("org add PRODUCTION: %d %s", code, se)
	}
	prodBundle, se, code := irpkid(t, nil, "trust", "--data-dir", dir, "--environment", "PRODUCTION")
	if code != 0 {
		t.Fatalf("trust PRODUCTION: %d %s", code, se)
	}
	for _, args := range [][]string{
		{"trust"},
		{"order", "--customer-id", "1234567-1"},
		{"certs"},
	} {
		out, se, code := irpkid(t, nil, append(args, "--data-dir", dir)...)
		if code == 0 || !strings.Contains(se, "--environment PRODUCTION") {
			t.Errorf("%v on a PRODUCTION data directory: exit %d, stdout %q, stderr %q", args, code, out, se)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ca", "TEST")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a TEST CA was created beside the PRODUCTION one: %v", err)
	}
	// IRPKI_ENVIRONMENT is the other way to say it.
	if out, se, code := irpkid(t, []string{"IRPKI_ENVIRONMENT=PRODUCTION"}, "trust", "--data-dir", dir); code != 0 || out != prodBundle {
		t.Errorf("trust with IRPKI_ENVIRONMENT=PRODUCTION: exit %d %s", code, se)
	}
}

// One config file serves irpkid serve and the operator commands: serve's
// settings in it (listen, SMTP, reminders) do not stop "irpkid orgs" from
// taking the data directory and environment from it, while a misspelt key
// is still refused by every command.
func TestOneConfigFileForAllCommands(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "irpkid.json")
	os.WriteFile(cfg, []byte(`{"data-dir": "`+filepath.Join(dir, "data")+`", "environment": "TEST", "listen": "127.0.0.1:8443",
		"max-body-bytes": 100000, "smtp-tls": "tls", "remind-days": "60,14", "public-url": "https://irpki.example"}`), 0o600)
	if _, se, code := irpkid(t, nil, "org", "add", "--config", cfg, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example"); code != 0 {
		t.Fatalf("org add with serve's config file: %d %s", code, se)
	}
	if out, se, code := irpkid(t, []string{"IRPKI_CONFIG=" + cfg}, "orgs"); code != 0 || !strings.Contains(out, "Acme Oy") {
		t.Fatalf("orgs with IRPKI_CONFIG of serve's file: %d %q %s", code, out, se)
	}
	os.WriteFile(cfg, []byte(`{"data-dir": "`+filepath.Join(dir, "data")+`", "listne": "127.0.0.1:8443"}`), 0o600)
	if _, se, code := irpkid(t, nil, "orgs", "--config", cfg); code == 0 || !strings.Contains(se, `unknown setting "listne"`) {
		t.Fatalf("misspelt key: exit %d %s", code, se)
	}
}

// A body limit below what valid requests need is refused at start, not
// discovered when every request is answered "too large".
func TestServeRefusesTooSmallBodyLimit(t *testing.T) {
	for _, v := range []string{"0", "-1", "1000"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a guard: a server that starts would run on
		cmd := exec.CommandContext(ctx, binPath, "serve", "--data-dir", t.TempDir(), "--listen", anyPort, "--max-body-bytes", v)
		var se bytes.Buffer
		cmd.Stderr = &se
		err := cmd.Run()
		cancel()
		if err == nil || !strings.Contains(se.String(), "--max-body-bytes "+v) {
			t.Errorf("--max-body-bytes %s: %v, stderr %q", v, err, se.String())
		}
	}
}

// Cookies are marked Secure when the public URL is https, in any case:
// behind a TLS proxy, HTTPS://… is the same address as https://….
func TestSecureCookiesFollowThePublicURLScheme(t *testing.T) {
	for u, want := range map[string]bool{
		"https://irpki.example.fi": true, "HTTPS://irpki.example.fi": true, "Https://irpki.example.fi:8443/": true,
		"http://irpki.example.fi": false, "HTTP://localhost:8080": false, "irpki.example.fi": false,
	} {
		if got := secureScheme(u); got != want {
			t.Errorf("secureScheme(%q) = %v, want %v", u, got, want)
		}
	}
	addr := startServe(t, t.TempDir(), "--public-url", "HTTPS://irpki.example.fi").Addr
	resp, err := http.Get("http://" + addr + "/eservice/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if len(cookies) == 0 {
		t.Fatal("the sign-in page set no cookie")
	}
	for _, c := range cookies {
		if !c.Secure {
			t.Errorf("cookie %s is not Secure with --public-url HTTPS://…", c.Name)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := parsePrefixes(" 10.0.0.1, 192.168.0.0/16,::1 ,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.1/32", "192.168.0.0/16", "::1/128", "2001:db8::/32"}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("%d: %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := parsePrefixes("10.0.0.1,proxy.example"); err == nil || !strings.Contains(err.Error(), `"proxy.example"`) {
		t.Errorf("a host name accepted: %v", err)
	}
	if _, se, code := irpkid(t, nil, "serve", "--data-dir", t.TempDir(), "--listen", anyPort, "--trusted-proxies", "nonsense"); code == 0 || !strings.Contains(se, "--trusted-proxies") {
		t.Errorf("serve with a bad --trusted-proxies: exit %d, %s", code, se)
	}
}

// TestVersion: the binary names the commit it was built from, not "dev".
func TestVersion(t *testing.T) {
	buildinfotest.CheckVersion(t, ".", "irpkid")
}

// A world-writable data directory was served without a word. It is refused
// by serve and by the operator commands, before anything is created in it.
func TestWritableDataDirRefused(t *testing.T) {
	for _, mode := range []os.FileMode{0o777, 0o770, 0o1777} {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"},
			{"org", "add", "--data-dir", dir, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.test"},
		} {
			_, stderr, code := irpkid(t, nil, args...)
			if code != 1 || !strings.Contains(stderr, "writable by group or others") || !strings.Contains(stderr, "chmod 0700 "+dir) {
				t.Errorf("%v on a directory of mode %04o: exit %d\n%s", args[:1], mode, code, stderr)
			}
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("mode %04o: files were created: %v", mode, entries)
		}
	}
}
