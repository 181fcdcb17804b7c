// Package doctor implements `sessionkit doctor`: it diagnoses a live
// deployment's cookie sessions from the outside, for any server (ours,
// express-session, anything) and any PostgreSQL sessions table shaped like
// ours or connect-pg-simple's.
//
// `doctor http URL` plays a browser against the server (a cookie jar that
// applies the browser rules Go's cookiejar does not: Secure, SameSite,
// prefixes) and `doctor db DATABASE_URL` reads the sessions table in a
// read-only transaction. Each reports findings — PASS, WARN, FAIL or INFO —
// with the evidence and the fix.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/cli"
	"golang.org/x/term"
)

// Exit statuses of Run.
const (
	// ExitOK means no finding is a FAIL.
	ExitOK = 0
	// ExitFail means at least one finding is a FAIL.
	ExitFail = 1
	// ExitUsage means bad usage, or the target could not be reached.
	ExitUsage = 2
)

const usage = `usage:
  sessionkit doctor http URL [flags]     play a browser against a server's cookie sessions
  sessionkit doctor db [DATABASE_URL] [flags]
                                         read a PostgreSQL sessions table (read-only);
                                         without the argument, the DATABASE_URL variable
  sessionkit doctor pair --node URL --go URL --email E
                                         check that a Node and a Go side share sessions
  sessionkit doctor redis [REDIS_URL] [flags]
                                         read the sessions in Redis (read-only); without
                                         the argument, the REDIS_URL variable

Run "sessionkit doctor http -h", "… db -h" or "… redis -h" for the flags.
Exit status: 0 nothing FAILs, 1 something FAILs, 2 usage or connection error.
`

// Run runs `sessionkit doctor` with args (after the word "doctor", e.g.
// ["http", "http://host", "--repeat", "20"]). It returns the process exit
// status: 0 nothing FAILs, 1 something FAILs, 2 usage or connection error.
// A password (--email) is read from stdin. The human report is coloured only
// when stdout is a terminal and NO_COLOR is unset.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunEnv(ctx, args, stdin, stdout, stderr, os.Getenv)
}

// RunEnv is Run with the environment read through getenv: doctor db reads
// DATABASE_URL when it is given no URL, as every sessionkit command does.
func RunEnv(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	switch args[0] {
	case "http":
		return runHTTP(ctx, args[1:], stdin, stdout, stderr)
	case "db":
		return runDB(ctx, args[1:], stdout, stderr, getenv("DATABASE_URL"))
	case "pair":
		return runPair(ctx, args[1:], stdin, stdout, stderr)
	case "redis":
		return runRedis(ctx, args[1:], stdout, stderr, getenv("REDIS_URL"))
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	default:
		fmt.Fprintf(stderr, "doctor: unknown subcommand %q\n\n%s", args[0], usage)
		return ExitUsage
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// parse parses args with fs, allowing flags after the positional arguments
// ("doctor http URL --repeat 5"), and returns the positional ones.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBoolFlag(f) && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	if err := cli.Parse(fs, flags, stdout, fs.Output()); err != nil {
		return nil, err
	}
	return append(pos, fs.Args()...), nil
}

// parseTarget parses a subcommand's args with fs (see parse) and returns its
// one positional argument, the target named by what, or fallback when there
// is none and fallback is not empty. When ok is false the
// subcommand is over and returns code: ExitOK after -h, ExitUsage after a
// bad flag (fs has printed why) or a missing or extra argument (printed here
// with the usage).
func parseTarget(fs *flag.FlagSet, args []string, stdout io.Writer, what, fallback string) (target string, code int, ok bool) {
	pos, err := parse(fs, args, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", ExitOK, false
		}
		return "", ExitUsage, false
	}
	if len(pos) == 0 && fallback != "" {
		return fallback, ExitOK, true
	}
	if len(pos) != 1 {
		fmt.Fprintf(fs.Output(), "%s: need exactly one %s\n", fs.Name(), what)
		fs.Usage()
		return "", ExitUsage, false
	}
	return pos[0], ExitOK, true
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// useColor reports whether w is a terminal and NO_COLOR is unset.
func useColor(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func output(r *Report, asJSON bool, stdout, stderr io.Writer) int {
	var err error
	if asJSON {
		err = r.WriteJSON(stdout)
	} else {
		err = r.WriteText(stdout, useColor(stdout))
	}
	if err != nil {
		fmt.Fprintf(stderr, "doctor: write report: %v\n", err)
		return ExitUsage
	}
	if r.Failed() {
		return ExitFail
	}
	return ExitOK
}

func runHTTP(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor http", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o HTTPOptions
	var body, email, logout string
	var asJSON bool
	fs.StringVar(&o.LoginPath, "login", "/api/login", "login `path` (POST, JSON body)")
	fs.StringVar(&body, "body", "", "login request body, `JSON` (or use --email)")
	fs.StringVar(&email, "email", "", "log in as {\"email\": `E`, \"password\": <first line of standard input>}")
	fs.StringVar(&o.ProtectedPath, "protected", "/api/user", "a `path` that answers 2xx with a session and 401 without")
	fs.StringVar(&logout, "logout", "/api/logout", "logout `path` (POST); empty skips the logout checks")
	fs.StringVar(&o.DebugPath, "debug", "", "optional debug endpoint `path` reporting the session the server saw (e.g. /api/_debug/session)")
	fs.StringVar(&o.Origin, "origin", "", "the front end's `origin` when it is not the API's (checks CORS and cross-site cookies)")
	fs.IntVar(&o.Repeat, "repeat", 20, "requests to the protected path after login")
	fs.StringVar(&o.CookieName, "cookie", "", "session cookie `name` (default: detected)")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.BoolVar(&o.Insecure, "insecure", false, "skip TLS certificate verification")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.Var((*stringList)(&o.Resolve), "resolve", "`HOST:PORT:ADDR`: connect to ADDR for HOST:PORT, in the doctor and in Chromium (curl's form; repeatable)")
	fs.StringVar(&o.Browser, "browser", BrowserOff, "`auto`, chromium or off: also play the log-in and the requests after it in real headless Chromium "+
		"(auto: when one is installed), whose verdicts then replace the model's")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: sessionkit doctor http URL [flags]\n\nPlays a browser against URL's cookie sessions and "+
			"reports each finding with its fix.\n\n")
		fs.PrintDefaults()
	}
	target, exit, ok := parseTarget(fs, args, stdout, "URL", "")
	if !ok {
		return exit
	}
	o.URL = target
	if logout == "" {
		o.NoLogout = true
	} else {
		o.LogoutPath = logout
	}
	if o.Repeat <= 0 {
		fmt.Fprintln(stderr, "doctor http: --repeat must be positive")
		return ExitUsage
	}
	switch {
	case body != "" && email != "":
		fmt.Fprintln(stderr, "doctor http: give --body or --email, not both")
		return ExitUsage
	case body != "":
		o.LoginBody = []byte(body)
	case email != "":
		var ok bool
		if o.LoginBody, ok = passwordLogin("doctor http", email, stdin, stderr); !ok {
			return ExitUsage
		}
	}
	r, err := CheckHTTP(ctx, o)
	return finish("doctor http", r, err, asJSON, "", stdout, stderr)
}

func runDB(ctx context.Context, args []string, stdout, stderr io.Writer, envURL string) int {
	fs := flag.NewFlagSet("doctor db", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o DBOptions
	var keys stringList
	var asJSON bool
	var htmlFile string
	fs.StringVar(&o.Table, "table", "", "the sessions `table`, optionally schema-qualified (default: every table with sid, sess and expire columns)")
	fs.StringVar(&o.Schema, "schema", "", "look for session tables only in this `schema`")
	fs.Var(&keys, "user-key", "a sess `key` that marks a login (dotted for nested: passport.user); repeatable; "+
		"adds to the detected userId, user_id, uid, user, passport.user, email")
	fs.DurationVar(&o.Watch, "watch", 0, "sample inserts and updates per second over this `duration` (e.g. 30s)")
	fs.StringVar(&htmlFile, "html", "", "also write a one-page HTML report with a chart to `file`")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: sessionkit doctor db [DATABASE_URL] [flags]\n\nWithout the argument it reads the "+
			"DATABASE_URL environment variable. "+
			"Reads a PostgreSQL sessions table "+
			"(ours or connect-pg-simple's) in a read-only transaction and reports each finding with its fix. "+
			"It reads PostgreSQL only, not Redis.\n\n")
		fs.PrintDefaults()
	}
	target, exit, ok := parseTarget(fs, args, stdout, "DATABASE_URL", envURL)
	if !ok {
		return exit
	}
	if isRedisURL(target) {
		fmt.Fprint(stderr, redisNotRead(target))
		return ExitUsage
	}
	if o.Watch < 0 {
		fmt.Fprintln(stderr, "doctor db: --watch must be positive")
		return ExitUsage
	}
	o.URL = target
	o.UserKeys = keys
	r, err := CheckDB(ctx, o)
	return finish("doctor db", r, err, asJSON, htmlFile, stdout, stderr)
}

// finish ends a doctor command with its check's outcome: a check that could
// not run is a usage or connection error; otherwise the report goes to
// stdout (text or JSON), and to htmlFile too when one is named. It returns
// the exit status.
func finish(cmd string, r *Report, err error, asJSON bool, htmlFile string, stdout, stderr io.Writer) int {
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}
	code := output(r, asJSON, stdout, stderr)
	if htmlFile != "" {
		if err := writeHTMLFile(htmlFile, r); err != nil {
			fmt.Fprintf(stderr, "%s: --html: %v\n", cmd, err)
			return ExitUsage
		}
	}
	return code
}

// passwordLogin reads the password for email from stdin and returns the
// JSON log-in body {"email":…,"password":…}, or false after saying why.
func passwordLogin(cmd, email string, stdin io.Reader, stderr io.Writer) ([]byte, bool) {
	pw, err := cli.ReadPassword(stdin, stderr, "Password for "+email+": ", false, "")
	if err != nil {
		fmt.Fprintf(stderr, "%s: --email reads the password from standard input: %v\n", cmd, err)
		return nil, false
	}
	body, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	return body, true
}

func writeHTMLFile(name string, r *Report) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := r.WriteHTML(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// isRedisURL reports whether target names a Redis server.
func isRedisURL(target string) bool {
	for _, scheme := range []string{"redis://", "rediss://", "redis+cluster://", "rediss+cluster://", "redis+sentinel://", "rediss+sentinel://"} {
		if strings.HasPrefix(strings.ToLower(target), scheme) {
			return true
		}
	}
	return false
}
