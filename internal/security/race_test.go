package security_test

import (
	"context"
	"sync"
	"testing"

	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// TestRacingRenewalsOneSuccessorLeaves: the holder of a certificate's key
// sends many different renewal requests at once and fetches every
// RetrievalId it is answered, also at once. A certificate has at most one
// successor that leaves the service: exactly one GetCertificate returns a
// certificate, the others are SUPERSEDED (or the later requests
// ALREADY_RENEWED), and the store holds exactly one live successor — the
// one that was fetched.
func TestRacingRenewalsOneSuccessorLeaves(t *testing.T) {
	f := newRenewFixture(t)
	s := f.s
	const n = 8
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = ser(t, signedRenew(t, wire.EnvTest, custA, irpkidtest.CSR(t, irpkidtest.NewKey(t), custA), f.a.Key, f.a.Cert))
	}
	var mu sync.Mutex
	var fetched []string // serials returned by GetCertificate
	codes := map[wire.Code]int{}
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			o, err := tryPost(s.URL, `"renewCertificate"`, "text/xml; charset=utf-8", wire.Envelope(bodies[i]))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			codes["renew:"+o.Code()]++
			mu.Unlock()
			if o.Code() != "OK" {
				return
			}
			get, err := tryPost(s.URL, `"getCertificate"`, "text/xml; charset=utf-8", wire.Envelope(ser(t, wire.EncodeGet(&wire.GetCertificateRequest{Environment: wire.EnvTest, CustomerID: custA, RetrievalID: o.Resp.RetrievalID}))))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			codes["get:"+get.Code()]++
			if get.Code() == "OK" {
				fetched = append(fetched, fmtSerialDER(t, get.Resp.Certificate))
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	t.Logf("answers: %v", codes)
	for c := range codes {
		switch c {
		case "renew:OK", "renew:" + wire.CodeAlreadyRenewed, "get:OK", "get:" + wire.CodeSuperseded:
		default:
			t.Errorf("unexpected answer %s", c)
		}
	}
	if len(fetched) != 1 {
		t.Fatalf("%d successors left the service: %v", len(fetched), fetched)
	}
	var live []string
	err := s.DB.View(context.Background(), func(tx *store.Tx) error {
		cs, err := tx.Certificates(context.Background(), store.CertFilter{CustomerID: custA})
		for _, c := range cs {
			if c.Predecessor == fmtSerial(f.a.Cert) && c.Status != store.CertSuperseded {
				live = append(live, c.Serial)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 || live[0] != fetched[0] {
		t.Fatalf("live successors %v, fetched %v", live, fetched)
	}
}
