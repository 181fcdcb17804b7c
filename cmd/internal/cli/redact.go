package cli

import (
	"net/url"
	"strings"
)

// RedactURL returns a database URL with its passwords replaced by "xxxxx",
// for messages: the one in user:password@ and any query parameter whose
// name holds "password" (libpq and pgx read password= and sslpassword=
// there too). A URL listing several hosts (redis+cluster://u:p@h1,h2),
// which net/url cannot parse, has the password of its user:password@ hidden.
// A string that is not a URL (a key=value connection string) is replaced
// entirely by "(what, not shown)".
func RedactURL(s, what string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return redactUserinfo(s, what)
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

// redactUserinfo hides the password of user:password@ in a scheme://
// string that net/url cannot parse.
func redactUserinfo(s, what string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "(" + what + ", not shown)"
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return s
	}
	user, _, hasPassword := strings.Cut(rest[:at], ":")
	if !hasPassword {
		return s
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}
