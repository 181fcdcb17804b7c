package server

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocsConfigurationTable: every setting of `sessionkit serve` is in
// docs/configuration.md's table with its variable, its flag and its
// default, and the table lists nothing the server does not read.
func TestDocsConfigurationTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## sessionkit serve\n")
	if !ok {
		t.Fatal("docs/configuration.md has no \"sessionkit serve\" section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	// The serve table is the first table of the section; it ends at the
	// first line that is not a table row.
	row := regexp.MustCompile("^\\| `([A-Z_]+)` \\| `--([a-z-]+)` \\| ([^|]*) \\|")
	rows := map[string][]string{} // variable → flag, default cell
	inTable := false
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		if m := row.FindStringSubmatch(line); m != nil {
			rows[m[1]] = []string{m[2], strings.TrimSpace(m[3])}
		}
	}
	if len(rows) == 0 {
		t.Fatal("no configuration rows found in docs/configuration.md")
	}

	known := map[string]bool{}
	for _, s := range settings {
		known[s.env] = true
		r, ok := rows[s.env]
		if !ok {
			t.Errorf("docs/configuration.md's table lacks %s", s.env)
			continue
		}
		if r[0] != s.flag {
			t.Errorf("docs/configuration.md gives %s the flag --%s; the server's is --%s", s.env, r[0], s.flag)
		}
		switch {
		case s.isBool:
			// Defaults that depend on APP_ENV, described in words.
		case s.def == "":
			if !strings.HasPrefix(r[1], "empty") {
				t.Errorf("docs/configuration.md's default for %s is %q; the server's is empty", s.env, r[1])
			}
		case !strings.HasPrefix(r[1], "`"+s.def+"`"):
			t.Errorf("docs/configuration.md's default for %s is %q; the server's is %q", s.env, r[1], s.def)
		}
	}
	for env := range rows {
		if !known[env] {
			t.Errorf("docs/configuration.md's table lists %s, which sessionkit serve does not read", env)
		}
	}
	// The variables the docs document, each with a flag.
	for _, env := range []string{"DATABASE_URL", "SESSION_SECRET", "APP_ENV", "COOKIE_NAME", "COOKIE_DOMAIN",
		"COOKIE_SAMESITE", "SESSION_TTL", "SESSION_IDLE_TIMEOUT", "TRUSTED_PROXIES", "CORS_ORIGINS", "ADDR", "SESSION_DEBUG"} {
		if !known[env] {
			t.Errorf("sessionkit serve does not read %s", env)
		}
	}
}
