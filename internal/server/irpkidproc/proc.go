// Package irpkidproc runs irpkid as a real operating-system process for
// tests that kill it (crash tests) or load it (cmd/irpkiload's test): Build
// compiles cmd/irpkid once per test binary, Start runs `irpkid serve` on a
// free loopback port and returns when it serves, and Run invokes the
// operator commands (org add, order, certs, trust) against the same data
// directory while the server runs.
package irpkidproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/internal/server/irpkidtest"
)

var (
	buildMu  sync.Mutex
	built    = map[string]string{}
	buildDir string
)

// moduleRoot finds the directory of go.mod above this source file.
func moduleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("irpkidproc: cannot locate source")
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("irpkidproc: go.mod not found above %s", file)
		}
		dir = parent
	}
}

// Build compiles the module's command pkg (e.g. "./cmd/irpkid") once per
// test binary and returns the executable's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if buildDir == "" {
		// Shared by every test of the binary; removed with the OS temp dir.
		buildDir, err = os.MkdirTemp("", "irpkidproc-")
		if err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(buildDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	built[pkg] = out
	return out
}

// Proc is a running `irpkid serve`.
type Proc struct {
	Bin      string
	DataDir  string
	Endpoint string // the SOAP endpoint URL
	Base     string // scheme://host:port
	cmd      *exec.Cmd
	logs     *irpkidtest.SyncBuffer
	done     chan struct{}
	waitErr  error
}

var endpointRE = regexp.MustCompile(`endpoint=(http://[^ ]+)`)

// Start runs `irpkid serve` on dataDir and a free loopback port (or on
// listen, "" for a new port) with extra flags, and waits until /healthz
// answers. The process is killed when the test ends.
func Start(t testing.TB, bin, dataDir, listen string, extra ...string) *Proc {
	t.Helper()
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", listen, "--environment", "TEST"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = CleanEnv()
	logs := &irpkidtest.SyncBuffer{}
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(logs, pw)
	cmd.Stdout = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Proc{Bin: bin, DataDir: dataDir, cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.Kill() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := endpointRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case ep := <-found:
		p.Endpoint = ep
		p.Base = strings.TrimSuffix(ep, "/2017/10/CertificateServices")
	case <-p.done:
		t.Fatalf("irpkid serve exited before serving: %v\n%s", p.waitErr, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("irpkid serve did not start\n%s", logs.String())
	}
	for i := 0; ; i++ {
		resp, err := http.Get(p.Base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i > 600 {
			t.Fatalf("irpkid /healthz never answered: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a separate process; no clock to inject
	}
	return p
}

// Addr returns host:port the process listens on.
func (p *Proc) Addr() string { return strings.TrimPrefix(p.Base, "http://") }

// Kill sends SIGKILL and waits for the process to end.
func (p *Proc) Kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// Stop sends SIGTERM, as systemd stops the service, and waits for a clean
// exit; a failed or late exit fails the test.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.waitErr != nil {
			t.Errorf("irpkid serve stopped with %v\n%s", p.waitErr, p.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("irpkid serve did not stop within 30 s of SIGTERM\n%s", p.logs.String())
	}
}

// Pid is the process's id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Logs returns what the process wrote to stdout and stderr.
func (p *Proc) Logs() string { return p.logs.String() }

// Run runs an irpkid operator command against dataDir and returns its
// stdout; a failure fails the test.
func Run(t testing.TB, bin, dataDir string, args ...string) []byte {
	t.Helper()
	out, err := RunErr(context.Background(), bin, dataDir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// RunErr is Run returning the error instead of failing the test.
func RunErr(ctx context.Context, bin, dataDir string, args ...string) ([]byte, error) {
	full := append(append([]string{}, args...), "--data-dir", dataDir, "--environment", "TEST")
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = CleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("irpkid %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// Credentials are an order's transfer credentials as `irpkid order --json`
// prints them.
type Credentials struct {
	TransferID       string `json:"transfer_id"`
	TransferPassword string `json:"transfer_password"`
}

// Order creates an order for customer with validity (e.g. "30d") and
// further order flags (e.g. "--purpose", "datause_ws"), and returns its
// credentials.
func Order(ctx context.Context, bin, dataDir, customer, validity string, extra ...string) (Credentials, error) {
	args := append([]string{"order", "--customer-id", customer, "--json"}, extra...)
	if validity != "" {
		args = append(args, "--validity", validity)
	}
	out, err := RunErr(ctx, bin, dataDir, args...)
	if err != nil {
		return Credentials{}, err
	}
	var c Credentials
	if err := json.Unmarshal(out, &c); err != nil {
		return Credentials{}, fmt.Errorf("irpkid order: %w: %s", err, out)
	}
	return c, nil
}

// Cert is a row of `irpkid certs --json`.
type Cert struct {
	Serial      string `json:"serial"`
	CustomerID  string `json:"customer_id"`
	Status      string `json:"status"`
	Predecessor string `json:"predecessor"`
	Retrieved   bool   `json:"retrieved"`
}

// Certs lists the certificates in dataDir's store, their serials as the
// store keys them (service.SerialHex): irpkid certs prints them at full
// width, which Certs checks.
func Certs(t testing.TB, bin, dataDir string) []Cert {
	t.Helper()
	var cs []Cert
	if err := json.Unmarshal(Run(t, bin, dataDir, "certs", "--json"), &cs); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		if len(c.Serial) != serial.Width || (c.Predecessor != "" && len(c.Predecessor) != serial.Width) {
			t.Errorf("irpkid certs --json: serial %q, predecessor %q: not %d digits", c.Serial, c.Predecessor, serial.Width)
		}
		cs[i].Serial = serial.Key(c.Serial)
		if c.Predecessor != "" {
			cs[i].Predecessor = serial.Key(c.Predecessor)
		}
	}
	return cs
}

// CleanEnv is the environment without IRPKI_ variables, so that the
// caller's settings do not leak into the commands.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IRPKI_") {
			env = append(env, kv)
		}
	}
	return env
}
