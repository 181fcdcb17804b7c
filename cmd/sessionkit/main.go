// Command sessionkit runs sessionkit's reference server and its maintenance
// tasks:
//
//	sessionkit serve              the reference log-in API (see cmd/internal/server)
//	sessionkit users add --email E   add a user; the password is read from stdin
//	sessionkit users list         list users
//	sessionkit users remove --email E   remove a user and end their sessions
//	sessionkit prune              delete expired sessions now
//	sessionkit migrate [--print] [--hash-ids]  create the tables, or print their SQL
//	sessionkit doctor http URL | db DATABASE_URL   diagnose a live deployment (see cmd/internal/doctor)
//
// Every command uses DATABASE_URL (PostgreSQL) when it is set, and otherwise
// the embedded SQLite database in DATA_DIR (default ./data).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/sessionkit/sessionkit/cmd/internal/doctor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal starts a graceful shutdown; restoring the default
	// handling then lets a second one end the process at once instead of
	// waiting out SHUTDOWN_TIMEOUT.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

const usage = `Usage: sessionkit <command> [flags]

Commands:
  serve                       run the reference server (sessionkit serve -h lists its settings)
  users add|import|list|remove|disable|enable|sessions|revoke
                              manage users and their sessions (sessionkit users -h)
  prune                       delete expired sessions now
  migrate [--print] [--hash-ids]
                              create the sessions, users and log-in limit tables, or print their SQL;
                              --hash-ids also moves old sessions from their id to its hash
  doctor http URL | db [DATABASE_URL]   diagnose a live deployment's sessions (sessionkit doctor -h)
  --version                   print the version

Every command and subcommand prints its flags with -h.

Every command uses DATABASE_URL (PostgreSQL) when set, otherwise the embedded
SQLite database in DATA_DIR (default ./data).
`

// Stamped by scripts/release with -ldflags "-X main.releaseVersion=…": a
// release binary names its version, commit and build date, which a binary
// built outside a module download has no other way to know. Empty otherwise.
var (
	releaseVersion string
	releaseCommit  string
	releaseDate    string
)

// version is "sessionkit <version> (<commit>, built <date>)" for a release
// binary; otherwise "sessionkit <module version>", with the commit when the
// binary was built from a checkout, from the build information Go embeds.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if releaseVersion != "" {
		v := fmt.Sprintf("sessionkit %s (%s, built %s)", releaseVersion, releaseCommit, releaseDate)
		if ok {
			v += " " + info.GoVersion
		}
		return v
	}
	if !ok {
		return "sessionkit (unknown version)"
	}
	v := "sessionkit " + info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v + " " + info.GoVersion
}

// env reads the process environment; tests pass their own.
type env func(string) string

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv env) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr, getenv)
	case "users":
		return users(ctx, rest, stdin, stdout, stderr, getenv)
	case "prune":
		return prune(ctx, rest, stdout, stderr, getenv)
	case "migrate":
		return migrate(ctx, rest, stdout, stderr, getenv)
	case "doctor":
		return doctor.RunEnv(ctx, rest, stdin, stdout, stderr, getenv)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, version())
		return 0
	}
	fmt.Fprintf(stderr, "sessionkit: unknown command %q\n\n", cmd)
	fmt.Fprint(stderr, usage)
	return 2
}
