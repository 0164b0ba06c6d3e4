package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/irpki/irpki/renewal"
)

// The metrics of irpki watch (--metrics): per state directory, the
// certificate's expiry and renewal moment, its status, and the renewal
// attempts and deploy hook runs of this process.

// serveMetrics serves the registry reg at addr, /metrics, until the
// returned function is called.
func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() { srv.Close() }, nil
}

// metricSet is the registry of a watch process: each metric has the label
// dir, the state directory (absolute) it describes, so that one process
// watching several directories reports each apart.
type metricSet struct {
	reg         *prometheus.Registry
	notAfter    *prometheus.GaugeVec
	renewAt     *prometheus.GaugeVec
	state       *prometheus.GaugeVec
	lastAttempt *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	lastResult  *prometheus.GaugeVec
	attempts    *prometheus.CounterVec
	hookResult  *prometheus.GaugeVec
}

func newMetricSet() *metricSet {
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"dir"})
	}
	s := &metricSet{
		reg:         prometheus.NewRegistry(),
		notAfter:    gauge("irpki_certificate_not_after_timestamp_seconds", "Expiry (NotAfter) of the current certificate, Unix seconds."),
		renewAt:     gauge("irpki_certificate_renew_at_timestamp_seconds", "When irpki watch renews the current certificate, Unix seconds."),
		state:       gauge("irpki_certificate_status", "The irpki status exit code: 0 valid, 1 renewal window open, 2 expired, revoked or none."),
		lastAttempt: gauge("irpki_renewal_last_attempt_timestamp_seconds", "Time of the last renewal attempt, Unix seconds."),
		lastSuccess: gauge("irpki_renewal_last_success_timestamp_seconds", "Time of the last successful renewal, or of the enrolment of the current certificate if later, Unix seconds."),
		lastResult:  gauge("irpki_renewal_last_result", "Result of the last renewal attempt: 1 success (or none yet), 0 failure."),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "irpki_renewal_attempts_total",
			Help: "Renewal attempts by result."}, []string{"dir", "result"}),
		hookResult: gauge("irpki_deploy_hook_last_result", "Result of the last deploy hook run: 1 success (or none yet), 0 failure."),
	}
	s.reg.MustRegister(build.Collector("irpki"), s.notAfter, s.renewAt, s.state, s.lastAttempt, s.lastSuccess, s.lastResult, s.attempts, s.hookResult)
	return s
}

// metrics are one state directory's metrics: the set's, labelled with it.
type metrics struct {
	notAfter    prometheus.Gauge
	renewAt     prometheus.Gauge
	state       prometheus.Gauge
	lastAttempt prometheus.Gauge
	lastSuccess prometheus.Gauge
	lastResult  prometheus.Gauge
	attempts    *prometheus.CounterVec // by result
	hookResult  prometheus.Gauge
	attemptAt   time.Time
}

func (s *metricSet) forDir(dir string) *metrics {
	l := prometheus.Labels{"dir": dir}
	m := &metrics{
		notAfter: s.notAfter.With(l), renewAt: s.renewAt.With(l), state: s.state.With(l),
		lastAttempt: s.lastAttempt.With(l), lastSuccess: s.lastSuccess.With(l), lastResult: s.lastResult.With(l),
		attempts: s.attempts.MustCurryWith(l), hookResult: s.hookResult.With(l),
	}
	m.attempts.WithLabelValues("success")
	m.attempts.WithLabelValues("failure")
	m.lastResult.Set(1)
	m.hookResult.Set(1)
	return m
}

func (m *metrics) observe(st *renewal.Status) {
	if !st.NotAfter.IsZero() {
		m.notAfter.Set(float64(st.NotAfter.Unix()))
		m.renewAt.Set(float64(st.RenewAt.Unix()))
	}
	m.state.Set(float64(statusCode(st.State)))
	if m.attemptAt.IsZero() && !st.LastAttempt.IsZero() {
		// No attempt in this process yet: report the directory's last one.
		m.lastAttempt.Set(float64(st.LastAttempt.Unix()))
		if st.LastResult == "error" {
			m.lastResult.Set(0)
		}
	}
	if m.attemptAt.IsZero() && !st.LastRenewal.IsZero() {
		// Nor a renewal: the directory's last one, not 0, which an alert
		// on the renewal's age would take for "never" (found in review).
		m.lastSuccess.Set(float64(st.LastRenewal.Unix()))
	}
}

func (m *metrics) attempt(now time.Time) {
	m.attemptAt = now
	m.lastAttempt.Set(float64(now.Unix()))
}

func (m *metrics) result(ok bool) {
	if ok {
		m.lastResult.Set(1)
		m.lastSuccess.Set(float64(m.attemptAt.Unix()))
		m.attempts.WithLabelValues("success").Inc()
		return
	}
	m.lastResult.Set(0)
	m.attempts.WithLabelValues("failure").Inc()
}

func (m *metrics) hook(ok bool) {
	if ok {
		m.hookResult.Set(1)
	} else {
		m.hookResult.Set(0)
	}
}
