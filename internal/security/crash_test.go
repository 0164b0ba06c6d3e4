package security_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/server/irpkidproc"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
)

// crashLedger is what the clients were told, to compare with what the
// service holds after the crashes.
type crashLedger struct {
	mu       sync.Mutex
	answered map[string]string // RetrievalId → customer, for every id a client received
	received map[string]string // RetrievalId → serial of the certificate a client received
	serials  map[string]bool   // serials clients received
	cycles   int
	retries  int
	secrets  []string // transfer passwords handed to clients
}

func (l *crashLedger) answer(customer, rid string) {
	l.mu.Lock()
	l.answered[rid] = customer
	l.mu.Unlock()
}

func (l *crashLedger) got(rid string, c *x509.Certificate) {
	l.mu.Lock()
	l.received[rid] = service.SerialHex(c)
	l.serials[service.SerialHex(c)] = true
	l.mu.Unlock()
}

// retryUntilAnswered repeats f until the service answers: transport errors
// (the server is being killed or restarted) are retried, a definite answer
// (success, FAIL or fault) is returned. Waiting between tries is real time:
// the server is another process.
func retryUntilAnswered[T any](ctx context.Context, l *crashLedger, f func() (T, error)) (T, error) {
	for i := 0; ; i++ {
		v, err := f()
		var se *client.ServiceError
		var fe *client.FaultError
		if err == nil || errors.As(err, &se) || errors.As(err, &fe) || ctx.Err() != nil || i > 3000 {
			return v, err
		}
		l.mu.Lock()
		l.retries++
		l.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCrashServerUnderLoad runs irpkid serve as a process, drives it with
// concurrent clients doing enrol + get + renew + get cycles, SIGKILLs it at
// random moments and restarts it on the same data directory and port. The
// clients retry exactly what they were doing. Afterwards: every RetrievalId
// a client was answered still returns its certificate (the same one); the
// certificates in the store are exactly those the clients received (none
// without its record, none issued twice); and every consumed order has its
// certificate. IRPKI_LONG=1 (or -long) kills 40 times instead of 4.
func TestCrashServerUnderLoad(t *testing.T) {
	kills, clients := 4, 3
	if isLong() {
		kills, clients = 40, 4
	}
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	dir := filepath.Join(t.TempDir(), "data")
	p := irpkidproc.Start(t, bin, dir, "")
	procs := []*irpkidproc.Proc{p}
	addr := p.Addr()
	endpoint := p.Endpoint
	trust, err := client.ParseTrustBundle(irpkidproc.Run(t, bin, dir, "trust"))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(endpoint, client.Options{Environment: client.EnvTest, Trust: trust,
		HTTPClient: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}})
	if err != nil {
		t.Fatal(err)
	}
	var customers []string
	for n := 2000000; len(customers) < clients; n++ {
		if id, err := businessid.Complete(fmt.Sprint(n)); err == nil {
			irpkidproc.Run(t, bin, dir, "org", "add", "--customer-id", id, "--name", "Crash "+id, "--contact-email", "c@example.fi")
			customers = append(customers, id)
		}
	}

	l := &crashLedger{answered: map[string]string{}, received: map[string]string{}, serials: map[string]bool{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	errc := make(chan error, clients)
	var wg sync.WaitGroup
	for _, id := range customers {
		wg.Add(1)
		go func(customer string) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					errc <- nil
					return
				default:
				}
				if err := crashCycle(ctx, t, l, cl, bin, dir, customer); err != nil {
					errc <- fmt.Errorf("%s: %w", customer, err)
					return
				}
			}
		}(id)
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(20+rng.IntN(300)) * time.Millisecond) // a random moment of the load
		p.Kill()
		p = irpkidproc.Start(t, bin, dir, addr)
		procs = append(procs, p)
	}
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d kills, %d cycles, %d RetrievalIds answered, %d certificates received, %d retries", kills, l.cycles, len(l.answered), len(l.serials), l.retries)
	if l.cycles < clients {
		t.Fatalf("only %d cycles completed", l.cycles)
	}

	// Every answered RetrievalId still returns its certificate.
	for rid, customer := range l.answered {
		c, err := cl.GetCertificate(ctx, customer, rid)
		if err != nil {
			t.Errorf("RetrievalId %s of %s: %v", rid, customer, err)
			continue
		}
		if want, ok := l.received[rid]; ok && want != service.SerialHex(c) {
			t.Errorf("RetrievalId %s now returns %s, earlier %s", rid, service.SerialHex(c), want)
		}
	}
	// The store holds exactly the certificates the clients received.
	stored := map[string]bool{}
	for _, c := range irpkidproc.Certs(t, bin, dir) {
		stored[c.Serial] = true
		if !l.serials[c.Serial] {
			t.Errorf("store has certificate %s (%s, %s) that no client received", c.Serial, c.CustomerID, c.Status)
		}
	}
	for s := range l.serials {
		if !stored[s] {
			t.Errorf("a client received certificate %s that the store does not have", s)
		}
	}
	p.Kill()
	checkOrders(t, filepath.Join(dir, "irpki.db"), customers)
	// The server's own logs, across all its lives, hold no password.
	for i, p := range procs {
		logs := p.Logs()
		for _, sec := range l.secrets {
			if strings.Contains(logs, sec) {
				t.Errorf("irpkid log (life %d) contains a TransferPassword", i)
			}
		}
	}
}

// crashCycle is one enrol + renew cycle with retries across crashes.
func crashCycle(ctx context.Context, t *testing.T, l *crashLedger, cl *client.Client, bin, dir, customer string) error {
	cred, err := retryUntilAnswered(ctx, l, func() (irpkidproc.Credentials, error) {
		return irpkidproc.Order(ctx, bin, dir, customer, "30d")
	})
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.secrets = append(l.secrets, cred.TransferPassword)
	l.mu.Unlock()
	k1 := irpkidtest.NewKey(t)
	csr1 := irpkidtest.CSR(t, k1, customer)
	rid, err := retryUntilAnswered(ctx, l, func() (string, error) {
		return cl.SignNewCertificate(ctx, customer, cred.TransferID, cred.TransferPassword, csr1)
	})
	if err != nil {
		return fmt.Errorf("SignNewCertificate: %w", err)
	}
	l.answer(customer, rid)
	c1, err := retryUntilAnswered(ctx, l, func() (*x509.Certificate, error) { return cl.GetCertificate(ctx, customer, rid) })
	if err != nil {
		return fmt.Errorf("GetCertificate: %w", err)
	}
	if err := cl.VerifyIssued(c1, &k1.PublicKey, customer); err != nil {
		return err
	}
	l.got(rid, c1)
	k2 := irpkidtest.NewKey(t)
	csr2 := irpkidtest.CSR(t, k2, customer)
	rid2, err := retryUntilAnswered(ctx, l, func() (string, error) { return cl.RenewCertificate(ctx, customer, csr2, k1, c1) })
	if err != nil {
		return fmt.Errorf("RenewCertificate: %w", err)
	}
	l.answer(customer, rid2)
	c2, err := retryUntilAnswered(ctx, l, func() (*x509.Certificate, error) { return cl.GetCertificate(ctx, customer, rid2) })
	if err != nil {
		return fmt.Errorf("GetCertificate of the successor: %w", err)
	}
	if err := cl.VerifyIssued(c2, &k2.PublicKey, customer); err != nil {
		return err
	}
	if !c2.PublicKey.(*rsa.PublicKey).Equal(&k2.PublicKey) {
		return errors.New("successor for another key")
	}
	l.got(rid2, c2)
	l.mu.Lock()
	l.cycles++
	l.mu.Unlock()
	return nil
}

// checkOrders opens the store of the stopped server and checks that every
// used order points at a stored certificate of its customer, and that no
// certificate has two live successors.
func checkOrders(t *testing.T, path string, customers []string) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	used := 0
	err = db.View(ctx, func(tx *store.Tx) error {
		for _, cust := range customers {
			orders, err := tx.Orders(ctx, cust)
			if err != nil {
				return err
			}
			for _, o := range orders {
				if o.Status != store.OrderUsed {
					continue
				}
				used++
				c, err := tx.Certificate(ctx, o.CertificateSerial)
				if err != nil {
					t.Errorf("order %.6s… is used but its certificate %q: %v", o.TransferID, o.CertificateSerial, err)
					continue
				}
				if c.CustomerID != cust || c.OrderID != o.TransferID {
					t.Errorf("order %.6s… points at certificate %s of %s / order %.6s…", o.TransferID, c.Serial, c.CustomerID, c.OrderID)
				}
			}
		}
		certs, err := tx.Certificates(ctx, store.CertFilter{})
		if err != nil {
			return err
		}
		succ := map[string][]string{}
		for _, c := range certs {
			if c.Predecessor != "" && c.Status != store.CertSuperseded {
				succ[c.Predecessor] = append(succ[c.Predecessor], c.Serial)
			}
		}
		var two []string
		for p, s := range succ {
			if len(s) > 1 {
				two = append(two, p)
			}
		}
		sort.Strings(two)
		for _, p := range two {
			t.Errorf("certificate %s has %d live successors: %v", p, len(succ[p]), succ[p])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if used == 0 {
		t.Fatal("no order was used: the check proves nothing")
	}
}
