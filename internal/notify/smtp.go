package notify

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes of an SMTP connection.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS; refused if the server cannot (default)
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, usually port 465)
	TLSNone     = "none"     // no TLS: only for a mail relay on localhost or a trusted network
)

// SMTPConfig says how to reach the mail server.
type SMTPConfig struct {
	Host     string
	Port     int    // 0: 587 for starttls, 465 for tls, 25 for none
	TLS      string // TLSStartTLS, TLSImplicit or TLSNone; "" is TLSStartTLS
	Username string // "" for no authentication
	Password string
	From     string        // the sender address, e.g. "Tulorekisteri <no-reply@example.fi>"
	Timeout  time.Duration // per connection; 0 for 30 s
	// TLSConfig overrides the TLS settings (a private CA, for example);
	// nil verifies the server against the system roots for Host.
	TLSConfig *tls.Config
}

// SMTPMailer sends over SMTP, one connection per message.
type SMTPMailer struct {
	cfg  SMTPConfig
	opts []gomail.Option
	log  *slog.Logger
}

var _ Mailer = (*SMTPMailer)(nil)

// SMTP returns a Mailer for the server in cfg, checking the configuration
// but not connecting.
func SMTP(cfg SMTPConfig, log *slog.Logger) (*SMTPMailer, error) {
	if cfg.Host == "" {
		return nil, fmt.Errorf("notify: SMTP host is required")
	}
	if cfg.From == "" {
		return nil, fmt.Errorf("notify: the sender address (--mail-from) is required")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	mode := strings.ToLower(cfg.TLS)
	if mode == "" {
		mode = TLSStartTLS
	}
	opts := []gomail.Option{gomail.WithTimeout(cfg.Timeout)}
	port := cfg.Port
	switch mode {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		if port == 0 {
			port = 587
		}
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
		if port == 0 {
			port = 465
		}
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		if port == 0 {
			port = 25
		}
	default:
		return nil, fmt.Errorf("notify: SMTP TLS mode %q: use starttls, tls or none", cfg.TLS)
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("notify: SMTP port %d is out of range", port)
	}
	opts = append(opts, gomail.WithPort(port))
	if cfg.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(cfg.TLSConfig))
	} else if mode != TLSNone {
		opts = append(opts, gomail.WithTLSConfig(&tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}))
	}
	if cfg.Username != "" {
		if mode == TLSNone {
			return nil, fmt.Errorf("notify: SMTP authentication needs TLS: the password would cross the network in clear")
		}
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	if _, err := build(cfg.From, Message{To: "check@example.invalid"}); err != nil {
		return nil, err
	}
	cfg.TLS, cfg.Port = mode, port
	return &SMTPMailer{cfg: cfg, opts: opts, log: log}, nil
}

// Send delivers m to the mail server.
func (s *SMTPMailer) Send(ctx context.Context, m Message) error {
	g, err := build(s.cfg.From, m)
	if err != nil {
		return err
	}
	c, err := gomail.NewClient(s.cfg.Host, s.opts...)
	if err != nil {
		return fmt.Errorf("notify: SMTP client: %w", err)
	}
	server := fmt.Sprintf("%s:%d", s.cfg.Host, s.cfg.Port)
	if err := c.DialAndSendWithContext(ctx, g); err != nil {
		if !g.IsDelivered() {
			return fmt.Errorf("notify: SMTP %s: %w", server, err)
		}
		// The server answered 250 to the message's DATA: it has taken the
		// message. What failed came after (RSET or QUIT); reporting a
		// failure would have the caller send the same mail again.
		s.log.WarnContext(ctx, "mail sent; the connection failed after the server accepted it", "to", m.To, "message_id", g.GetMessageID(), "smtp", server, "err", err)
		return nil
	}
	s.log.InfoContext(ctx, "mail sent", "to", m.To, "message_id", g.GetMessageID(), "smtp", server)
	return nil
}
