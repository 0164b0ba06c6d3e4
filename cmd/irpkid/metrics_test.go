package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/reqid"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/store"
)

// scrape reads the metrics at url as metric families.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

// value is the value of the counter, gauge or histogram count of name with
// exactly the given labels, 0 if there is none.
func value(mf map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := mf[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

func get(t *testing.T, url string) (int, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// TestMetricsAndReadiness drives real SOAP traffic through irpkid serve
// and checks that the metrics on --metrics-listen moved by exactly what was
// done; that /readyz fails while the database refuses writes and
// /healthz stays the cheap liveness check; and that a request's ID is in
// its access log line and in the audit entry it wrote.
func TestMetricsAndReadiness(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	var logs irpkidtest.SyncBuffer
	cmd := exec.Command(binPath, "serve", "--data-dir", dataDir, "--listen", anyPort, "--metrics-listen", anyPort, "--log-format", "json", "--pprof")
	cmd.Stderr, cmd.Stdout = &logs, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr, maddr, _ := listenAddrs(t, &logs)
	if maddr == "" {
		t.Fatalf("serve did not log its metrics listener: %s", logs.String())
	}
	metricsURL := "http://" + maddr + "/metrics"
	scrapeWhenUp(t, metricsURL, &logs)
	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dataDir, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example"); code != 0 {
		t.Fatal(se)
	}
	out, se, code := irpkid(t, nil, "order", "--data-dir", dataDir, "--customer-id", "1234567-1", "--validity", "30d", "--json")
	if code != 0 {
		t.Fatal(se)
	}
	var cred struct{ TransferID, TransferPassword string }
	json.Unmarshal([]byte(strings.NewReplacer("transfer_id", "TransferID", "transfer_password", "TransferPassword").Replace(out)), &cred)
	trustPEM, _, _ := irpkid(t, nil, "trust", "--data-dir", dataDir)
	trust, err := client.ParseTrustBundle([]byte(trustPEM))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New("http://"+addr+"/2017/10/CertificateServices", client.Options{Environment: "TEST", Trust: trust})
	if err != nil {
		t.Fatal(err)
	}

	before := scrape(t, metricsURL)
	ctx := context.Background()
	key := irpkidtest.NewKey(t)
	rid, err := c.SignNewCertificate(ctx, "1234567-1", cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, key, "1234567-1"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.GetCertificate(ctx, "1234567-1", rid)
	if err != nil {
		t.Fatal(err)
	}
	key2 := irpkidtest.NewKey(t)
	if _, err := c.RenewCertificate(ctx, "1234567-1", irpkidtest.CSR(t, key2, "1234567-1"), key, cert); err != nil {
		t.Fatal(err)
	}
	// Two refusals and a fault.
	for range 2 {
		if _, err := c.GetCertificate(ctx, "1234567-1", "no-such-id"); err == nil {
			t.Fatal("an unknown RetrievalId was answered")
		}
	}
	resp, err := http.Post("http://"+addr+"/2017/10/CertificateServices", "text/xml; charset=utf-8", strings.NewReader("not xml"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	after := scrape(t, metricsURL)

	for _, d := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"irpkid_soap_requests_total", []string{"operation", "SignNewCertificate", "result", "OK", "code", ""}, 1},
		{"irpkid_soap_requests_total", []string{"operation", "GetCertificate", "result", "OK", "code", ""}, 1},
		{"irpkid_soap_requests_total", []string{"operation", "RenewCertificate", "result", "OK", "code", ""}, 1},
		{"irpkid_soap_requests_total", []string{"operation", "GetCertificate", "result", "FAIL", "code", "RETRIEVAL_ID"}, 2},
		{"irpkid_soap_requests_total", []string{"operation", "", "result", "fault", "code", "XML_MALFORMED"}, 1},
		{"irpkid_refusals_total", []string{"code", "RETRIEVAL_ID"}, 2},
		{"irpkid_refusals_total", []string{"code", "XML_MALFORMED"}, 1},
		{"irpkid_certificates_issued_total", []string{"kind", "new"}, 1},
		{"irpkid_certificates_issued_total", []string{"kind", "renewal"}, 1},
		{"irpkid_soap_request_duration_seconds", []string{"operation", "GetCertificate"}, 3},
		{"irpkid_soap_request_duration_seconds", []string{"operation", "SignNewCertificate"}, 1},
	} {
		if got := value(after, d.name, d.labels...) - value(before, d.name, d.labels...); got != d.want {
			t.Errorf("%s%v moved by %v, want %v", d.name, d.labels, got, d.want)
		}
	}
	// Expiry of every CA certificate and the signer, build info, the Go
	// and process collectors.
	for _, role := range []string{"root", "intermediate", "issuing", "signer"} {
		if v := value(after, "irpkid_ca_certificate_not_after_timestamp_seconds", "role", role); v < float64(time.Now().Unix()) {
			t.Errorf("no future expiry for the %s certificate: %v", role, v)
		}
	}
	if n := len(after["irpkid_ca_certificate_not_after_timestamp_seconds"].GetMetric()); n != 8 {
		t.Errorf("%d expiry gauges, want 8 (root, intermediate, five issuing CAs, signer)", n)
	}
	// Group commit: at least one durable commit, each holding one write
	// transaction or more; the admission gauge is there.
	commits := value(after, "irpkid_store_commits_total") - value(before, "irpkid_store_commits_total")
	held := value(after, "irpkid_store_committed_transactions_total") - value(before, "irpkid_store_committed_transactions_total")
	if commits < 1 || held < commits {
		t.Errorf("%v commits held %v write transactions", commits, held)
	}
	// --pprof: the profiler on the metrics listener, and only there.
	if code, _ := get(t, "http://"+maddr+"/debug/pprof/cmdline"); code != http.StatusOK {
		t.Errorf("--pprof: /debug/pprof/cmdline on the metrics listener answered %d", code)
	}
	if code, _ := get(t, "http://"+addr+"/debug/pprof/cmdline"); code == http.StatusOK {
		t.Error("the profiler is served on the public listener")
	}
	if _, se, code := irpkid(t, nil, "serve", "--data-dir", t.TempDir(), "--pprof"); code == 0 || !strings.Contains(se, "--metrics-listen") {
		t.Errorf("--pprof without --metrics-listen: exit %d, %s", code, se)
	}
	for _, name := range []string{"irpkid_build_info", "go_goroutines", "process_cpu_seconds_total", "irpkid_soap_body_bytes_in_flight", "irpkid_reminders_total", "irpkid_soap_requests_admitted"} {
		if after[name] == nil {
			t.Errorf("no %s", name)
		}
	}

	// A request's ID is in its response, its access log line and the
	// audit entry it wrote.
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/2017/10/CertificateServices", strings.NewReader(string(getBodyXML(t))))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get(reqid.Header)
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
		t.Fatalf("X-Request-Id %q", id)
	}
	// The access log line is written once the answer is: wait for it.
	line := regexp.MustCompile(`"msg":"http request".*"status":200.*"request_id":"` + id + `"`)
	for deadline := time.Now().Add(10 * time.Second); !line.MatchString(logs.String()); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no access log line with request_id %s:\n%s", id, logs.String())
		}
	}
	db, err := store.Open(ctx, filepath.Join(dataDir, "irpki.db"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []store.AuditEntry
	db.View(ctx, func(tx *store.Tx) error { entries, err = tx.AuditLog(ctx, "", 5); return err })
	db.Close()
	if len(entries) == 0 || entries[0].RequestID != id || entries[0].Action != "get" {
		t.Errorf("the newest audit entry %+v does not carry the request ID %s", entries, id)
	}

	// Readiness: the database must take a write. Another connection
	// holding SQLite's write lock makes it refuse them.
	if code, _ := get(t, "http://"+addr+"/readyz"); code != 200 {
		t.Fatalf("/readyz: %d", code)
	}
	release, err := store.HoldWriteLock(ctx, filepath.Join(dataDir, "irpki.db"))
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, "http://"+addr+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while the database refuses writes: %d, want 503", code)
	}
	if code, _ := get(t, "http://"+maddr+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz on the metrics listener while the database refuses writes: %d, want 503", code)
	}
	if code, _ := get(t, "http://"+addr+"/healthz"); code != 200 {
		t.Errorf("/healthz while the database refuses writes: %d, want 200 (it still reads)", code)
	}
	if !strings.Contains(logs.String(), "readiness check failed") {
		t.Errorf("the failed readiness check was not logged")
	}
	release()
	if code, _ := get(t, "http://"+addr+"/readyz"); code != 200 {
		t.Errorf("/readyz after the lock went: %d", code)
	}
}

// getBodyXML is a GetCertificateRequest for an unknown RetrievalId.
func getBodyXML(t *testing.T) []byte {
	t.Helper()
	return []byte(`<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><cer:GetCertificateRequest xmlns:cer="http://certificates.vero.fi/2017/10/certificateservices"><Environment>TEST</Environment><CustomerId>1234567-1</CustomerId><RetrievalId>nothing</RetrievalId></cer:GetCertificateRequest></SOAP-ENV:Body></SOAP-ENV:Envelope>`)
}
