// Package store keeps irpkid's records: organisations, certificate orders,
// issued certificates (with their RetrievalIds), the audit log, the
// e-service's accounts, sessions, form nonces and credential deliveries,
// and the expiry reminders. All of irpkid's SQL and its one schema live in
// this package; the others call its typed methods. Open
// returns a SQLite store (modernc.org/sqlite, no cgo) in WAL mode with full
// fsync on commit, migrated to the current schema; the operator commands use
// the same file while the server runs.
//
// All work happens in transactions: Update runs a function in a write
// transaction that holds the database's write lock from its first statement
// (BEGIN IMMEDIATE), so check-then-act sequences such as "this order is
// unused, so use it" have exactly one winner; View runs a read transaction.
// A missing record is ErrNotFound.
package store

import (
	"errors"
	"time"
)

// Errors.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// Org is an organisation, identified by its business ID.
type Org struct {
	CustomerID   string
	Name         string
	ContactEmail string // default technical contact
	Language     string // fi, sv or en: the language of mail to its contacts
	CreatedAt    time.Time
}

// OrderStatus is the state of a certificate order.
type OrderStatus string

// Order states.
const (
	OrderOpen   OrderStatus = "open"
	OrderUsed   OrderStatus = "used"
	OrderLocked OrderStatus = "locked"
	// OrderCancelled: withdrawn by a representative (or replaced by a
	// resend); its credentials are refused.
	OrderCancelled OrderStatus = "cancelled"
)

// Order is a certificate order with its one-time transfer credentials,
// kept only as hashes: the password salted, the TransferId as the key the
// service derives from it.
type Order struct {
	TransferID        string // the service's hash of the TransferId (older orders: the TransferId)
	CustomerID        string
	Environment       string
	PasswordHash      []byte
	PasswordSalt      []byte
	CreatedAt         time.Time
	ExpiresAt         time.Time
	Validity          time.Duration // 0: the default two years
	FailedAttempts    int
	Status            OrderStatus
	UsedAt            time.Time
	CertificateSerial string
	Purpose           string
	Description       string
	ContactName       string
	ContactEmail      string
	ContactPhone      string
	ContactLanguage   string
}

// CertStatus is the stored state of a certificate; "expired" and "renewed"
// are derived from dates and successors, not stored.
type CertStatus string

// Certificate states.
const (
	CertValid      CertStatus = "valid"
	CertRevoked    CertStatus = "revoked"
	CertSuperseded CertStatus = "superseded" // a renewal successor never retrieved and replaced by a later request
)

// Certificate is an issued organisation certificate and its retrieval.
type Certificate struct {
	Serial          string // lower-case hex
	CustomerID      string
	Environment     string
	NotBefore       time.Time
	NotAfter        time.Time
	DER             []byte
	KeyFingerprint  string // SHA-256 of the SubjectPublicKeyInfo, hex
	Status          CertStatus
	RevokedAt       time.Time
	RevokeReason    string
	Predecessor     string // serial of the certificate this one renewed, or ""
	OrderID         string // Order.TransferID of the order it came from, or ""
	RequestHash     string // the renewal request's verified SHA-256 digest (hex), for replay detection
	RetrievalID     string
	RetrievedAt     time.Time // first GetCertificate, zero if never
	CreatedAt       time.Time
	ContactName     string
	ContactEmail    string
	ContactLanguage string
	Purpose         string
	Description     string
}

// CertFilter selects certificates to list.
type CertFilter struct {
	CustomerID  string // "" for all
	Environment string // "" for all
}

// AuditEntry is one line of the audit log. It never holds a secret.
type AuditEntry struct {
	ID         int64
	At         time.Time
	Actor      string // "soap:<customer>", "operator", "eservice:<user>", "reminder"
	Action     string // sign_new, renew, get, order, revoke, org_add, ...
	CustomerID string
	Serial     string
	Outcome    string // ok or fail
	Code       string // error code on failure
	Detail     string
	RequestID  string // the HTTP request that wrote it (reqid); Audit fills it from ctx
}
