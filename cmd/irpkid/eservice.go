package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/eservice"
	"github.com/irpki/irpki/internal/notify"
	"github.com/irpki/irpki/internal/sms"
)

// mailFlags say where mail goes: an SMTP server, or with no --smtp-host the
// outbox directory in the data directory.
type mailFlags struct {
	host, tlsMode, user, password, passwordFile, from string
	port                                              int
}

func (m *mailFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.host, "smtp-host", "", "SMTP server for outgoing mail; empty: write each message as an .eml file to <data-dir>/outbox")
	fs.IntVar(&m.port, "smtp-port", 0, "SMTP port; 0 means 587 for starttls, 465 for tls, 25 for none")
	fs.StringVar(&m.tlsMode, "smtp-tls", notify.TLSStartTLS, "SMTP TLS mode: starttls (required), tls (implicit, SMTPS) or none (trusted relay only)")
	fs.StringVar(&m.user, "smtp-user", "", "SMTP user name for AUTH PLAIN; empty: no authentication")
	fs.StringVar(&m.password, "smtp-password", "", "SMTP password (prefer --smtp-password-file or the environment variable)")
	fs.StringVar(&m.passwordFile, "smtp-password-file", "", "file holding the SMTP password")
	fs.StringVar(&m.from, "mail-from", "Tulorekisteri <no-reply@irpki.invalid>", "sender address of reminders and credential links")
}

// mailer builds the Mailer the flags describe.
func (m *mailFlags) mailer(dataDir string, clk clock.Clock, log *slog.Logger) (notify.Mailer, error) {
	if m.host == "" {
		ob, err := notify.Outbox(filepath.Join(dataDir, "outbox"), m.from, clk, log)
		if err != nil {
			return nil, err
		}
		log.Info("no SMTP server configured: mail goes to the outbox directory", "dir", ob.Dir())
		return ob, nil
	}
	pw := m.password
	if m.passwordFile != "" {
		b, err := os.ReadFile(m.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("--smtp-password-file: %w", err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	if m.user != "" && pw == "" {
		return nil, errors.New("--smtp-user needs a password: --smtp-password-file, IRPKI_SMTP_PASSWORD or --smtp-password")
	}
	return notify.SMTP(notify.SMTPConfig{Host: m.host, Port: m.port, TLS: m.tlsMode, Username: m.user, Password: pw, From: m.from}, log)
}

// reminderFlags are the reminder job's rules.
type reminderFlags struct {
	days     string
	interval time.Duration
}

func (r *reminderFlags) register(fs *flag.FlagSet, withInterval bool) {
	fs.StringVar(&r.days, "remind-days", "60", "days before expiry at which the technical contact is mailed, e.g. 60 or 60,14,3")
	if withInterval {
		fs.DurationVar(&r.interval, "remind-interval", time.Hour, "how often the reminder job runs inside serve; 0 disables it (run irpkid remind --once from cron instead)")
	}
}

func (r *reminderFlags) job(a *app, m notify.Mailer, publicURL string) (*notify.Reminder, error) {
	days, err := notify.ParseDays(r.days)
	if err != nil {
		return nil, fmt.Errorf("--remind-days: %w", err)
	}
	cfg := notify.DefaultReminderConfig()
	cfg.Days = days
	cfg.RenewalWindow = a.svc.Config().RenewalWindow
	if a.metrics != nil {
		cfg.Observer = a.metrics
	}
	if publicURL != "" {
		cfg.EServiceURL = strings.TrimSuffix(publicURL, "/") + eservice.Path
	}
	return notify.NewReminder(cfg, a.db, clock.System{}, m, a.log)
}

// serveExtras are what irpkid serve runs besides the SOAP interface: the
// e-service at /eservice/ and the reminder job.
type serveExtras struct {
	mail      mailFlags
	remind    reminderFlags
	publicURL string
	noEserv   bool
	proxies   string
	oidc      oidcFlags
	sms       smsFlags
}

func (x *serveExtras) register(fs *flag.FlagSet) {
	x.mail.register(fs)
	x.remind.register(fs, true)
	fs.StringVar(&x.publicURL, "public-url", "", "scheme://host[:port] users reach this server at, for the links in e-mail (default: from --listen)")
	fs.BoolVar(&x.noEserv, "no-eservice", false, "do not serve the e-service at "+eservice.Path)
	x.oidc.register(fs)
	x.sms.register(fs)
	fs.StringVar(&x.proxies, "trusted-proxies", "", "comma-separated addresses or CIDRs of reverse proxies in front of the server, whose X-Forwarded-For names the client for the e-service's per-IP sign-in limits")
}

// parsePrefixes reads a comma-separated list of IP addresses and CIDRs.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is neither an IP address nor a CIDR", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// start mounts the e-service on mux and starts the reminder job; the
// returned func stops the job and waits for it.
func (x *serveExtras) start(ctx context.Context, a *app, dataDir string, mux *http.ServeMux, useTLS bool, listen string) (func(), error) {
	publicURL := x.publicURL
	if publicURL == "" {
		publicURL = defaultPublicURL(useTLS, listen)
	}
	m, err := x.mail.mailer(dataDir, clock.System{}, a.log)
	if err != nil {
		return nil, err
	}
	var dispatcher *sms.Dispatcher
	if !x.noEserv {
		cfg := eservice.DefaultConfig(publicURL)
		cfg.SecureCookies = secureScheme(publicURL)
		if a.metrics != nil {
			cfg.Observer = a.metrics
		}
		if cfg.TrustedProxies, err = parsePrefixes(x.proxies); err != nil {
			return nil, err
		}
		if cfg.OIDC, err = x.oidc.config(); err != nil {
			return nil, err
		}
		cfg.NoPasswords = x.oidc.noPasswords
		if dispatcher, err = x.sms.dispatcher(a.db, dataDir, clock.System{}, a.log); err != nil {
			return nil, err
		}
		cfg.PINDelivery = x.sms.pinDelivery
		if dispatcher != nil {
			cfg.SMSWake = dispatcher.Wake
		}
		h, err := eservice.New(cfg, a.svc, a.db, m, clock.System{}, a.log)
		if err != nil {
			return nil, err
		}
		h.Register(mux)
		a.log.Info("e-service", "url", strings.TrimSuffix(publicURL, "/")+eservice.Path)
	}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	stop := func() { cancel(); wg.Wait() }
	if dispatcher != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dispatcher.Run(ctx, x.sms.interval)
		}()
	}
	if x.remind.interval > 0 {
		job, err := x.remind.job(a, m, publicURL)
		if err != nil {
			cancel()
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			job.Run(ctx, x.remind.interval)
		}()
	} else if x.remind.interval < 0 {
		cancel()
		return nil, errors.New("--remind-interval must not be negative")
	}
	return stop, nil
}

// secureScheme tells whether the public URL is https, however its scheme
// is written: schemes are case-insensitive, and a browser sends a cookie
// marked Secure only over HTTPS.
func secureScheme(publicURL string) bool {
	u, err := url.Parse(publicURL)
	return err == nil && u.Scheme == "https"
}

// defaultListen is where irpkid serve listens unless told otherwise.
const defaultListen = "127.0.0.1:8080"

// defaultPublicURL is the address users reach a server at that listens on
// listen: the address itself, with localhost for an unspecified host.
func defaultPublicURL(useTLS bool, listen string) string {
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return scheme + "://" + listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
