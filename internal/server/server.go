package server

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/certapi"
	"github.com/irpki/irpki/internal/crl"
	"github.com/irpki/irpki/internal/eservice"
	"github.com/irpki/irpki/internal/notify"
	"github.com/irpki/irpki/internal/reqid"
	"github.com/irpki/irpki/internal/sms"
	"github.com/irpki/irpki/internal/wire"
)

// Config is what New builds: the core, the SOAP interface, and the parts
// left out when their field is nil or zero (the e-service, mail, the SMS
// dispatcher, the reminder job, the periodic CRL publication, audit
// pruning).
type Config struct {
	CoreConfig
	// SOAP is the SOAP handler's settings (limits, admission, public URL).
	// New fills in Log, Health (the store answers), Ready (/readyz: the
	// store takes a write, every online key signs) and Observer (Metrics)
	// where they are not set.
	SOAP certapi.Config
	// PublicURL is scheme://host[:port] users reach the server at: the
	// e-service there, and the links of reminder mail to it.
	PublicURL string
	// Mail is where mail goes; nil: no mail (then neither the e-service
	// nor the reminder job).
	Mail *MailConfig
	// EService, if not nil, is the e-service mounted at eservice.Path.
	// New sets its Observer (Metrics) and SMSWake (the dispatcher).
	EService *eservice.Config
	// SMS, if not nil, sends the PIN's SMS of the e-service's credential
	// deliveries (needed when EService.PINDelivery is eservice.PINBySMS).
	SMS *SMSConfig
	// Reminder, if not nil, runs the expiry reminder job.
	Reminder *ReminderConfig
	// CRLInterval, if positive, publishes the CRLs this often (they are
	// published at every revocation anyway).
	CRLInterval time.Duration
	// AuditRetention, if positive, prunes the refusals filed under no
	// organisation (the audit entries anyone can cause) older than this,
	// hourly.
	AuditRetention time.Duration
	// SignerRefresh, if positive, looks this often for a response-signer
	// rotation begun or finished in the CA directory (irpkid ca
	// rotate-signer), so that it is picked up without a restart. The
	// signer of each response is chosen by the clock either way.
	SignerRefresh time.Duration
}

// Server is an assembled irpkid.
type Server struct {
	*Core
	// API is the SOAP handler (also /healthz and /readyz).
	API *certapi.Handler
	// EService is the e-service, nil without one.
	EService *eservice.Handler
	// Signers are the response signers the server follows (see
	// Config.SignerRefresh).
	Signers *ca.SignerWatch

	cfg        Config
	mux        *http.ServeMux
	handler    http.Handler
	dispatcher *sms.Dispatcher
	reminder   *notify.Reminder

	mu      sync.Mutex
	cancel  context.CancelFunc
	jobs    sync.WaitGroup
	closers []func()
	closed  bool
}

// New builds the server described by cfg. It starts nothing that runs on
// its own (Start does); when a step fails, it closes what the steps before
// it opened.
func New(ctx context.Context, cfg Config) (_ *Server, err error) {
	core, err := Open(ctx, cfg.CoreConfig)
	if err != nil {
		return nil, err
	}
	s := &Server{Core: core, cfg: cfg, mux: http.NewServeMux()}
	s.closers = append(s.closers, func() {
		if err := core.Close(); err != nil {
			core.Log.Warn("closing the store and the CA's PKCS#11 tokens", "err", err)
		}
	})
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	// The response signer: chosen by the clock at each response (a
	// rotation's next signer from its switch time on).
	s.Signers = ca.NewSignerWatch(core.CA, core.Clock)
	signer := wire.NewSwitchingSigner(s.Signers.Key)
	acfg := cfg.SOAP
	if acfg.Log == nil {
		acfg.Log = core.Log
	}
	if acfg.Health == nil {
		acfg.Health = core.DB.Ping
	}
	if acfg.Ready == nil {
		acfg.Ready = s.ready
	}
	if acfg.Observer == nil && core.Metrics != nil {
		acfg.Observer = core.Metrics
	}
	s.API = certapi.New(core.Service, signer, acfg)
	s.API.Register(s.mux)
	s.mux.Handle(crl.PathPrefix, core.CRLs.Handler())
	if core.Metrics != nil {
		s.measure()
	}
	var mailer notify.Mailer
	if cfg.Mail != nil {
		if mailer, err = Mailer(*cfg.Mail, core.dataDir, core.Clock, core.Log); err != nil {
			return nil, err
		}
	}
	if cfg.EService != nil {
		if err := s.mountEService(mailer); err != nil {
			return nil, err
		}
	}
	if cfg.Reminder != nil {
		if mailer == nil {
			return nil, errors.New("server: the reminder job needs mail")
		}
		if s.reminder, err = core.Reminder(mailer, cfg.Reminder.Days, cfg.PublicURL); err != nil {
			return nil, err
		}
	}
	s.handler = reqid.Middleware(core.Log, core.Clock.Now, eservice.RedactPath, s.mux)
	return s, nil
}

// mountEService builds the e-service (and the SMS dispatcher it queues
// the PIN's SMS for) and mounts it.
func (s *Server) mountEService(m notify.Mailer) error {
	if m == nil {
		return errors.New("server: the e-service needs mail")
	}
	ecfg := *s.cfg.EService
	if ecfg.PublicURL == "" {
		ecfg.PublicURL = s.cfg.PublicURL
	}
	if s.Metrics != nil {
		ecfg.Observer = s.Metrics
	}
	if s.cfg.SMS != nil {
		d, err := s.cfg.SMS.dispatcher(s.DB, s.dataDir, s.Clock, s.Log)
		if err != nil {
			return err
		}
		s.dispatcher = d
		ecfg.SMSWake = d.Wake
	} else if ecfg.PINDelivery != eservice.PINOnScreen {
		return errors.New("server: PIN delivery by SMS needs an SMS configuration")
	}
	h, err := eservice.New(ecfg, s.Service, s.DB, m, s.Clock, s.Log)
	if err != nil {
		return err
	}
	h.Register(s.mux)
	s.EService = h
	s.Log.Info("e-service", "url", strings.TrimSuffix(ecfg.PublicURL, "/")+eservice.Path)
	return nil
}

// measure registers the server's gauges and counters: among them the
// expiry of the hierarchy's certificates with the response signers as they
// are at each scrape (both during a rotation's overlap), and the time of a
// pending signer switch.
func (s *Server) measure() {
	m := s.Metrics
	m.CertificateExpiries(func(yield func(string, *x509.Certificate)) {
		for _, rc := range s.Signers.Certificates() {
			yield(rc.Role, rc.Cert)
		}
	})
	m.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "irpkid_response_signer_switch_timestamp_seconds",
		Help: "When the next response signer of a rotation (irpkid ca rotate-signer) begins to sign, Unix seconds; 0 when no switch is to come."},
		func() float64 {
			if r := s.Signers.Hierarchy().Rotation; r != nil && s.Clock.Now().Before(r.SwitchAt) {
				return float64(r.SwitchAt.Unix())
			}
			return 0
		}))
	api, db := s.API, s.DB
	m.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "irpkid_soap_body_bytes_in_flight",
		Help: "Memory held now by SOAP request bodies being received (bounded by --max-inflight-body-bytes)."},
		func() float64 { return float64(api.BodyBytesInFlight()) }))
	m.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "irpkid_soap_requests_admitted",
		Help: "SOAP requests being served or waiting for their turn (bounded by --max-inflight-requests plus --max-queued-requests)."},
		func() float64 { all, _ := api.Admission().Queued(""); return float64(all) }))
	m.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "irpkid_soap_requests_running",
		Help: "SOAP requests being served now (at most --max-inflight-requests); irpkid_soap_requests_admitted less this are waiting for their turn."},
		func() float64 { return float64(api.Admission().Running()) }))
	m.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "irpkid_store_commits_total",
		Help: "Durable SQLite commits (each one fsync); with irpkid_store_committed_transactions_total, how many write transactions a group commit holds."},
		func() float64 { c, _ := db.CommitStats(); return float64(c) }))
	m.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "irpkid_store_committed_transactions_total",
		Help: "Write transactions in the SQLite commits."},
		func() float64 { _, t := db.CommitStats(); return float64(t) }))
}

// Handler is the public HTTP handler: SOAP at certapi.Path (with /healthz
// and /readyz), the CRLs, and the e-service, every request with a request
// ID in its logs.
func (s *Server) Handler() http.Handler { return s.handler }

// Start runs the background jobs the configuration asks for until ctx
// ends or Close is called. Call it once.
func (s *Server) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.cancel != nil {
		return
	}
	ctx, s.cancel = context.WithCancel(ctx)
	if s.dispatcher != nil {
		s.goJob(func() { s.dispatcher.Run(ctx, s.cfg.SMS.Interval) })
	}
	if s.reminder != nil {
		s.goJob(func() { s.reminder.Run(ctx, s.cfg.Reminder.Interval) })
	}
	if s.cfg.CRLInterval > 0 {
		s.goJob(func() { s.CRLs.Run(ctx, s.cfg.CRLInterval) })
	}
	if s.cfg.SignerRefresh > 0 {
		s.goJob(func() { s.Signers.Run(ctx, s.cfg.SignerRefresh, s.Log) })
	}
	if s.cfg.AuditRetention > 0 {
		s.goJob(func() { pruneAudit(ctx, s.DB, s.cfg.AuditRetention, time.Hour, s.Clock, s.Log) })
	}
}

func (s *Server) goJob(run func()) {
	s.jobs.Add(1)
	go func() {
		defer s.jobs.Done()
		run()
	}()
}

// Close stops the background jobs and the metrics listener, waits for
// them, and closes the store. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	s.jobs.Wait()
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// onClose adds f to what Close does, before what was added earlier.
func (s *Server) onClose(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closers = append(s.closers, f)
}
