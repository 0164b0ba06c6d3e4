package renewal

import (
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"time"
)

// DefaultWindow is the renewal window of the Incomes Register's certificate
// service: a certificate can be renewed at the earliest 60 × 24 hours before
// it expires.
const DefaultWindow = 60 * 24 * time.Hour

// WindowOpens returns the moment the renewal window of a certificate that
// expires at notAfter opens: window before notAfter.
func WindowOpens(notAfter time.Time, window time.Duration) time.Time {
	return notAfter.Add(-window)
}

// InWindow reports whether a certificate valid from notBefore to notAfter
// can be renewed at now: the window has opened (now ≥ notAfter − window) and
// the certificate is still valid (notBefore ≤ now < notAfter). At the exact
// moment of expiry the certificate is expired, not renewable.
func InWindow(notBefore, notAfter, now time.Time, window time.Duration) bool {
	if now.Before(notBefore) || !now.Before(notAfter) {
		return false
	}
	return !now.Before(WindowOpens(notAfter, window))
}

// EffectiveWindow is the window the client uses for a certificate: the
// service's window, but at most the last third of the certificate's lifetime.
// For the two-year certificates of the real service this is the service's 60
// days; a short-lived TEST certificate (the service allows e.g. 30 minutes)
// would otherwise be renewable from the moment it is issued, and its
// successor too, and a renewer would renew without end.
func EffectiveWindow(notBefore, notAfter time.Time, window time.Duration) time.Duration {
	if third := notAfter.Sub(notBefore) / 3; third > 0 && third < window {
		return third
	}
	return window
}

// jitterFraction is the part of the window, from its start, within which a
// certificate's renewal moment falls: early in the window, so that failures
// leave most of it for retries, but spread so that a fleet of renewers does
// not renew at the same moment.
const jitterFraction = 6

// RenewAt returns the moment a renewer should renew a certificate: a moment
// in the first sixth of its effective window, derived from its serial number
// so that it is random across certificates but stable across checks and
// restarts (a renewer checking daily from a timer decides the same way each
// time).
func RenewAt(notBefore, notAfter time.Time, serial *big.Int, window time.Duration) time.Time {
	w := EffectiveWindow(notBefore, notAfter, window)
	opens := WindowOpens(notAfter, w)
	if serial == nil {
		return opens
	}
	sum := sha256.Sum256(serial.Bytes())
	frac := float64(binary.BigEndian.Uint64(sum[:8])>>11) / float64(1<<53)
	return opens.Add(time.Duration(frac * float64(w/jitterFraction)))
}
