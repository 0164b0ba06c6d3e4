// Package replicas holds the tests of several irpkid replicas on one
// PostgreSQL database: every rule that one SQLite writer once made true
// must hold across replicas (see store's write lock). It has no code of
// its own.
package replicas
