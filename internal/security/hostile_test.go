package security_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/certapi"
	"github.com/irpki/irpki/internal/server/irpkidproc"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// enrolled registers custA, enrols it and returns its RetrievalId, for a
// normal request to make after each hostile one.
func enrolled(t testing.TB, s *irpkidtest.Server) string {
	t.Helper()
	s.AddOrg(t, custA, "Acme Oy")
	cred := s.Order(t, custA, 0)
	k := irpkidtest.NewKey(t)
	rid, err := s.Client(t).SignNewCertificate(context.Background(), custA, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, k, custA))
	if err != nil {
		t.Fatal(err)
	}
	return rid
}

// getBody is a valid GetCertificateRequest envelope for rid.
func getBody(t testing.TB, rid string) string {
	return string(wire.Envelope(ser(t, wire.EncodeGet(&wire.GetCertificateRequest{Environment: wire.EnvTest, CustomerID: custA, RetrievalID: rid}))))
}

// TestHostileXMLAndHTTP posts hostile XML and HTTP and checks each gets its
// clear SOAP fault with the right HTTP status, issues nothing, echoes at
// most a bounded part of the input into the fault and the log (a finding:
// 90 KiB namespace URIs and element names were echoed whole), and that the
// service still answers a normal request afterwards.
func TestHostileXMLAndHTTP(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	rid := enrolled(t, s)
	get := getBody(t, rid)
	const xmlCT = "text/xml; charset=utf-8"
	getEl := strings.TrimPrefix(get, `<?xml version="1.0" encoding="UTF-8"?>`)
	insideGet := func(inner string) string { // inner XML placed inside RetrievalId's parent
		return strings.Replace(get, "<RetrievalId>", inner+"<RetrievalId>", 1)
	}
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">` +
		`<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]>` +
		strings.Replace(getEl, rid, "&lol9;", 1)
	xxe := `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` + strings.Replace(getEl, rid, "&xxe;", 1)
	xxeParam := `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:1/evil.dtd"> %p;]>` + getEl
	extDTD := `<?xml version="1.0"?><!DOCTYPE SOAP-ENV:Envelope SYSTEM "http://127.0.0.1:1/evil.dtd">` + getEl
	deep := strings.Repeat("<a>", 30000) + strings.Repeat("</a>", 30000)
	many := strings.Repeat("<a/>", 5000)
	manyAttrs := "<a"
	for i := 0; i < 200; i++ {
		manyAttrs += fmt.Sprintf(` a%d="x"`, i)
	}
	manyAttrs += "/>"

	type tc struct {
		name, ct, action, body string
		status                 int
		want                   wire.Code
	}
	cases := []tc{
		{"billion laughs", xmlCT, "", laughs, 500, wire.CodeMalformed},
		{"external entity", xmlCT, "", xxe, 500, wire.CodeMalformed},
		{"external parameter entity", xmlCT, "", xxeParam, 500, wire.CodeMalformed},
		{"external DTD", xmlCT, "", extDTD, 500, wire.CodeMalformed},
		{"undeclared entity reference", xmlCT, "", strings.Replace(get, rid, "&x;", 1), 500, wire.CodeMalformed},
		{"deep nesting", xmlCT, "", insideGet(deep), 500, wire.CodeMalformed},
		{"deep nesting never closed", xmlCT, "", insideGet(strings.Repeat("<a>", 60000)), 500, wire.CodeMalformed},
		{"deep nesting within the size limit", xmlCT, "", insideGet(strings.Repeat("<a>", 5000) + strings.Repeat("</a>", 5000)), 500, wire.CodeMalformed},
		{"many elements", xmlCT, "", insideGet(many), 500, wire.CodeMalformed},
		{"many attributes", xmlCT, "", insideGet(manyAttrs), 500, wire.CodeMalformed},
		{"huge attribute value", xmlCT, "", insideGet(`<a b="` + strings.Repeat("x", 200<<10) + `"/>`), 500, wire.CodeMalformed},
		{"huge text value", xmlCT, "", strings.Replace(get, rid, strings.Repeat("x", 200<<10), 1), 500, wire.CodeMalformed},
		{"huge comment", xmlCT, "", insideGet("<!--" + strings.Repeat("x", 200<<10) + "-->"), 500, wire.CodeMalformed},
		{"long text within the token limit", xmlCT, "", strings.Replace(get, rid, strings.Repeat("x", 50<<10), 1), 500, wire.CodeSchema},
		{"oversized body", xmlCT, "", insideGet("<!--" + strings.Repeat("x", 300<<10) + "-->"), 413, wire.CodeTooLarge},
		{"invalid UTF-8", xmlCT, "", strings.Replace(get, custA, "\xff\xfe"+custA, 1), 500, wire.CodeMalformed},
		{"UTF-16 declared", xmlCT, "", strings.Replace(get, `encoding="UTF-8"`, `encoding="UTF-16"`, 1), 500, wire.CodeMalformed},
		{"ISO-8859-1 declared", xmlCT, "", strings.Replace(get, `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1), 500, wire.CodeMalformed},
		{"processing instruction", xmlCT, "", insideGet(`<?evil x?>`), 500, wire.CodeMalformed},
		{"text after the root", xmlCT, "", get + "junk", 500, wire.CodeMalformed},
		{"two roots", xmlCT, "", get + getEl, 500, wire.CodeMalformed},
		{"not XML", xmlCT, "", `{"op":"getCertificate"}`, 500, wire.CodeMalformed},
		{"empty body", xmlCT, "", "", 500, wire.CodeMalformed},
		{"truncated", xmlCT, "", get[:len(get)/2], 500, wire.CodeMalformed},
		{"not a SOAP envelope", xmlCT, "", `<Envelope><Body/></Envelope>`, 500, wire.CodeMalformed},
		{"SOAP 1.2 envelope", xmlCT, "", strings.ReplaceAll(get, wire.SOAPNamespace, "http://www.w3.org/2003/05/soap-envelope"), 500, wire.CodeMalformed},
		{"two operations in Body", xmlCT, "", strings.Replace(get, "</SOAP-ENV:Body>", strings.SplitN(strings.SplitN(get, "<SOAP-ENV:Body>", 2)[1], "</SOAP-ENV:Body>", 2)[0]+"</SOAP-ENV:Body>", 1), 500, wire.CodeMalformed},
		{"unknown operation", xmlCT, "", strings.ReplaceAll(get, "GetCertificateRequest", "DeleteCertificateRequest"), 500, wire.CodeUnknownOp},
		{"operation in another namespace", xmlCT, "", strings.Replace(get, wire.Namespace, "http://certificates.vero.fi/2016/10/certificateservices", 1), 500, wire.CodeUnknownOp},
		{"a response element as request", xmlCT, "", strings.ReplaceAll(get, "GetCertificateRequest", "GetCertificateResponse"), 500, wire.CodeUnknownOp},
		{"SOAPAction disagrees with the body", xmlCT, `"renewCertificate"`, get, 500, wire.CodeActionMismatch},
		{"SOAPAction names an unknown operation", xmlCT, `"deleteCertificate"`, get, 500, wire.CodeActionMismatch},
		{"huge namespace URI of the operation", xmlCT, "", strings.Replace(get, `xmlns:cer="`+wire.Namespace, `xmlns:cer="urn:`+strings.Repeat("x", 90<<10), 1), 500, wire.CodeUnknownOp},
		{"huge element name", xmlCT, "", insideGet("<" + strings.Repeat("n", 90<<10) + "/>"), 500, wire.CodeSchema},
		{"huge SOAPAction", xmlCT, strings.Repeat("a", 30<<10), get, 500, wire.CodeActionMismatch},
		{"huge content type", "text/plain; x=" + strings.Repeat("a", 30<<10), "", get, 415, wire.CodeContentType},
		{"wrong content type JSON", "application/json", "", get, 415, wire.CodeContentType},
		{"SOAP 1.2 content type", "application/soap+xml; charset=utf-8", "", get, 415, wire.CodeContentType},
		{"text/xml in Latin-1", "text/xml; charset=iso-8859-1", "", get, 415, wire.CodeContentType},
		{"no content type", "", "", get, 415, wire.CodeContentType},
		{"garbage content type", "text/xml; ;;==", "", get, 415, wire.CodeContentType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := certCount(t, s)
			logBefore := len(s.Logs.String())
			o := post(t, s.URL, c.action, c.ct, []byte(c.body))
			if grown := len(s.Logs.String()) - logBefore; grown > 2000 {
				t.Errorf("the log grew by %d bytes: the input is echoed into it", grown)
			}
			if o.Fault == nil || o.Code() != c.want || o.HTTP != c.status {
				t.Errorf("answer %v, want a fault %s with HTTP %d", o, c.want, c.status)
			}
			if o.Fault != nil && (!o.Fault.Client || o.Fault.String == "") {
				t.Errorf("fault %+v: want a Client fault with a reason", o.Fault)
			}
			if len(o.Fault.String) > 700 {
				t.Errorf("fault string %d bytes: the input is echoed", len(o.Fault.String))
			}
			if n := certCount(t, s); n != before {
				t.Errorf("%d certificates issued", n-before)
			}
			getOK(t, s, custA, rid)
		})
	}

	t.Run("method PUT", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, s.URL, strings.NewReader(get))
		req.Header.Set("Content-Type", xmlCT)
		hr, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(hr.Body)
		hr.Body.Close()
		o := decodeOutcome(t, hr.StatusCode, raw)
		if o.HTTP != 405 || o.Code() != wire.CodeMalformed {
			t.Errorf("answer %v", o)
		}
		getOK(t, s, custA, rid)
	})
	t.Run("oversized chunked body", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			pw.Write([]byte(get[:200]))
			chunk := []byte(strings.Repeat("<!--xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-->", 100))
			for i := 0; i < 1000; i++ { // 7.8 MB if the server kept reading
				if _, err := pw.Write(chunk); err != nil {
					return
				}
			}
			pw.Close()
		}()
		req, _ := http.NewRequest(http.MethodPost, s.URL, pr)
		req.Header.Set("Content-Type", xmlCT)
		hr, err := http.DefaultClient.Do(req)
		pr.CloseWithError(io.ErrClosedPipe)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(hr.Body)
		hr.Body.Close()
		o := decodeOutcome(t, hr.StatusCode, raw)
		if o.HTTP != 413 || o.Code() != wire.CodeTooLarge {
			t.Errorf("answer %v", o)
		}
		getOK(t, s, custA, rid)
	})
}

// TestSlowClientsCutOff runs the handler in an http.Server configured like
// irpkid serve (cmd/irpkid/serve.go: ReadHeaderTimeout, ReadTimeout,
// MaxHeaderBytes), with short timeouts so the test is quick. A client that
// trickles its body, or its headers, is cut off at the deadline instead of
// holding a connection and a goroutine forever, and a normal client is
// served meanwhile. The only time bound asserted is a generous liveness
// guard against a hang.
func TestSlowClientsCutOff(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	rid := enrolled(t, s)
	const deadline = 300 * time.Millisecond
	srv := &http.Server{
		Handler:           s.HTTP.Config.Handler,
		ReadHeaderTimeout: deadline,
		ReadTimeout:       deadline,
		WriteTimeout:      certapi.WriteTimeout,
		IdleTimeout:       certapi.IdleTimeout,
		MaxHeaderBytes:    32 << 10,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()
	url := "http://" + addr + certapi.Path
	get := getBody(t, rid)

	trickle := func(t *testing.T, head, tail string) (int, string) {
		return trickleTo(t, addr, deadline, head, tail)
	}

	t.Run("slow body", func(t *testing.T) {
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %d\r\n\r\n", certapi.Path, len(get))
		done := make(chan error, 1)
		go func() { // a normal client meanwhile
			o, err := tryPost(url, "", "text/xml; charset=utf-8", []byte(get))
			if err != nil {
				done <- err
				return
			}
			if o.Code() != "OK" {
				done <- fmt.Errorf("normal request during the slow one: %v", o)
				return
			}
			done <- nil
		}()
		sent, resp := trickle(t, head, get)
		t.Logf("cut off after %d of %d body bytes; answer: %.80q", sent, len(get), resp)
		if resp != "" && !strings.Contains(resp, "400 Bad Request") {
			t.Errorf("unexpected answer to a cut-off body: %.200q", resp)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	t.Run("slow headers", func(t *testing.T) {
		head := "POST " + certapi.Path + " HTTP/1.1\r\n"
		tail := "Host: x\r\nContent-Type: text/xml; charset=utf-8\r\nX-Slow: " + strings.Repeat("a", 400) + "\r\n\r\n"
		sent, _ := trickle(t, head, tail)
		t.Logf("cut off after %d header bytes", sent)
	})
	t.Run("huge headers", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(get))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
		hr, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		hr.Body.Close()
		if hr.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("HTTP %d, want 431", hr.StatusCode)
		}
	})
	if o := post(t, url, "", "text/xml; charset=utf-8", []byte(get)); o.Code() != "OK" {
		t.Fatalf("normal request after the slow ones: %v", o)
	}
}

// trickleTo opens a connection, writes head at once, then one byte of
// tail every deadline/10 until the server closes the connection. It returns
// how many tail bytes got through and the response, if any, the server
// wrote before closing.
func trickleTo(t *testing.T, addr string, deadline time.Duration, head, tail string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	guard := time.AfterFunc(60*deadline, func() { conn.Close() })
	defer guard.Stop()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	respc := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(bufio.NewReader(conn))
		respc <- string(b)
	}()
	sent := 0
	tick := time.NewTicker(deadline / 10)
	defer tick.Stop()
loop:
	for sent < len(tail) {
		select {
		case resp := <-respc:
			respc <- resp
			break loop
		case <-tick.C:
			if _, err := conn.Write([]byte{tail[sent]}); err != nil {
				break loop
			}
			sent++
		}
	}
	if sent == len(tail) {
		t.Fatalf("the server read all %d trickled bytes without cutting the client off", sent)
	}
	return sent, <-respc
}

// TestSlowClientRealIrpkid checks the real binary's settings: `irpkid
// serve` cuts off a client that trickles its headers (ReadHeaderTimeout,
// 10 s) and one that trickles its body (ReadTimeout, 30 s). It takes about
// 40 s, so it runs only with IRPKI_LONG=1 (or -long); TestSlowClientsCutOff
// is the quick version with the same server settings scaled down.
func TestSlowClientRealIrpkid(t *testing.T) {
	if !isLong() {
		t.Skip("about 40 s: runs with IRPKI_LONG=1; TestSlowClientsCutOff covers the behaviour quickly")
	}
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	p := irpkidproc.Start(t, bin, filepath.Join(t.TempDir(), "data"), "")
	t.Run("slow headers", func(t *testing.T) {
		sent, _ := trickleTo(t, p.Addr(), certapi.ReadHeaderTimeout, "POST "+certapi.Path+" HTTP/1.1\r\n", "Host: x\r\nX-Slow: "+strings.Repeat("a", 100)+"\r\n\r\n")
		t.Logf("cut off after %d header bytes", sent)
	})
	t.Run("slow body", func(t *testing.T) {
		body := strings.Repeat("x", 100)
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %d\r\n\r\n", certapi.Path, len(body))
		sent, resp := trickleTo(t, p.Addr(), certapi.ReadTimeout, head, body)
		t.Logf("cut off after %d body bytes; answer %.60q", sent, resp)
	})
}
