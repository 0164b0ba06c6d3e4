package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/pgtest"
	"github.com/irpki/irpki/internal/server/irpkidproc"
	"github.com/irpki/irpki/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestThreeReplicasSurviveKillAndDatabaseRestart runs three irpkid serve
// replicas on one PostgreSQL under irpkiload spread over all three; mid-load
// it kills one replica (SIGKILL), restarts PostgreSQL itself in immediate
// mode (a crash, as far as the database can tell), and starts the killed
// replica again, as a supervisor would. Afterwards every RetrievalId that
// was answered returns its certificate, no certificate has two live
// successors, no transfer credentials gave two certificates, the replicas
// that were not killed served before and after each event, and every
// replica recovered by itself (none but the killed one was restarted).
func TestThreeReplicasSurviveKillAndDatabaseRestart(t *testing.T) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "r0"), filepath.Join(root, "r1"), filepath.Join(root, "r2")}
	reps := []*irpkidproc.Proc{irpkidproc.Start(t, bin, dirs[0], "", "--database", url)}
	// The first replica made the CA; the others get the same files.
	for _, d := range dirs[1:] {
		copyDir(t, filepath.Join(dirs[0], "ca"), filepath.Join(d, "ca"))
		reps = append(reps, irpkidproc.Start(t, bin, d, "", "--database", url))
	}
	t.Setenv("IRPKI_DATABASE", url) // for irpkiload's irpkid org add / order / trust
	var eps []string
	for _, p := range reps {
		eps = append(eps, p.Endpoint)
	}

	// The events follow the load's progress, not the clock: on a busy
	// machine a cycle may take seconds.
	var mu sync.Mutex
	last := map[int]time.Time{} // endpoint → its latest answer
	progress := func(ep int, after time.Time, what string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for {
			mu.Lock()
			at := last[ep]
			mu.Unlock()
			if at.After(after) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d answered nothing %s within 3 minutes", ep, what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		rep *Report
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		rep, err := load(ctx, config{endpoint: strings.Join(eps, ","), dataDir: dirs[0], irpkid: bin, validity: "30d", mode: "full",
			clients: 6, duration: time.Hour, onAnswer: func(a Answered) {
				mu.Lock()
				last[a.Endpoint] = a.At
				mu.Unlock()
			}}, io.Discard)
		done <- result{rep, err}
	}()
	for ep := range reps {
		progress(ep, start, "before the kill")
	}
	killedAt := time.Now()
	reps[1].Kill()
	for _, ep := range []int{0, 2} {
		progress(ep, killedAt, "after the kill")
	}
	restartedAt := time.Now()
	pg.Restart(t)
	for _, ep := range []int{0, 2} {
		progress(ep, restartedAt, "after PostgreSQL's restart")
	}
	backAt := time.Now()
	reps[1] = irpkidproc.Start(t, bin, dirs[1], reps[1].Addr(), "--database", url)
	progress(1, backAt, "after its restart")
	cancel()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	rep := res.rep
	var text strings.Builder
	rep.write(&text)
	t.Logf("load from %s: killed r1 at +%s, restarted PostgreSQL at +%s, r1 back at +%s\n%s",
		start.Format("15:04:05"), killedAt.Sub(start).Round(time.Second), restartedAt.Sub(start).Round(time.Second), backAt.Sub(start).Round(time.Second), text.String())
	ctx = context.Background()

	// Every answered RetrievalId returns its certificate, from any replica.
	trust, err := client.ParseTrustBundle(irpkidproc.Run(t, bin, dirs[0], "trust"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.answered) == 0 {
		t.Fatal("no RetrievalId was answered")
	}
	for i, a := range rep.answered {
		c, err := client.New(eps[i%3], client.Options{Environment: client.EnvTest, Trust: trust})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetCertificate(ctx, a.Customer, a.RetrievalID); err != nil {
			t.Errorf("answered RetrievalId %s of %s: %v", a.RetrievalID, a.Customer, err)
		}
	}

	// The store: one live successor per certificate, one certificate per
	// order.
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var certs []store.Certificate
	if err := db.View(ctx, func(tx *store.Tx) (err error) { certs, err = tx.Certificates(ctx, store.CertFilter{}); return err }); err != nil {
		t.Fatal(err)
	}
	succ, perOrder := map[string]int{}, map[string]int{}
	for _, c := range certs {
		if c.Predecessor != "" && c.Status != store.CertSuperseded {
			if succ[c.Predecessor]++; succ[c.Predecessor] > 1 {
				t.Errorf("certificate %s has two live successors", c.Predecessor)
			}
		}
		if c.OrderID != "" && c.Predecessor == "" { // a successor carries its first certificate's order
			if perOrder[c.OrderID]++; perOrder[c.OrderID] > 1 {
				t.Errorf("an order's transfer credentials gave two certificates (the second %s)", c.Serial)
			}
		}
	}

	// The replicas not killed served before the kill, between the kill
	// and the database's restart, and after it, without a restart (the
	// progress checks above); the killed one after its return. All are
	// healthy at the end.
	for i, p := range reps {
		resp, err := http.Get(p.Base + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("replica %d health at the end: %v %v\n%s", i, resp, err, p.Logs())
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}
