package security_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// long enables the long runs (many kills, long load, long fuzzing seeds).
var long = flag.Bool("long", false, "run the long versions of the crash and load tests (also IRPKI_LONG=1)")

func isLong() bool { return *long || os.Getenv("IRPKI_LONG") == "1" }

// Two organisations with valid business IDs.
const (
	custA = "1234567-1"
	custB = "7654321-2"
)

// shortValidity puts a certificate inside its 60-day renewal window at once.
const shortValidity = 30 * 24 * time.Hour

// outcome is what the service answered: a SOAP fault or a (FAIL or OK)
// response.
type outcome struct {
	HTTP  int
	Fault *wire.Fault
	Resp  *wire.Response
	Raw   []byte
}

// Code returns the fault's or the first ErrorInfo's code, "OK" for success.
func (o outcome) Code() wire.Code {
	switch {
	case o.Fault != nil:
		return o.Fault.Code
	case o.Resp != nil && o.Resp.Result.OK():
		return "OK"
	case o.Resp != nil && len(o.Resp.Result.Errors) > 0:
		return o.Resp.Result.Errors[0].Code
	}
	return "?"
}

func (o outcome) Message() string {
	switch {
	case o.Fault != nil:
		return o.Fault.String
	case o.Resp != nil && len(o.Resp.Result.Errors) > 0:
		return o.Resp.Result.Errors[0].Message
	}
	return ""
}

func (o outcome) String() string {
	return fmt.Sprintf("HTTP %d %s %q", o.HTTP, o.Code(), o.Message())
}

// post sends body to url as a SOAP request and decodes the answer without
// verifying its signature (the tests trust their own server).
func post(t testing.TB, url, action, contentType string, body []byte) outcome {
	t.Helper()
	o, err := tryPost(url, action, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// tryPost is post for goroutines: it returns errors instead of failing.
func tryPost(url, action, contentType string, body []byte) (outcome, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return outcome{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if action != "" {
		req.Header.Set("SOAPAction", action)
	}
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		return outcome{}, fmt.Errorf("POST: %w", err)
	}
	defer hr.Body.Close()
	raw, err := io.ReadAll(hr.Body)
	if err != nil {
		return outcome{}, err
	}
	return tryDecode(hr.StatusCode, raw)
}

func decodeOutcome(t testing.TB, status int, raw []byte) outcome {
	t.Helper()
	o, err := tryDecode(status, raw)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func tryDecode(status int, raw []byte) (outcome, error) {
	o := outcome{HTTP: status, Raw: raw}
	lim := wire.DefaultLimits
	lim.MaxBytes = 1 << 20
	el, err := wire.ParseEnvelope(raw, lim)
	if err != nil {
		return o, fmt.Errorf("answer is not a SOAP envelope (HTTP %d): %v\n%.500s", status, err, raw)
	}
	if f, err := wire.DecodeFault(el); err == nil {
		o.Fault = f
		return o, nil
	}
	for _, op := range []wire.Operation{wire.OpSignNew, wire.OpRenew, wire.OpGet} {
		if el.Tag == op.ResponseElement() {
			r, err := wire.DecodeResponse(wire.Detach(el), op, true)
			if err != nil {
				return o, fmt.Errorf("undecodable response: %v\n%.500s", err, raw)
			}
			o.Resp = r
			return o, nil
		}
	}
	return o, fmt.Errorf("unexpected answer element %s", el.Tag)
}

// soap posts an operation element (already serialized) in an envelope with
// the right headers.
func soap(t testing.TB, url string, op wire.Operation, element []byte) outcome {
	t.Helper()
	return post(t, url, `"`+string(op)+`"`, "text/xml; charset=utf-8", wire.Envelope(element))
}

// envelope builds an envelope with the given header content and body
// content, both raw XML.
func envelope(header, body string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="` + wire.SOAPNamespace + `"><SOAP-ENV:Header>` + header + `</SOAP-ENV:Header><SOAP-ENV:Body>` + body + `</SOAP-ENV:Body></SOAP-ENV:Envelope>`)
}

// certCount counts the certificates in the store.
func certCount(t testing.TB, s *irpkidtest.Server) int {
	t.Helper()
	n := 0
	err := s.DB.View(context.Background(), func(tx *store.Tx) error {
		cs, err := tx.Certificates(context.Background(), store.CertFilter{})
		n = len(cs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// parseEl parses serialized XML into its root element.
func parseEl(t testing.TB, b []byte) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// ser serializes el.
func ser(t testing.TB, el *etree.Element) []byte {
	t.Helper()
	b, err := wire.Serialize(el.Copy()) // Serialize adopts its argument
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serS is ser as a string.
func serS(t testing.TB, el *etree.Element) string { return string(ser(t, el)) }

// getOK checks that a normal GetCertificate still works, i.e. the service
// still serves after whatever came before.
func getOK(t testing.TB, s *irpkidtest.Server, customer, rid string) {
	t.Helper()
	if _, err := s.Client(t).GetCertificate(context.Background(), customer, rid); err != nil {
		t.Fatalf("GetCertificate after the attack: %v", err)
	}
}

// fmtSerialDER is the store's serial of a DER certificate.
func fmtSerialDER(t testing.TB, der []byte) string {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return fmtSerial(c)
}
