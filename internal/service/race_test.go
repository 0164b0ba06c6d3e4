package service_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
)

const racer = "1234567-1"

// signingRace makes the first two certificates srv signs wait for each
// other after signing, so that both requests hold a signed certificate
// before either's write transaction: the race the re-check inside the
// transaction decides. It returns every serial signed.
func signingRace(t *testing.T, srv *irpkidtest.Server) func() []string {
	var mu sync.Mutex
	var serials []string
	both := make(chan struct{})
	service.OnSigned(srv.Service, func(serial string) {
		mu.Lock()
		serials = append(serials, serial)
		n := len(serials)
		if n == 2 {
			close(both)
		}
		mu.Unlock()
		if n > 2 {
			return // a request that started over after losing
		}
		select {
		case <-both:
		case <-time.After(30 * time.Second):
			t.Error("the other request never signed: the two were not in flight at once")
		}
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(serials)
	}
}

// race runs f(0) and f(1) at once and returns their RetrievalIds and errors.
func race(f func(i int) (string, error)) (rids [2]string, errs [2]error) {
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rids[i], errs[i] = f(i)
		}()
	}
	wg.Wait()
	return rids, errs
}

// checkLosers asserts that the store holds exactly want certificates of
// the racer, that every answered RetrievalId is one of them, and that
// every signed certificate not stored was answered to nobody.
func checkLosers(t *testing.T, srv *irpkidtest.Server, signed []string, rids []string, want int) {
	t.Helper()
	ctx := context.Background()
	stored := map[string]bool{}
	err := srv.DB.View(ctx, func(tx *store.Tx) error {
		cs, err := tx.Certificates(ctx, store.CertFilter{CustomerID: racer})
		for _, c := range cs {
			stored[c.Serial] = true
		}
		if err != nil {
			return err
		}
		for _, rid := range rids {
			if rid == "" {
				continue
			}
			c, err := tx.CertificateByRetrievalID(ctx, rid)
			if err != nil {
				t.Errorf("answered RetrievalId %s is not in the store: %v", rid, err)
				continue
			}
			if !slices.Contains(signed, c.Serial) {
				t.Errorf("answered RetrievalId %s is certificate %s, not one signed in the race", rid, c.Serial)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var discarded int
	for _, s := range signed {
		if !stored[s] {
			discarded++
		}
	}
	// The racer's first certificate (from the fixture) is stored too.
	if got := len(stored); got != want {
		t.Errorf("store holds %d certificates of the racer, want %d (signed in the race: %v)", got, want, signed)
	}
	if discarded == 0 {
		t.Errorf("no signed certificate was discarded (%v): the race did not happen", signed)
	}
}

// TestRacingEnrolmentsForOneOrder: two SignNewCertificate requests with the
// same transfer credentials and different keys, both signed outside the
// write lock: one is answered, the other TRANSFER_USED, and the loser's
// certificate is neither stored nor answered.
func TestRacingEnrolmentsForOneOrder(t *testing.T) {
	srv := irpkidtest.Start(t, irpkidtest.Config{})
	srv.AddOrg(t, racer, "Race Oy")
	cred := srv.Order(t, racer, 30*24*time.Hour)
	signed := signingRace(t, srv)
	cl := srv.Client(t)
	csrs := [2][]byte{irpkidtest.CSR(t, irpkidtest.NewKey(t), racer), irpkidtest.CSR(t, irpkidtest.NewKey(t), racer)}
	rids, errs := race(func(i int) (string, error) {
		return cl.SignNewCertificate(context.Background(), racer, cred.TransferID, cred.TransferPassword, csrs[i])
	})
	won := 0
	for i, err := range errs {
		var se *client.ServiceError
		switch {
		case err == nil:
			won++
		case errors.As(err, &se) && string(se.Code) == "TRANSFER_USED":
		default:
			t.Errorf("request %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d winners (%v)", won, errs)
	}
	checkLosers(t, srv, signed(), rids[:], 1)
}

// TestRacingRetriesOfOneEnrolment: the same client sends the same
// credentials and key twice at once (a retry after a lost answer): both
// are answered the same RetrievalId, and only one certificate exists.
func TestRacingRetriesOfOneEnrolment(t *testing.T) {
	srv := irpkidtest.Start(t, irpkidtest.Config{})
	srv.AddOrg(t, racer, "Race Oy")
	cred := srv.Order(t, racer, 30*24*time.Hour)
	signed := signingRace(t, srv)
	cl := srv.Client(t)
	csr := irpkidtest.CSR(t, irpkidtest.NewKey(t), racer)
	rids, errs := race(func(int) (string, error) {
		return cl.SignNewCertificate(context.Background(), racer, cred.TransferID, cred.TransferPassword, csr)
	})
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if rids[0] != rids[1] {
		t.Errorf("the two tries were answered %s and %s", rids[0], rids[1])
	}
	checkLosers(t, srv, signed(), rids[:], 1)
}

// TestRacingRenewalReplays: the same signed renewal request twice at once,
// each signed outside the write lock: both are answered the winner's
// RetrievalId, the predecessor has one successor, and the loser's
// certificate is neither stored nor answered.
func TestRacingRenewalReplays(t *testing.T) {
	srv := irpkidtest.Start(t, irpkidtest.Config{})
	srv.AddOrg(t, racer, "Race Oy")
	e := srv.Enroll(t, racer, 30*24*time.Hour)
	signed := signingRace(t, srv)
	cl := srv.Client(t)
	csr := irpkidtest.CSR(t, irpkidtest.NewKey(t), racer)
	rids, errs := race(func(int) (string, error) {
		return cl.RenewCertificate(context.Background(), racer, csr, e.Key, e.Cert)
	})
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if rids[0] != rids[1] {
		t.Errorf("the replays were answered %s and %s", rids[0], rids[1])
	}
	checkLosers(t, srv, signed(), rids[:], 2)
}

// TestRacingRenewalsOfOnePredecessor: two different renewal requests for
// the same predecessor, both signed outside the write lock against a
// predecessor without successor. The first commits and its successor is
// retrieved before the second's write transaction, which finds the
// predecessor renewed: ALREADY_RENEWED, and its certificate is neither
// stored nor answered.
func TestRacingRenewalsOfOnePredecessor(t *testing.T) {
	srv := irpkidtest.Start(t, irpkidtest.Config{})
	srv.AddOrg(t, racer, "Race Oy")
	e := srv.Enroll(t, racer, 30*24*time.Hour)
	var mu sync.Mutex
	var signed []string
	bothSigned, fetched := make(chan struct{}), make(chan struct{})
	service.OnSigned(srv.Service, func(serial string) {
		mu.Lock()
		signed = append(signed, serial)
		n := len(signed)
		mu.Unlock()
		switch n {
		case 1: // the winner waits until the loser has signed too
			<-bothSigned
		case 2: // the loser waits until the winner's successor is retrieved
			close(bothSigned)
			<-fetched
		}
	})
	cl := srv.Client(t)
	keys := [2]*rsa.PrivateKey{irpkidtest.NewKey(t), irpkidtest.NewKey(t)}
	type answer struct {
		rid string
		err error
	}
	answers := make(chan answer, 2)
	for i := range 2 {
		go func() {
			rid, err := cl.RenewCertificate(context.Background(), racer, irpkidtest.CSR(t, keys[i], racer), e.Key, e.Cert)
			answers <- answer{rid, err}
		}()
	}
	won := <-answers
	if won.err != nil {
		t.Fatal(won.err)
	}
	if _, err := cl.GetCertificate(context.Background(), racer, won.rid); err != nil {
		t.Fatal(err)
	}
	close(fetched)
	lost := <-answers
	var se *client.ServiceError
	if !errors.As(lost.err, &se) || string(se.Code) != "ALREADY_RENEWED" {
		t.Fatalf("the loser got %q, %v; want ALREADY_RENEWED", lost.rid, lost.err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(signed) != 2 {
		t.Fatalf("%d certificates signed, want 2: %v", len(signed), signed)
	}
	// The fixture's certificate and the winner's successor.
	checkLosers(t, srv, signed, []string{won.rid}, 2)
}
