package renewal

import (
	"crypto/x509"
	"errors"
	"fmt"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// PKCS12 returns the current certificate, its key and its CA chain as a
// PKCS#12 file protected by password, for Java and .NET software. It uses
// go-pkcs12's Modern2023 encoder (AES-256-CBC with PBKDF2, SHA-256 MAC),
// which OpenSSL 1.1.1+/3, Java 11.0.12+ keytool and .NET read; legacy
// selects the older 3DES/SHA-1 encoding for older readers.
func (m *Manager) PKCS12(password string, legacy bool) ([]byte, error) {
	if password == "" {
		return nil, errors.New("a PKCS#12 file needs a password")
	}
	cur, err := m.exportable()
	if err != nil {
		return nil, err
	}
	enc := pkcs12.Modern2023
	if legacy {
		enc = pkcs12.LegacyDES
	}
	out, err := enc.Encode(cur.Key, cur.Cert, cur.Chain, password)
	if err != nil {
		return nil, fmt.Errorf("PKCS#12: %w", err)
	}
	return out, nil
}

// PEMChain returns the current certificate followed by its CA chain (issuer
// first, root last) as PEM.
func (m *Manager) PEMChain() ([]byte, error) {
	cur, err := m.exportable()
	if err != nil {
		return nil, err
	}
	return certPEM(append([]*x509.Certificate{cur.Cert}, cur.Chain...)...), nil
}

// exportable is the current certificate, unless there is none or it can no
// longer be used: an expired or revoked certificate is not exported, where
// it would only be deployed to fail (found in review: export wrote one and
// exited 0, though the docs said it exits 3).
func (m *Manager) exportable() (*Installed, error) {
	cur, err := m.current()
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, m.noCertificate()
	}
	st, err := m.loadState()
	if err != nil {
		return nil, err
	}
	if st.RevokedSerial != "" && st.RevokedSerial == cur.Serial() {
		return nil, fmt.Errorf("not exported: %w", ErrRevoked)
	}
	if !m.opt.Now().Before(cur.Cert.NotAfter) {
		return nil, fmt.Errorf("not exported: %w", ErrExpired)
	}
	return cur, nil
}
