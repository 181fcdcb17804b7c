package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// invocation is a sessionkit command at the start of a shell command: the
// binary, the npm launcher or `go run ./cmd/sessionkit`, and its arguments.
var invocation = regexp.MustCompile(`^(?:go run \./cmd/sessionkit|npx sessionkit|sessionkit)((?: +[^\s#()]+)*)`)

// shellCommands splits a line into its commands (at pipes and &&, after a
// $ prompt) without the NAME=value assignments in front of each.
var (
	shellSeparator = regexp.MustCompile(` \| | && |^\$ `)
	assignment     = regexp.MustCompile(`^[A-Z_]+=\S* +`)
)

// docCommands lists every sessionkit command line of a Markdown page: each
// line of a fenced block (a line ending in \ continues on the next) and each
// inline code span.
func docCommands(md string) []string {
	var lines []string
	inFence := false
	var cont strings.Builder
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			inFence = !inFence
			continue
		}
		if inFence || strings.HasPrefix(line, "    ") {
			if s, ok := strings.CutSuffix(trimmed, `\`); ok {
				cont.WriteString(s + " ")
				continue
			}
			lines = append(lines, cont.String()+trimmed)
			cont.Reset()
			continue
		}
		for _, span := range regexp.MustCompile("`[^`]+`").FindAllString(line, -1) {
			lines = append(lines, strings.Trim(span, "`"))
		}
	}
	var cmds []string
	for _, l := range lines {
		for _, c := range shellSeparator.Split(l, -1) {
			c = strings.TrimSpace(c)
			for assignment.MatchString(c) {
				c = assignment.ReplaceAllString(c, "")
			}
			if m := invocation.FindStringSubmatch(c); m != nil {
				cmds = append(cmds, strings.TrimSpace(m[1]))
			}
		}
	}
	return cmds
}

// subcommand words: a command's path is its leading lower-case words
// (`users add`, `doctor http`), with alternatives as `add|remove`.
var word = regexp.MustCompile(`^[a-z][a-z|-]*$`)

// TestDocsCommands: every `sessionkit …` command the README, the docs/
// pages, BENCHMARKS.md and RELIABILITY.md show names a real command and
// subcommand, and every flag it passes is one that subcommand's -h lists,
// so the docs cannot show a command the CLI would refuse.
func TestDocsCommands(t *testing.T) {
	root := "."
	for !isDocsRoot(root) {
		if abs, _ := filepath.Abs(root); abs == "/" {
			t.Fatal("no README.md with docs/ above the test's directory")
		}
		root = filepath.Join(root, "..")
	}
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"README.md", "BENCHMARKS.md", "RELIABILITY.md"} {
		pages = append(pages, filepath.Join(root, p))
	}
	usage := map[string]string{} // path → its -h output
	checked := 0
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(root, page)
		for _, cmd := range docCommands(string(b)) {
			fields := strings.Fields(strings.NewReplacer("[", " ", "]", " ").Replace(cmd))
			var path []string
			for len(fields) > 0 && len(path) < 2 && word.MatchString(fields[0]) {
				path, fields = append(path, fields[0]), fields[1:]
				if path[0] != "users" && path[0] != "doctor" {
					break
				}
			}
			if len(path) == 0 {
				continue // `sessionkit --version` and the like: the usage tests cover them
			}
			for _, p := range expand(path) {
				checked++
				key := strings.Join(p, " ")
				help, ok := usage[key]
				if !ok {
					r := runCmd(t, nil, "", append(p, "-h")...)
					if r.code != 0 {
						t.Errorf("%s shows `sessionkit %s`: `sessionkit %s -h` exits %d:\n%s", name, cmd, key, r.code, r.stderr)
						usage[key] = ""
						continue
					}
					help = r.stdout
					usage[key] = help
				}
				for _, f := range fields {
					flagName, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
					if !strings.HasPrefix(f, "-") || flagName == "" || flagName == "h" || help == "" {
						continue
					}
					if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(flagName) + `\b`).MatchString(help) {
						t.Errorf("%s shows `sessionkit %s`: `sessionkit %s` has no flag -%s", name, cmd, key, flagName)
					}
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("found only %d sessionkit commands in the docs; the extraction is broken", checked)
	}
}

func isDocsRoot(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "docs", "configuration.md"))
	_, err2 := os.Stat(filepath.Join(dir, "README.md"))
	return err == nil && err2 == nil
}

// expand turns a path with alternatives (users revoke|disable) into one path
// per alternative.
func expand(path []string) [][]string {
	out := [][]string{nil}
	for _, w := range path {
		var next [][]string
		for _, alt := range strings.Split(w, "|") {
			for _, p := range out {
				next = append(next, append(append([]string(nil), p...), alt))
			}
		}
		out = next
	}
	return out
}
