package client

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/wire"
)

// PollOptions configure PollCertificate. The zero value polls like the
// public clients of the real service, a little more patiently: the first
// GetCertificate at once, then waits of 5 s doubling up to 60 s, each
// jittered (see Jitter), at most 15 attempts (about seven minutes).
type PollOptions struct {
	Initial  time.Duration // first wait after a not-yet answer; default 5 s
	Max      time.Duration // longest wait; default 60 s
	Attempts int           // GetCertificate calls at most; default 15
	// Sleep waits d or until ctx is done; tests inject one that does not
	// wait. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Progress, if set, is called after every attempt that did not yield
	// the certificate, with the error and the wait before the next attempt
	// (0 when giving up).
	Progress func(attempt int, err error, wait time.Duration)
	// Jitter turns a backoff step into the wait actually slept; default
	// Jitter. Tests that count waits pass func(d time.Duration)
	// time.Duration { return d }.
	Jitter func(time.Duration) time.Duration
}

// Jitter returns a random wait between d/2 and d ("equal jitter"): the
// retries of installations that failed at the same moment (a service
// outage, a network failure) spread over half of each backoff step instead
// of all arriving again at the same instant, while the backoff still
// doubles.
func Jitter(d time.Duration) time.Duration {
	if d < 2 {
		return d
	}
	half := d / 2
	return d - half + rand.N(half+1)
}

// PollCertificate calls GetCertificate until it yields the certificate or a
// definite refusal (see Definite), waiting with exponential backoff between
// attempts. It does not check the certificate; see VerifyIssued.
func (c *Client) PollCertificate(ctx context.Context, customerID, retrievalID string, opt PollOptions) (*x509.Certificate, error) {
	if opt.Initial <= 0 {
		opt.Initial = 5 * time.Second
	}
	if opt.Max <= 0 {
		opt.Max = 60 * time.Second
	}
	if opt.Attempts <= 0 {
		opt.Attempts = 15
	}
	if opt.Sleep == nil {
		opt.Sleep = clock.Sleep
	}
	if opt.Jitter == nil {
		opt.Jitter = Jitter
	}
	step := opt.Initial
	var last error
	for attempt := 1; attempt <= opt.Attempts; attempt++ {
		cert, err := c.GetCertificate(ctx, customerID, retrievalID)
		if err == nil {
			return cert, nil
		}
		last = err
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if Definite(err) || attempt == opt.Attempts {
			if opt.Progress != nil {
				opt.Progress(attempt, err, 0)
			}
			break
		}
		wait := opt.Jitter(step)
		if opt.Progress != nil {
			opt.Progress(attempt, err, wait)
		}
		if err := opt.Sleep(ctx, wait); err != nil {
			return nil, err
		}
		step = min(2*step, opt.Max)
	}
	if Definite(last) {
		return nil, last
	}
	return nil, fmt.Errorf("GetCertificate: no certificate after %d attempts: %w", opt.Attempts, last)
}

// definiteCodes are refusals that asking again will not change.
var definiteCodes = map[wire.Code]bool{
	wire.CodeEnvironment: true, wire.CodeCustomerInvalid: true, wire.CodeUnknownCustomer: true,
	wire.CodeRetrievalUnknown: true, wire.CodeSuperseded: true, wire.CodeCertRevoked: true,
	wire.CodeTransferInvalid: true, wire.CodeTransferExpired: true, wire.CodeTransferUsed: true, wire.CodeTransferLocked: true,
	wire.CodeCSRInvalid: true, wire.CodeCSRSignature: true, wire.CodeKeyNotAllowed: true, wire.CodeKeyReused: true,
	wire.CodeCSRWeakHash: true, wire.CodeKeyExponent: true, wire.CodeKeySmallPrime: true, wire.CodeKeyIsCA: true,
	wire.CodeSigMissing: true, wire.CodeSigAlgorithm: true, wire.CodeSigInvalid: true,
	wire.CodeSignerUnknown: true, wire.CodeSignerExpired: true, wire.CodeSignerRevoked: true, wire.CodeSignerCustomer: true,
	wire.CodeWindowNotOpen: true, wire.CodeAlreadyRenewed: true,
}

// Definite reports whether err is an answer that asking again will not
// change: a refusal of irpkid's catalogue other than INTERNAL, a SOAP fault
// about the request itself (the service could not read it), or a response
// whose signature is not trusted. Network errors, INTERNAL, unreadable
// responses (a proxy's error page) and codes outside irpkid's catalogue (the
// real service's codes are not public; one of them may mean "not ready yet")
// are worth another try. (Package renewal still tells a signed refusal with
// such a code from a lost answer: it sends a refused request again only
// inside the renewal window and after a backoff, and takes no SOAP fault,
// which is unsigned, for a refusal: it keeps the request as after a lost
// answer.)
func Definite(err error) bool {
	var se *ServiceError
	if errors.As(err, &se) {
		return definiteCodes[wire.Code(se.Code)]
	}
	var fe *FaultError
	if errors.As(err, &fe) {
		return fe.HTTPStatus >= 400 && fe.HTTPStatus < 500 || faultCodes[wire.Code(fe.Code)]
	}
	return errors.Is(err, ErrUntrustedResponse)
}

var faultCodes = map[wire.Code]bool{
	wire.CodeMalformed: true, wire.CodeTooLarge: true, wire.CodeContentType: true,
	wire.CodeUnknownOp: true, wire.CodeActionMismatch: true, wire.CodeSchema: true,
}
