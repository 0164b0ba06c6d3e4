package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/server/irpkidproc"
)

// TestLadderStartsItsServer: irpkiload --start --ladder starts irpkid
// serve (HTTPS on loopback) and runs one step per client count, each with
// cycles, the server's CPU from /proc, a signature cost sampled in the
// run, the signatures' share read off the server's own CPU profile, the
// server's memory, the load generator's own CPU and the admitted
// requests' latency; no errors. With --rounds 2 it runs the ladder twice
// and adds each client count's medians. Figures are not asserted: they
// are the machine's (docs/benchmark.md).
func TestLadderStartsItsServer(t *testing.T) {
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--start", "--irpkid", bin, "--data-dir", t.TempDir() + "/data",
		"--ladder", "1,2", "--rounds", "2", "--duration", "1s", "--mode", "renew", "--json"}, &stdout, &stderr)
	var rep LadderReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || code != 0 {
		t.Fatalf("exit %d, %v\n%s\n%s", code, err, stdout.String(), stderr.String())
	}
	if len(rep.Steps) != 4 || rep.Rounds != 2 || len(rep.Medians) != 2 || rep.SigsPerCycle != 3 || rep.Database != "SQLite" {
		t.Fatalf("report %+v", rep)
	}
	for i, s := range rep.Steps {
		if want := []int{1, 2, 1, 2}[i]; s.Clients != want || s.Round != 1+i/2 {
			t.Errorf("step %d: %d clients in round %d, want %d in round %d", i, s.Clients, s.Round, want, 1+i/2)
		}
	}
	for _, s := range append(rep.Steps, rep.Medians...) {
		if s.Cycles == 0 || s.CPUmsPerCycle <= 0 || s.SigMs <= 0 || s.SigShare <= 0 || s.RSSMiB <= 0 || s.CycleP99 < s.CycleP50 ||
			s.ClientCPUmsPerCycle <= 0 || s.AdmittedP50 <= 0 || s.AdmittedP99 < s.AdmittedP50 || s.ProfileSigShare <= 0 || s.ProfileSigShare >= 1 {
			t.Errorf("step %+v: a figure is missing", s)
		}
	}
	var text bytes.Buffer
	rep.write(&text)
	t.Logf("\n%s", text.String())
}

// TestMedians: each column of a client count's steps is reduced to its
// median (the mean of the middle two of an even number), counts keep the order they
// were first met in, errors and 503s are summed; the profile's share is
// the median of the rounds that read it (round 3 of 4 clients did not).
func TestMedians(t *testing.T) {
	steps := []StepReport{
		{Clients: 4, Round: 1, CyclesPerS: 100, SigMs: 1.5, RSSMiB: 50, Errors: 1, Busy: 2, ProfileSigShare: 0.6},
		{Clients: 16, Round: 1, CyclesPerS: 200, SigMs: 1.2},
		{Clients: 4, Round: 2, CyclesPerS: 300, SigMs: 1.1, RSSMiB: 52, ProfileSigShare: 0.7},
		{Clients: 16, Round: 2, CyclesPerS: 150, SigMs: 1.4, Busy: 3},
		{Clients: 4, Round: 3, CyclesPerS: 200, SigMs: 1.3, RSSMiB: 70},
	}
	got := medians(steps)
	want := []StepReport{
		{Clients: 4, CyclesPerS: 200, SigMs: 1.3, RSSMiB: 52, Errors: 1, Busy: 2, ProfileSigShare: 0.65},
		{Clients: 16, CyclesPerS: 175, SigMs: 1.3, Busy: 3},
	}
	if len(got) != len(want) {
		t.Fatalf("medians %+v", got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Clients != w.Clients || g.CyclesPerS != w.CyclesPerS || math.Abs(g.SigMs-w.SigMs) > 1e-9 || g.RSSMiB != w.RSSMiB || g.Errors != w.Errors || g.Busy != w.Busy || g.Round != 0 ||
			math.Abs(g.ProfileSigShare-w.ProfileSigShare) > 1e-9 {
			t.Errorf("median %d: %+v, want %+v", i, g, w)
		}
	}
}

// TestRoundsNeedsALadder: --rounds is refused below 1 and without --ladder.
func TestRoundsNeedsALadder(t *testing.T) {
	for _, args := range [][]string{
		{"--start", "--ladder", "1", "--rounds", "0"},
		{"--start", "--clients", "1", "--rounds", "2"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--rounds") {
			t.Errorf("%q: exit %d\n%s", args, code, stderr.String())
		}
	}
}

// TestStartLeavesNoTemporaryFiles: with --start and no --data-dir,
// irpkiload's temporary data directory and the one holding the loopback
// TLS key are gone when it ends.
func TestStartLeavesNoTemporaryFiles(t *testing.T) {
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--start", "--irpkid", bin, "--clients", "1", "--cycles", "1", "--mode", "renew"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "removed when irpkiload ends") {
		t.Errorf("stderr does not say the data directory is temporary:\n%s", stderr.String())
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		if strings.HasPrefix(e.Name(), "irpkiload-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestStepMeasuresItsWindow: a step measures only its window, after the
// warm-up, not the seconds its clients spend backing off after 503s once
// the window has closed. The server admits one request at a time and
// queues one more, so that eight clients are turned away (503 with
// Retry-After) and back off for one second or more; before the window,
// the step took that back-off for the service's pace.
func TestStepMeasuresItsWindow(t *testing.T) {
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--start", "--irpkid", bin, "--data-dir", t.TempDir() + "/data",
		"--serve-flag=--max-inflight-requests=1", "--serve-flag=--max-queued-requests=1",
		"--ladder", "8", "--duration", "2s", "--warmup", "500ms", "--mode", "renew", "--json"}, &stdout, &stderr)
	var rep LadderReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || code != 0 {
		t.Fatalf("exit %d, %v\n%s\n%s", code, err, stdout.String(), stderr.String())
	}
	s := rep.Steps[0]
	if s.Busy == 0 || s.Errors != 0 || s.Cycles == 0 {
		t.Fatalf("step %+v: want 503s, no errors and cycles\n%s", s, stderr.String())
	}
	if s.Seconds < 2 || s.Seconds > 2.5 {
		t.Errorf("step measured %.2fs, want its 2s window", s.Seconds)
	}
	if got := float64(s.Cycles) / s.Seconds; math.Abs(got-s.CyclesPerS) > 1e-6 {
		t.Errorf("%.2f cycles/s from %d cycles in %.2fs, reported %.2f", got, s.Cycles, s.Seconds, s.CyclesPerS)
	}
	if !strings.Contains(stderr.String(), "warming up for 500ms, then measuring for 2s") {
		t.Errorf("stderr does not tell the warm-up:\n%s", stderr.String())
	}
}

// TestWarmupFlag: --warmup takes a duration, 0 or auto (a fifth of
// --duration, at most 2s), and only with --ladder.
func TestWarmupFlag(t *testing.T) {
	for _, tc := range []struct {
		duration, warmup time.Duration
		want             time.Duration
	}{{10 * time.Second, -1, 2 * time.Second}, {time.Second, -1, 200 * time.Millisecond}, {time.Minute, -1, 2 * time.Second}, {10 * time.Second, 0, 0}, {time.Second, 5 * time.Second, 5 * time.Second}} {
		if got := warmupFor(config{duration: tc.duration, warmup: tc.warmup}); got != tc.want {
			t.Errorf("warm-up for --duration %s --warmup %s: %s, want %s", tc.duration, tc.warmup, got, tc.want)
		}
	}
	for _, args := range [][]string{
		{"--start", "--ladder", "1", "--warmup", "-1s"},
		{"--start", "--ladder", "1", "--warmup", "soon"},
		{"--start", "--warmup", "1s"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--warmup") {
			t.Errorf("%v: exit %d, %q; want 2 and a word about --warmup", args, code, stderr.String())
		}
	}
}

// TestLadderWithAWrongServerPIDEnds: a --server-pid with no process behind
// it ends the ladder with an error once the first step's window would
// open. The clients, running against a healthy server, stop with it
// rather than run on, and the step returns on its own, before ctx's
// deadline.
func TestLadderWithAWrongServerPIDEnds(t *testing.T) {
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	dir := filepath.Join(t.TempDir(), "data")
	p := irpkidproc.Start(t, bin, dir, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	// Above the largest pid_max Linux allows (2^22).
	code := run(ctx, []string{"--endpoint", p.Endpoint, "--data-dir", dir, "--irpkid", bin, "--server-pid", "8388608",
		"--ladder", "1", "--duration", "1s", "--warmup", "0", "--mode", "renew"}, &stdout, &stderr)
	if ctx.Err() != nil {
		t.Fatalf("the step ran until ctx's deadline: exit %d\n%s", code, stderr.String())
	}
	if code != 1 || !strings.Contains(stderr.String(), "server CPU") {
		t.Errorf("exit %d, %q; want 1 and the server CPU's error", code, stderr.String())
	}
}

// TestServerPprofFlag: --server-pprof takes the profiler's base URL, only
// with --ladder, and with --start only beside a --serve-flag that gives
// the started server a --metrics-listen to profile.
func TestServerPprofFlag(t *testing.T) {
	for _, args := range [][]string{
		{"--server-pid", "1", "--endpoint", "http://127.0.0.1:1", "--data-dir", "d", "--server-pprof", "http://127.0.0.1:6060"},
		{"--server-pid", "1", "--endpoint", "http://127.0.0.1:1", "--data-dir", "d", "--ladder", "1", "--server-pprof", "127.0.0.1:6060"},
		{"--server-pid", "1", "--endpoint", "http://127.0.0.1:1", "--data-dir", "d", "--ladder", "1", "--server-pprof", "ftp://127.0.0.1:6060"},
		{"--start", "--ladder", "1", "--server-pprof", "http://127.0.0.1:6060"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--server-pprof") {
			t.Errorf("%v: exit %d, %q; want 2 and a word about --server-pprof", args, code, stderr.String())
		}
	}
}

// TestDurationFlag: a ladder's --duration, and a run's without --cycles,
// is positive: a window of none measures nothing.
func TestDurationFlag(t *testing.T) {
	for _, args := range [][]string{
		{"--start", "--ladder", "1", "--duration", "0s"},
		{"--start", "--ladder", "1", "--cycles", "3", "--duration", "-1s"},
		{"--start", "--duration", "0s"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--duration") {
			t.Errorf("%v: exit %d, %q; want 2 and a word about --duration", args, code, stderr.String())
		}
	}
}
