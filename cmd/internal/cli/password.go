package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// ReadPassword reads a password from stdin: on a terminal it prompts on
// stderr without echo (twice when confirm is set); otherwise it reads the
// first line, without its line ending. It never comes from argv, where every
// user of the machine could read it in the process list. An empty password
// is an error; hint, when not empty, says how to pipe one in.
func ReadPassword(stdin io.Reader, stderr io.Writer, prompt string, confirm bool, hint string) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, prompt)
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if confirm {
			fmt.Fprint(stderr, "Repeat password: ")
			again, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(stderr)
			if err != nil {
				return "", err
			}
			if string(pw) != string(again) {
				return "", errors.New("the passwords do not match")
			}
		}
		if len(pw) == 0 {
			return "", errors.New("the password is empty")
		}
		return string(pw), nil
	}
	if stdin == nil {
		return "", errors.New("no password on standard input" + hint)
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on standard input" + hint)
	}
	return line, nil
}
