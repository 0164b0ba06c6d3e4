package store

import (
	"strconv"
	"strings"
	"sync"
)

// dialect holds what differs between the SQL of the two backends. The
// store's statements are written once, with ? placeholders, in the SQL
// both accept; the few that cannot be are fields here.
type dialect struct {
	name string
	// emailIs compares eservice_users.email with a placeholder without
	// regard to letter case, through the table's unique index.
	emailIs string
	// nowSeconds is the database's clock in Unix seconds.
	nowSeconds string
	// numbered: placeholders are $1, $2, … instead of ?.
	numbered bool
	rebound  sync.Map // query with ? → query with $n
}

var sqliteDialect = &dialect{
	name:       "sqlite",
	emailIs:    `email = ? COLLATE NOCASE`,
	nowSeconds: `CAST(strftime('%s','now') AS INTEGER)`,
}

var postgresDialect = &dialect{
	name:       "postgres",
	emailIs:    `lower(email) = lower(?)`,
	nowSeconds: `CAST(extract(epoch FROM now()) AS BIGINT)`,
	numbered:   true,
}

// rebind turns the ? placeholders of q into the dialect's.
func (d *dialect) rebind(q string) string {
	if !d.numbered {
		return q
	}
	if v, ok := d.rebound.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	n, quoted := 0, false
	for _, c := range q {
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	d.rebound.Store(q, b.String())
	return b.String()
}
