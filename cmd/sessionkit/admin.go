package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/cmd/internal/cli"
	"github.com/sessionkit/sessionkit/internal/pruneloop"
	"github.com/sessionkit/sessionkit/pgstore"
	"github.com/sessionkit/sessionkit/redisstore"
)

// dbFlags are the database settings every maintenance command takes.
type dbFlags struct {
	url, dataDir, sessionTable, redisURL, redisPrefix, redisLayout string
}

func (d *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.url, "database-url", "", "PostgreSQL URL; empty: the embedded SQLite database [DATABASE_URL]")
	fs.StringVar(&d.dataDir, "data-dir", admin.DefaultDataDir, "directory of the SQLite database [DATA_DIR]")
	fs.StringVar(&d.sessionTable, "session-table", admin.SessionsTable, "PostgreSQL sessions table, name or schema.name; a connect-pg-simple table is used as it is [SESSION_TABLE]")
	fs.StringVar(&d.redisURL, "redis-url", "", "the Redis holding the sessions, as for serve; empty: sessions in the database [REDIS_URL]")
	fs.StringVar(&d.redisPrefix, "redis-prefix", "", "prefix of the session keys in Redis; empty: sessionkit:, or sess: in the connect-redis layout [REDIS_PREFIX]")
	fs.StringVar(&d.redisLayout, "redis-layout", "native", "the sessions' layout in Redis: native or connect-redis [REDIS_LAYOUT]")
}

var dbEnv = map[string]string{"database-url": "DATABASE_URL", "data-dir": "DATA_DIR", "session-table": "SESSION_TABLE", "redis-url": "REDIS_URL", "redis-prefix": "REDIS_PREFIX", "redis-layout": "REDIS_LAYOUT"}

// withEnv returns vars plus one more flag and variable.
func withEnv(vars map[string]string, flag, env string) map[string]string {
	m := map[string]string{flag: env}
	for k, v := range vars {
		m[k] = v
	}
	return m
}

// open opens the database for a one-shot command: no background pruning.
func (d *dbFlags) open(ctx context.Context) (*admin.DB, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	layout := redisstore.LayoutNative
	switch d.redisLayout {
	case "native", "":
	case "connect-redis":
		layout = redisstore.LayoutConnectRedis
	default:
		return nil, fmt.Errorf("REDIS_LAYOUT %q is neither native nor connect-redis", d.redisLayout)
	}
	return admin.Open(ctx, admin.Config{DatabaseURL: d.url, DataDir: d.dataDir, SessionTable: d.sessionTable, RedisURL: d.redisURL, RedisPrefix: d.redisPrefix, RedisLayout: layout, PruneInterval: -1})
}

// newFlagSet returns a flag set that reports to stderr and returns errors.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sessionkit "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, then the environment variables vars names, and
// returns the exit status to use when it fails.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer, getenv env, vars map[string]string) (code int, ok bool) {
	if err := cli.Parse(fs, args, stdout, fs.Output()); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return 2, false
	}
	if err := cli.FromEnv(fs, getenv, vars); err != nil {
		fmt.Fprintf(fs.Output(), "%s: %v\n", fs.Name(), err)
		return 2, false
	}
	return 0, true
}

// fail reports err and returns the exit status: 2 for a setting to change
// (as for a bad flag), 1 otherwise.
func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "sessionkit %s: %v\n", cmd, err)
	if errors.Is(err, admin.ErrInvalidConfig) {
		return 2
	}
	return 1
}

const usersUsage = `Usage:
  sessionkit users add --email E [--bcrypt-cost N]   the password is read from standard input
  sessionkit users import [--dry-run] [--update] FILE|-   CSV id,email,password_hash (bcrypt or argon2id)
  sessionkit users list
  sessionkit users remove --email E     remove the user and end all their sessions
  sessionkit users disable --email E    keep the user but refuse their log-ins; end all their sessions
  sessionkit users enable --email E     undo disable: the old password works again
  sessionkit users sessions --email E   list the user's live sessions
  sessionkit users revoke --email E     end all the user's sessions (log out everywhere)
  sessionkit users revoke --all         end every session of every user
`

func users(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv env) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usersUsage)
		return 2
	}
	switch sub, args := args[0], args[1:]; sub {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usersUsage)
		return 0
	case "add":
		return usersAdd(ctx, args, stdin, stdout, stderr, getenv)
	case "import":
		return usersImport(ctx, args, stdin, stdout, stderr, getenv)
	case "list":
		return usersList(ctx, args, stdout, stderr, getenv)
	case "remove", "disable", "enable", "sessions", "revoke":
		return usersByEmail(ctx, sub, args, stdout, stderr, getenv)
	default:
		fmt.Fprintf(stderr, "sessionkit users: unknown subcommand %q\n%s", sub, usersUsage)
		return 2
	}
}

func usersAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv env) int {
	var d dbFlags
	fs := newFlagSet("users add", stderr)
	d.register(fs)
	email := fs.String("email", "", "the user's email address (required)")
	cost := fs.Int("bcrypt-cost", admin.DefaultBcryptCost, "bcrypt cost of the password hash [BCRYPT_COST]")
	if code, ok := parse(fs, args, stdout, getenv, withEnv(dbEnv, "bcrypt-cost", "BCRYPT_COST")); !ok {
		return code
	}
	if *email == "" {
		fmt.Fprintln(stderr, "sessionkit users add: --email is required; the password is read from standard input, never from the command line")
		return 2
	}
	// Checked before the password is asked for (twice, on a terminal).
	addr, err := admin.NormalizeEmail(*email)
	if err != nil {
		return fail(stderr, "users add", err)
	}
	password, err := cli.ReadPassword(stdin, stderr, "Password for "+addr+": ", true,
		": pipe it in, e.g. printf '%s\\n' \"$PASSWORD\" | sessionkit users add --email ada@example.com")
	if err != nil {
		return fail(stderr, "users add", err)
	}
	db, err := d.open(ctx)
	if err != nil {
		return fail(stderr, "users add", err)
	}
	defer db.Close()
	u, err := db.AddUser(ctx, addr, password, *cost)
	if errors.Is(err, admin.ErrDuplicateUser) {
		return fail(stderr, "users add", fmt.Errorf("%s already exists in %s; remove it first with `sessionkit users remove --email %s` to replace it", addr, db, addr))
	}
	if err != nil {
		return fail(stderr, "users add", err)
	}
	fmt.Fprintf(stdout, "added user %d <%s> to %s\n", u.ID, u.Email, db)
	return 0
}

// usersImport runs `users import`: the file's users, with their ids and
// password hashes, in one transaction (see admin.DB.ImportUsers).
func usersImport(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv env) int {
	var d dbFlags
	fs := newFlagSet("users import", stderr)
	d.register(fs)
	var opts admin.ImportOptions
	fs.BoolVar(&opts.DryRun, "dry-run", false, "check the file against the database and report, changing nothing")
	fs.BoolVar(&opts.Update, "update", false, "replace the email and hash of users whose id exists; default: report and keep them")
	// One argument, the file: parse takes none, so it is taken off first.
	var file string
	if n := len(args); n > 0 && (args[n-1] == "-" || !strings.HasPrefix(args[n-1], "-")) {
		file, args = args[n-1], args[:n-1]
	}
	if code, ok := parse(fs, args, stdout, getenv, dbEnv); !ok {
		return code
	}
	if file == "" {
		fmt.Fprintln(stderr, "sessionkit users import: name the CSV file, or - for standard input (header id,email,password_hash)")
		return 2
	}
	in := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fail(stderr, "users import", err)
		}
		defer f.Close()
		in = f
	}
	db, err := d.open(ctx)
	if err != nil {
		return fail(stderr, "users import", err)
	}
	defer db.Close()
	rep, err := db.ImportUsers(ctx, in, opts)
	if err != nil {
		return fail(stderr, "users import", fmt.Errorf("%w; nothing was imported", err))
	}
	verb, kept := "imported", "left unchanged (--update replaces them)"
	if opts.DryRun {
		verb = "would import"
	}
	if opts.Update {
		kept = "updated"
	}
	fmt.Fprintf(stdout, "%s %d users into %s\n", verb, len(rep.Added), db)
	if len(rep.Existing) > 0 {
		fmt.Fprintf(stdout, "%d ids already exist, %s: %s\n", len(rep.Existing), kept, joinIDs(rep.Existing))
	}
	return 0
}

// joinIDs lists ids, the first 20 of them.
func joinIDs(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i == 20 {
			fmt.Fprintf(&b, " … (%d more)", len(ids)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, id)
	}
	return b.String()
}

func usersList(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	var d dbFlags
	fs := newFlagSet("users list", stderr)
	d.register(fs)
	asJSON := fs.Bool("json", false, "print the users as a JSON array of {id, email, created}")
	if code, ok := parse(fs, args, stdout, getenv, dbEnv); !ok {
		return code
	}
	db, err := d.open(ctx)
	if err != nil {
		return fail(stderr, "users list", err)
	}
	defer db.Close()
	list, err := db.ListUsers(ctx)
	if err != nil {
		return fail(stderr, "users list", err)
	}
	if *asJSON {
		type user struct {
			ID      int64     `json:"id"`
			Email   string    `json:"email"`
			Created time.Time `json:"created"`
		}
		out := make([]user, 0, len(list))
		for _, u := range list {
			out = append(out, user{u.ID, u.Email, u.Created.UTC()})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fail(stderr, "users list", err)
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tCREATED")
	for _, u := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\n", u.ID, u.Email, u.Created.UTC().Format(time.RFC3339))
	}
	tw.Flush()
	return 0
}

// usersByEmail runs the users subcommands that act on one user named by
// --email: remove, disable, enable, sessions, revoke.
func usersByEmail(ctx context.Context, sub string, args []string, stdout, stderr io.Writer, getenv env) int {
	name := "users " + sub
	var d dbFlags
	fs := newFlagSet(name, stderr)
	d.register(fs)
	email := fs.String("email", "", "the user's email address (required)")
	var all *bool
	if sub == "revoke" {
		all = fs.Bool("all", false, "end every session of every user instead of one user's")
	}
	if code, ok := parse(fs, args, stdout, getenv, dbEnv); !ok {
		return code
	}
	everyone := all != nil && *all
	if (*email == "") == !everyone {
		fmt.Fprintf(stderr, "sessionkit %s: --email is required%s\n", name, map[bool]string{true: " (or --all, not both)"}[all != nil])
		return 2
	}
	var addr string
	if !everyone {
		var err error
		if addr, err = admin.NormalizeEmail(*email); err != nil {
			return fail(stderr, name, err)
		}
	}
	db, err := d.open(ctx)
	if err != nil {
		return fail(stderr, name, err)
	}
	defer db.Close()
	if everyone {
		ended, err := db.EndAllSessions(ctx)
		if err != nil {
			return fail(stderr, name, err)
		}
		fmt.Fprintf(stdout, "ended %d session(s) of every user\n", ended)
		return 0
	}
	switch sub {
	case "remove":
		ended, err := db.RemoveUser(ctx, addr)
		if err != nil {
			return fail(stderr, name, err)
		}
		fmt.Fprintf(stdout, "removed <%s> and ended %d session(s)\n", addr, ended)
	case "disable":
		ended, err := db.DisableUser(ctx, addr)
		if err != nil {
			return fail(stderr, name, err)
		}
		fmt.Fprintf(stdout, "disabled <%s> and ended %d session(s); `sessionkit users enable --email %s` undoes it\n", addr, ended, addr)
	case "enable":
		if err := db.EnableUser(ctx, addr); err != nil {
			return fail(stderr, name, err)
		}
		fmt.Fprintf(stdout, "enabled <%s>\n", addr)
	case "revoke":
		u, found, err := db.UserByEmail(ctx, addr)
		if err == nil && !found {
			err = fmt.Errorf("%w: %s", admin.ErrNoUser, addr)
		}
		if err != nil {
			return fail(stderr, name, err)
		}
		ended, err := db.EndSessions(ctx, u.ID)
		if err != nil {
			return fail(stderr, name, err)
		}
		fmt.Fprintf(stdout, "ended %d session(s) of <%s>\n", ended, addr)
	case "sessions":
		_, list, err := db.UserSessions(ctx, addr)
		if err != nil {
			return fail(stderr, name, err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "HANDLE\tCREATED\tLAST SEEN\tADDRESS\tBROWSER")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Handle, s.Created.UTC().Format(time.RFC3339),
				s.LastSeen.UTC().Format(time.RFC3339), orDash(s.Address), orDash(s.UserAgent))
		}
		tw.Flush()
	}
	return 0
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func prune(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	var d dbFlags
	fs := newFlagSet("prune", stderr)
	d.register(fs)
	batch := fs.Int("batch", pruneloop.DefaultBatch, "rows deleted per statement, at least 1")
	if code, ok := parse(fs, args, stdout, getenv, dbEnv); !ok {
		return code
	}
	if *batch < 1 {
		fmt.Fprintf(stderr, "sessionkit prune: --batch is %d: give at least 1 (default %d)\n", *batch, pruneloop.DefaultBatch)
		return 2
	}
	db, err := d.open(ctx)
	if err != nil {
		return fail(stderr, "prune", err)
	}
	defer db.Close()
	var progress func(deleted, expired int)
	tty := false
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
		progress = func(deleted, expired int) {
			fmt.Fprintf(stdout, "\rpruning: %d / %d expired sessions deleted", deleted, expired)
		}
	}
	start := time.Now()
	res, err := db.Prune(ctx, *batch, progress)
	if tty {
		fmt.Fprintln(stdout)
	}
	if err != nil {
		return fail(stderr, "prune", fmt.Errorf("after deleting %d: %w", res.Deleted, err))
	}
	if res.Skipped {
		fmt.Fprintf(stdout, "prune: skipped: another process is pruning %s right now\n", db)
		return 0
	}
	fmt.Fprintf(stdout, "prune: deleted %d of %d expired sessions from %s in %s\n",
		res.Deleted, res.Expired, db, time.Since(start).Round(time.Millisecond))
	return 0
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	var d dbFlags
	fs := newFlagSet("migrate", stderr)
	d.register(fs)
	printSQL := fs.Bool("print", false, "print the SQL for a DBA instead of running it")
	hashIDs := fs.Bool("hash-ids", false, "also move the sessions stored under their raw id to their hash; safe while servers run")
	if code, ok := parse(fs, args, stdout, getenv, dbEnv); !ok {
		return code
	}
	if *printSQL {
		return printSchema(ctx, d, stdout, stderr)
	}
	db, err := d.open(ctx)
	if err != nil {
		return fail(stderr, "migrate", err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fail(stderr, "migrate", err)
	}
	if *hashIDs {
		n, err := db.HashSessionIDs(ctx)
		if err != nil {
			return fail(stderr, "migrate", fmt.Errorf("after %d sessions: %w", n, err))
		}
		fmt.Fprintf(stdout, "migrate: %d sessions stored under their raw id now stored under its hash\n", n)
	}
	if l := db.SessionLayout(); l.Name == pgstore.LayoutConnectPgSimple {
		fmt.Fprintf(stdout, "migrate: %s uses the connect-pg-simple table %s as it is (nothing created in it) and has the %s table\n", db, d.sessionTable, admin.UsersTable)
		return 0
	}
	fmt.Fprintf(stdout, "migrate: %s has the %s table (with its expiry index) and the %s table\n", db, d.sessionTable, admin.UsersTable)
	return 0
}

// printSchema writes the SQL migrate would run. On PostgreSQL it reads the
// database first (read-only), since a connect-pg-simple sessions table needs
// no SQL; a DBA's copy that cannot reach the database gets the SQL for a new
// one, and a note saying so.
func printSchema(ctx context.Context, d dbFlags, stdout, stderr io.Writer) int {
	var ddl string
	var err error
	if d.url == "" {
		ddl, err = admin.SchemaSQL(admin.SQLite, "")
	} else if db, oerr := d.open(ctx); oerr == nil {
		defer db.Close()
		ddl, err = db.SchemaSQL()
	} else {
		fmt.Fprintf(stderr, "sessionkit migrate --print: could not read the database, so this is the SQL for a new one "+
			"(a connect-pg-simple table %s would need none): %v\n", d.sessionTable, oerr)
		ddl, err = admin.SchemaSQL(admin.Postgres, d.sessionTable)
	}
	if err != nil {
		return fail(stderr, "migrate", err)
	}
	fmt.Fprint(stdout, ddl)
	return 0
}
