package certapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/certapi"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// TestSaturatedServiceAnswersBusy: with one request served at once and one
// waiting, a third is answered at once with HTTP 503, Retry-After and the
// SOAP fault SERVICE_BUSY, while the waiting one is served as soon as the
// place frees.
func TestSaturatedServiceAnswersBusy(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{API: func(c *certapi.Config) { c.MaxInFlight, c.MaxQueued = 1, 1 }})
	s.AddOrg(t, customer, "Acme Oy")
	q := s.API.Admission()
	release, err := q.Enter(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	get := getBody(t, customer, "abc")
	waited := make(chan httpResult, 1)
	go func() { waited <- post(t, s.URL, "getCertificate", textXML, get) }()
	deadline := time.Now().Add(30 * time.Second)
	for all, _ := q.Queued(""); all != 2; all, _ = q.Queued("") {
		if time.Now().After(deadline) {
			t.Fatalf("the second request never queued (%d in the queue)", all)
		}
		time.Sleep(time.Millisecond) // another goroutine's HTTP request; nothing to inject
	}
	r := post(t, s.URL, "getCertificate", textXML, get)
	if r.status != http.StatusServiceUnavailable || r.retryAfter != "1" || faultCode(t, r) != wire.CodeBusy {
		t.Fatalf("a request beyond the queue: HTTP %d, Retry-After %q, %s; want 503, 1, SERVICE_BUSY", r.status, r.retryAfter, r.body)
	}
	release()
	if w := <-waited; w.status != http.StatusOK {
		t.Fatalf("the waiting request: HTTP %d %s", w.status, w.body)
	}
	if all, _ := q.Queued(""); all != 0 {
		t.Errorf("%d requests still counted after all were answered", all)
	}
}
