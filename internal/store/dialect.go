package store

import "strings"

// dialect holds what differs between the SQL of the two backends. The
// store's statements are written once, with ? placeholders, in the SQL
// both accept; the few that cannot be are fields here.
type dialect struct {
	name string
	// emailIs compares eservice_users.email with a placeholder without
	// regard to letter case, through the table's unique index.
	emailIs string
}

var sqliteDialect = &dialect{
	name:    "sqlite",
	emailIs: `email = ? COLLATE NOCASE`,
}

// isUnique reports whether err is a violated unique constraint.
func (t *Tx) isUnique(err error) bool { return isUnique(err) }

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
