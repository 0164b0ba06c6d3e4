package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// TestServePrintsEnrollLine: irpkid serve prints, at start-up, the irpki
// enroll line that reaches it: --service local with the --local-url of the
// port it actually serves on; the URL answers.
func TestServePrintsEnrollLine(t *testing.T) {
	cmd := startServe(t, filepath.Join(t.TempDir(), "data"))
	addr := cmd.Addr
	out := cmd.Stdout.(*irpkidtest.SyncBuffer)
	url := "http://" + addr + "/2017/10/CertificateServices"
	want := "irpki enroll --dir DIR --service local --local-url " + url + " --trust TRUST.pem"
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("serve's output lacks %q:\n%s", want, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get(url + "?wsdl")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), addr) {
		t.Errorf("the printed URL's WSDL: HTTP %d\n%.300s", resp.StatusCode, b)
	}
}

func TestEnrollLine(t *testing.T) {
	for _, tc := range []struct{ scheme, addr, env, want string }{
		{"http", "127.0.0.1:8080", "TEST", "--service local --trust"},
		{"http", "127.0.0.1:9443", "TEST", "--service local --local-url http://127.0.0.1:9443/2017/10/CertificateServices --trust"},
		{"http", "[::1]:8080", "TEST", "--service local --local-url http://[::1]:8080/2017/10/CertificateServices --trust"},
		{"https", "0.0.0.0:8443", "PRODUCTION", "--service local --local-url https://127.0.0.1:8443/2017/10/CertificateServices --environment PRODUCTION --trust"},
		{"https", "192.0.2.10:443", "TEST", "--endpoint https://192.0.2.10:443/2017/10/CertificateServices --trust"},
	} {
		if got := enrollLine(tc.scheme, tc.addr, tc.env, "data"); !strings.Contains(got, "irpki enroll --dir DIR "+tc.want) {
			t.Errorf("%s %s %s:\n%s\nwant %q", tc.scheme, tc.addr, tc.env, got, tc.want)
		}
	}
}
