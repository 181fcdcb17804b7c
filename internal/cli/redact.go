package cli

import (
	"net/url"
	"strings"
)

// RedactURL returns a database URL with its passwords replaced by "xxxxx",
// for messages: the one in user:password@ and any query parameter whose
// name holds "password" (libpq and pgx read password= and sslpassword=
// there too). A string that is not a URL (a key=value connection string)
// is replaced entirely by what.
func RedactURL(s, what string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return "(" + what + ", not shown)"
	}
	q, redacted := u.Query(), false
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q[k], redacted = []string{"xxxxx"}, true
		}
	}
	if redacted {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
