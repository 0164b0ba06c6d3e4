package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// TestHTTPSProxyAndUserAgent runs the real irpki enroll against an https://
// endpoint whose name only the proxy reaches, with HTTPS_PROXY set: the
// request goes through the proxy (CONNECT), the enrolment succeeds, and
// every request, the CONNECT included, carries User-Agent irpki/VERSION,
// VERSION as irpki version prints it.
func TestHTTPSProxyAndUserAgent(t *testing.T) {
	bin := buildBinary(t)
	h := newHarness(t)
	h.s.Clock.Set(time.Now())
	const host = "pkiws.irpki.test"
	caFile, cert := tlsFor(t, host)

	var mu sync.Mutex
	var agents, connects []string
	record := func(list *[]string, v string) { mu.Lock(); *list = append(*list, v); mu.Unlock() }
	// The service's https:// front, known as host.
	front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(&agents, r.UserAgent())
		body, _ := io.ReadAll(r.Body)
		a, err := irpkidtest.Forward(r.Context(), r, h.s.URL, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", a.Header.Get("Content-Type"))
		a.Send(w)
	}))
	front.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	front.StartTLS()
	t.Cleanup(front.Close)
	// The proxy: CONNECT to host:443 reaches the front.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		record(&connects, r.Host+" "+r.UserAgent())
		if r.Host != host+":443" {
			http.Error(w, "unknown host", http.StatusForbidden)
			return
		}
		up, err := net.Dial("tcp", front.Listener.Addr().String())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		go func() { io.Copy(up, buf); up.Close() }()
		io.Copy(conn, up)
		conn.Close()
	}))
	t.Cleanup(proxy.Close)

	env := []string{"PATH=" + os.Getenv("PATH"), "HTTPS_PROXY=" + proxy.URL, "SSL_CERT_FILE=" + caFile}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(out))
	if len(fields) < 2 {
		t.Fatalf("irpki version: %q", out)
	}
	want := "irpki/" + fields[1]

	cred := h.s.Order(t, customer, 0)
	cmd := exec.Command(bin, "enroll", "--dir", h.dir, "--customer-id", customer, "--transfer-id", cred.TransferID,
		"--transfer-password-stdin", "--endpoint", "https://"+host+"/2017/10/CertificateServices", "--trust", h.trust)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(cred.TransferPassword + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("enroll through HTTPS_PROXY: %v\n%s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(connects) == 0 || len(agents) < 2 {
		t.Fatalf("proxy saw %v, the service %d requests", connects, len(agents))
	}
	for _, c := range connects {
		if c != host+":443 "+want {
			t.Errorf("CONNECT %q, want %q", c, host+":443 "+want)
		}
	}
	for _, a := range agents {
		if a != want {
			t.Errorf("User-Agent %q, want %q", a, want)
		}
	}
}

// tlsFor makes a CA and a server certificate for host; it returns the
// CA's PEM file (for SSL_CERT_FILE) and the server's certificate.
func tlsFor(t *testing.T, host string) (string, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "proxy test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
