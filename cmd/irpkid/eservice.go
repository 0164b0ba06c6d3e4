package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/eservice"
	"github.com/irpki/irpki/internal/notify"
	"github.com/irpki/irpki/internal/server"
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

// config returns where mail goes: the SMTP server, or the outbox.
func (m *mailFlags) config() (server.MailConfig, error) {
	if m.host == "" {
		return server.MailConfig{SMTP: notify.SMTPConfig{From: m.from}}, nil
	}
	pw := m.password
	if m.passwordFile != "" {
		b, err := os.ReadFile(m.passwordFile)
		if err != nil {
			return server.MailConfig{}, fmt.Errorf("--smtp-password-file: %w", err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	if m.user != "" && pw == "" {
		return server.MailConfig{}, errors.New("--smtp-user needs a password: --smtp-password-file, IRPKI_SMTP_PASSWORD or --smtp-password")
	}
	return server.MailConfig{SMTP: notify.SMTPConfig{Host: m.host, Port: m.port, TLS: m.tlsMode, Username: m.user, Password: pw, From: m.from}}, nil
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

// parseDays reads --remind-days.
func (r *reminderFlags) parseDays() ([]int, error) {
	days, err := notify.ParseDays(r.days)
	if err != nil {
		return nil, fmt.Errorf("--remind-days: %w", err)
	}
	return days, nil
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

// apply puts the e-service, mail, SMS and reminder settings into cfg for
// a server reached at scheme://listen (unless --public-url says otherwise).
func (x *serveExtras) apply(cfg *server.Config, useTLS bool, listen string) error {
	if x.remind.interval < 0 {
		return errors.New("--remind-interval must not be negative")
	}
	publicURL := x.publicURL
	if publicURL == "" {
		publicURL = defaultPublicURL(useTLS, listen)
	}
	cfg.PublicURL = publicURL
	mail, err := x.mail.config()
	if err != nil {
		return err
	}
	cfg.Mail = &mail
	if !x.noEserv {
		ecfg := eservice.DefaultConfig(publicURL)
		ecfg.SecureCookies = secureScheme(publicURL)
		if ecfg.TrustedProxies, err = parsePrefixes(x.proxies); err != nil {
			return err
		}
		if ecfg.OIDC, err = x.oidc.config(); err != nil {
			return err
		}
		ecfg.NoPasswords = x.oidc.noPasswords
		if cfg.SMS, err = x.sms.config(); err != nil {
			return err
		}
		ecfg.PINDelivery = x.sms.pinDelivery
		cfg.EService = &ecfg
	}
	if x.remind.interval > 0 {
		days, err := x.remind.parseDays()
		if err != nil {
			return err
		}
		cfg.Reminder = &server.ReminderConfig{Days: days, Interval: x.remind.interval}
	}
	return nil
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
