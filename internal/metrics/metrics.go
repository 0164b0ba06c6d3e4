// Package metrics is irpkid's Prometheus instrumentation: the collectors,
// the registry they live in, and the methods through which the SOAP
// handler, the use cases, the e-service and the reminder job report what
// they did. Each of those declares the small interface it needs; *Metrics
// implements all of them. cmd/irpkid serves Handler on --metrics-listen.
package metrics

import (
	"crypto/x509"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/irpki/irpki/internal/buildinfo"
	"github.com/irpki/irpki/internal/serial"
)

// Metrics holds irpkid's collectors. Its methods are safe for concurrent
// use.
type Metrics struct {
	reg          *prometheus.Registry
	soapRequests *prometheus.CounterVec
	soapDuration *prometheus.HistogramVec
	refusals     *prometheus.CounterVec
	issued       *prometheus.CounterVec
	reminders    *prometheus.CounterVec
	signIns      *prometheus.CounterVec
	notAfter     *expiries
}

// The label values of irpkid_certificates_issued_total.
const (
	KindNew     = "new"     // SignNewCertificate
	KindRenewal = "renewal" // RenewCertificate
)

// New returns the metrics of one irpkid process, with the Go runtime and
// process collectors and build's irpkid_build_info.
func New(build buildinfo.Info) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		soapRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "irpkid_soap_requests_total",
			Help: "SOAP requests answered, by operation (empty when the request could not be read), result (OK, FAIL or fault) and catalogue code (empty for OK)."},
			[]string{"operation", "result", "code"}),
		soapDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "irpkid_soap_request_duration_seconds",
			Help:    "Time from reading a SOAP request to its answer written, by operation.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"operation"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "irpkid_refusals_total",
			Help: "Requests refused: SOAP Result FAIL answers and SOAP faults, by catalogue code."},
			[]string{"code"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "irpkid_certificates_issued_total",
			Help: "Certificates issued (durably recorded), by kind: new (SignNewCertificate) or renewal (RenewCertificate)."},
			[]string{"kind"}),
		reminders: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "irpkid_reminders_total",
			Help: "Expiry reminder e-mails, by result: sent or failed."},
			[]string{"result"}),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "irpkid_eservice_sign_ins_total",
			Help: "E-service sign-in attempts, by outcome: ok, bad_credentials, rate_limited, busy, or the identity provider's refusals."},
			[]string{"outcome"}),
		notAfter: &expiries{desc: prometheus.NewDesc("irpkid_ca_certificate_not_after_timestamp_seconds",
			"Expiry (NotAfter) of each certificate of the CA hierarchy and of the response-signing certificate, Unix seconds, by role (root, intermediate, issuing, signer, and signer_next during a signer rotation's overlap), subject common name and serial.",
			[]string{"role", "subject", "serial"}, nil)},
	}
	m.reg.MustRegister(m.soapRequests, m.soapDuration, m.refusals, m.issued, m.reminders, m.signIns, m.notAfter,
		build.Collector("irpkid"),
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(gcCPU)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, k := range []string{KindNew, KindRenewal} {
		m.issued.WithLabelValues(k)
	}
	for _, r := range []string{"sent", "failed"} {
		m.reminders.WithLabelValues(r)
	}
	return m
}

// gcCPU adds to the Go collector's default metrics what sizing irpkid
// serve's memory budget needs: the heap live after the last collection
// (go_gc_heap_live_bytes), and the CPU time spent in garbage collection,
// by kind, and available, since the process started
// (go_cpu_classes_gc_*_cpu_seconds_total, go_cpu_classes_total_cpu_seconds_total;
// gc_mark_idle is collection work on otherwise idle CPUs, which costs no
// request anything).
var gcCPU = collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^(/cpu/classes/(gc/.*|total):cpu-seconds|/gc/heap/live:bytes)$`)}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Register adds more collectors (e.g. a gauge reading live state).
func (m *Metrics) Register(c ...prometheus.Collector) { m.reg.MustRegister(c...) }

// SOAPRequest counts one SOAP request and its time.
func (m *Metrics) SOAPRequest(operation, result, code string, d time.Duration) {
	m.soapRequests.WithLabelValues(operation, result, code).Inc()
	m.soapDuration.WithLabelValues(operation).Observe(d.Seconds())
	if result != "OK" {
		m.refusals.WithLabelValues(code).Inc()
	}
}

// CertificateIssued counts a certificate durably recorded: a renewal's
// successor when renewal is true, a new enrolment's otherwise.
func (m *Metrics) CertificateIssued(renewal bool) {
	k := KindNew
	if renewal {
		k = KindRenewal
	}
	m.issued.WithLabelValues(k).Inc()
}

// ReminderSent counts a reminder mail, sent or failed.
func (m *Metrics) ReminderSent(ok bool) {
	r := "failed"
	if ok {
		r = "sent"
	}
	m.reminders.WithLabelValues(r).Inc()
}

// SignIn counts an e-service sign-in attempt by its outcome.
func (m *Metrics) SignIn(outcome string) { m.signIns.WithLabelValues(outcome).Inc() }

// CertificateExpiries exports the expiry of the CA and signing
// certificates that each passes to yield with their roles; it is called at
// each scrape, as the response signers change with a rotation.
func (m *Metrics) CertificateExpiries(each func(yield func(role string, c *x509.Certificate))) {
	m.notAfter.mu.Lock()
	m.notAfter.each = each
	m.notAfter.mu.Unlock()
}

// expiries is the collector of irpkid_ca_certificate_not_after_timestamp_seconds.
type expiries struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	each func(yield func(role string, c *x509.Certificate))
}

func (e *expiries) Describe(ch chan<- *prometheus.Desc) { ch <- e.desc }

func (e *expiries) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	each := e.each
	e.mu.Unlock()
	if each == nil {
		return
	}
	each(func(role string, c *x509.Certificate) {
		ch <- prometheus.MustNewConstMetric(e.desc, prometheus.GaugeValue, float64(c.NotAfter.Unix()),
			role, c.Subject.CommonName, serial.Text(c.SerialNumber))
	})
}
