package replicas_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/pgtest"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const customer = "1234567-1"

// replicas starts n services on one fresh PostgreSQL database, sharing a
// clock and the CA, as n irpkid serve processes behind a load balancer.
func replicas(t *testing.T, n int) []*irpkidtest.Server {
	t.Helper()
	url := pgtest.URL(t)
	clk := clock.NewFixed(irpkidtest.Epoch)
	var out []*irpkidtest.Server
	for i := 0; i < n; i++ {
		out = append(out, irpkidtest.Start(t, irpkidtest.Config{Database: url, Clock: clk}))
	}
	out[0].AddOrg(t, customer, "Acme Oy")
	return out
}

func code(err error) client.Code {
	var se *client.ServiceError
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

// TestTransferCredentialsOneWinnerAcrossReplicas: the same transfer
// credentials sent to two replicas at once with different keys give one
// certificate; the other request is refused as used.
func TestTransferCredentialsOneWinnerAcrossReplicas(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	for round := 0; round < 4; round++ {
		cred := rs[round%2].Order(t, customer, 0)
		var wg sync.WaitGroup
		rids := make([]string, 2)
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, r := range rs {
			c, csr := r.Client(t), irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				rids[i], errs[i] = c.SignNewCertificate(ctx, customer, cred.TransferID, cred.TransferPassword, csr)
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for i := range rs {
			switch {
			case errs[i] == nil && rids[i] != "":
				won++
			case code(errs[i]) != client.Code(wire.CodeTransferUsed):
				t.Errorf("round %d, replica %d: %v, want a certificate or %s", round, i, errs[i], wire.CodeTransferUsed)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d winners, want exactly one", round, won)
		}
	}
}

// TestFailureLockCountedAcrossReplicas: wrong passwords sent to the
// replicas in turn lock the order after MaxPasswordAttempts in all, not
// that many per replica.
func TestFailureLockCountedAcrossReplicas(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	cred := rs[0].Order(t, customer, 0)
	max := rs[0].Service.Config().MaxPasswordAttempts
	for i := 0; i < max; i++ {
		c := rs[i%2].Client(t)
		_, err := c.SignNewCertificate(ctx, customer, cred.TransferID, "wrong-passw0rd", irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
		want := wire.CodeTransferInvalid
		if i == max-1 {
			want = wire.CodeTransferLocked
		}
		if code(err) != client.Code(want) {
			t.Fatalf("wrong password %d on replica %d: %v, want %s", i+1, i%2, err, want)
		}
	}
	for i, r := range rs {
		_, err := r.Client(t).SignNewCertificate(ctx, customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
		if code(err) != client.Code(wire.CodeTransferLocked) {
			t.Errorf("right password on replica %d after %d failures spread over both: %v, want %s", i, max, err, wire.CodeTransferLocked)
		}
	}
}

var ridRE = regexp.MustCompile(`<(?:\w+:)?RetrievalId>([^<]+)<`)

// fanOut is a proxy that sends each request to every replica at once and
// hands the first replica's answer back; answers collects the bodies.
func fanOut(t *testing.T, rs []*irpkidtest.Server, answers chan<- [][]byte) string {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got := make([]irpkidtest.Answer, len(rs))
		errs := make([]error, len(rs))
		var wg sync.WaitGroup
		for i, rep := range rs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = irpkidtest.Forward(r.Context(), r, rep.URL, body)
			}()
		}
		wg.Wait()
		bodies := make([][]byte, len(rs))
		for i := range rs {
			if errs[i] != nil {
				http.Error(w, errs[i].Error(), http.StatusBadGateway)
				return
			}
			bodies[i] = got[i].Body
		}
		if bytes.Contains(body, []byte("RenewCertificateRequest")) {
			answers <- bodies
		}
		got[0].Send(w)
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}

// TestRenewalReplayAnsweredIdenticallyAcrossReplicas: one renewal request
// reaching two replicas at once (a load balancer's retry) is one renewal:
// both answer the same RetrievalId. A different request for the same
// certificate then replaces it on either replica, never adding a second
// live successor.
func TestRenewalReplayAnsweredIdenticallyAcrossReplicas(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	e := rs[0].Enroll(t, customer, 30*24*time.Hour)
	answers := make(chan [][]byte, 4)
	url := fanOut(t, rs, answers)
	c, err := client.New(url, client.Options{Environment: "TEST", Trust: rs[0].Trust(), Now: rs[0].Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	rid, err := c.RenewCertificate(ctx, customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), e.Key, e.Cert)
	if err != nil {
		t.Fatal(err)
	}
	bodies := <-answers
	for i, b := range bodies {
		m := ridRE.FindSubmatch(b)
		if m == nil || string(m[1]) != rid {
			t.Fatalf("replica %d answered %s, want RetrievalId %s", i, b, rid)
		}
	}
	// Renewals with new keys raced over both replicas leave one live
	// successor.
	var wg sync.WaitGroup
	for _, r := range rs {
		c := r.Client(t)
		csr := irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.RenewCertificate(ctx, customer, csr, e.Key, e.Cert)
		}()
	}
	wg.Wait()
	views, err := rs[1].Service.Certificates(ctx, customer)
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for _, v := range views {
		if v.Predecessor != "" && v.Status != "superseded" {
			live++
		}
	}
	if live != 1 {
		t.Fatalf("%d live successors of one certificate: %+v", live, views)
	}
}
