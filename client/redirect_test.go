package client_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// TestRedirectNotFollowed: a 307 or 308 from the endpoint must not make the
// client resend the request (it carries the TransferPassword) to the
// Location, with the default HTTP client or one the caller supplies (even
// one whose CheckRedirect would follow); the error names the Location.
func TestRedirectNotFollowed(t *testing.T) {
	var leaked atomic.Int32
	var leakedBody atomic.Value
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		leaked.Add(1)
		leakedBody.Store(string(b))
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer elsewhere.Close()
	s := irpkidtest.Start(t, irpkidtest.Config{})
	follow := func(*http.Request, []*http.Request) error { return nil }
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL+"/steal", status)
		}))
		defer redir.Close()
		callers := map[string]*http.Client{
			"default":           nil,
			"supplied":          {},
			"supplied, follows": {CheckRedirect: follow},
		}
		for name, hc := range callers {
			c, err := client.New(redir.URL, client.Options{Environment: client.EnvTest, Trust: s.Trust(), HTTPClient: hc})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.SignNewCertificate(context.Background(), "1234567-8", "T1", "secret-password", []byte{1, 2, 3})
			if err == nil {
				t.Fatalf("HTTP %d, %s client: no error", status, name)
			}
			if !strings.Contains(err.Error(), "redirect") || !strings.Contains(err.Error(), elsewhere.URL+"/steal") {
				t.Errorf("HTTP %d, %s client: error does not name the redirect's Location: %v", status, name, err)
			}
			if name == "supplied" && hc.CheckRedirect != nil {
				t.Errorf("the caller's http.Client was modified")
			}
		}
	}
	if n := leaked.Load(); n != 0 {
		t.Fatalf("the request was resent to the redirect's Location %d times; body: %v", n, leakedBody.Load())
	}
}
