// Package sms sends irpkid's text messages: the PIN of a credential
// delivery, which goes to the technical contact's phone while the link goes
// to their e-mail, so that nobody but the contact ever holds both.
//
// A Sender hands one message over: Outbox writes it as a file into a
// directory (development, and vendors running the two channels locally);
// Gateway POSTs it to an SMS gateway over HTTP with a configurable URL,
// headers, body template and bearer token. Messages are not sent by the
// code that creates them: they are queued in the store in the same
// transaction as what they belong to, and a Dispatcher sends them, retrying
// with backoff as the reminder mail is retried.
//
// # Delivery guarantee
//
// A Dispatcher claims a queued message with a lease before sending and
// records it sent only after the gateway accepted it: at-least-once. A crash
// between the gateway's acceptance and the record would have the message
// sent again once the lease runs out, so every attempt of one message
// carries the same ID, as the Idempotency-Key header and in the body
// template: Outbox writes a message once per ID, and a gateway that
// de-duplicates on the key (most have a client reference for this)
// delivers exactly one SMS.
package sms

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Message is one text message.
type Message struct {
	ID   string // idempotency key: the same for every attempt of one message
	To   string // E.164, e.g. +358401234567
	Text string
}

// Sender hands a message over for delivery. Send returns nil only when the
// message has been accepted (by the gateway, or durably written to the
// outbox); it honours ctx. Implementations are safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrPermanent marks a refusal that retrying cannot mend (the gateway
// rejected the request as malformed, the number as invalid).
var ErrPermanent = errors.New("sms: refused for good")

// NormalizePhone returns a phone number in E.164 form (+ and 8 to 15
// digits). It takes the international form (+358 40 123 4567, or 00358…)
// and, as Finnish users write them, Finnish numbers without the country
// code (040 123 4567 is +358401234567); spaces, hyphens, dots and
// parentheses are ignored.
func NormalizePhone(s string) (string, error) {
	orig := strings.TrimSpace(s)
	var b strings.Builder
	for i, c := range orig {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == '+' && i == 0:
			b.WriteRune(c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '\u00a0':
		default:
			return "", fmt.Errorf("phone number %q: only digits, a leading +, spaces, hyphens and parentheses are allowed", orig)
		}
	}
	n := b.String()
	switch {
	case n == "":
		return "", errors.New("phone number is missing")
	case strings.HasPrefix(n, "+"):
	case strings.HasPrefix(n, "00"):
		n = "+" + n[2:]
	case strings.HasPrefix(n, "0"):
		n = "+358" + n[1:] // a Finnish number without the country code
	default:
		return "", fmt.Errorf("phone number %q: give it with the country code (+358 40 123 4567) or as a Finnish number starting with 0 (040 123 4567)", orig)
	}
	digits := n[1:]
	if len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
		return "", fmt.Errorf("phone number %q is not a valid number: in international form it has 8 to 15 digits after the +", orig)
	}
	if strings.HasPrefix(digits, "358") && (len(digits) < 3+6 || len(digits) > 3+10 || digits[3] == '0') {
		return "", fmt.Errorf("phone number %q is not a valid Finnish number", orig)
	}
	return n, nil
}

// validID reports whether id is usable as a message ID (and a file name).
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func check(m Message) error {
	if !validID(m.ID) {
		return fmt.Errorf("%w: message ID %q: letters, digits, - and _ only", ErrPermanent, m.ID)
	}
	if n, err := NormalizePhone(m.To); err != nil || n != m.To {
		return fmt.Errorf("%w: recipient %q is not an E.164 number", ErrPermanent, m.To)
	}
	if m.Text == "" {
		return fmt.Errorf("%w: empty message", ErrPermanent)
	}
	return nil
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, m Message) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, m Message) error { return f(ctx, m) }
