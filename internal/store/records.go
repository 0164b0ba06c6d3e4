package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/irpki/irpki/internal/reqid"
)

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMs(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// InsertOrg adds an organisation; ErrExists if its customer id is taken.
func (t *Tx) InsertOrg(ctx context.Context, o Org) error {
	return t.insertNew(ctx, "organisation "+o.CustomerID, `INSERT INTO orgs (customer_id, name, contact_email, language, created_at) VALUES (?,?,?,?,?)
		ON CONFLICT DO NOTHING`, o.CustomerID, o.Name, o.ContactEmail, o.Language, ms(o.CreatedAt))
}

// UpdateOrg rewrites an organisation's name, contact e-mail and language.
func (t *Tx) UpdateOrg(ctx context.Context, o Org) error {
	res, err := t.exec(ctx, `UPDATE orgs SET name=?, contact_email=?, language=? WHERE customer_id=?`, o.Name, o.ContactEmail, o.Language, o.CustomerID)
	if err != nil {
		return fmt.Errorf("store: update org: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("organisation %s: %w", o.CustomerID, ErrNotFound)
	}
	return nil
}

// Org returns an organisation.
func (t *Tx) Org(ctx context.Context, customerID string) (Org, error) {
	var o Org
	var created int64
	err := t.queryRow(ctx, qOrg, customerID).
		Scan(&o.CustomerID, &o.Name, &o.ContactEmail, &o.Language, &created)
	if err != nil {
		return Org{}, notFound(err, "organisation "+customerID)
	}
	o.CreatedAt = fromMs(created)
	return o, nil
}

// Orgs lists all organisations by customer id.
func (t *Tx) Orgs(ctx context.Context) ([]Org, error) {
	rows, err := t.query(ctx, `SELECT customer_id, name, contact_email, language, created_at FROM orgs ORDER BY customer_id`)
	if err != nil {
		return nil, fmt.Errorf("store: orgs: %w", err)
	}
	defer rows.Close()
	var out []Org
	for rows.Next() {
		var o Org
		var created int64
		if err := rows.Scan(&o.CustomerID, &o.Name, &o.ContactEmail, &o.Language, &created); err != nil {
			return nil, fmt.Errorf("store: orgs: %w", err)
		}
		o.CreatedAt = fromMs(created)
		out = append(out, o)
	}
	return out, rows.Err()
}

const orderCols = `transfer_id, customer_id, environment, password_hash, password_salt, created_at, expires_at,
	validity_seconds, failed_attempts, status, used_at, certificate_serial, purpose, description,
	contact_name, contact_email, contact_phone, contact_language`

// InsertOrder adds an order; ErrExists if the TransferId is taken.
func (t *Tx) InsertOrder(ctx context.Context, o Order) error {
	return t.insertNew(ctx, "order", qInsertOrder,
		o.TransferID, o.CustomerID, o.Environment, o.PasswordHash, o.PasswordSalt, ms(o.CreatedAt), ms(o.ExpiresAt),
		int64(o.Validity/time.Second), o.FailedAttempts, string(o.Status), ms(o.UsedAt), o.CertificateSerial,
		o.Purpose, o.Description, o.ContactName, o.ContactEmail, o.ContactPhone, o.ContactLanguage)
}

func scanOrder(sc scanner) (Order, error) {
	var o Order
	var created, expires, validity, used int64
	var status string
	err := sc.Scan(&o.TransferID, &o.CustomerID, &o.Environment, &o.PasswordHash, &o.PasswordSalt, &created, &expires,
		&validity, &o.FailedAttempts, &status, &used, &o.CertificateSerial, &o.Purpose, &o.Description,
		&o.ContactName, &o.ContactEmail, &o.ContactPhone, &o.ContactLanguage)
	o.CreatedAt, o.ExpiresAt, o.UsedAt = fromMs(created), fromMs(expires), fromMs(used)
	o.Validity = time.Duration(validity) * time.Second
	o.Status = OrderStatus(status)
	return o, err
}

// Order returns the order with this TransferId.
func (t *Tx) Order(ctx context.Context, transferID string) (Order, error) {
	o, err := scanOrder(t.queryRow(ctx, qOrder, transferID))
	if err != nil {
		return Order{}, notFound(err, "order")
	}
	return o, nil
}

// Orders lists a customer's orders, newest first.
func (t *Tx) Orders(ctx context.Context, customerID string) ([]Order, error) {
	return queryAll(ctx, t, "orders", scanOrder, `SELECT `+orderCols+` FROM orders WHERE customer_id=? ORDER BY created_at DESC`, customerID)
}

// UpdateOrderState records failed attempts, status, use and certificate.
func (t *Tx) UpdateOrderState(ctx context.Context, o Order) error {
	_, err := t.exec(ctx, qUpdateOrder,
		o.FailedAttempts, string(o.Status), ms(o.UsedAt), o.CertificateSerial, o.TransferID)
	if err != nil {
		return fmt.Errorf("store: update order: %w", err)
	}
	return nil
}

const certCols = `serial, customer_id, environment, not_before, not_after, der, key_fingerprint, status, revoked_at,
	revoke_reason, predecessor, order_id, request_hash, retrieval_id, retrieved_at, created_at,
	contact_name, contact_email, contact_language, purpose, description`

// InsertCertificate records an issued certificate. ErrExists if its key,
// serial or RetrievalId was seen before, or its predecessor already has a
// live successor.
func (t *Tx) InsertCertificate(ctx context.Context, c Certificate) error {
	return t.insertNew(ctx, "certificate "+c.Serial+" (its serial, key or RetrievalId, or a live successor of "+c.Predecessor+")", qInsertCert,
		c.Serial, c.CustomerID, c.Environment, ms(c.NotBefore), ms(c.NotAfter), c.DER, c.KeyFingerprint, string(c.Status),
		ms(c.RevokedAt), c.RevokeReason, c.Predecessor, c.OrderID, c.RequestHash, c.RetrievalID, ms(c.RetrievedAt),
		ms(c.CreatedAt), c.ContactName, c.ContactEmail, c.ContactLanguage, c.Purpose, c.Description)
}

func scanCert(sc scanner) (Certificate, error) {
	var c Certificate
	var f certFields
	err := sc.Scan(f.pointers(&c, true)...)
	f.finish(&c)
	return c, err
}

func (t *Tx) certWhere(ctx context.Context, where string, args ...any) (Certificate, error) {
	c, err := scanCert(t.queryRow(ctx, qCertWhere+where, args...))
	if err != nil {
		return Certificate{}, notFound(err, "certificate")
	}
	return c, nil
}

// Certificate returns the certificate with this serial (lower-case hex).
func (t *Tx) Certificate(ctx context.Context, serial string) (Certificate, error) {
	return t.certWhere(ctx, whereSerial, serial)
}

// CertificateByRetrievalID returns the certificate behind a RetrievalId.
func (t *Tx) CertificateByRetrievalID(ctx context.Context, id string) (Certificate, error) {
	return t.certWhere(ctx, whereRetrievalID, id)
}

// CertificateByKey returns the certificate for a key fingerprint.
func (t *Tx) CertificateByKey(ctx context.Context, fingerprint string) (Certificate, error) {
	return t.certWhere(ctx, whereKey, fingerprint)
}

// KeyCertified reports whether a certificate of the key with this
// fingerprint was ever recorded, whatever its state.
func (t *Tx) KeyCertified(ctx context.Context, fingerprint string) (bool, error) {
	var used bool
	if err := t.queryRow(ctx, qKeyCertified, fingerprint).Scan(&used); err != nil {
		return false, fmt.Errorf("store: key certified: %w", err)
	}
	return used, nil
}

// RenewalState is what a renewal signed with a certificate is decided on,
// read by Tx.RenewalState in one statement.
type RenewalState struct {
	// Cert is the certificate, without its DER: SameDER tells whether
	// its DER is the one the renewal was signed with.
	Cert    Certificate
	SameDER bool
	// Successor is its live (not superseded) successor, without its
	// DER; nil if it has none.
	Successor *Certificate
	// KeyCertified tells whether the renewal's new key was ever
	// certified (KeyCertified).
	KeyCertified bool
	// Org is the certificate's organisation; zero if there is none.
	Org Org
}

// RenewalState reads, in one statement, the certificate with this serial
// and whether its DER is der, its live successor, whether the key with
// fingerprint fp was ever certified and the certificate's organisation:
// what Certificate, Successor, KeyCertified and Org would tell, without
// fetching the DERs. ErrNotFound if there is no such certificate.
func (t *Tx) RenewalState(ctx context.Context, serial string, der []byte, fp string) (RenewalState, error) {
	var st RenewalState
	var succ Certificate
	var cur, next certFields
	var orgCreated int64
	dest := append(cur.pointers(&st.Cert, false), &st.SameDER)
	dest = append(dest, next.pointers(&succ, false)...)
	dest = append(dest, &st.KeyCertified, &st.Org.CustomerID, &st.Org.Name, &st.Org.ContactEmail, &st.Org.Language, &orgCreated)
	if err := t.queryRow(ctx, qRenewalState, der, fp, serial).Scan(dest...); err != nil {
		return RenewalState{}, notFound(err, "certificate")
	}
	cur.finish(&st.Cert)
	if succ.Serial != "" {
		next.finish(&succ)
		st.Successor = &succ
	}
	st.Org.CreatedAt = fromMs(orgCreated)
	return st, nil
}

// certFields holds what a Certificate's columns scan into before
// certFields.finish makes them its fields: the one place that maps the
// columns to the fields.
type certFields struct {
	nb, na, rev, retr, created int64
	status                     string
}

// pointers are the scan destinations for c of certCols (withDER), or of
// certColsNoDER.
func (f *certFields) pointers(c *Certificate, withDER bool) []any {
	p := []any{&c.Serial, &c.CustomerID, &c.Environment, &f.nb, &f.na}
	if withDER {
		p = append(p, &c.DER)
	}
	return append(p, &c.KeyFingerprint, &f.status, &f.rev,
		&c.RevokeReason, &c.Predecessor, &c.OrderID, &c.RequestHash, &c.RetrievalID, &f.retr, &f.created,
		&c.ContactName, &c.ContactEmail, &c.ContactLanguage, &c.Purpose, &c.Description)
}

func (f *certFields) finish(c *Certificate) {
	c.NotBefore, c.NotAfter, c.RevokedAt, c.RetrievedAt, c.CreatedAt = fromMs(f.nb), fromMs(f.na), fromMs(f.rev), fromMs(f.retr), fromMs(f.created)
	c.Status = CertStatus(f.status)
}

// certColsNoDER are certCols but der, in the order of certFields.pointers,
// of the certificate aliased as alias; a missing row of a LEFT JOIN gives
// zeros and empty strings.
func certColsNoDER(alias string) string {
	var cols []string
	for _, c := range strings.Split(certCols, ",") {
		c = strings.TrimSpace(c)
		switch c {
		case "der":
		case "not_before", "not_after", "revoked_at", "retrieved_at", "created_at":
			cols = append(cols, "COALESCE("+alias+"."+c+", 0)")
		default:
			cols = append(cols, "COALESCE("+alias+"."+c+", '')")
		}
	}
	return strings.Join(cols, ", ")
}

// Successor returns the live (not superseded) successor of a certificate.
func (t *Tx) Successor(ctx context.Context, serial string) (Certificate, error) {
	return t.certWhere(ctx, whereSuccessor, serial)
}

// Certificates lists certificates, oldest first.
func (t *Tx) Certificates(ctx context.Context, f CertFilter) ([]Certificate, error) {
	q := `SELECT ` + certCols + ` FROM certificates WHERE 1=1`
	var args []any
	if f.CustomerID != "" {
		q += ` AND customer_id=?`
		args = append(args, f.CustomerID)
	}
	if f.Environment != "" {
		q += ` AND environment=?`
		args = append(args, f.Environment)
	}
	q += ` ORDER BY created_at, serial`
	return queryAll(ctx, t, "certificates", scanCert, q, args...)
}

// SetCertificateStatus changes status (revocation, supersession) with its
// time and reason.
func (t *Tx) SetCertificateStatus(ctx context.Context, serial string, status CertStatus, at time.Time, reason string) error {
	res, err := t.exec(ctx, qSetStatus, string(status), ms(at), reason, serial)
	if err != nil {
		return fmt.Errorf("store: set status: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("certificate %s: %w", serial, ErrNotFound)
	}
	return nil
}

// MarkRetrieved records the first retrieval of a certificate.
func (t *Tx) MarkRetrieved(ctx context.Context, serial string, at time.Time) error {
	_, err := t.exec(ctx, qMarkRetrieved, ms(at), serial)
	if err != nil {
		return fmt.Errorf("store: mark retrieved: %w", err)
	}
	return nil
}

// SetCertificateContact changes the technical contact of a certificate.
func (t *Tx) SetCertificateContact(ctx context.Context, serial, name, email, language string) error {
	res, err := t.exec(ctx, `UPDATE certificates SET contact_name=?, contact_email=?, contact_language=? WHERE serial=?`, name, email, language, serial)
	if err != nil {
		return fmt.Errorf("store: set contact: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("certificate %s: %w", serial, ErrNotFound)
	}
	return nil
}

// Audit appends to the audit log. An entry without a RequestID gets the
// one ctx carries (reqid), if any.
func (t *Tx) Audit(ctx context.Context, e AuditEntry) error {
	if e.RequestID == "" {
		e.RequestID = reqid.From(ctx)
	}
	_, err := t.exec(ctx, qAudit,
		ms(e.At), e.Actor, e.Action, e.CustomerID, e.Serial, e.Outcome, e.Code, e.Detail, e.RequestID)
	if err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// The statements of the hot paths (SignNewCertificate, RenewCertificate,
// GetCertificate), prepared once at Open.
var (
	qOrg           = `SELECT customer_id, name, contact_email, language, created_at FROM orgs WHERE customer_id=?`
	qInsertOrder   = `INSERT INTO orders (` + orderCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`
	qOrder         = `SELECT ` + orderCols + ` FROM orders WHERE transfer_id=?`
	qUpdateOrder   = `UPDATE orders SET failed_attempts=?, status=?, used_at=?, certificate_serial=? WHERE transfer_id=?`
	qInsertCert    = `INSERT INTO certificates (` + certCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`
	qSetStatus     = `UPDATE certificates SET status=?, revoked_at=?, revoke_reason=? WHERE serial=?`
	qMarkRetrieved = `UPDATE certificates SET retrieved_at=? WHERE serial=? AND retrieved_at=0`
	qAudit         = `INSERT INTO audit (at, actor, action, customer_id, serial, outcome, code, detail, request_id) VALUES (?,?,?,?,?,?,?,?,?)`
	qCertWhere     = `SELECT ` + certCols + ` FROM certificates WHERE `
	qKeyCertified  = `SELECT ` + existsKey
	// The successor's join repeats the partial index's condition (see
	// whereSuccessor); the placeholders are der, fp and serial.
	qRenewalState = `SELECT ` + certColsNoDER("c") + `, c.der = ?, ` + certColsNoDER("s") + `,
		` + existsKey + `,
		COALESCE(o.customer_id, ''), COALESCE(o.name, ''), COALESCE(o.contact_email, ''), COALESCE(o.language, ''), COALESCE(o.created_at, 0)
		FROM certificates c
		LEFT JOIN certificates s ON s.predecessor = c.serial AND s.predecessor != '' AND s.status != 'superseded'
		LEFT JOIN orgs o ON o.customer_id = c.customer_id
		WHERE c.serial = ?`

	// existsKey: was the key with this fingerprint ever certified (its
	// column names the innermost certificates, in qRenewalState too).
	existsKey = `EXISTS (SELECT 1 FROM certificates WHERE key_fingerprint=?)`

	whereSerial      = `serial=?`
	whereRetrievalID = `retrieval_id=?`
	whereKey         = `key_fingerprint=?`
	// predecessor != '' repeats the partial index's condition so that
	// SQLite may use certificates_one_successor instead of a table scan.
	whereSuccessor = `predecessor=? AND predecessor != '' AND status != 'superseded'`

	preparedQueries = []string{
		qOrg, qInsertOrder, qOrder, qUpdateOrder, qInsertCert, qSetStatus, qMarkRetrieved, qAudit,
		qCertWhere + whereSerial, qCertWhere + whereRetrievalID, qCertWhere + whereKey, qCertWhere + whereSuccessor,
		qKeyCertified, qRenewalState,
	}
)

// insertNew runs an INSERT … ON CONFLICT DO NOTHING: ErrExists (naming
// what) if a row with one of its unique keys was there. A conflict so
// ends neither backend's transaction, where a failed statement ends a
// PostgreSQL transaction: the caller may go on after ErrExists.
func (t *Tx) insertNew(ctx context.Context, what, q string, args ...any) error {
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: insert %s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", what, ErrExists)
	}
	return nil
}

// scanner is a row: *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// queryAll runs a query and scans each of its rows with scan; what names
// the records in errors.
func queryAll[T any](ctx context.Context, t *Tx, what string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

// ProbeWrite commits a write that changes nothing of the service's data
// (the time of the probe in a one-row table): the readiness check that the
// database takes writes, not only reads.
func (db *DB) ProbeWrite(ctx context.Context, now time.Time) error {
	return db.Update(ctx, func(t *Tx) error {
		_, err := t.exec(ctx, `INSERT INTO readiness (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at=excluded.at`, ms(now))
		return err
	})
}
