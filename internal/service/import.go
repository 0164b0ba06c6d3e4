package service

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/store"
)

// Imported is a certificate ImportCertificates registered, or found
// registered already.
type Imported struct {
	Serial     string
	CustomerID string
	NotAfter   time.Time
	Already    bool // the store knew it, byte for byte
}

// ImportCertificates registers certificates that this service's issuing CA
// signed but the store does not know: after a restore from a backup older
// than them, the organisations' current certificates, which they renew
// with. Without them every such renewal is refused as SIGNER_UNKNOWN.
//
// Each must be a certificate of this environment's issuing CA (its
// signature verified), unexpired, for an organisation the store knows,
// with a key no other stored certificate has. It is recorded as valid and
// already retrieved, with no predecessor; its contact is its
// organisation's. All or nothing: if one is refused, none is recorded, and
// the error names every refusal. A certificate known already is reported,
// not refused, so that an import may be run again.
func (s *Service) ImportCertificates(ctx context.Context, ders [][]byte, actor string) ([]Imported, error) {
	now := s.clock.Now()
	type cand struct {
		cert *x509.Certificate
		fp   string
	}
	var cands []cand
	var refusals []error
	for i, der := range ders {
		c, fp, err := s.checkImport(der, now)
		if err != nil {
			refusals = append(refusals, fmt.Errorf("certificate %d: %w", i+1, err))
			continue
		}
		cands = append(cands, cand{c, fp})
	}
	if len(refusals) > 0 {
		return nil, fmt.Errorf("%w: nothing imported:\n%w", ErrInput, errors.Join(refusals...))
	}
	var out []Imported
	err := s.db.Update(ctx, func(tx *store.Tx) error {
		out, refusals = out[:0], refusals[:0]
		for _, c := range cands {
			serial := SerialHex(c.cert)
			customer := c.cert.Subject.CommonName
			imp := Imported{Serial: serial, CustomerID: customer, NotAfter: c.cert.NotAfter}
			switch prev, err := tx.Certificate(ctx, serial); {
			case err == nil && s.storedAs(prev, c.cert):
				imp.Already = true
				out = append(out, imp)
				continue
			case err == nil:
				refusals = append(refusals, fmt.Errorf("serial %s: another certificate with this serial is stored", serial))
				continue
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			if _, err := tx.Org(ctx, customer); errors.Is(err, store.ErrNotFound) {
				refusals = append(refusals, fmt.Errorf("serial %s: organisation %s is not in the store: add it first (irpkid org add --customer-id %s …)", serial, customer, customer))
				continue
			} else if err != nil {
				return err
			}
			if other, err := tx.CertificateByKey(ctx, c.fp); err == nil {
				refusals = append(refusals, fmt.Errorf("serial %s: its key is certified by stored certificate %s", serial, other.Serial))
				continue
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			rid, err := randomHex(s.rand, 16)
			if err != nil {
				return err
			}
			err = tx.InsertCertificate(ctx, store.Certificate{
				Serial: serial, CustomerID: customer, Environment: s.cfg.Environment, NotBefore: c.cert.NotBefore, NotAfter: c.cert.NotAfter,
				DER: c.cert.Raw, KeyFingerprint: c.fp, Status: store.CertValid, RetrievalID: rid, RetrievedAt: now, CreatedAt: now,
			})
			if errors.Is(err, store.ErrExists) {
				refusals = append(refusals, fmt.Errorf("serial %s: %w", serial, err))
				continue
			}
			if err != nil {
				return err
			}
			if err := tx.Audit(ctx, store.AuditEntry{At: now, Actor: actor, Action: "cert_import", CustomerID: customer, Serial: serial, Outcome: "ok"}); err != nil {
				return err
			}
			out = append(out, imp)
		}
		if len(refusals) > 0 {
			return fmt.Errorf("%w: nothing imported:\n%w", ErrInput, errors.Join(refusals...))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// signedByOurIssuer reports whether one of the hierarchy's issuing CAs of
// organisation certificates signed c: named as its issuer, and its
// signature verified.
func (s *Service) signedByOurIssuer(c *x509.Certificate) bool {
	if !s.ca.NamesUsAsIssuer(c) {
		return false
	}
	for _, is := range s.ca.Issuers {
		if c.CheckSignatureFrom(is.Cert) == nil {
			return true
		}
	}
	return false
}

// checkImport parses der and checks what needs no store: this service's
// issuing CA signed it, for an organisation, and it has not expired.
func (s *Service) checkImport(der []byte, now time.Time) (*x509.Certificate, string, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, "", fmt.Errorf("not an X.509 certificate: %v", err)
	}
	serial := SerialHex(c)
	if !s.signedByOurIssuer(c) {
		return nil, "", fmt.Errorf("serial %s (%s): not issued by this service's %s issuing CAs", serial, c.Subject.CommonName, s.cfg.Environment)
	}
	if c.IsCA {
		return nil, "", fmt.Errorf("serial %s: a CA certificate, not an organisation's", serial)
	}
	if err := businessid.Validate(c.Subject.CommonName); err != nil {
		return nil, "", fmt.Errorf("serial %s: its subject names no organisation: %v", serial, err)
	}
	if !now.Before(c.NotAfter) {
		return nil, "", fmt.Errorf("serial %s (%s): expired on %s; it can no longer be renewed, the organisation orders a new certificate", serial, c.Subject.CommonName, c.NotAfter.UTC().Format("2006-01-02"))
	}
	fp, err := ca.KeyFingerprint(c.PublicKey)
	if err != nil {
		return nil, "", fmt.Errorf("serial %s: %v", serial, err)
	}
	return c, fp, nil
}
