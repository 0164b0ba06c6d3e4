package sms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/irpki/irpki/internal/atomicfile"
)

// OutboxSender writes each message as a text file <ID>.sms into a
// directory instead of sending it: the default when no gateway is
// configured, so that the whole two-channel delivery runs locally (the mail
// in the mail outbox, the PIN here). A message whose file exists is not
// written again: a retry after a crash leaves one file. Files are written
// atomically with mode 0600, since a PIN is in them.
type OutboxSender struct {
	dir string
	log *slog.Logger
}

var _ Sender = (*OutboxSender)(nil)

// Outbox returns a Sender writing into dir, creating it (0700) if needed.
func Outbox(dir string, log *slog.Logger) (*OutboxSender, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sms: outbox: %w", err)
	}
	return &OutboxSender{dir: dir, log: log}, nil
}

// Dir returns the outbox directory.
func (o *OutboxSender) Dir() string { return o.dir }

// Send writes m to <dir>/<m.ID>.sms unless it is there already.
func (o *OutboxSender) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := check(m); err != nil {
		return err
	}
	path := filepath.Join(o.dir, m.ID+".sms")
	if _, err := os.Stat(path); err == nil {
		o.log.InfoContext(ctx, "SMS already in the outbox: not written twice", "to", m.To, "id", m.ID)
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sms: outbox: %w", err)
	}
	body := "To: " + m.To + "\nID: " + m.ID + "\n\n" + m.Text + "\n"
	if err := atomicfile.WriteFile(path, []byte(body), 0o600); err != nil {
		return fmt.Errorf("sms: outbox: %w", err)
	}
	o.log.InfoContext(ctx, "SMS written to outbox (no SMS gateway configured)", "to", m.To, "file", path)
	return nil
}
