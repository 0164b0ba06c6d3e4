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

	"github.com/irpki/irpki/internal/pgtest"
	"github.com/irpki/irpki/internal/server/irpkidproc"
)

// TestLadderFigures measures, with IRPKI_BENCH=1, the ladder figures of
// docs/benchmark.md in one sitting and prints their tables: irpkiload
// --start --ladder 1,4,16,64,128 in renew mode and in enrol mode
// (SignNewCertificate and GetCertificate), on SQLite and on PostgreSQL (a throwaway server
// on this machine, whose CPU is added to irpkid's with --database-pid).
// Each ladder starts its own irpkid serve on a new data directory. It
// asserts nothing about speed and is no CI test; without IRPKI_BENCH it
// does not run.
//
//	IRPKI_BENCH=1 go test ./cmd/irpkiload -run TestLadderFigures -v -timeout 60m
//
// IRPKI_BENCH_SECONDS sets each step's duration (default 10),
// IRPKI_BENCH_LADDER the client counts (default 1,4,16,64,128),
// IRPKI_BENCH_ROUNDS how many times each ladder runs (default 1; more
// adds each step's medians, see --rounds),
// IRPKI_BENCH_MODES the modes (default "renew enrol") and
// IRPKI_BENCH_BACKENDS the backends (default "sqlite postgres").
func TestLadderFigures(t *testing.T) {
	if os.Getenv("IRPKI_BENCH") != "1" {
		t.Skip("a measurement, not a test: IRPKI_BENCH=1 runs it")
	}
	env := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	secs, err := strconv.Atoi(env("IRPKI_BENCH_SECONDS", "10"))
	if err != nil || secs < 1 {
		t.Fatalf("IRPKI_BENCH_SECONDS=%q", os.Getenv("IRPKI_BENCH_SECONDS"))
	}
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	var pg *pgtest.Server
	for _, backend := range splitFields(env("IRPKI_BENCH_BACKENDS", "sqlite postgres")) {
		for _, mode := range splitFields(env("IRPKI_BENCH_MODES", "renew enrol")) {
			args := []string{"--start", "--irpkid", bin, "--data-dir", filepath.Join(t.TempDir(), "data"), "--mode", mode,
				"--ladder", env("IRPKI_BENCH_LADDER", "1,4,16,64,128"), "--duration", strconv.Itoa(secs) + "s",
				"--rounds", env("IRPKI_BENCH_ROUNDS", "1"), "--json"}
			if backend == "postgres" {
				if pg == nil {
					pg = pgtest.Start(t)
				}
				args = append(args, "--database", pg.NewDatabase(t), "--database-pid", strconv.Itoa(pg.PID()))
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr)
			var rep LadderReport
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || code != 0 {
				t.Fatalf("%s, %s: exit %d, %v\n%s\n%s", backend, mode, code, err, stdout.String(), stderr.String())
			}
			var text bytes.Buffer
			rep.write(&text)
			t.Logf("%s, %s, %d s per step, load average %s\n%s", backend, mode, secs, loadAvgLine(), text.String())
		}
	}
}

func splitFields(s string) []string { return strings.Fields(s) }

func loadAvgLine() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return string(bytes.TrimSpace(b))
}
