package main

import (
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/irpki/irpki/internal/membudget"
	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// TestServeMemoryBudget starts irpkid serve with each way of setting its
// garbage collector and reads back, from the Go collector's metrics, the
// GOGC and memory limit the process runs with, and what it logged.
func TestServeMemoryBudget(t *testing.T) {
	const gogcOff = math.MaxUint64 // how the runtime reports GOGC=off
	dataDir := filepath.Join(t.TempDir(), "data")
	two := []string{"--max-inflight-requests", "8", "--max-queued-requests", "128"} // two CPUs' defaults, on any machine
	for _, tc := range []struct {
		name      string
		args, env []string
		gogc      float64
		limit     float64 // go_gc_gomemlimit_bytes
		budget    float64 // irpkid_memory_budget_bytes
		log       string
	}{
		{"default: auto, two CPUs' admission bounds", two, nil, gogcOff, 48 << 20, 48 << 20,
			`"memory_budget":"48MiB (auto: 136 SOAP requests admitted at once)","GOGC":"off","GOMEMLIMIT":"48MiB and the reservations of password checks"`},
		{"auto follows the admission bounds", []string{"--max-queued-requests", "1000", "--max-inflight-requests", "8"}, nil, gogcOff, 202 << 20, 202 << 20,
			`"memory_budget":"202MiB (auto: 1008 SOAP requests admitted at once)"`},
		{"flag", []string{"--memory-budget", "96MiB"}, nil, gogcOff, 96 << 20, 96 << 20, `"memory_budget":"96MiB"`},
		{"zero: Go's defaults", []string{"--memory-budget", "0"}, nil, 100, math.MaxInt64, 0,
			`"memory_budget":"none (--memory-budget 0)","GOGC":"100 (Go's default)","GOMEMLIMIT":"none (Go's default)"`},
		{"GOGC in the environment", two, []string{"GOGC=150"}, 150, 48 << 20, 48 << 20,
			`"memory_budget":"48MiB (auto: 136 SOAP requests admitted at once)","GOGC":"150 (from the environment)"`},
		{"GOMEMLIMIT in the environment", nil, []string{"GOMEMLIMIT=200MiB"}, gogcOff, 200 << 20, 0,
			`"memory_budget":"none (GOMEMLIMIT is set)","GOGC":"off","GOMEMLIMIT":"200MiB (from the environment)"`},
		{"GOMEMLIMIT=off keeps Go's GOGC: nothing would be collected with neither", two, []string{"GOMEMLIMIT=off"}, 100, math.MaxInt64, 0,
			`"memory_budget":"none (GOMEMLIMIT is set)","GOGC":"100 (Go's default)","GOMEMLIMIT":"off (from the environment)"`},
		{"empty variables are unset, as Go reads them", two, []string{"GOGC=", "GOMEMLIMIT="}, gogcOff, 48 << 20, 48 << 20,
			`"memory_budget":"48MiB (auto: 136 SOAP requests admitted at once)","GOGC":"off","GOMEMLIMIT":"48MiB and the reservations of password checks"`},
		{"both in the environment", []string{"--memory-budget", "80MiB"}, []string{"GOGC=50", "GOMEMLIMIT=1GiB"}, 50, 1 << 30, 0,
			`"GOGC":"50 (from the environment)","GOMEMLIMIT":"1GiB (from the environment)"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs irpkidtest.SyncBuffer
			args := append([]string{"serve", "--data-dir", dataDir, "--listen", anyPort, "--metrics-listen", anyPort, "--log-format", "json", "--no-eservice"}, tc.args...)
			cmd := exec.Command(binPath, args...)
			cmd.Env = append(withoutGCEnv(os.Environ()), tc.env...)
			cmd.Stderr, cmd.Stdout = &logs, io.Discard
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cmd.Process.Kill(); cmd.Wait() }()
			_, maddr, _ := listenAddrs(t, &logs)
			if maddr == "" {
				t.Fatalf("serve did not log its metrics listener: %s", logs.String())
			}
			mf := scrapeWhenUp(t, "http://"+maddr+"/metrics", &logs)
			if got := value(mf, "go_gc_gogc_percent"); got != tc.gogc {
				t.Errorf("GOGC %v, want %v", got, tc.gogc)
			}
			if got := value(mf, "go_gc_gomemlimit_bytes"); got != tc.limit {
				t.Errorf("memory limit %v, want %v", got, tc.limit)
			}
			if got := value(mf, "irpkid_memory_budget_bytes"); got != tc.budget {
				t.Errorf("irpkid_memory_budget_bytes %v, want %v", got, tc.budget)
			}
			// What an operator sizing the budget reads (docs/operations.md).
			for _, name := range []string{"irpkid_memory_reserved_bytes", "go_gc_heap_live_bytes", "go_memstats_stack_inuse_bytes",
				"go_cpu_classes_gc_total_cpu_seconds_total", "go_cpu_classes_gc_mark_idle_cpu_seconds_total", "go_cpu_classes_total_cpu_seconds_total"} {
				if mf[name] == nil {
					t.Errorf("no %s in the metrics", name)
				}
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Errorf("the log does not say %s:\n%s", tc.log, logs.String())
			}
		})
	}
}

// withoutGCEnv is env without GOGC and GOMEMLIMIT, which would change what
// the test's servers choose.
func withoutGCEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			out = append(out, kv)
		}
	}
	return out
}

// scrapeWhenUp scrapes url once it answers.
func scrapeWhenUp(t *testing.T, url string, logs *irpkidtest.SyncBuffer) map[string]*dto.MetricFamily {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return scrape(t, url)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no metrics: %s", logs.String())
		}
	}
}

func TestAutoMemoryBudget(t *testing.T) {
	for _, c := range []struct {
		inFlight, queued int
		want             int64
	}{
		{8, 128, 48 << 20},    // two CPUs' defaults: 24 MiB + 136 × 180 KiB, rounded up
		{64, 1024, 216 << 20}, // sixteen CPUs'
		{8, 1000, 202 << 20},
		{1, 0, 32 << 20}, // the floor
	} {
		if got := autoMemoryBudget(c.inFlight, c.queued); got != c.want {
			t.Errorf("autoMemoryBudget(%d, %d) = %s, want %s", c.inFlight, c.queued, membudget.FormatSize(got), membudget.FormatSize(c.want))
		}
	}
	if got := autoMemoryBudget(math.MaxInt, math.MaxInt); got <= 0 || got%(1<<20) != 0 {
		t.Errorf("autoMemoryBudget of the largest bounds = %d, want a large whole number of MiB", got)
	}
	for _, v := range []string{"auto", "0", "32MiB", "1GiB"} {
		if _, _, err := parseMemoryBudget(v, 8, 128); err != nil {
			t.Errorf("--memory-budget %s: %v", v, err)
		}
	}
}
