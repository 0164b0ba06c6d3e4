// Package notify sends irpkid's e-mail: the expiry reminders to the
// technical contacts of certificates (Reminder), and the messages other
// packages hand it (the e-service's credential-delivery links).
//
// Use a Mailer to send: SMTP builds one that talks to a mail server with
// github.com/wneessen/go-mail (STARTTLS or implicit TLS, optional auth);
// Outbox builds one that writes each message as an .eml file into a
// directory, which is the embedded default when no SMTP server is
// configured. NewReminder builds the reminder job; run it with RunOnce (for
// cron: irpkid remind --once) or Run (inside irpkid serve).
//
// The reminder job sends each reminder at least once and, barring a crash
// between the mail server accepting a message and the job recording it,
// exactly once, across restarts and across replicas sharing one store: see
// Reminder for how and why.
package notify

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one plain-text e-mail.
type Message struct {
	To        string    // one bare address
	Subject   string    // one line
	Text      string    // the plain-text body
	Language  string    // Content-Language: fi, sv or en
	MessageID string    // without angle brackets; "" for a random one
	Date      time.Time // zero for the time of sending
}

// Mailer sends messages. Send returns nil only when the message has been
// handed over for delivery (accepted by the mail server, or durably written
// to the outbox); it honours ctx's deadline and cancellation. Implementations
// are safe for concurrent use.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// build turns a Message into a go-mail message from the given sender.
func build(from string, m Message) (*gomail.Msg, error) {
	if a, err := mail.ParseAddress(m.To); err != nil || a.Address != m.To {
		return nil, fmt.Errorf("notify: recipient %q is not an e-mail address", m.To)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, fmt.Errorf("notify: the subject must be one line")
	}
	g := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := g.From(from); err != nil {
		return nil, fmt.Errorf("notify: sender %q: %w", from, err)
	}
	if err := g.To(m.To); err != nil {
		return nil, fmt.Errorf("notify: recipient %q: %w", m.To, err)
	}
	g.Subject(m.Subject)
	g.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.MessageID != "" {
		g.SetMessageIDWithValue(m.MessageID)
	} else {
		g.SetMessageID()
	}
	if m.Date.IsZero() {
		g.SetDate()
	} else {
		g.SetDateWithValue(m.Date)
	}
	if m.Language != "" {
		g.SetGenHeader(gomail.Header("Content-Language"), m.Language)
	}
	g.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	g.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	return g, nil
}
