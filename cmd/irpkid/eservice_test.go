package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// irpkidIn runs the binary with stdin.
func irpkidIn(t *testing.T, in string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Stdin = strings.NewReader(in)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return so.String(), se.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return so.String(), se.String(), 0
}

func TestUserAddAndUsers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dir, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example"); code != 0 {
		t.Fatal(se)
	}
	if out, se, code := irpkidIn(t, "a long operator password\n", "user", "add", "--data-dir", dir, "--email", "op@vero.example", "--operator"); code != 0 || !strings.Contains(out, "operator") {
		t.Fatalf("operator: %d %s %s", code, out, se)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("representative pass\n"), 0o600)
	if out, se, code := irpkidIn(t, "", "user", "add", "--data-dir", dir, "--email", "rep@acme.example", "--name", "Rea Rep", "--customer-id", "1234567-1", "--password-file", pwFile); code != 0 {
		t.Fatalf("representative: %d %s %s", code, out, se)
	}
	for name, c := range map[string]struct {
		in   string
		args []string
		want string
	}{
		"no password":    {"", []string{"--email", "x@acme.example", "--operator"}, "no password"},
		"short":          {"short\n", []string{"--email", "x@acme.example", "--operator"}, "at least"},
		"both roles":     {"long enough pass\n", []string{"--email", "x@acme.example", "--operator", "--customer-id", "1234567-1"}, "exactly one"},
		"no org":         {"long enough pass\n", []string{"--email", "x@acme.example", "--customer-id", "7654321-2"}, "no organisation"},
		"duplicate":      {"long enough pass\n", []string{"--email", "REP@acme.example", "--customer-id", "1234567-1"}, "already exists"},
		"bad address":    {"long enough pass\n", []string{"--email", "not an address", "--operator"}, "not an e-mail address"},
		"bad customerid": {"long enough pass\n", []string{"--email", "y@acme.example", "--customer-id", "1234567-2"}, "check digit"},
	} {
		_, se, code := irpkidIn(t, c.in, append([]string{"user", "add", "--data-dir", dir}, c.args...)...)
		if code == 0 || !strings.Contains(se, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want an error about %q", name, code, se, c.want)
		}
	}
	out, se, code := irpkid(t, nil, "users", "--data-dir", dir, "--json")
	if code != 0 {
		t.Fatal(se)
	}
	var rows []struct {
		Email      string
		CustomerID string `json:"customer_id"`
		Operator   bool
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("users --json: %v %s", err, out)
	}
	if strings.Contains(out, "pass") {
		t.Error("users output contains a password")
	}

	// Disable, enable and a new password, by e-mail address in any case.
	if out, se, code := irpkid(t, nil, "user", "disable", "--data-dir", dir, "--email", "REP@acme.example"); code != 0 || !strings.Contains(out, "rep@acme.example disabled") {
		t.Fatalf("user disable: %d %s %s", code, out, se)
	}
	if out, _, _ := irpkid(t, nil, "users", "--data-dir", dir); !regexp.MustCompile(`rep@acme\.example .*disabled`).MatchString(out) {
		t.Errorf("users does not show the account disabled:\n%s", out)
	}
	if out, se, code := irpkid(t, nil, "user", "enable", "--data-dir", dir, "--email", "rep@acme.example"); code != 0 || !strings.Contains(out, "enabled") {
		t.Fatalf("user enable: %d %s %s", code, out, se)
	}
	if out, se, code := irpkidIn(t, "a brand new password\n", "user", "password", "--data-dir", dir, "--email", "rep@acme.example"); code != 0 || !strings.Contains(out, "new password") {
		t.Fatalf("user password: %d %s %s", code, out, se)
	}
	for name, c := range map[string]struct {
		in   string
		args []string
		want string
	}{
		"unknown account": {"", []string{"disable", "--email", "nobody@acme.example"}, "no account nobody@acme.example"},
		"no email":        {"", []string{"enable"}, "--email is required"},
		"short password":  {"short\n", []string{"password", "--email", "rep@acme.example"}, "at least"},
		"no password":     {"", []string{"password", "--email", "rep@acme.example"}, "no password"},
		"subcommand":      {"", []string{"remove", "--email", "rep@acme.example"}, "add, disable, enable and password"},
	} {
		_, se, code := irpkidIn(t, c.in, append(append([]string{"user"}, c.args...), "--data-dir", dir)...)
		if code == 0 || !strings.Contains(se, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want an error about %q", name, code, se, c.want)
		}
	}
}

func TestServeEServiceAndRemindOnce(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	addr := startServe(t, dataDir).Addr

	// The e-service is mounted, in Finnish by default.
	resp, err := http.Get("http://" + addr + "/eservice/signin")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Kirjaudu sisään") || !strings.Contains(string(page), `<html lang="fi">`) {
		t.Fatalf("e-service sign-in: %d", resp.StatusCode)
	}

	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dataDir, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example", "--language", "sv"); code != 0 {
		t.Fatal(se)
	}
	out, se, code := irpkid(t, nil, "order", "--data-dir", dataDir, "--customer-id", "1234567-1", "--validity", "30d", "--json", "--contact-email", "tech@acme.example")
	if code != 0 {
		t.Fatal(se)
	}
	var cred struct {
		TransferID       string `json:"transfer_id"`
		TransferPassword string `json:"transfer_password"`
	}
	json.Unmarshal([]byte(out), &cred)
	trustPEM, _, _ := irpkid(t, nil, "trust", "--data-dir", dataDir)
	trust, err := client.ParseTrustBundle([]byte(trustPEM))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New("http://"+addr+"/2017/10/CertificateServices", client.Options{Environment: "TEST", Trust: trust})
	if err != nil {
		t.Fatal(err)
	}
	key := irpkidtest.NewKey(t)
	if _, err := c.SignNewCertificate(context.Background(), "1234567-1", cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, key, "1234567-1")); err != nil {
		t.Fatal(err)
	}

	// A 30-day certificate is inside the 60-day reminder: one mail, once.
	for i, want := range []string{"1 sent", "0 sent"} {
		out, se, code := irpkid(t, nil, "remind", "--once", "--data-dir", dataDir)
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("remind run %d: %d %q %s", i, code, out, se)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dataDir, "outbox", "*.eml"))
	if len(files) != 1 {
		t.Fatalf("outbox: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	fi, _ := os.Stat(files[0])
	if !strings.Contains(string(b), "To: <tech@acme.example>") || !strings.Contains(string(b), "Content-Language: sv") || fi.Mode().Perm() != 0o600 {
		t.Errorf("reminder mail (%v):\n%s", fi.Mode().Perm(), b)
	}
	if _, se, code := irpkid(t, nil, "remind", "--once", "--data-dir", dataDir, "--remind-days", "60,x"); code == 0 || !strings.Contains(se, "--remind-days") {
		t.Errorf("bad --remind-days: %d %s", code, se)
	}
}

// Run at a terminal (a character device on standard input), user add says
// that it waits for the password instead of hanging silently.
func TestUserAddPromptsAtATerminal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	tty, err := os.Open(os.DevNull) // a character device, as a terminal is
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	cmd := exec.Command(binPath, "user", "add", "--data-dir", dir, "--email", "op@vero.example", "--operator")
	cmd.Stdin = tty
	var se bytes.Buffer
	cmd.Stderr = &se
	if err := cmd.Run(); err == nil {
		t.Fatal("no password read, but user add succeeded")
	}
	if !strings.Contains(se.String(), "Password for op@vero.example") {
		t.Fatalf("no prompt on standard error: %q", se.String())
	}
}
