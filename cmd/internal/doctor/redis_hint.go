package doctor

import (
	"net"
	"net/url"
	"strings"
)

// redisNotRead is doctor db's answer to a Redis URL: what it cannot do, and
// what to run instead, with redis-cli aimed at the URL's server and
// database (redisCLI).
func redisNotRead(target string) string {
	cli, auth := redisCLI(target)
	if auth {
		auth := "  (the URL carries a password: export REDISCLI_AUTH with it before these)\n"
		return redisHints(cli) + auth
	}
	return redisHints(cli)
}

// redisHints is redisNotRead's text with cli as the redis-cli command.
func redisHints(cli string) string {
	return `doctor db reads PostgreSQL only; for sessions in Redis run
  sessionkit doctor redis REDIS_URL
Redis deletes each session key when it expires: there is nothing to prune.
By hand, with redis-cli:
  - sessions without an expiry (they never end; connect-redis's disableTTL):
      ` + cli + ` --scan --pattern 'sess:*' | while read k; do
        [ "$(` + cli + ` pttl "$k")" = -1 ] && echo "$k"; done
  - how many sessions: ` + cli + ` --scan --pattern 'sessionkit:{*' | wc -l
    (connect-redis's layout: 'sess:*'); on a cluster, on every master.
  - a user's sessions: sessionkit users sessions --email E with REDIS_URL set.
`
}

// redisCLI is the redis-cli command line for the server and database of a
// Redis URL: -h, -p, -n (the database, which a bare redis-cli would not
// read), --tls, -c on a cluster. auth says the URL has a password, which
// stays out of the output (REDISCLI_AUTH carries it to redis-cli).
func redisCLI(target string) (cli string, auth bool) {
	u, err := url.Parse(target)
	if err != nil {
		return "redis-cli", false
	}
	host := u.Host
	if i := strings.IndexByte(host, ','); i >= 0 {
		host = host[:i] // a cluster: any node
	}
	args := []string{"redis-cli"}
	if h, p, err := net.SplitHostPort(host); err == nil {
		args = append(args, "-h", h, "-p", p)
	} else if host != "" {
		args = append(args, "-h", host)
	}
	if strings.HasPrefix(strings.ToLower(u.Scheme), "rediss") {
		args = append(args, "--tls")
	}
	if strings.HasSuffix(strings.ToLower(u.Scheme), "+cluster") {
		args = append(args, "-c")
	} else if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
		args = append(args, "-n", db)
	} else if db := u.Query().Get("db"); db != "" && db != "0" {
		args = append(args, "-n", db)
	}
	_, auth = u.User.Password()
	return strings.Join(args, " "), auth
}
