package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/internal/server"
)

func cmdRemind(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("remind", stdout, stderr)
	var mf mailFlags
	var rf reminderFlags
	mf.register(fs)
	rf.register(fs, false)
	once := fs.Bool("once", false, "send the reminders that are due now and exit (for cron)")
	interval := fs.Duration("interval", time.Hour, "without --once: how often to run until stopped")
	publicURL := fs.String("public-url", defaultPublicURL(false, defaultListen), "scheme://host[:port] users reach the server at: the mail links to the certificate's page in the e-service there (give the same as to serve)")
	fs.Usage = cliconfig.Usage(fs, "irpkid remind --once [flags]",
		"E-mails the technical contact of each certificate the configured days before it expires (60 by default),\n"+
			"once per certificate and reminder, also when several servers or cron jobs share the store;\n"+
			"none for renewed or revoked certificates. Without --smtp-host the mail goes to <data-dir>/outbox.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if !*once && *interval <= 0 {
		return fmt.Errorf("--interval must be positive")
	}
	mail, err := mf.config()
	if err != nil {
		return err
	}
	days, err := rf.parseDays()
	if err != nil {
		return err
	}
	return c.withApp(ctx, stderr, func(a *app) error {
		m, err := server.Mailer(mail, c.dataDir, a.core.Clock, a.log)
		if err != nil {
			return err
		}
		job, err := a.core.Reminder(m, days, *publicURL)
		if err != nil {
			return err
		}
		if !*once {
			job.Run(ctx, *interval)
			return nil
		}
		res, err := job.RunOnce(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "reminders: %d sent, %d failed (will be retried), %d skipped (held by another sender or waiting to retry)\n", res.Sent, res.Failed, res.Skipped)
		if res.Failed > 0 {
			return fmt.Errorf("%d reminders could not be delivered; they are retried by the next run", res.Failed)
		}
		return nil
	})
}
