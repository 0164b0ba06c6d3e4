package renewal

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/irpki/irpki/client"
)

// Settings are what a state directory remembers about its service and
// organisation, so that later runs need only the directory.
type Settings struct {
	Endpoint     string `json:"endpoint"`
	Environment  string `json:"environment"`            // TEST or PRODUCTION
	CustomerID   string `json:"customer_id"`            // business ID, the certificate's CN
	Organization string `json:"organization,omitempty"` // O of the CSR and CustomerName; optional
	Trust        string `json:"trust"`                  // path of the PEM trust bundle (response signatures)
	IssuerTrust  string `json:"issuer_trust,omitempty"` // path of the PEM bundle issued certificates chain to; "" = Trust
	KeySize      int    `json:"key_size"`               // RSA bits of new keys
}

// Validate checks the settings for use.
func (s Settings) Validate() error {
	switch {
	case s.Endpoint == "":
		return errors.New("settings: endpoint is required")
	case s.Environment != "TEST" && s.Environment != "PRODUCTION":
		return errors.New("settings: environment must be TEST or PRODUCTION") // the value is not shown: it may come from a file
	case s.CustomerID == "" || len(s.CustomerID) > 30:
		return errors.New("settings: customer id (the business ID, e.g. 1234567-8) is required")
	case len(s.Organization) > 100:
		return errors.New("settings: organization name is longer than 100 characters")
	case s.Trust == "":
		return errors.New("settings: a trust bundle (PEM file of the service's CA chain) is required")
	case s.KeySize != 2048 && s.KeySize != 3072 && s.KeySize != 4096:
		return errors.New("settings: key size must be 2048, 3072 or 4096")
	}
	return nil
}

// Settings returns the directory's saved settings.
func (m *Manager) Settings() (Settings, error) {
	var s Settings
	ok, err := m.readJSON(settingsFile, &s)
	if err != nil {
		return s, err
	}
	if !ok {
		if err := m.checkDir(); err != nil {
			return s, fmt.Errorf("%w%w", err, noSettings{})
		}
		return s, fmt.Errorf("%w (%s)", ErrNoSettings, m.dir)
	}
	return s, s.Validate()
}

// newClient builds a service client from settings.
func (m *Manager) newClient(s Settings) (*client.Client, error) {
	trust, err := loadBundle(s.Trust, "")
	if err != nil {
		return nil, err
	}
	var issuers []*x509.Certificate
	if s.IssuerTrust != "" {
		if issuers, err = loadBundle(s.IssuerTrust, "issuer "); err != nil {
			return nil, err
		}
	}
	return client.New(s.Endpoint, client.Options{Environment: s.Environment, Trust: trust, IssuerTrust: issuers, Now: m.opt.Now, HTTPClient: m.opt.HTTPClient, CustomerName: s.Organization, UserAgent: m.opt.UserAgent, Sleep: m.opt.Sleep})
}

// loadBundle reads the PEM trust bundle at path; kind ("" or "issuer ")
// names it in errors.
func loadBundle(path, kind string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%strust bundle: %w", kind, err)
	}
	certs, err := client.ParseTrustBundle(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %s%w", path, kind, err)
	}
	return certs, nil
}

// SetIssuerTrust saves path as the directory's issuer trust bundle (see
// Settings.IssuerTrust), after checking that it holds certificates, so that
// a pending request whose delivered certificate was refused can finish.
func (m *Manager) SetIssuerTrust(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if _, err := loadBundle(abs, "issuer "); err != nil {
		return err
	}
	if _, err := m.Settings(); err != nil {
		return err
	}
	lk, err := m.lock(ctx)
	if err != nil {
		return err
	}
	defer lk.unlock()
	s, err := m.Settings()
	if err != nil {
		return err
	}
	if s.IssuerTrust == abs {
		return nil
	}
	s.IssuerTrust = abs
	return writeJSON(m.path(settingsFile), s, 0o600)
}
