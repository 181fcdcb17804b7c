// Package cli holds the conventions every sessionkit command follows, so
// that they are written once: -h and --help print the usage to standard
// output and succeed, a flag wins over its environment variable, a password
// comes from standard input (never argv), and URLs are shown without their
// passwords.
package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
)

// Parse parses args with fs. For -h or --help it writes the usage to stdout
// and returns flag.ErrHelp (the command then exits 0); for a bad flag it
// writes the error and the usage to stderr and returns the error (exit 2).
// Afterwards fs reports to stderr.
func Parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, _ = stdout.Write(buf.Bytes())
	case err != nil:
		_, _ = stderr.Write(buf.Bytes())
	}
	return err
}

// IsHelp reports whether arg asks for help, as a command's first argument.
func IsHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// FromEnv sets each flag of fs that the command line did not give from its
// environment variable (vars maps flag names to variable names), after
// parsing, so that -h never prints a password taken from the environment. A
// value the flag rejects is an error naming the variable.
func FromEnv(fs *flag.FlagSet, getenv func(string) string, vars map[string]string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, v := range vars {
		if val := getenv(v); val != "" && !given[name] {
			if err := fs.Set(name, val); err != nil {
				return fmt.Errorf("%s=%q: %v", v, val, err)
			}
		}
	}
	return nil
}
