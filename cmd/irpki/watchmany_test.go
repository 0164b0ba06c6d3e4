package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/renewal"
)

// TestWatchSeveralDirectories: one irpki watch over two state directories
// (two certificates of one organisation) renews each on its own. Both are
// due; A's service answers, B's is down: A is renewed and deployed while B
// fails and backs off, and the metrics tell them apart by their dir label.
// When B's service is back, watch --once over both renews B and leaves A
// (not due again) alone.
func TestWatchSeveralDirectories(t *testing.T) {
	h := newHarness(t)
	base := t.TempDir()
	dirA, dirB := filepath.Join(base, "a"), filepath.Join(base, "b")
	var down atomic.Bool
	proxyB := irpkidtest.Proxy(t, h.s.URL, func(w http.ResponseWriter, body []byte) bool {
		if down.Load() && bytes.Contains(body, []byte("RenewCertificateRequest")) {
			irpkidtest.Unavailable(w)
			return true
		}
		return false
	})
	for _, d := range []struct{ dir, endpoint string }{{dirA, h.s.URL}, {dirB, proxyB}} {
		h.dir = d.dir
		if r, _ := h.enrollThrough(t, d.endpoint, 30*24*time.Hour); r.code != exitOK {
			t.Fatalf("enroll %s: %s", d.dir, r.stderr)
		}
	}
	serial := func(dir string) string { h.dir = dir; return h.current(t).SerialText() }
	oldA, oldB := serial(dirA), serial(dirB)
	h.dir = dirA
	stA, _ := h.status(t)
	h.dir = dirB
	stB, _ := h.status(t)
	h.s.Clock.Set(maxTime(stA.RenewAt, stB.RenewAt)) // both due
	down.Store(true)

	hookLog := filepath.Join(t.TempDir(), "deployed")
	hook := `echo "$IRPKI_DIR $IRPKI_SERIAL" >> ` + hookLog
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errb syncBuffer
	var mu sync.Mutex
	var metricsBody string
	slept := 0
	sleep := func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		if slept++; slept == 2 { // both directories checked once
			m := regexp.MustCompile(`url=(http://\S+/metrics)`).FindStringSubmatch(errb.String())
			if m == nil {
				t.Error("no metrics address in the log")
			} else if resp, err := http.Get(m[1]); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				metricsBody = string(b)
			}
			cancel()
		}
		mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &errb,
		lookupEnv: func(string) (string, bool) { return "", false }, now: h.s.Clock.Now, sleep: sleep}
	code := a.run(ctx, []string{"watch", "--dir", dirA, "--dir", dirB, "--deploy-hook", hook, "--metrics", "127.0.0.1:0"})
	if code != exitOK {
		t.Fatalf("watch: exit %d\n%s", code, errb.String())
	}
	if serial(dirA) == oldA || serial(dirB) != oldB {
		t.Fatalf("after the first round A renewed %v (want true), B renewed %v (want false)\n%s", serial(dirA) != oldA, serial(dirB) != oldB, errb.String())
	}
	if b, _ := os.ReadFile(hookLog); string(b) != dirA+" "+serial(dirA)+"\n" {
		t.Errorf("hook runs %q, want one for A's new certificate", b)
	}
	for _, want := range []string{
		"irpki_renewal_last_result" + dirLabel(dirA) + " 1",
		"irpki_renewal_last_result" + dirLabel(dirB) + " 0",
		`irpki_renewal_attempts_total{dir="` + dirA + `",result="success"} 1`,
		`irpki_renewal_attempts_total{dir="` + dirB + `",result="failure"} 1`,
		"irpki_certificate_status" + dirLabel(dirA) + " 0",
		"irpki_certificate_status" + dirLabel(dirB) + " 1",
	} {
		if !strings.Contains(metricsBody, want) {
			t.Errorf("metrics lack %q:\n%s", want, metricsBody)
		}
	}
	if !strings.Contains(errb.String(), "dir="+dirB) || !strings.Contains(errb.String(), "renewal failed; will retry") {
		t.Errorf("the log does not name B's failure:\n%s", errb.String())
	}

	// B's service is back: one run over both renews B only.
	down.Store(false)
	r := h.run(t, "", "watch", "--once", "--dir", dirA+string(os.PathListSeparator)+dirB, "--deploy-hook", hook)
	if r.code != exitOK {
		t.Fatalf("watch --once: exit %d\n%s", r.code, r.stderr)
	}
	newA := serial(dirA)
	if serial(dirB) == oldB {
		t.Errorf("B not renewed once its service was back\n%s", r.stderr)
	}
	if b, _ := os.ReadFile(hookLog); string(b) != dirA+" "+newA+"\n"+dirB+" "+serial(dirB)+"\n" {
		t.Errorf("hook runs %q, want A's then B's", b)
	}
	h.dir = dirA
	if st, _ := h.status(t); st.State != renewal.StateValid || st.Serial != newA {
		t.Errorf("A after the second run: %+v", st)
	}
	// The same directory twice is a mistake in the flags.
	if r := h.run(t, "", "watch", "--once", "--dir", dirA, "--dir", dirA+"/"); r.code != exitUsage || !strings.Contains(r.stderr, "given twice") {
		t.Errorf("--dir twice: exit %d\n%s", r.code, r.stderr)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
