package eservice

import (
	"github.com/irpki/irpki/internal/admit"
)

// Password checks (argon2id) are made expensive on purpose, so that a
// stolen hash is slow to guess; the same cost lets anyone who can reach the
// sign-in form queue work for the server. The queue of checks is bounded:
// a few run at once, a few more may wait, and each client may have only a
// few in it. A sign-in beyond that is refused at once (503 when the queue is
// full, 429 when that client already has its share), instead of waiting
// behind an attacker's guesses. The queue is package admit's, which bounds
// the SOAP endpoint's signatures too.

var (
	// errHashBusy: the queue of password checks is full.
	errHashBusy = admit.ErrBusy
	// errClientBusy: this client already has its share of the queue.
	errClientBusy = admit.ErrClientBusy
)
