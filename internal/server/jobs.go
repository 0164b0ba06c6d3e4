package server

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/eservice"
	"github.com/irpki/irpki/internal/notify"
	"github.com/irpki/irpki/internal/sms"
	"github.com/irpki/irpki/internal/store"
)

// MailConfig says where mail goes: to the SMTP server SMTP.Host, or with
// no host to .eml files in the outbox directory of the data directory,
// sent from SMTP.From either way.
type MailConfig struct {
	SMTP notify.SMTPConfig
}

// Mailer builds the Mailer cfg describes for the data directory dataDir.
func Mailer(cfg MailConfig, dataDir string, clk clock.Clock, log *slog.Logger) (notify.Mailer, error) {
	if cfg.SMTP.Host == "" {
		ob, err := notify.Outbox(filepath.Join(dataDir, "outbox"), cfg.SMTP.From, clk, log)
		if err != nil {
			return nil, err
		}
		log.Info("no SMTP server configured: mail goes to the outbox directory", "dir", ob.Dir())
		return ob, nil
	}
	return notify.SMTP(cfg.SMTP, log)
}

// ReminderConfig is the reminder job's rules.
type ReminderConfig struct {
	// Days before expiry at which the technical contact is mailed.
	Days []int
	// Interval is how often the job runs inside the server.
	Interval time.Duration
}

// Reminder builds the expiry reminder job, mailing through m; its mail
// links to the e-service under publicURL (none when empty).
func (c *Core) Reminder(m notify.Mailer, days []int, publicURL string) (*notify.Reminder, error) {
	cfg := notify.DefaultReminderConfig()
	cfg.Days = days
	cfg.RenewalWindow = c.Service.Config().RenewalWindow
	if c.Metrics != nil {
		cfg.Observer = c.Metrics
	}
	if publicURL != "" {
		cfg.EServiceURL = strings.TrimSuffix(publicURL, "/") + eservice.Path
	}
	return notify.NewReminder(cfg, c.DB, c.Clock, m, c.Log)
}

// SMSConfig says how the PIN's SMS is sent: to an HTTP gateway, or with
// none to files in the sms-outbox directory of the data directory.
type SMSConfig struct {
	// Gateway, if not nil, receives the messages.
	Gateway *sms.GatewayConfig
	// Interval is how often the queue is looked at for retries (new
	// messages go at once).
	Interval time.Duration
}

// dispatcher builds the SMS dispatcher cfg describes.
func (cfg *SMSConfig) dispatcher(db *store.DB, dataDir string, clk clock.Clock, log *slog.Logger) (*sms.Dispatcher, error) {
	var sender sms.Sender
	if cfg.Gateway == nil {
		ob, err := sms.Outbox(filepath.Join(dataDir, "sms-outbox"), log)
		if err != nil {
			return nil, err
		}
		log.Info("no SMS gateway configured: the PIN's SMS goes to the outbox directory", "dir", ob.Dir())
		sender = ob
	} else {
		gw, err := sms.Gateway(*cfg.Gateway, log)
		if err != nil {
			return nil, err
		}
		sender = gw
	}
	return sms.NewDispatcher(sms.DefaultDispatchConfig(), db, sender, clk, log)
}

// pruneAudit deletes, every interval until ctx ends, the refusals filed
// under no organisation that are older than retention.
func pruneAudit(ctx context.Context, db *store.DB, retention, interval time.Duration, clk clock.Clock, log *slog.Logger) {
	for {
		var n int64
		err := db.Update(ctx, func(tx *store.Tx) (err error) {
			n, err = tx.PruneAnonymousRefusals(ctx, clk.Now().Add(-retention))
			return err
		})
		switch {
		case err != nil && ctx.Err() == nil:
			log.ErrorContext(ctx, "pruning old anonymous refusals from the audit trail failed", "err", err)
		case n > 0:
			log.InfoContext(ctx, "pruned old anonymous refusals from the audit trail", "entries", n, "older_than", retention.String())
		}
		if clock.Sleep(ctx, interval) != nil {
			return
		}
	}
}
