package client_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// TestOtherClientsRequests sends irpkid requests written the way other
// public clients write them (templates in testdata): a soapenv/ser prefix
// pair, pretty-printed, base64 CSR broken into lines with &#13;, and the
// SOAPAction header bare, quoted or absent. irpkid must answer them, and our
// client must read the answers.
func TestOtherClientsRequests(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, goldenCustomer, "Acme Oy")
	cred := s.Order(t, goldenCustomer, 0)
	key := irpkidtest.NewKey(t)
	csr := strings.ReplaceAll(wrap76(irpkidtest.CSR(t, key, goldenCustomer)), "\r\n", "&#13;\n")
	fill := func(name string, kv ...string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		r := strings.NewReplacer(append([]string{"{{CUSTOMER}}", goldenCustomer}, kv...)...)
		return []byte(r.Replace(string(b)))
	}
	post := func(body []byte, action string, setAction bool) *wire.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/xml;charset=UTF-8")
		if setAction {
			req.Header.Set("SOAPAction", action)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("SOAPAction %q: HTTP %d\n%s", action, resp.StatusCode, raw)
		}
		el, err := wire.ParseEnvelope(raw, wire.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		op, _ := wire.OperationOf(strings.Replace(el.Tag, "Response", "Request", 1))
		r, err := wire.DecodeResponse(el, op, true)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Result.OK() {
			t.Fatalf("SOAPAction %q: %+v", action, r.Result)
		}
		return r
	}
	r := post(fill("other-client-signnew.xml", "{{TRANSFER_ID}}", cred.TransferID, "{{TRANSFER_PASSWORD}}", cred.TransferPassword, "{{CSR}}", csr), "signNewCertificate", true)
	if r.RetrievalID == "" {
		t.Fatal("no RetrievalId")
	}
	get := fill("other-client-get.xml", "{{RETRIEVAL_ID}}", r.RetrievalID)
	for _, tc := range []struct {
		action string
		set    bool
	}{{"getCertificate", true}, {`"getCertificate"`, true}, {"", false}} {
		got := post(get, tc.action, tc.set)
		if len(got.Certificate) == 0 {
			t.Errorf("SOAPAction %q: no certificate", tc.action)
		}
	}
	// Our client reads the same certificate.
	cert, err := s.Client(t).GetCertificate(context.Background(), goldenCustomer, r.RetrievalID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Client(t).VerifyIssued(cert, &key.PublicKey, goldenCustomer); err != nil {
		t.Fatal(err)
	}
}
