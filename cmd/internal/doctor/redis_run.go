package doctor

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"
)

// runRedis is `sessionkit doctor redis [REDIS_URL] [flags]`.
func runRedis(ctx context.Context, args []string, stdout, stderr io.Writer, envURL string) int {
	fs := flag.NewFlagSet("doctor redis", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o RedisOptions
	var keys stringList
	var asJSON bool
	var htmlFile string
	fs.StringVar(&o.Prefix, "prefix", "", "the session keys' `prefix` (default: sessionkit's sessionkit:{…} and connect-redis's sess:…)")
	fs.Var(&keys, "user-key", "a session `key` that marks a login (dotted for nested: passport.user); repeatable; "+
		"adds to the detected userId, user_id, uid, user, passport.user, email")
	fs.IntVar(&o.MaxKeys, "max-keys", 100_000, "read at most this many session keys (a sample beyond)")
	fs.DurationVar(&o.Watch, "watch", 0, "count the session keys again after this `duration` (e.g. 30s) and report the growth")
	fs.StringVar(&htmlFile, "html", "", "also write a one-page HTML report to `file`")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: sessionkit doctor redis [REDIS_URL] [flags]\n\nWithout the argument it reads the REDIS_URL "+
			"environment variable: redis://host:6379/0, rediss:// "+
			"(TLS) or redis+cluster://host1:6379,host2:6379. "+
			"Reads the session keys "+
			"(sessionkit's and connect-redis's layouts) and the server's memory, eviction, "+
			"persistence and replication, and reports each finding with its fix. It only reads.\n\n")
		fs.PrintDefaults()
	}
	target, exit, ok := parseTarget(fs, args, stdout, "REDIS_URL", envURL)
	if !ok {
		return exit
	}
	if o.Watch < 0 || o.MaxKeys <= 0 {
		fmt.Fprintln(stderr, "doctor redis: --watch and --max-keys must be positive")
		return ExitUsage
	}
	if !isRedisURL(target) {
		fmt.Fprintln(stderr, "doctor redis: want a redis://, rediss://, redis+cluster:// or rediss+cluster:// URL "+
			"(for PostgreSQL: sessionkit doctor db)")
		return ExitUsage
	}
	o.URL, o.UserKeys, o.Timeout = target, keys, time.Minute
	r, err := CheckRedis(ctx, o)
	return finish("doctor redis", r, err, asJSON, htmlFile, stdout, stderr)
}
