package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/eservice"
	"github.com/irpki/irpki/internal/server"
	"github.com/irpki/irpki/internal/sms"
)

// oidcFlags configure sign-in through an OpenID Connect provider.
type oidcFlags struct {
	issuer, clientID, secretFile, orgsClaim, personClaim, nameClaim string
	operatorClaim, operatorValue, scopes, displayName               string
	noPasswords                                                     bool
}

func (o *oidcFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.issuer, "oidc-issuer", "", "OpenID Connect provider (issuer URL) representatives sign in at; empty: password accounts only")
	fs.StringVar(&o.clientID, "oidc-client-id", "", "client ID of this e-service at the provider")
	fs.StringVar(&o.secretFile, "oidc-client-secret-file", "", "file holding the client secret (none for a public client, which relies on PKCE)")
	fs.StringVar(&o.orgsClaim, "oidc-orgs-claim", eservice.DefaultOrgsClaim, "ID token claim listing the business IDs the person may act for (a JSON array of strings)")
	fs.StringVar(&o.personClaim, "oidc-person-claim", eservice.DefaultPersonClaim, "ID token claim identifying the person (shown in the audit trail as eservice:oidc:<value>)")
	fs.StringVar(&o.nameClaim, "oidc-name-claim", eservice.DefaultNameClaim, "ID token claim with the person's display name")
	fs.StringVar(&o.operatorClaim, "oidc-operator-claim", "", "ID token claim that marks operators (a string or an array of strings), with --oidc-operator-value")
	fs.StringVar(&o.operatorValue, "oidc-operator-value", "", "value of --oidc-operator-claim that makes the person an operator")
	fs.StringVar(&o.scopes, "oidc-scopes", "profile", "comma-separated scopes requested besides openid")
	fs.StringVar(&o.displayName, "oidc-name", "", "the provider's name on the sign-in button, e.g. Suomi.fi")
	fs.BoolVar(&o.noPasswords, "no-password-signin", false, "turn password sign-in off: only the OpenID Connect provider signs people in (needs --oidc-issuer)")
}

// config returns the e-service's OpenID Connect configuration, nil without
// --oidc-issuer.
func (o *oidcFlags) config() (*eservice.OIDCConfig, error) {
	if o.issuer == "" {
		if o.clientID != "" || o.secretFile != "" {
			return nil, errors.New("--oidc-client-id and --oidc-client-secret-file need --oidc-issuer")
		}
		if o.noPasswords {
			return nil, errors.New("--no-password-signin needs --oidc-issuer: nobody could sign in")
		}
		return nil, nil
	}
	if o.clientID == "" {
		return nil, errors.New("--oidc-issuer needs --oidc-client-id, the client ID registered at the provider")
	}
	c := &eservice.OIDCConfig{Issuer: o.issuer, ClientID: o.clientID, OrgsClaim: o.orgsClaim, PersonClaim: o.personClaim, NameClaim: o.nameClaim,
		OperatorClaim: o.operatorClaim, OperatorValue: o.operatorValue, DisplayName: o.displayName, Scopes: []string{}}
	for _, s := range strings.Split(o.scopes, ",") {
		if s = strings.TrimSpace(s); s != "" && s != "openid" {
			c.Scopes = append(c.Scopes, s)
		}
	}
	if o.secretFile != "" {
		b, err := os.ReadFile(o.secretFile)
		if err != nil {
			return nil, fmt.Errorf("--oidc-client-secret-file: %w", err)
		}
		c.ClientSecret = strings.TrimSpace(string(b))
		if c.ClientSecret == "" || strings.ContainsAny(c.ClientSecret, "\r\n") {
			return nil, fmt.Errorf("--oidc-client-secret-file %s: one line holding the secret", o.secretFile)
		}
	}
	return c, nil
}

// smsFlags say how the PIN reaches the technical contact.
type smsFlags struct {
	pinDelivery, url, body, contentType, tokenFile string
	headers                                        headerList
	interval                                       time.Duration
}

// headerList is a repeatable "Name: value" flag.
type headerList []string

func (h *headerList) String() string { return strings.Join(*h, "; ") }

// Set takes any value: a header may carry the gateway's key, and the flag
// package (like the environment and config-file readers) repeats a value
// that Set refuses in its error. check refuses a malformed header instead,
// naming it by its position only.
func (h *headerList) Set(v string) error {
	*h = append(*h, v)
	return nil
}

// check refuses a header that is not "Name: value", without quoting it.
func (h headerList) check() error {
	for i, v := range h {
		if name, _, ok := strings.Cut(v, ":"); !ok || strings.TrimSpace(name) == "" {
			return fmt.Errorf("--sms-gateway-header number %d: give a header as Name: value (its text is not repeated here, as it may hold a key)", i+1)
		}
	}
	return nil
}

func (s *smsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.pinDelivery, "pin-delivery", eservice.PINBySMS, "how the PIN of ordered credentials reaches the technical contact: sms (to the contact's phone) or screen (shown to the representative, who passes it on)")
	fs.StringVar(&s.url, "sms-gateway-url", "", "HTTP SMS gateway that receives a POST per message; empty: each SMS is written to <data-dir>/sms-outbox")
	fs.Var(&s.headers, "sms-gateway-header", "header sent to the gateway, as Name: value (repeatable)")
	fs.StringVar(&s.body, "sms-gateway-body", sms.DefaultBodyTemplate, "Go text/template of the gateway request body; .To (E.164), .Text and .ID (the idempotency key), with the functions json and urlquery")
	fs.StringVar(&s.contentType, "sms-gateway-content-type", "application/json", "Content-Type of the gateway request body")
	fs.StringVar(&s.tokenFile, "sms-gateway-token-file", "", "file holding a bearer token for the gateway (read at every send)")
	fs.DurationVar(&s.interval, "sms-interval", 30*time.Second, "how often the SMS queue is looked at for retries (new messages go at once)")
}

// config returns how the PIN's SMS is sent, nil when the PIN is shown on
// screen.
func (s *smsFlags) config() (*server.SMSConfig, error) {
	if err := s.headers.check(); err != nil {
		return nil, err
	}
	switch s.pinDelivery {
	case eservice.PINOnScreen:
		if s.url != "" {
			return nil, errors.New("--sms-gateway-url is set, but --pin-delivery screen sends no SMS")
		}
		return nil, nil
	case eservice.PINBySMS:
	default:
		return nil, fmt.Errorf("--pin-delivery %q: use sms or screen", s.pinDelivery)
	}
	if s.interval <= 0 {
		return nil, errors.New("--sms-interval must be positive")
	}
	cfg := &server.SMSConfig{Interval: s.interval}
	if s.url != "" {
		hd := map[string]string{}
		for _, h := range s.headers {
			name, value, _ := strings.Cut(h, ":")
			hd[strings.TrimSpace(name)] = strings.TrimSpace(value)
		}
		cfg.Gateway = &sms.GatewayConfig{URL: s.url, Headers: hd, BodyTemplate: s.body, ContentType: s.contentType, TokenFile: s.tokenFile}
	}
	return cfg, nil
}
