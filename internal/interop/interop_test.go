package interop_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/wire"
)

const customer = "1234567-1"

// tool returns the path of a program the tests need; missing is a failure.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required by the interop tests and not installed (.ci/run installs it): %v", name, err)
	}
	return p
}

// run runs a program and returns its combined output; failure is an error.
func run(t *testing.T, prog string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v\n%s", filepath.Base(prog), strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// bundleFiles splits the trust bundle that `irpkid trust` prints (the CA's
// Bundle) into the self-signed roots, for trusting, and the rest, as
// untrusted intermediates.
func bundleFiles(t *testing.T, dir string, bundle []byte) (trusted, untrusted string) {
	t.Helper()
	certs, err := client.ParseTrustBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	var roots, others []byte
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			roots = append(roots, pemCert(c)...)
		} else {
			others = append(others, pemCert(c)...)
		}
	}
	if len(roots) == 0 || len(others) == 0 {
		t.Fatalf("bundle has %d root and %d other bytes", len(roots), len(others))
	}
	return writeFile(t, dir, "trusted.pem", roots), writeFile(t, dir, "untrusted.pem", others)
}

// xmlsecUntrusted returns the xmlsec1 arguments that load the certificates
// of the PEM file untrusted as untrusted intermediates: xmlsec1 reads one
// certificate per --untrusted-pem file.
func xmlsecUntrusted(t *testing.T, untrusted string) []string {
	t.Helper()
	b, err := os.ReadFile(untrusted)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := client.ParseCertificates(b)
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for i, c := range certs {
		args = append(args, "--untrusted-pem", writeFile(t, filepath.Dir(untrusted), fmt.Sprintf("untrusted-%d.pem", i), pemCert(c)))
	}
	return args
}

// xmlsecTime formats t for xmlsec1 --verification-time (local time).
func xmlsecTime(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }

// soapBody returns the bytes between <SOAP-ENV:Body> and </SOAP-ENV:Body>:
// the response element exactly as the server sent it.
func soapBody(t *testing.T, env []byte) []byte {
	t.Helper()
	s := string(env)
	i := strings.Index(s, "<SOAP-ENV:Body>")
	j := strings.LastIndex(s, "</SOAP-ENV:Body>")
	if i < 0 || j < i {
		t.Fatalf("no SOAP-ENV:Body in\n%s", env)
	}
	return []byte(s[i+len("<SOAP-ENV:Body>") : j])
}

func post(t *testing.T, url, action string, body []byte) []byte {
	t.Helper()
	resp, err := httpPost(url, action, body)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// Responses verify with xmlsec1 against the trust bundle: the response
// element written as a standalone document, both exactly as sent and as a
// client detaches it from the envelope.
func TestXmlsecVerifiesResponses(t *testing.T) {
	xmlsec := tool(t, "xmlsec1")
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, customer, "Acme Oy")
	dir := t.TempDir()
	trusted, untrusted := bundleFiles(t, dir, s.CA.Bundle(s.Clock.Now()))
	cred := s.Order(t, customer, 0)
	key := irpkidtest.NewKey(t)
	okBody := post(t, s.URL, "signNewCertificate", signNewBody(t, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, key, customer)))
	failBody := post(t, s.URL, "getCertificate", getBody(t, "0123456789abcdef0123456789abcdef"))
	if !strings.Contains(string(failBody), "<Status>FAIL</Status>") || !strings.Contains(string(okBody), "<Status>OK</Status>") {
		t.Fatalf("unexpected answers:\n%s\n%s", okBody, failBody)
	}
	verify := func(name string, doc []byte, trustedPEM string) error {
		f := writeFile(t, dir, name, doc)
		args := append([]string{"--verify", "--trusted-pem", trustedPEM}, xmlsecUntrusted(t, untrusted)...)
		_, err := run(t, xmlsec, append(args, "--verification-time", xmlsecTime(s.Clock.Now()), "--enabled-key-data", "x509", f)...)
		return err
	}
	for name, env := range map[string][]byte{"signnew-ok": okBody, "get-fail": failBody} {
		raw := soapBody(t, env)
		if err := verify(name+"-raw.xml", raw, trusted); err != nil {
			t.Errorf("%s as sent: %v", name, err)
		}
		el, err := wire.ParseEnvelope(env, wire.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		detached, err := wire.Serialize(wire.Detach(el))
		if err != nil {
			t.Fatal(err)
		}
		if err := verify(name+"-detached.xml", append([]byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"), detached...), trusted); err != nil {
			t.Errorf("%s detached: %v", name, err)
		}
		// The same tool refuses a changed response, and a foreign root.
		tampered := bytes.Replace(raw, []byte("<Status>"), []byte("<Status> "), 1)
		if err := verify(name+"-tampered.xml", tampered, trusted); err == nil {
			t.Errorf("%s: xmlsec1 verified a tampered response", name)
		}
		prodRoot := writeFile(t, dir, "prod-root.pem", pemCert(irpkidtest.Hierarchy(t, wire.EnvProduction).Root))
		if err := verify(name+"-foreign.xml", raw, prodRoot); err == nil {
			t.Errorf("%s: xmlsec1 verified against another environment's root", name)
		}
	}
}

// A RenewCertificateRequest signed by our client verifies with xmlsec1 too,
// with the organisation certificate chaining to the bundle.
func TestXmlsecVerifiesClientRenewSignature(t *testing.T) {
	xmlsec := tool(t, "xmlsec1")
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, customer, "Acme Oy")
	e := s.Enroll(t, customer, 0)
	dir := t.TempDir()
	trusted, untrusted := bundleFiles(t, dir, s.CA.Bundle(s.Clock.Now()))
	signed, err := client.SignRenewRequest(wire.EnvTest, customer, "", irpkidtest.CSR(t, irpkidtest.NewKey(t), customer), e.Key, e.Cert)
	if err != nil {
		t.Fatal(err)
	}
	f := writeFile(t, dir, "renew.xml", signed)
	args := append([]string{"--verify", "--trusted-pem", trusted}, xmlsecUntrusted(t, untrusted)...)
	if _, err := run(t, xmlsec, append(args, "--verification-time", xmlsecTime(s.Clock.Now()), "--enabled-key-data", "x509", f)...); err != nil {
		t.Fatal(err)
	}
}

// RenewCertificateRequests signed by xmlsec1 from templates (exclusive c14n
// or only the enveloped-signature transform; ds:, ns2: or default-namespace
// signature) are accepted by the server.
func TestXmlsecSignedRenewAccepted(t *testing.T) {
	xmlsec := tool(t, "xmlsec1")
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, customer, "Acme Oy")
	e := s.Enroll(t, customer, 0)
	s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
	dir := t.TempDir()
	keyDER, err := x509.MarshalPKCS8PrivateKey(e.Key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writeFile(t, dir, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	certFile := writeFile(t, dir, "cert.pem", pemCert(e.Cert))
	c := s.Client(t)
	seen := map[string]bool{}
	for _, name := range []string{"renew-template-ds.xml", "renew-template-enveloped-only.xml", "renew-template-default-ns.xml"} {
		t.Run(name, func(t *testing.T) {
			newKey := irpkidtest.NewKey(t)
			csr := base64.StdEncoding.EncodeToString(irpkidtest.CSR(t, newKey, customer))
			if name == "renew-template-ds.xml" { // line breaks inside the value
				var b strings.Builder
				for len(csr) > 64 {
					b.WriteString(csr[:64] + "\n")
					csr = csr[64:]
				}
				csr = b.String() + csr
			}
			tmpl := template.Must(template.ParseFiles(filepath.Join("testdata", name)))
			var filled bytes.Buffer
			if err := tmpl.Execute(&filled, map[string]string{"CustomerID": customer, "CSR": csr}); err != nil {
				t.Fatal(err)
			}
			in := writeFile(t, dir, "in-"+name, filled.Bytes())
			out := filepath.Join(dir, "out-"+name)
			if _, err := run(t, xmlsec, "--sign", "--privkey-pem", keyFile+","+certFile, "--output", out, in); err != nil {
				t.Fatal(err)
			}
			signed, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(signed, []byte("X509Certificate")) {
				t.Fatalf("xmlsec1 put no certificate in KeyInfo:\n%s", signed)
			}
			// Drop the XML declaration xmlsec1 writes; the element goes
			// into the envelope byte for byte.
			if i := bytes.Index(signed, []byte("?>")); bytes.HasPrefix(signed, []byte("<?xml")) && i > 0 {
				signed = bytes.TrimLeft(signed[i+2:], "\r\n")
			}
			resp := post(t, s.URL, `"renewCertificate"`, wire.Envelope(signed))
			rid := retrievalID(t, resp)
			if seen[rid] {
				t.Fatal("RetrievalId repeated")
			}
			seen[rid] = true
			cert, err := c.GetCertificate(context.Background(), customer, rid)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.VerifyIssued(cert, &newKey.PublicKey, customer); err != nil {
				t.Fatal(err)
			}
		})
		if t.Failed() {
			break
		}
		// The next template renews the same certificate: a retrieved
		// successor blocks that, so start over from a fresh enrolment.
		s.Clock.Set(irpkidtest.Epoch)
		e = s.Enroll(t, customer, 0)
		s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
		keyDER, _ = x509.MarshalPKCS8PrivateKey(e.Key)
		keyFile = writeFile(t, dir, "key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
		certFile = writeFile(t, dir, "cert.pem", pemCert(e.Cert))
	}
}

// Issued certificates verify with openssl against the bundle for TLS client
// use, show the profile's extensions, and openssl-made CSRs are accepted.
func TestOpensslCSRAndCertificates(t *testing.T) {
	openssl := tool(t, "openssl")
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, customer, "Acme Oy")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "org.key")
	csrFile := filepath.Join(dir, "org.csr")
	if _, err := run(t, openssl, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile,
		"-subj", "/CN="+customer+"/O=Acme Oy/C=FI", "-outform", "DER", "-out", csrFile); err != nil {
		t.Fatal(err)
	}
	csr, err := os.ReadFile(csrFile)
	if err != nil {
		t.Fatal(err)
	}
	cred := s.Order(t, customer, 0)
	c := s.Client(t)
	issuedAt := s.Clock.Now()
	rid, err := c.SignNewCertificate(context.Background(), customer, cred.TransferID, cred.TransferPassword, csr)
	if err != nil {
		t.Fatalf("openssl CSR refused: %v", err)
	}
	cert, err := c.GetCertificate(context.Background(), customer, rid)
	if err != nil {
		t.Fatal(err)
	}
	certFile := writeFile(t, dir, "org.crt", pemCert(cert))
	// The certificate is for openssl's key.
	pub, err := run(t, openssl, "pkey", "-in", keyFile, "-pubout")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if strings.TrimSpace(pub) != strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))) {
		t.Error("the certificate is not for the key openssl made")
	}

	// A renewal with another openssl CSR, so that both kinds of issuance
	// are checked by openssl below.
	e := s.Enroll(t, customer, 0)
	s.Clock.Set(e.Cert.NotAfter.Add(-30 * 24 * time.Hour))
	csr2File := filepath.Join(dir, "org2.csr")
	if _, err := run(t, openssl, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", filepath.Join(dir, "org2.key"),
		"-subj", "/CN="+customer, "-outform", "DER", "-out", csr2File); err != nil {
		t.Fatal(err)
	}
	csr2, _ := os.ReadFile(csr2File)
	rid2, err := c.RenewCertificate(context.Background(), customer, csr2, e.Key, e.Cert)
	if err != nil {
		t.Fatalf("openssl CSR refused for renewal: %v", err)
	}
	renewed, err := c.GetCertificate(context.Background(), customer, rid2)
	if err != nil {
		t.Fatal(err)
	}
	renewedFile := writeFile(t, dir, "renewed.crt", pemCert(renewed))

	trusted, untrusted := bundleFiles(t, dir, s.CA.Bundle(s.Clock.Now()))
	at := fmt.Sprint(s.Clock.Now().Unix())
	for _, f := range []string{certFile, renewedFile} {
		out, err := run(t, openssl, "verify", "-attime", at, "-purpose", "sslclient", "-CAfile", trusted, "-untrusted", untrusted, f)
		if err != nil || !strings.Contains(out, ": OK") {
			t.Errorf("openssl verify %s: %v %s", filepath.Base(f), err, out)
		}
		// Not for another environment's root, and not as a TLS server.
		prod := writeFile(t, dir, "prod.pem", pemCert(irpkidtest.Hierarchy(t, wire.EnvProduction).Root))
		if out, err := run(t, openssl, "verify", "-attime", at, "-CAfile", prod, "-untrusted", untrusted, f); err == nil {
			t.Errorf("openssl verified against the PRODUCTION root: %s", out)
		}
		if out, err := run(t, openssl, "verify", "-attime", at, "-purpose", "sslserver", "-CAfile", trusted, "-untrusted", untrusted, f); err == nil {
			t.Errorf("openssl accepted the certificate for a TLS server: %s", out)
		}
	}

	text, err := run(t, openssl, "x509", "-in", certFile, "-noout", "-text")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Version: 3",
		"Signature Algorithm: sha256WithRSAEncryption",
		"Subject: C = FI, O = Acme Oy, CN = " + customer,
		"Public-Key: (2048 bit)",
		"X509v3 Key Usage: critical\n                Digital Signature\n",
		"X509v3 Extended Key Usage: \n                TLS Web Client Authentication\n",
		"X509v3 Basic Constraints: critical\n                CA:FALSE",
		"X509v3 Subject Key Identifier:",
		"X509v3 Authority Key Identifier:",
		"Not After : " + issuedAt.AddDate(2, 0, 0).UTC().Format("Jan _2 15:04:05 2006 GMT"),
		"Not Before: " + issuedAt.Add(-time.Minute).UTC().Format("Jan _2 15:04:05 2006 GMT"),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl x509 -text lacks %q:\n%s", want, text)
		}
	}
	// The serial is 128 bits of randomness at most: at most 16 octets
	// (17 with a leading zero octet), printed as colon-separated hex.
	if n := len(cert.SerialNumber.Bytes()); n < 9 || n > 16 {
		t.Errorf("serial has %d octets", n)
	}
	if strings.Contains(text, "X509v3 Subject Alternative Name") {
		t.Error("unexpected subject alternative name")
	}
}

// dsStub stands in for the XML-DSig schema that the service's XSD imports
// from the network: it checks that ds:Signature is there, not its content
// (xmlsec1 checks that).
const dsStub = `<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://www.w3.org/2000/09/xmldsig#" elementFormDefault="qualified">
  <xs:element name="Signature"><xs:complexType><xs:sequence>
    <xs:any processContents="skip" namespace="##any" minOccurs="0" maxOccurs="unbounded"/>
  </xs:sequence><xs:anyAttribute processContents="skip"/></xs:complexType></xs:element>
</xs:schema>
`

// TestNotReadyResponseSignedAndValid: with an issue delay, an early
// GetCertificate is answered FAIL NOT_READY in a response that xmlsec1
// verifies against the trust bundle and xmllint validates against the
// service's own XSD (?xsd); once ready, the same request gets the
// certificate, in a response valid against the XSD too.
func TestNotReadyResponseSignedAndValid(t *testing.T) {
	xmlsec, xmllint := tool(t, "xmlsec1"), tool(t, "xmllint")
	s := irpkidtest.Start(t, irpkidtest.Config{Mutate: func(c *service.Config) { c.IssueDelay = 40 * time.Second }})
	s.AddOrg(t, customer, "Acme Oy")
	dir := t.TempDir()
	trusted, untrusted := bundleFiles(t, dir, s.CA.Bundle(s.Clock.Now()))
	xsd, err := http.Get(s.URL + "?xsd")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(xsd.Body)
	xsd.Body.Close()
	stub := writeFile(t, dir, "xmldsig-stub.xsd", []byte(dsStub))
	schema := writeFile(t, dir, "service.xsd", bytes.Replace(b, []byte(`schemaLocation="http://www.w3.org/TR/xmldsig-core/xmldsig-core-schema.xsd"`), []byte(`schemaLocation="`+stub+`"`), 1))

	cred := s.Order(t, customer, 0)
	resp := post(t, s.URL, "signNewCertificate", signNewBody(t, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), customer)))
	el, err := wire.ParseEnvelope(resp, wire.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	r, err := wire.DecodeResponse(wire.Detach(el), wire.OpSignNew, true)
	if err != nil || !r.Result.OK() {
		t.Fatalf("SignNewCertificate: %v %+v", err, r)
	}
	check := func(name string, body []byte, want string) {
		t.Helper()
		if !strings.Contains(string(body), want) {
			t.Fatalf("%s: no %s in\n%s", name, want, body)
		}
		f := writeFile(t, dir, name+".xml", soapBody(t, body))
		args := append([]string{"--verify", "--trusted-pem", trusted}, xmlsecUntrusted(t, untrusted)...)
		if _, err := run(t, xmlsec, append(args, "--verification-time", xmlsecTime(s.Clock.Now()), "--enabled-key-data", "x509", f)...); err != nil {
			t.Errorf("%s: xmlsec1: %v", name, err)
		}
		if out, err := run(t, xmllint, "--noout", "--nonet", "--schema", schema, f); err != nil {
			t.Errorf("%s: not valid against the XSD: %v\n%s", name, err, out)
		}
	}
	s.Clock.Advance(10 * time.Second)
	early := post(t, s.URL, "getCertificate", getBody(t, r.RetrievalID))
	check("not-ready", early, "<ErrorCode>NOT_READY</ErrorCode>")
	if !strings.Contains(string(early), "Try again in 30 seconds") {
		t.Errorf("the message does not say when:\n%s", early)
	}
	s.Clock.Advance(30 * time.Second)
	check("ready", post(t, s.URL, "getCertificate", getBody(t, r.RetrievalID)), "<Status>OK</Status>")
}
