package renewal

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// crlMaxBytes bounds a fetched revocation list.
const crlMaxBytes = 4 << 20

// crlTimeout bounds fetching one revocation list.
const crlTimeout = 15 * time.Second

// CheckRevocation fetches the revocation list named in the current
// certificate (its CRL distribution point), checks that its issuer signed
// it, and, when it lists the certificate, records the certificate as
// revoked, as a refusal of the service does: Status then reports
// StateRevoked. It returns whether the certificate is revoked. A list that
// cannot be fetched, is not signed by the certificate's issuer or has
// expired is an error and changes nothing: only a valid list says
// "revoked", and nothing but the service or a valid list does.
func (m *Manager) CheckRevocation(ctx context.Context) (bool, error) {
	if err := m.checkDir(); err != nil {
		return false, err
	}
	cur, err := m.current()
	if err != nil || cur == nil {
		return false, err
	}
	if len(cur.Cert.CRLDistributionPoints) == 0 {
		return false, ErrNoCRL
	}
	if len(cur.Chain) == 0 {
		return false, errors.New("no issuer certificate in chain.pem to check the revocation list with")
	}
	issuer := cur.Chain[0]
	hc := m.opt.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	var lastErr error
	for _, url := range cur.Cert.CRLDistributionPoints {
		l, err := fetchCRL(ctx, hc, url, m.opt.UserAgent)
		if err != nil {
			lastErr = err
			continue
		}
		if err := l.CheckSignatureFrom(issuer); err != nil {
			lastErr = fmt.Errorf("revocation list %s is not signed by the certificate's issuer: %w", url, err)
			continue
		}
		if now := m.opt.Now(); !l.NextUpdate.IsZero() && now.After(l.NextUpdate) {
			lastErr = fmt.Errorf("revocation list %s expired at %s", url, l.NextUpdate.UTC().Format(time.RFC3339))
			continue
		}
		for _, e := range l.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(cur.Cert.SerialNumber) == 0 {
				lk, err := m.lock(ctx)
				if err != nil {
					return true, err
				}
				m.markRevoked(cur, fmt.Sprintf("listed as revoked on %s in the revocation list %s", e.RevocationTime.UTC().Format("2006-01-02"), url))
				lk.unlock()
				return true, nil
			}
		}
		return false, nil
	}
	return false, lastErr
}

func fetchCRL(ctx context.Context, hc *http.Client, url, ua string) (*x509.RevocationList, error) {
	ctx, cancel := context.WithTimeout(ctx, crlTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("revocation list %q: %w", url, err)
	}
	if ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch revocation list: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch revocation list %s: HTTP %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, crlMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch revocation list %s: %w", url, err)
	}
	if len(b) > crlMaxBytes {
		return nil, fmt.Errorf("revocation list %s is larger than %d bytes", url, crlMaxBytes)
	}
	l, err := x509.ParseRevocationList(b)
	if err != nil {
		return nil, fmt.Errorf("revocation list %s: %w", url, err)
	}
	return l, nil
}
