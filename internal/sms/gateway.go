package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/template"
	"time"
)

// DefaultBodyTemplate is the gateway request body unless one is configured:
// a JSON object with the recipient, the text and the message ID as the
// client reference.
const DefaultBodyTemplate = `{"to":{{json .To}},"message":{{json .Text}},"reference":{{json .ID}}}`

// GatewayConfig says how to reach an HTTP SMS gateway.
type GatewayConfig struct {
	// URL receives one POST per message (http or https).
	URL string
	// Headers are sent with every request, e.g. an API key header.
	// Idempotency-Key (the message ID) and Content-Type are always set.
	Headers map[string]string
	// BodyTemplate is a text/template for the request body with .To
	// (E.164), .Text and .ID; the functions json (a JSON string) and
	// urlquery escape them. "" is DefaultBodyTemplate.
	BodyTemplate string
	// ContentType of the body; "" is application/json.
	ContentType string
	// TokenFile holds a bearer token sent as Authorization: Bearer; it is
	// read at every send, so a rotated token is picked up without a
	// restart. "" for none.
	TokenFile string
	// Timeout bounds one request; 0 is 30 s.
	Timeout time.Duration
	// Client makes the requests; nil is a client with the Timeout.
	Client *http.Client
}

// GatewaySender POSTs messages to an HTTP SMS gateway. A 2xx answer is
// acceptance; 408, 425, 429 and 5xx answers and network errors are worth a
// retry; any other answer is a permanent refusal (ErrPermanent).
type GatewaySender struct {
	cfg  GatewayConfig
	body *template.Template
	log  *slog.Logger
}

var _ Sender = (*GatewaySender)(nil)

// Gateway returns a Sender for the gateway in cfg, checking the
// configuration but not connecting.
func Gateway(cfg GatewayConfig, log *slog.Logger) (*GatewaySender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Not repeated: the URL may carry a key (in its query, or as
		// user:password).
		return nil, errors.New("sms: gateway URL: give http(s)://host/path")
	}
	for k, v := range cfg.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n\t") || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("sms: gateway header %q: a header is Name: value on one line", k)
		}
	}
	if cfg.BodyTemplate == "" {
		cfg.BodyTemplate = DefaultBodyTemplate
	}
	if cfg.ContentType == "" {
		cfg.ContentType = "application/json"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	t, err := template.New("body").Option("missingkey=error").Funcs(template.FuncMap{
		"json": func(s string) (string, error) {
			b, err := json.Marshal(s)
			return string(b), err
		},
		"urlquery": url.QueryEscape,
	}).Parse(cfg.BodyTemplate)
	if err != nil {
		return nil, fmt.Errorf("sms: gateway body template: %w", err)
	}
	if err := t.Execute(io.Discard, Message{ID: "x", To: "+358401234567", Text: "x"}); err != nil {
		return nil, fmt.Errorf("sms: gateway body template: %w", err)
	}
	if cfg.TokenFile != "" {
		if _, err := readToken(cfg.TokenFile); err != nil {
			return nil, err
		}
	}
	return &GatewaySender{cfg: cfg, body: t, log: log}, nil
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("sms: gateway token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, "\r\n") {
		return "", fmt.Errorf("sms: gateway token file %s: one line holding the token", path)
	}
	return tok, nil
}

// Send POSTs m to the gateway.
func (g *GatewaySender) Send(ctx context.Context, m Message) error {
	if err := check(m); err != nil {
		return err
	}
	var body bytes.Buffer
	if err := g.body.Execute(&body, m); err != nil {
		return fmt.Errorf("%w: body template: %v", ErrPermanent, err)
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.cfg.URL, &body)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPermanent, err)
	}
	for k, v := range g.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", g.cfg.ContentType)
	req.Header.Set("Idempotency-Key", m.ID)
	if g.cfg.TokenFile != "" {
		tok, err := readToken(g.cfg.TokenFile)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := g.cfg.Client.Do(req)
	if err != nil {
		// The URL may carry a key in its query: report the host only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("sms: gateway %s: %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		g.log.InfoContext(ctx, "SMS accepted by the gateway", "to", m.To, "id", m.ID, "status", c)
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooEarly || c == http.StatusTooManyRequests || c >= 500:
		return fmt.Errorf("sms: gateway %s answered %s", req.URL.Host, resp.Status)
	default:
		return fmt.Errorf("%w: gateway %s answered %s", ErrPermanent, req.URL.Host, resp.Status)
	}
}
