// Package sqlname holds the one rule for the table and schema names that the
// SQL stores write into their statements' text, where a bind parameter cannot
// go. Both stores check names with it, so a name that works with one works
// with the other.
package sqlname

import "regexp"

// Pattern is what a name must match: what PostgreSQL accepts as an unquoted
// identifier (ASCII letters, digits and underscores, not starting with a
// digit), at most 63 bytes so that PostgreSQL never silently truncates it.
// The stores still quote names, as defence in depth and so that case is kept.
const Pattern = `^[A-Za-z_][A-Za-z0-9_]{0,62}$`

var re = regexp.MustCompile(Pattern)

// Valid reports whether name matches Pattern.
func Valid(name string) bool { return re.MatchString(name) }
