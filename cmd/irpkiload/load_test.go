package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/certapi"
	"github.com/irpki/irpki/internal/server/irpkidproc"
)

// TestLoadAgainstRealIrpkid starts irpkid serve as a process and runs the
// load generator against it at low concurrency for a bounded number of
// cycles: zero errors, every operation counted, and the store holds exactly
// the certificates the clients received (one first certificate and one
// successor per cycle). IRPKI_LONG=1 runs 4 clients × 50 cycles with
// pregenerated keys instead and logs the report (the figures of
// docs/security.md).
func TestLoadAgainstRealIrpkid(t *testing.T) {
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	dir := filepath.Join(t.TempDir(), "data")
	p := irpkidproc.Start(t, bin, dir, "")
	args := []string{"--endpoint", p.Endpoint, "--data-dir", dir, "--irpkid", bin, "--json"}
	clients, cycles := 2, 2
	long := os.Getenv("IRPKI_LONG") == "1"
	if long {
		// 200 cycles with their keys made beforehand: the figures are the
		// service's, not the load generator's RSA key generation.
		clients, cycles = 4, 50
		args = append(args, "--clients", strconv.Itoa(clients), "--cycles", strconv.Itoa(cycles), "--pregen-keys", strconv.Itoa(2*clients*cycles))
	} else {
		args = append(args, "--clients", strconv.Itoa(clients), "--cycles", strconv.Itoa(cycles))
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("exit %d, report %q: %v\n%s", code, stdout.String(), err, stderr.String())
	}
	if code != 0 || rep.Errors != 0 {
		t.Fatalf("exit %d, %d errors: %v\n%s", code, rep.Errors, rep.FirstErrors, stderr.String())
	}
	var text bytes.Buffer
	rep.write(&text)
	t.Logf("\n%s", text.String())
	if rep.Cycles != clients*cycles {
		t.Fatalf("%d cycles, want %d", rep.Cycles, clients*cycles)
	}
	count := map[string]int{}
	for _, o := range rep.Ops {
		count[o.Op] = o.Count
	}
	n := rep.Cycles
	if count[opSignNew] != n || count[opRenew] != n || count[opGet] != 2*n || rep.Requests != 4*n {
		t.Fatalf("operation counts %v, requests %d for %d cycles", count, rep.Requests, n)
	}
	certs := irpkidproc.Certs(t, bin, dir)
	succ := 0
	for _, c := range certs {
		if c.Predecessor != "" {
			succ++
		}
		if !c.Retrieved {
			t.Errorf("certificate %s was never retrieved", c.Serial)
		}
	}
	if len(certs) != 2*n || succ != n {
		t.Fatalf("store holds %d certificates, %d successors; want %d and %d", len(certs), succ, 2*n, n)
	}
}

func TestPercentile(t *testing.T) {
	lat := durations(1, 100)
	for _, c := range []struct{ p, want int }{{50, 50}, {90, 90}, {99, 99}, {100, 100}} {
		if got := pct(lat, c.p); int(got) != c.want {
			t.Errorf("p%d = %d, want %d", c.p, got, c.want)
		}
	}
	if got := pct(durations(7, 7), 50); got != 7 {
		t.Errorf("p50 of one = %d", got)
	}
}

func durations(from, to int) []time.Duration {
	var d []time.Duration
	for i := from; i <= to; i++ {
		d = append(d, time.Duration(i))
	}
	return d
}

// --help lists the flags in the double-dash style of irpkid and irpki, and
// missing flags get an error that names them, not the whole usage.
func TestHelpAndFlagErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	help := stderr.String()
	for _, want := range []string{"Usage: irpkiload (--endpoint URL[,URL…] --data-dir DIR | --start", "\n  --endpoint\n", "\n        several, comma-separated", "\n  --clients\n        concurrent clients (default 4)\n"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "\n  -endpoint") {
		t.Errorf("--help uses single dashes:\n%s", help)
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"--clients", "0"}, &stdout, &stderr); code != 2 ||
		stderr.String() != "irpkiload: --endpoint is required; --data-dir is required; --clients must be at least 1 (irpkiload --help lists the flags)\n" {
		t.Errorf("missing flags: exit %d, %q", code, stderr.String())
	}
}

// TestClientsDropIdleConnectionsBeforeTheServer: the clients' transport
// drops an idle connection before irpkid would close it, so that no
// request is sent on a connection the server is closing (a POST is not
// sent again by the transport: it would fail with EOF).
func TestClientsDropIdleConnectionsBeforeTheServer(t *testing.T) {
	tr := clientTransport(nil, 8)
	if tr.IdleConnTimeout <= 0 || tr.IdleConnTimeout >= certapi.IdleTimeout {
		t.Fatalf("the clients keep idle connections %s; irpkid closes them after %s", tr.IdleConnTimeout, certapi.IdleTimeout)
	}
	if tr.MaxIdleConnsPerHost != 8 {
		t.Errorf("idle connections per host %d, want 8", tr.MaxIdleConnsPerHost)
	}
}
