package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestUsersImport runs `users import` as docs/moving-from-node.md shows it, on each
// backend: a dry run changes nothing, the file imports, a re-run reports
// the existing ids, standard input works, and a bad line is named with
// nothing imported.
func TestUsersImport(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env map[string]string) {
		runCmd(t, env, "", "migrate")
		h, err := bcrypt.GenerateFromPassword([]byte("node password"), 4)
		if err != nil {
			t.Fatal(err)
		}
		hash := "$2b$" + string(h[4:]) // as Node's bcrypt writes it
		file := filepath.Join(t.TempDir(), "users.csv")
		csv := "id,email,password_hash\n7,ada@example.com," + hash + "\n9,bob@example.com," + hash + "\n"
		if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name, stdin string
			args        []string
			code        int
			out         string
		}{
			{"dry run", "", []string{"--dry-run", file}, 0, "would import 2 users"},
			{"import", "", []string{file}, 0, "imported 2 users"},
			{"again", "", []string{file}, 0, "2 ids already exist, left unchanged (--update replaces them): 7, 9"},
			{"stdin, update", strings.Replace(csv, "bob@", "robert@", 1), []string{"--update", "-"}, 0, "2 ids already exist, updated: 7, 9"},
			{"bad line", "id,email,password_hash\n20,carol@example.com," + hash + "\n21,dan@example.com,plaintext\n", []string{"-"}, 1,
				"sessionkit users import: bad import file: line 3: password_hash: not a bcrypt"},
			{"no file", "", nil, 2, "name the CSV file"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := runCmd(t, env, c.stdin, append([]string{"users", "import"}, c.args...)...)
				if r.code != c.code || !strings.Contains(r.stdout+r.stderr, c.out) {
					t.Fatalf("exit %d, stdout %q, stderr %q; want %d and %q", r.code, r.stdout, r.stderr, c.code, c.out)
				}
			})
		}
		r := runCmd(t, env, "", "users", "list")
		if !strings.Contains(r.stdout, "robert@example.com") || strings.Contains(r.stdout, "carol@") {
			t.Errorf("users list after the imports:\n%s\nwant 7 and 9 (robert), no carol", r.stdout)
		}
	})
}
