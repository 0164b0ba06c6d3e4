package certapi_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// Two SignNewCertificate requests race for the same credentials with
// different keys: exactly one certificate is issued.
func TestConcurrentSignNew(t *testing.T) {
	s := start(t)
	cred := s.Order(t, customer, 0)
	c := s.Client(t)
	csrs := [][]byte{irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)}
	errs := make([]error, len(csrs))
	rids := make([]string, len(csrs))
	var wg sync.WaitGroup
	for i := range csrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rids[i], errs[i] = c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, csrs[i])
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch codeOf(t, err) {
		case "":
			won++
			if rids[i] == "" {
				t.Error("winner without RetrievalId")
			}
		case wire.CodeTransferUsed:
		default:
			t.Errorf("request %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d winners, want exactly 1", won)
	}
	if cs, err := s.Service.Certificates(context.Background(), customer); err != nil || len(cs) != 1 {
		t.Fatalf("%d certificates in the store, %v; want 1", len(cs), err)
	}
}

// The same race with the same key (one client retrying in parallel): one
// certificate, both answered with its RetrievalId.
func TestConcurrentSignNewSameKey(t *testing.T) {
	s := start(t)
	cred := s.Order(t, customer, 0)
	c := s.Client(t)
	csr := irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)
	var wg sync.WaitGroup
	rids := make([]string, 4)
	errs := make([]error, 4)
	for i := range rids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rids[i], errs[i] = c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, csr)
		}()
	}
	wg.Wait()
	for i := range rids {
		if errs[i] != nil || rids[i] != rids[0] {
			t.Errorf("request %d: %q, %v; want %q", i, rids[i], errs[i], rids[0])
		}
	}
	if cs, err := s.Service.Certificates(context.Background(), customer); err != nil || len(cs) != 1 {
		t.Fatalf("%d certificates in the store, %v; want 1", len(cs), err)
	}
}

// An exact replay of a RenewCertificateRequest (the same bytes) is answered
// with the same RetrievalId and issues nothing new.
func TestRenewReplay(t *testing.T) {
	s := start(t)
	e := s.Enroll(t, customer, 0)
	s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
	body := renewBody(t, customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), e.Key, e.Cert)
	var rids []string
	for i := 0; i < 3; i++ {
		r := response(t, s, wire.OpRenew, post(t, s.URL, `"renewCertificate"`, textXML, body))
		if !r.Result.OK() {
			t.Fatalf("attempt %d: %+v", i, r.Result)
		}
		rids = append(rids, r.RetrievalID)
		if i == 1 {
			// Also after the successor was retrieved.
			if _, err := s.Client(t).GetCertificate(context.Background(), customer, r.RetrievalID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rids[0] != rids[1] || rids[1] != rids[2] {
		t.Fatalf("replays got %v, want one RetrievalId", rids)
	}
	if cs, err := s.Service.Certificates(context.Background(), customer); err != nil || len(cs) != 2 {
		t.Fatalf("%d certificates, %v; want the original and one successor", len(cs), err)
	}
}

// A second, different renewal request replaces a successor that was never
// retrieved, and the replaced RetrievalId answers SUPERSEDED; once the
// successor was retrieved, a different request gets ALREADY_RENEWED, while
// the exact replay of the retrieved one still gets its RetrievalId.
func TestRenewSupersedeThenAlreadyRenewed(t *testing.T) {
	s := start(t)
	e := s.Enroll(t, customer, 0)
	s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
	c := s.Client(t)
	first := renewBody(t, customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), e.Key, e.Cert)
	k2 := irpkidtest.NewKey(t)
	second := renewBody(t, customer, irpkidtest.CSR(t, k2, customer), e.Key, e.Cert)
	r1 := response(t, s, wire.OpRenew, post(t, s.URL, "renewCertificate", textXML, first))
	r2 := response(t, s, wire.OpRenew, post(t, s.URL, "renewCertificate", textXML, second))
	if !r1.Result.OK() || !r2.Result.OK() || r1.RetrievalID == r2.RetrievalID {
		t.Fatalf("renewals: %+v %+v", r1, r2)
	}
	_, err := c.GetCertificate(context.Background(), customer, r1.RetrievalID)
	wantCode(t, err, wire.CodeSuperseded)
	succ, err := c.GetCertificate(context.Background(), customer, r2.RetrievalID)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyIssued(succ, &k2.PublicKey, customer); err != nil {
		t.Fatal(err)
	}
	// The first request again: its successor was replaced and the second
	// one retrieved, so no new certificate.
	r := post(t, s.URL, "renewCertificate", textXML, first)
	if got := failCode(t, s, wire.OpRenew, r); got != wire.CodeAlreadyRenewed {
		t.Fatalf("old request after retrieval: %s, want %s", got, wire.CodeAlreadyRenewed)
	}
	r = post(t, s.URL, "renewCertificate", textXML, second)
	if got := response(t, s, wire.OpRenew, r); !got.Result.OK() || got.RetrievalID != r2.RetrievalID {
		t.Fatalf("replay of the retrieved request: %+v", got)
	}
	views, err := s.Service.Certificates(context.Background(), customer)
	if err != nil {
		t.Fatal(err)
	}
	states := map[service.State]int{}
	for _, v := range views {
		states[v.State]++
	}
	if states[service.StateSuperseded] != 1 || states[service.StateRenewed] != 1 || len(views) != 3 {
		t.Errorf("states %v", states)
	}
}

// GetCertificate answers repeatedly, with the same certificate, within the
// retention time, and after the server restarts on the same data directory.
func TestGetRepeatedlyAndAfterRestart(t *testing.T) {
	s := start(t)
	cred := s.Order(t, customer, 0)
	c := s.Client(t)
	key := irpkidtest.NewKey(t)
	rid, err := c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, key, customer))
	if err != nil {
		t.Fatal(err)
	}
	var first *x509.Certificate
	for i := 0; i < 3; i++ {
		cert, err := c.GetCertificate(context.Background(), customer, rid)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = cert
		} else if !cert.Equal(first) {
			t.Fatal("a repeated GetCertificate returned another certificate")
		}
		s.Clock.Advance(24 * time.Hour)
	}
	s.Clock.Set(irpkidtest.Epoch.Add(14 * 24 * time.Hour))
	c2 := restart(t, s)
	cert, err := c2.GetCertificate(context.Background(), customer, rid)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if !cert.Equal(first) {
		t.Fatal("after restart: another certificate")
	}
	if err := c2.VerifyIssued(cert, &key.PublicKey, customer); err != nil {
		t.Fatal(err)
	}
	// The credentials stay used after the restart.
	_, err = c2.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer))
	wantCode(t, err, wire.CodeTransferUsed)
}

// The issued certificate's subject comes from the service's records, not
// from the CSR, whatever the CSR says.
func TestSubjectFromRecords(t *testing.T) {
	s := start(t)
	cred := s.Order(t, customer, 0)
	c := s.Client(t)
	key := irpkidtest.NewKey(t)
	csr := irpkidtest.CSR(t, key, "9999999-9 Evil Corp") // CN and O of someone else
	rid, err := c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, csr)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.GetCertificate(context.Background(), customer, rid)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != customer || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "Acme Oy" {
		t.Errorf("subject %v, want CN=%s O=Acme Oy from the records", cert.Subject, customer)
	}
	if len(cert.DNSNames)+len(cert.EmailAddresses)+len(cert.IPAddresses)+len(cert.URIs) != 0 {
		t.Error("subject alternative names copied from the CSR")
	}
}

// SOAPAction: quoted, bare, missing, or a URI ending in the operation are
// all accepted; the body decides the operation.
func TestSOAPActionVariants(t *testing.T) {
	s := start(t)
	body := getBody(t, customer, "0123456789abcdef0123456789abcdef")
	for _, a := range []string{`"getCertificate"`, `getCertificate`, `-`, `""`, `"http://certificates.vero.fi/2017/10/certificateservices/getCertificate"`, `GetCertificate`} {
		r := post(t, s.URL, a, textXML, body)
		if got := failCode(t, s, wire.OpGet, r); got != wire.CodeRetrievalUnknown {
			t.Errorf("SOAPAction %s: %s, want the operation's own answer %s", a, got, wire.CodeRetrievalUnknown)
		}
	}
	for _, a := range []string{`"renewCertificate"`, `signNewCertificate`, `"getCertificates"`} {
		r := post(t, s.URL, a, textXML, body)
		if got := faultCode(t, r); got != wire.CodeActionMismatch {
			t.Errorf("SOAPAction %s: %s, want %s", a, got, wire.CodeActionMismatch)
		}
	}
}

// Requests in the shapes real clients send, from testdata: SOAP-ENV and
// soapenv prefixes, empty headers, the service prefix declared on the
// Envelope, base64 broken into lines with &#13;, a default namespace.
func TestGoldenRequests(t *testing.T) {
	for _, name := range []string{"signnew-soapenv.xml", "signnew-soapui.xml"} {
		t.Run(name, func(t *testing.T) {
			s := start(t)
			cred := s.Order(t, customer, 0)
			body := golden(t, name, cred)
			r := response(t, s, wire.OpSignNew, post(t, s.URL, "signNewCertificate", textXML, body))
			if !r.Result.OK() {
				t.Fatalf("refused: %+v", r.Result)
			}
			for _, g := range []string{"get-soapenv.xml", "get-default-ns.xml"} {
				gr := response(t, s, wire.OpGet, post(t, s.URL, "getCertificate", textXML, golden(t, g, map[string]string{"RetrievalID": r.RetrievalID})))
				if !gr.Result.OK() {
					t.Fatalf("%s refused: %+v", g, gr.Result)
				}
				cert, err := x509.ParseCertificate(gr.Certificate)
				if err != nil || cert.Subject.CommonName != customer {
					t.Fatalf("%s: certificate %v, %v", g, cert, err)
				}
			}
		})
	}
}

// A signed RenewCertificateRequest in the real-service shapes: the SOAP-ENV
// prefix, an empty header, the service prefix declared on the Envelope
// instead of the element, and a CSR broken into lines with CR LF (&#13;).
func TestRenewRealShapes(t *testing.T) {
	s := start(t)
	e := s.Enroll(t, customer, 0)
	s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
	key := irpkidtest.NewKey(t)
	csr := base64.StdEncoding.EncodeToString(irpkidtest.CSR(t, key, customer))
	var wrapped strings.Builder
	for len(csr) > 64 {
		wrapped.WriteString(csr[:64] + "\r\n")
		csr = csr[64:]
	}
	wrapped.WriteString(csr)
	el := wire.EncodeRenew(&wire.RenewCertificateRequest{Environment: wire.EnvTest, CustomerID: customer, CertificateRequest: []byte{0}})
	el.SelectElement("CertificateRequest").SetText(wrapped.String())
	sg, err := wire.NewSigner(e.Key, [][]byte{e.Cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := sg.Sign(el)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(signed), "&#xD;") && !strings.Contains(string(signed), "&#13;") {
		t.Fatalf("no CR character reference in the signed request:\n%s", signed)
	}
	decl := ` xmlns:cer="` + wire.Namespace + `"`
	moved := strings.Replace(string(signed), decl, "", 1)
	if moved == string(signed) {
		t.Fatal("namespace declaration not found")
	}
	body := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"` + decl + `>` +
		"\n  <SOAP-ENV:Header/>\n  <SOAP-ENV:Body>\n" + moved + "\n  </SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n"
	r := response(t, s, wire.OpRenew, post(t, s.URL, "renewCertificate", textXML, []byte(body)))
	if !r.Result.OK() {
		t.Fatalf("refused: %+v", r.Result)
	}
	cert, err := s.Client(t).GetCertificate(context.Background(), customer, r.RetrievalID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Client(t).VerifyIssued(cert, &key.PublicKey, customer); err != nil {
		t.Fatal(err)
	}
}

// The handler's other pages.
func TestDescriptionAndHealth(t *testing.T) {
	s := start(t)
	for _, tc := range []struct{ path, want string }{
		{s.URL + "?wsdl", s.URL},
		{s.URL + "?xsd", wire.Namespace},
		{s.Base + "/healthz", "ok"},
	} {
		resp, err := http.Get(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		buf := make([]byte, 1<<16)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(b.String(), tc.want) {
			t.Errorf("GET %s: %d, body lacks %q", tc.path, resp.StatusCode, tc.want)
		}
	}
	// A failing store makes /healthz fail.
	url := serve(t, s, brokenStore{}, func(context.Context) error { return errBroken })
	resp, err := http.Get(strings.TrimSuffix(url, "/2017/10/CertificateServices") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/healthz with a broken store: %d", resp.StatusCode)
	}
}

var _ = client.New

// A renewal request that is refused (here: its key was certified before)
// changes nothing: the successor an earlier request got, never retrieved
// yet, is not superseded by a request that issued nothing.
func TestRefusedRenewalKeepsUnretrievedSuccessor(t *testing.T) {
	s := start(t)
	e := s.Enroll(t, customer, 0)
	s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
	c := s.Client(t)
	ok := renewBody(t, customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), e.Key, e.Cert)
	r1 := response(t, s, wire.OpRenew, post(t, s.URL, "renewCertificate", textXML, ok))
	if !r1.Result.OK() {
		t.Fatalf("renewal: %+v", r1.Result)
	}
	reused := renewBody(t, customer, irpkidtest.CSR(t, e.Key, customer), e.Key, e.Cert)
	if got := failCode(t, s, wire.OpRenew, post(t, s.URL, "renewCertificate", textXML, reused)); got != wire.CodeKeyReused {
		t.Fatalf("renewal with the current key: %s, want %s", got, wire.CodeKeyReused)
	}
	if _, err := c.GetCertificate(context.Background(), customer, r1.RetrievalID); err != nil {
		t.Fatalf("the successor of the first request after a refused one: %v", err)
	}
	log, err := s.Service.AuditLog(context.Background(), customer, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range log {
		if a.Action == "supersede" {
			t.Errorf("audit says %+v, but nothing was superseded", a)
		}
	}
}

// A successor revoked before anyone retrieved it may still be replaced by a
// new renewal request (it was never in use); it keeps the time and reason of
// its revocation beside the supersession.
func TestSupersedeRevokedSuccessorKeepsRevocation(t *testing.T) {
	s := start(t)
	e := s.Enroll(t, customer, 0)
	s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
	ctx := context.Background()
	r1 := response(t, s, wire.OpRenew, post(t, s.URL, "renewCertificate", textXML, renewBody(t, customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), e.Key, e.Cert)))
	if !r1.Result.OK() {
		t.Fatalf("first renewal: %+v", r1)
	}
	views, err := s.Service.Certificates(ctx, customer)
	if err != nil || len(views) != 2 {
		t.Fatalf("%d certificates, %v", len(views), err)
	}
	succ := views[1].Certificate
	revokedAt := s.Clock.Now()
	if _, err := s.Service.Revoke(ctx, succ.Serial, service.ReasonKeyCompromise, "", "test", nil); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(time.Hour)
	r2 := response(t, s, wire.OpRenew, post(t, s.URL, "renewCertificate", textXML, renewBody(t, customer, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), e.Key, e.Cert)))
	if !r2.Result.OK() {
		t.Fatalf("renewal after the unretrieved successor was revoked: %+v", r2)
	}
	var got store.Certificate
	if err := s.DB.View(ctx, func(tx *store.Tx) error { got, err = tx.Certificate(ctx, succ.Serial); return err }); err != nil {
		t.Fatal(err)
	}
	if got.Status != store.CertSuperseded || !got.RevokedAt.Equal(revokedAt.Truncate(time.Millisecond)) || !strings.Contains(got.RevokeReason, service.ReasonKeyCompromise) {
		t.Errorf("replaced revoked successor: status %s, at %v (revoked %v), reason %q", got.Status, got.RevokedAt, revokedAt, got.RevokeReason)
	}
}

// A refusal before the request's signature verified with the signer's key
// is filed under no customer even when the certificate is genuinely ours:
// a certificate is public (it goes with every renewal), so anyone could
// otherwise fill its owner's audit trail (found in review). Once the
// signature verified, a refusal is the owner's.
func TestRenewRefusalsBeforeVerificationNameNobody(t *testing.T) {
	s := start(t)
	e := s.Enroll(t, customer, 0)
	ctx := context.Background()
	csr := irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)
	renewals := func(cust string) int {
		log, err := s.Service.AuditLog(ctx, cust, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, a := range log {
			if a.Action == "renew" {
				n++
			}
		}
		return n
	}
	s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
	forged := renewBody(t, customer, csr, irpkidtest.NewKey(t), e.Cert) // the victim's certificate, another key
	for range 3 {
		if code := failCode(t, s, wire.OpRenew, post(t, s.URL, `"renewCertificate"`, textXML, forged)); code != wire.CodeSigInvalid {
			t.Fatalf("the victim's certificate signed with another key: %s, want SIG_INVALID", code)
		}
	}
	s.Clock.Set(e.Cert.NotAfter.Add(time.Hour))
	expired := renewBody(t, customer, csr, irpkidtest.NewKey(t), e.Cert)
	if code := failCode(t, s, wire.OpRenew, post(t, s.URL, `"renewCertificate"`, textXML, expired)); code != wire.CodeSignerExpired {
		t.Fatalf("the victim's expired certificate: %s, want SIGNER_EXPIRED", code)
	}
	if n := renewals(customer); n != 0 {
		t.Errorf("%d refusals of unverified requests filed under the customer, want none", n)
	}
	log, err := s.Service.AuditLog(ctx, "", 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range log {
		if a.Action != "renew" || a.CustomerID != "" || a.Serial != "" || a.Detail != "claimed customer "+customer+", not verified" {
			t.Errorf("audit entry %+v, want a renewal refusal filed under nobody, naming the claim", a)
		}
	}
	// Signed with the certificate's own key, too early: the owner's.
	s.Clock.Set(e.Cert.NotBefore.Add(time.Hour))
	early := renewBody(t, customer, csr, e.Key, e.Cert)
	if code := failCode(t, s, wire.OpRenew, post(t, s.URL, `"renewCertificate"`, textXML, early)); code != wire.CodeWindowNotOpen {
		t.Fatalf("a verified request before the window: %s, want WINDOW_NOT_OPEN", code)
	}
	if n := renewals(customer); n != 1 {
		t.Errorf("%d renewal entries under the customer after a verified refusal, want 1", n)
	}
}
