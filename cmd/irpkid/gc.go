package main

import (
	"os"
	"runtime/debug"
)

// irpkid serve's garbage collector settings, unless the GOGC and GOMEMLIMIT
// environment variables say otherwise.
//
// serveGCPercent lets the heap grow to five times what is live before a
// collection. irpkid's live heap while it serves SOAP is a few MiB
// (2.7-4.8 MiB measured under load), so Go's default (GOGC=100) collected
// every few requests, and each collection preempts the goroutines that are
// signing to scan their stacks: at 4 clients the collector and those
// preemptions were about 8 % of the server's CPU, at 400 about 2 %
// (docs/benchmark.md), for about 20 MiB more resident memory.
//
// serveMemoryLimit caps what that costs when much is live for a moment:
// an e-service password check holds 64 MiB (argon2id), and a collection
// during one would otherwise let the heap grow to five times that before
// the next.
const (
	serveGCPercent   = 400
	serveMemoryLimit = 256 << 20
)

// tuneGC applies serveGCPercent and serveMemoryLimit where the environment
// leaves them to the program.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(serveMemoryLimit)
	}
}

// settleMemory collects and gives back to the system what start-up left
// behind (the e-service's password hash that times unknown accounts like
// known ones holds 64 MiB), so that the collector's goal starts from the
// heap that serving keeps.
func settleMemory() { debug.FreeOSMemory() }
