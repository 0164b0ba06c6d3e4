package renewal

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/irpki/irpki/internal/serial"
)

// ErrNoSettings is returned when the directory has not been enrolled.
var ErrNoSettings = errors.New("the state directory is not enrolled (it has no settings.json): run irpki enroll first")

// ErrNoDirectory is returned (wrapping ErrNoSettings too) when the state
// directory does not exist: a mistyped path more often than anything else.
var ErrNoDirectory = errors.New("the state directory does not exist: check the path (irpki enroll creates it)")

// noSettings makes an error also match ErrNoSettings without adding to its
// text.
type noSettings struct{}

func (noSettings) Error() string        { return "" }
func (noSettings) Is(target error) bool { return target == ErrNoSettings }

// Errors after which only a new order helps. They are wrapped with detail;
// compare with errors.Is.
var (
	ErrNoCertificate = errors.New("no certificate in the state directory: order a certificate in the e-service and run irpki enroll")
	ErrExpired       = errors.New("the certificate has expired and cannot be renewed: order a new certificate in the e-service and run irpki enroll")
	ErrRevoked       = errors.New("the certificate has been revoked and cannot be renewed: order a new certificate in the e-service and run irpki enroll")
)

// ErrDeliveredExpired is returned (by Renew, Enroll and in Status's
// message) when the certificate the service delivered for the pending
// request, saved in pending.json and not installed, has expired: no trust
// bundle makes it installable, and the service counts it as retrieved (a
// renewal's predecessor is not renewed again; an enrolment's credentials
// are used), so only a new order and irpki enroll help.
var ErrDeliveredExpired = errors.New("the certificate the service delivered for the pending request expired before it was installed and can never be installed")

// ErrEnrollmentPending is returned by Renew when the directory has no
// certificate yet but an interrupted enrolment: irpki enroll finishes it.
var ErrEnrollmentPending = errors.New("an interrupted enrolment is pending in the state directory")

// ErrNeedCredentials is returned by Enroll when there is nothing to resume
// and no transfer credentials were given.
var ErrNeedCredentials = errors.New("transfer credentials (TransferId and TransferPassword) are required")

// ErrCertificateMayBeIssued is returned by Abandon, unless forced, when the
// service may have issued a certificate for the pending request's key:
// giving the request up would give that certificate up too.
var ErrCertificateMayBeIssued = errors.New("the service may have issued a certificate for the pending request's key")

// ErrSuccessorDelivered is returned by Abandon, forced or not (wrapping
// ErrCertificateMayBeIssued too), for a renewal of the current certificate
// whose successor was delivered (saved in pending.json, verified or not):
// the service counts that successor as retrieved and refuses every later
// renewal of the current certificate (ALREADY_RENEWED), so giving it up
// would leave a certificate that can never be renewed. Installing it
// finishes the request instead; if it can never be installed, a new order
// and irpki enroll do (enrolling moves the request to archive/abandoned).
var ErrSuccessorDelivered = errors.New("the pending renewal's successor was delivered, and the service counts it as retrieved")

// ErrLocked is returned when another process (or Manager) holds the state
// directory's lock and the wait for it ran out.
var ErrLocked = errors.New("another irpki is enrolling or renewing in this directory")

// ErrNoCRL: the current certificate names no revocation list to check.
var ErrNoCRL = errors.New("the certificate names no revocation list (CRL distribution point)")

// ErrUnsafe is wrapped when the state directory, or a file in it, could
// have been written by someone else than the user irpki runs as: owned by
// another user (root excepted), writable by group or others, or not what
// irpki makes (a symlink where a regular file belongs, a "current" that
// points outside the archive). Whoever can write into the directory could
// plant a pending request holding their own key and have the
// organisation's next renewal certify it, so irpki refuses, as OpenSSH's
// StrictModes does, before anything is sent. The message says how to fix
// it; it never shows what the file holds.
var ErrUnsafe = errors.New("unsafe state directory")

// noCertificate explains why there is no current certificate: the
// directory does not exist, an enrolment is pending, or none was made.
func (m *Manager) noCertificate() error {
	if err := m.checkDir(); err != nil {
		return err
	}
	if p, err := m.loadPending(); err != nil {
		return err
	} else if p != nil && p.Operation == opEnroll {
		return enrollmentPending(m.dir, p.RetrievalID != "", p.refusal())
	}
	return ErrNoCertificate
}

// deliveredExpired says that the saved certificate of the pending request
// op (predecessor: the certificate a renewal renews) has expired, and what
// helps instead.
func deliveredExpired(dir, op, delivered string, notAfter time.Time, predecessor string) error {
	what := fmt.Sprintf("(certificate %s, saved in pending.json, expired %s)", serial.Pad(delivered), notAfter.UTC().Format("2006-01-02 15:04 MST"))
	if op == opEnroll {
		return fmt.Errorf("%w %s; the order's transfer credentials are used: order a new certificate in the e-service and run irpki enroll --dir %s with the new TransferId and TransferPassword (which moves this request to %s)",
			ErrDeliveredExpired, what, dir, filepath.Join(dir, archiveDir, abandonedDir)+string(filepath.Separator))
	}
	return fmt.Errorf("%w %s; the service counts it as the retrieved successor of certificate %s, which can therefore not be renewed again: order a new certificate in the e-service and run irpki enroll --dir %s with its TransferId and TransferPassword (which moves this request to %s)",
		ErrDeliveredExpired, what, serial.Pad(predecessor), dir, filepath.Join(dir, archiveDir, abandonedDir)+string(filepath.Separator))
}

// enrollmentPending says what finishes an interrupted enrolment: only
// irpki enroll does, whether its answer was lost or it was refused with a
// code that may not be final (no window or backoff sends it again).
func enrollmentPending(dir string, retrievalKnown bool, refused *Refusal) error {
	if retrievalKnown {
		return fmt.Errorf("%w: the service has accepted it; run irpki enroll --dir %s to fetch and install its certificate (no new order is needed)", ErrEnrollmentPending, dir)
	}
	if refused != nil {
		return fmt.Errorf("%w: %s; only irpki enroll sends it again: run irpki enroll --dir %s with the order's TransferPassword once the cause is dealt with, or, if the refusal says these credentials cannot be used, order a new certificate in the e-service and run irpki enroll --dir %s with the new TransferId and TransferPassword", ErrEnrollmentPending, refused, dir, dir)
	}
	return fmt.Errorf("%w: run irpki enroll --dir %s again with the order's TransferPassword to finish it (no new order is needed)", ErrEnrollmentPending, dir)
}

// renewalBlocked says that the pending enrolment keeps the current
// certificate (still valid) from being renewed, and what clears it: only
// one request is pending at a time. Giving the enrolment up (irpki abandon)
// keeps its key in archive/abandoned; it needs --force when the service may
// have issued a certificate for it (see Abandon).
func renewalBlocked(dir, current string, notAfter time.Time, retrievalKnown bool, refused *Refusal) error {
	giveUp := fmt.Sprintf("irpki abandon --dir %s", dir)
	if retrievalKnown || refused == nil {
		giveUp += " --force (the service may have issued a certificate for it, which is then given up too)"
	}
	return fmt.Errorf("renewal of the current certificate %s (expires %s) is blocked while an enrolment is pending: %w; or, to give the enrolment up, run %s: its key is kept in %s, and renewal resumes",
		serial.Pad(current), notAfter.UTC().Format("2006-01-02 15:04 MST"), enrollmentPending(dir, retrievalKnown, refused),
		giveUp, filepath.Join(dir, archiveDir, abandonedDir)+string(filepath.Separator))
}

// issuerHint says which bundle to fix when a delivered certificate was
// refused for its chain.
func issuerHint(s Settings) string {
	if s.IssuerTrust != "" {
		return fmt.Sprintf("the issuer trust bundle %s (--issuer-trust) is not the chain of the CA that issued it: give that CA's chain with --issuer-trust; the delivered certificate is kept in pending.json, not installed, and is verified again and installed by that run", s.IssuerTrust)
	}
	return fmt.Sprintf("it was checked against the --trust bundle %s, as no --issuer-trust was given; the real service issues organisation certificates from another CA than its response signatures: give the \"Data Providers Issuing CA v1\" chain (TEST: \"Data Providers Test Issuing CA v1\") with --issuer-trust (irpki renew --dir DIR --issuer-trust FILE, or irpki enroll --dir DIR --issuer-trust FILE for an enrolment); the delivered certificate is kept in pending.json, not installed, and is verified again and installed by that run (the service is not asked for it again)", s.Trust)
}
