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
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/mail"
	"net/url"
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
	MessageID string    // without angle brackets; one without @ gets the sender's domain, "" a random one there
	Date      time.Time // zero for the time of sending
}

// Mailer sends messages. Send returns nil only when the message has been
// handed over for delivery (accepted by the mail server, or durably written
// to the outbox); it honours ctx's deadline and cancellation. Implementations
// are safe for concurrent use.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// MessageID returns a Message-ID for Message: local@host with the host of
// publicURL (the address users reach irpkid at) when that is a domain name,
// else local alone, which the mailer completes with the sender's domain.
// Never the machine's host name (go-mail's default), which says nothing to
// the reader and may be no domain at all.
func MessageID(local, publicURL string) string {
	if u, err := url.Parse(publicURL); err == nil {
		if h := u.Hostname(); strings.Contains(h, ".") && net.ParseIP(h) == nil {
			return local + "@" + strings.ToLower(h)
		}
	}
	return local
}

// senderDomain is the domain of the sender's address, or "irpkid.invalid"
// when there is none to take.
func senderDomain(from string) string {
	if a, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok && d != "" && !strings.ContainsAny(d, "[]") {
			return strings.ToLower(d)
		}
	}
	return "irpkid.invalid"
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
	id := m.MessageID
	if id == "" {
		r := make([]byte, 16)
		if _, err := rand.Read(r); err != nil {
			return nil, fmt.Errorf("notify: message id: %w", err)
		}
		id = hex.EncodeToString(r)
	}
	if !strings.Contains(id, "@") {
		id += "@" + senderDomain(from)
	}
	g.SetMessageIDWithValue(id)
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
