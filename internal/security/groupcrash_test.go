package security_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/server/irpkidproc"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
)

// TestCrashWithManyCommitsInFlight: the store commits write transactions
// in groups (one fsync for many). Many enrolments are sent at once, each
// followed by its GetCertificate (a write too), and irpkid is SIGKILLed
// as soon as a few have been answered, while the rest are in flight and
// their transactions sit in open groups; it is restarted on the same data
// directory and the clients retry what they were doing. Afterwards every
// RetrievalId any client was answered returns its certificate (the same
// one, for the key it was asked for), the store holds exactly the
// certificates clients received, and every used order has its
// certificate. IRPKI_LONG=1 (or -long) runs 6 rounds instead of 2.
func TestCrashWithManyCommitsInFlight(t *testing.T) {
	rounds, perRound := 2, 24
	if isLong() {
		rounds = 6
	}
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	dir := filepath.Join(t.TempDir(), "data")
	p := irpkidproc.Start(t, bin, dir, "")
	addr := p.Addr()
	trust, err := client.ParseTrustBundle(irpkidproc.Run(t, bin, dir, "trust"))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(p.Endpoint, client.Options{Environment: client.EnvTest, Trust: trust,
		HTTPClient: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}})
	if err != nil {
		t.Fatal(err)
	}
	var customers []string
	for n := 3000000; len(customers) < 4; n++ {
		if id, err := businessid.Complete(fmt.Sprint(n)); err == nil {
			irpkidproc.Run(t, bin, dir, "org", "add", "--customer-id", id, "--name", "Group "+id, "--contact-email", "g@example.fi")
			customers = append(customers, id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l := &crashLedger{answered: map[string]string{}, received: map[string]string{}, serials: map[string]bool{}}
	for round := range rounds {
		// The orders and keys of the round, made before it starts.
		type job struct {
			customer string
			cred     irpkidproc.Credentials
			key      *rsa.PrivateKey
		}
		jobs := make([]job, perRound)
		var wg sync.WaitGroup
		for i := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := customers[i%len(customers)]
				cred, err := irpkidproc.Order(ctx, bin, dir, c, "30d")
				if err != nil {
					t.Error(err)
				}
				jobs[i] = job{customer: c, cred: cred, key: irpkidtest.NewKey(t)}
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		var answers atomic.Int32
		enough := make(chan struct{})
		var once sync.Once
		errc := make(chan error, perRound)
		for _, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				csr := irpkidtest.CSR(t, j.key, j.customer)
				rid, err := retryUntilAnswered(ctx, l, func() (string, error) {
					return cl.SignNewCertificate(ctx, j.customer, j.cred.TransferID, j.cred.TransferPassword, csr)
				})
				if err != nil {
					errc <- fmt.Errorf("SignNewCertificate: %w", err)
					return
				}
				l.answer(j.customer, rid)
				if answers.Add(1) == 4 {
					once.Do(func() { close(enough) })
				}
				c, err := retryUntilAnswered(ctx, l, func() (*x509.Certificate, error) { return cl.GetCertificate(ctx, j.customer, rid) })
				if err != nil {
					errc <- fmt.Errorf("GetCertificate: %w", err)
					return
				}
				if err := cl.VerifyIssued(c, &j.key.PublicKey, j.customer); err != nil {
					errc <- err
					return
				}
				l.got(rid, c)
			}()
		}
		select {
		case <-enough:
		case <-ctx.Done():
			t.Fatal("no answers")
		}
		p.Kill()
		t.Logf("round %d: killed with %d of %d enrolments answered", round, answers.Load(), perRound)
		p = irpkidproc.Start(t, bin, dir, addr)
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
	}
	t.Logf("%d RetrievalIds answered, %d certificates received, %d retries", len(l.answered), len(l.serials), l.retries)
	for rid, customer := range l.answered {
		c, err := cl.GetCertificate(ctx, customer, rid)
		if err != nil {
			t.Errorf("RetrievalId %s of %s: %v", rid, customer, err)
			continue
		}
		if want := l.received[rid]; want != service.SerialHex(c) {
			t.Errorf("RetrievalId %s now returns %s, earlier %s", rid, service.SerialHex(c), want)
		}
	}
	stored := map[string]bool{}
	for _, c := range irpkidproc.Certs(t, bin, dir) {
		stored[c.Serial] = true
		if !l.serials[c.Serial] {
			t.Errorf("store has certificate %s (%s) that no client received", c.Serial, c.CustomerID)
		}
	}
	for s := range l.serials {
		if !stored[s] {
			t.Errorf("a client received certificate %s that the store does not have", s)
		}
	}
	if len(l.serials) != rounds*perRound {
		t.Errorf("%d certificates received, want %d", len(l.serials), rounds*perRound)
	}
	p.Kill()
	checkOrders(t, filepath.Join(dir, "irpki.db"), customers)
}
