package certapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/certapi"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// Findings of the red-team pass on the SOAP interface, each reproduced.

// stalledBody opens a connection that sends a SOAP request's headers
// declaring a body of declared bytes, then only sent bytes of it, and
// holds the connection open.
func stalledBody(t *testing.T, base string, declared, sent int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %d\r\n\r\n", certapi.Path, declared)
	if _, err := c.Write([]byte(strings.Repeat(" ", sent))); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitInFlight waits (bounded) until the handler holds want bytes of bodies.
func waitInFlight(t *testing.T, api *certapi.Handler, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for api.BodyBytesInFlight() != want {
		if time.Now().After(deadline) {
			t.Fatalf("bodies in flight hold %d bytes, want %d", api.BodyBytesInFlight(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Slow or withheld request bodies held about 390 KiB each, without bound
// (8000 connections: 3 GB). The bodies being received now share a memory
// budget: once stalled uploads hold it, further requests are answered 503
// SERVICE_BUSY at once instead of adding to it, and when the stalled
// connections go, their memory is given back and requests pass again.
func TestStalledBodiesHoldBoundedMemory(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{API: func(c *certapi.Config) { c.BodyBytesInFlight = 96 << 10 }})
	get := getBody(t, customer, "abc")
	if r := post(t, s.URL, "getCertificate", textXML, get); r.status != http.StatusOK {
		t.Fatalf("an ordinary request before: HTTP %d", r.status)
	}
	waitInFlight(t, s.API, 0)
	// The buffer grows as bytes arrive: 40 KiB sent of a declared 200 KiB
	// hold 64 KiB, 20 KiB hold 32 KiB; the budget is then spent.
	a := stalledBody(t, s.Base, 200<<10, 40<<10)
	waitInFlight(t, s.API, 64<<10)
	b := stalledBody(t, s.Base, 200<<10, 20<<10)
	waitInFlight(t, s.API, 96<<10)

	r := post(t, s.URL, "getCertificate", textXML, get)
	if r.status != http.StatusServiceUnavailable || faultCode(t, r) != wire.CodeBusy {
		t.Fatalf("a request while stalled bodies hold the budget: HTTP %d %s, want 503 SERVICE_BUSY", r.status, r.body)
	}
	// A stalled body that sends more is refused too, and let go.
	if _, err := a.Write([]byte(strings.Repeat(" ", 40<<10))); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(a), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("the growing stalled body: HTTP %d, want 503", resp.StatusCode)
	}
	waitInFlight(t, s.API, 32<<10)
	b.Close()
	// ReadTimeout is what ends a body that never comes; closing does too.
	waitInFlight(t, s.API, 0)
	if r := post(t, s.URL, "getCertificate", textXML, get); r.status != http.StatusOK {
		t.Fatalf("an ordinary request after: HTTP %d %s", r.status, r.body)
	}
}

// ?wsdl took the endpoint's address from the Host header, so a shared
// cache could be poisoned with a description that sends every client's
// requests (and transfer passwords) elsewhere. It now names the configured
// public URL, or else the address the connection arrived at.
func TestDescriptionIgnoresHostHeader(t *testing.T) {
	wsdl := func(t *testing.T, s *irpkidtest.Server) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL+"?wsdl", nil)
		req.Host = "attacker.example:443"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(b), "attacker.example") {
			t.Errorf("?wsdl names the Host header's address:\n%s", b)
		}
		return string(b)
	}
	s := irpkidtest.Start(t, irpkidtest.Config{})
	if w := wsdl(t, s); !strings.Contains(w, `location="`+s.URL+`"`) {
		t.Errorf("?wsdl does not name the listening address %s:\n%s", s.URL, w)
	}
	p := irpkidtest.Start(t, irpkidtest.Config{API: func(c *certapi.Config) { c.PublicURL = "https://certs.example.fi/" }})
	if w := wsdl(t, p); !strings.Contains(w, `location="https://certs.example.fi`+certapi.Path+`"`) {
		t.Errorf("?wsdl does not name the public URL:\n%s", w)
	}
}

// Faults quoted up to 20 characters of the request's text (enough for a
// TransferPassword typed into the wrong element), and element names,
// namespaces and headers, in the answer and in the INFO log line. No part
// of a request is echoed now, wherever in it the secret sits.
func TestNeverEchoRequestContent(t *testing.T) {
	const secret = "Pw9xQkR2mZtL"
	s := irpkidtest.Start(t, irpkidtest.Config{})
	ns := `xmlns:cer="` + wire.Namespace + `"`
	get := func(inner string) []byte {
		return envelope([]byte(`<cer:GetCertificateRequest ` + ns + `>` + inner + `</cer:GetCertificateRequest>`))
	}
	ok := `<Environment>TEST</Environment><CustomerId>1234567-1</CustomerId><RetrievalId>abc</RetrievalId>`
	for _, tc := range []struct {
		name, action, ctype string
		body                []byte
	}{
		{"text between elements", "getCertificate", textXML, get(`<Environment>TEST</Environment>` + secret + `<CustomerId>1234567-1</CustomerId><RetrievalId>abc</RetrievalId>`)},
		{"text in Body", "-", textXML, []byte(`<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + wire.SOAPNamespace + `"><SOAP-ENV:Body>` + secret + `</SOAP-ENV:Body></SOAP-ENV:Envelope>`)},
		{"unknown operation", "-", textXML, envelope([]byte(`<x:` + secret + ` xmlns:x="urn:` + secret + `"/>`))},
		{"unknown child", "getCertificate", textXML, get(`<Environment>TEST</Environment><` + secret + `/><CustomerId>1234567-1</CustomerId><RetrievalId>abc</RetrievalId>`)},
		{"child in its place", "getCertificate", textXML, get(`<Environment>TEST</Environment><` + secret + `>1</` + secret + `><RetrievalId>abc</RetrievalId>`)},
		{"element inside a value", "getCertificate", textXML, get(`<Environment>TEST</Environment><CustomerId><` + secret + `/></CustomerId><RetrievalId>abc</RetrievalId>`)},
		{"attribute", "getCertificate", textXML, get(`<Environment ` + secret + `="1">TEST</Environment><CustomerId>1234567-1</CustomerId><RetrievalId>abc</RetrievalId>`)},
		{"attribute on the operation", "getCertificate", textXML, envelope([]byte(`<cer:GetCertificateRequest ` + ns + ` a="` + secret + `">` + ok + `</cer:GetCertificateRequest>`))},
		{"qualified child", "getCertificate", textXML, get(`<x:Environment xmlns:x="urn:` + secret + `">TEST</x:Environment><CustomerId>1234567-1</CustomerId><RetrievalId>abc</RetrievalId>`)},
		{"undeclared prefix", "getCertificate", textXML, get(`<` + secret + `:Environment>TEST</` + secret + `:Environment><CustomerId>1234567-1</CustomerId><RetrievalId>abc</RetrievalId>`)},
		{"duplicate attribute", "getCertificate", textXML, get(`<Environment ` + secret + `="1" ` + secret + `="2">TEST</Environment>`)},
		{"processing instruction", "getCertificate", textXML, get(`<?` + secret + ` x?>` + ok)},
		{"mismatched end tag", "getCertificate", textXML, get(`<Environment>TEST</` + secret + `>`)},
		{"unknown entity", "getCertificate", textXML, get(`<Environment>&` + secret + `;</Environment>`)},
		{"declared encoding", "getCertificate", textXML, append([]byte(`<?xml version="1.0" encoding="`+secret+`"?>`), get(ok)[len(`<?xml version="1.0" encoding="UTF-8"?>`):]...)},
		{"mustUnderstand header", "getCertificate", textXML, withHeader(get(ok), `<t:`+secret+` xmlns:t="urn:`+secret+`" SOAP-ENV:mustUnderstand="1">1</t:`+secret+`>`)},
		{"Content-Type", "getCertificate", "text/" + secret, get(ok)},
		{"SOAPAction", secret, textXML, get(ok)},
		{"CustomerId", "getCertificate", textXML, get(`<Environment>TEST</Environment><CustomerId>` + secret + `</CustomerId><RetrievalId>abc</RetrievalId>`)},
		{"CustomerId of nobody", "getCertificate", textXML, get(`<Environment>TEST</Environment><CustomerId>7654321-2</CustomerId><RetrievalId>` + secret + `</RetrievalId>`)},
		{"RetrievalId too long", "getCertificate", textXML, get(`<Environment>TEST</Environment><CustomerId>1234567-1</CustomerId><RetrievalId>` + strings.Repeat(secret, 3) + `</RetrievalId>`)},
		{"Environment", "getCertificate", textXML, get(`<Environment>` + secret + `</Environment><CustomerId>1234567-1</CustomerId><RetrievalId>abc</RetrievalId>`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(s.Logs.String())
			r := post(t, s.URL, tc.action, tc.ctype, tc.body)
			if r.status == http.StatusOK && !strings.Contains(string(r.body), "FAIL") {
				t.Fatalf("accepted: %s", r.body)
			}
			if strings.Contains(string(r.body), secret) {
				t.Errorf("the answer (HTTP %d) echoes the request:\n%s", r.status, r.body)
			}
			if logs := s.Logs.String()[before:]; strings.Contains(logs, secret) {
				t.Errorf("the log echoes the request:\n%s", logs)
			}
		})
	}
}
