package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/irpki/irpki/internal/server/irpkidproc"
)

// TestLadderStartsItsServer: irpkiload --start --ladder starts irpkid
// serve (HTTPS on loopback) and runs one step per client count, each with
// cycles, the server's CPU from /proc, a signature cost sampled in the
// run, the server's memory, the load generator's own CPU and the admitted
// requests' latency; no errors. Figures are not asserted: they
// are the machine's (docs/benchmark.md).
func TestLadderStartsItsServer(t *testing.T) {
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--start", "--irpkid", bin, "--data-dir", t.TempDir() + "/data",
		"--ladder", "1,2", "--duration", "2s", "--mode", "renew", "--json"}, &stdout, &stderr)
	var rep LadderReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || code != 0 {
		t.Fatalf("exit %d, %v\n%s\n%s", code, err, stdout.String(), stderr.String())
	}
	if len(rep.Steps) != 2 || rep.SigsPerCycle != 3 || rep.Database != "SQLite" {
		t.Fatalf("report %+v", rep)
	}
	for _, s := range rep.Steps {
		if s.Cycles == 0 || s.CPUmsPerCycle <= 0 || s.SigMs <= 0 || s.SigShare <= 0 || s.RSSMiB <= 0 || s.CycleP99 < s.CycleP50 ||
			s.ClientCPUmsPerCycle <= 0 || s.AdmittedP50 <= 0 || s.AdmittedP99 < s.AdmittedP50 {
			t.Errorf("step %+v: a figure is missing", s)
		}
	}
	var text bytes.Buffer
	rep.write(&text)
	t.Logf("\n%s", text.String())
}
