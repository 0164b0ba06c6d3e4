package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/pgtest"
	"github.com/irpki/irpki/internal/server/irpkidproc"
)

// TestBackendFigures measures, with IRPKI_BENCH=1, the figures of
// docs/benchmark.md's backend comparison in one sitting: irpkiload --mode
// renew at 16 clients against irpkid serve on SQLite, then on PostgreSQL
// (a throwaway server on this machine), alternating, with each run's
// RSA-2048 signature cost and the CPU the server side used (irpkid, and
// the PostgreSQL server's processes). It asserts nothing about speed and is
// no CI test; without IRPKI_BENCH it does not run.
//
//	IRPKI_BENCH=1 IRPKI_BENCH_SECONDS=30 go test ./cmd/irpkiload -run TestBackendFigures -v -timeout 30m
func TestBackendFigures(t *testing.T) {
	if os.Getenv("IRPKI_BENCH") != "1" {
		t.Skip("a measurement, not a test: IRPKI_BENCH=1 runs it")
	}
	secs := 30
	if s, err := strconv.Atoi(os.Getenv("IRPKI_BENCH_SECONDS")); err == nil && s > 0 {
		secs = s
	}
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	pg := pgtest.Start(t)
	for round := 0; round < 2; round++ {
		for _, backend := range []string{"sqlite", "postgres"} {
			dir := filepath.Join(t.TempDir(), "data")
			var extra []string
			if backend == "postgres" {
				url := pg.NewDatabase(t)
				extra = []string{"--database", url}
				t.Setenv("IRPKI_DATABASE", url)
			} else {
				t.Setenv("IRPKI_DATABASE", "")
			}
			p := irpkidproc.Start(t, bin, dir, "", extra...)
			cpu := func() time.Duration {
				d := procCPU(p.Pid())
				if backend == "postgres" {
					d += postgresCPU(pg.PID())
				}
				return d
			}
			c := config{endpoint: p.Endpoint, dataDir: dir, irpkid: bin, validity: "30d", mode: "renew", clients: 16,
				duration: time.Duration(secs) * time.Second, pregen: 16 + secs*30}
			before, irpkidBefore, wallStart := time.Duration(0), time.Duration(0), time.Time{}
			c.onStart = func() { before, irpkidBefore, wallStart = cpu(), procCPU(p.Pid()), time.Now() }
			rep, err := load(context.Background(), c, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			used, irpkidUsed := cpu()-before, procCPU(p.Pid())-irpkidBefore
			wall := time.Since(wallStart)
			var text strings.Builder
			rep.write(&text)
			t.Logf("round %d, %s: %.1f renew+get cycles/s; server CPU %.2f s in %.1f s (%.2f cores), %.2f ms per cycle (irpkid %.2f), %.1f cycles per CPU-second; RSA-2048 signature %.2f ms\n%s",
				round+1, backend, rep.CyclesPerS, used.Seconds(), wall.Seconds(), used.Seconds()/wall.Seconds(),
				float64(used.Microseconds())/1000/float64(rep.Cycles), float64(irpkidUsed.Microseconds())/1000/float64(rep.Cycles),
				float64(rep.Cycles)/used.Seconds(), rep.SignCPUms, text.String())
			p.Kill()
		}
	}
}
