package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/irpki/irpki/internal/atomicfile"
	"github.com/irpki/irpki/internal/clock"
)

// OutboxMailer writes each message as an RFC 5322 .eml file into a
// directory instead of sending it: the embedded default when no SMTP server
// is configured, so that a local irpkid works without a mail server and the
// messages can be read (or opened in a mail program) from disk. Files are
// written atomically with mode 0600, since a credential-delivery link is in
// them.
type OutboxMailer struct {
	dir   string
	from  string
	clock clock.Clock
	log   *slog.Logger
}

var _ Mailer = (*OutboxMailer)(nil)

// Outbox returns a Mailer writing into dir, creating it (0700) if needed.
func Outbox(dir, from string, clk clock.Clock, log *slog.Logger) (*OutboxMailer, error) {
	if from == "" {
		return nil, fmt.Errorf("notify: the sender address is required")
	}
	if _, err := build(from, Message{To: "check@example.invalid"}); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("notify: outbox: %w", err)
	}
	return &OutboxMailer{dir: dir, from: from, clock: clk, log: log}, nil
}

// Dir returns the outbox directory.
func (o *OutboxMailer) Dir() string { return o.dir }

// Send writes m to a new file <time>-<random>.eml in the outbox.
func (o *OutboxMailer) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.Date.IsZero() {
		m.Date = o.clock.Now()
	}
	g, err := build(o.from, m)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := g.WriteTo(&buf); err != nil {
		return fmt.Errorf("notify: outbox: %w", err)
	}
	r := make([]byte, 6)
	if _, err := rand.Read(r); err != nil {
		return fmt.Errorf("notify: outbox: %w", err)
	}
	name := o.clock.Now().UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(r) + ".eml"
	path := filepath.Join(o.dir, name)
	if err := atomicfile.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("notify: outbox: %w", err)
	}
	o.log.InfoContext(ctx, "mail written to outbox (no SMTP server configured)", "to", m.To, "file", path)
	return nil
}
