package interop_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/irpki/irpki/internal/wire"
)

func httpPost(url, action string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", action)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func signNewBody(t *testing.T, tid, tpw string, csr []byte) []byte {
	t.Helper()
	b, err := wire.Serialize(wire.EncodeSignNew(&wire.SignNewCertificateRequest{Environment: wire.EnvTest, CustomerID: customer, TransferID: tid, TransferPassword: tpw, CertificateRequest: csr}))
	if err != nil {
		t.Fatal(err)
	}
	return wire.Envelope(b)
}

func getBody(t *testing.T, rid string) []byte {
	t.Helper()
	b, err := wire.Serialize(wire.EncodeGet(&wire.GetCertificateRequest{Environment: wire.EnvTest, CustomerID: customer, RetrievalID: rid}))
	if err != nil {
		t.Fatal(err)
	}
	return wire.Envelope(b)
}

// retrievalID reads an OK RenewCertificateResponse (its signature is
// checked by the client in other tests; here the result matters).
func retrievalID(t *testing.T, env []byte) string {
	t.Helper()
	el, err := wire.ParseEnvelope(env, wire.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	r, err := wire.DecodeResponse(wire.Detach(el), wire.OpRenew, true)
	if err != nil {
		t.Fatalf("%v\n%s", err, env)
	}
	if !r.Result.OK() {
		t.Fatalf("refused: %+v", r.Result.Errors)
	}
	return r.RetrievalID
}
