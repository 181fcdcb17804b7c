package server

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// The documentation pages every check below reads: the README, each page
// under docs/ and the two reports it links.
func docPages(t *testing.T, root string) []string {
	t.Helper()
	pages := []string{"README.md", "BENCHMARKS.md", "RELIABILITY.md", "CHANGELOG.md"}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(more) == 0 {
		t.Fatal("no docs/*.md pages found")
	}
	for _, p := range more {
		rel, err := filepath.Rel(root, p)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, filepath.ToSlash(rel))
	}
	return pages
}

// repoRoot is the directory holding README.md and docs/, found upwards from
// the package's directory, so the tests survive the package moving.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if isFile(filepath.Join(dir, "README.md")) && isFile(filepath.Join(dir, "docs", "configuration.md")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no README.md with docs/configuration.md above the test's directory")
		}
		dir = parent
	}
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

var (
	fence      = regexp.MustCompile("(?ms)^ *```.*?^ *```")
	inlineCode = regexp.MustCompile("`[^`\n]+`")
	mdLink     = regexp.MustCompile(`\]\(([^()\s]+)\)`)
	heading    = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *$`)
)

// prose is a Markdown page without its code: fenced blocks and inline code
// spans are blanked, so a link shown as code is not taken for one.
func prose(md string) string {
	md = fence.ReplaceAllString(md, "")
	return inlineCode.ReplaceAllString(md, "``")
}

// anchors are the ids GitHub gives a page's headings: lower case, spaces as
// hyphens, punctuation other than hyphens and underscores dropped, and a
// repeated heading numbered -1, -2, ….
func anchors(md string) map[string]bool {
	ids := map[string]bool{}
	seen := map[string]int{}
	for _, m := range heading.FindAllStringSubmatch(fence.ReplaceAllString(md, ""), -1) {
		var sb strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				sb.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				sb.WriteRune(r)
			}
		}
		id := sb.String()
		if n := seen[id]; n > 0 {
			ids[id+"-"+strconv.Itoa(n)] = true
		} else {
			ids[id] = true
		}
		seen[id]++
	}
	return ids
}

// TestDocsLinks: every relative link of the README and of each docs/ page
// names a file that exists, and every #anchor a heading of its page, so
// moving a section cannot leave a dead link behind; and the README links
// every docs/ page, so none is left where no reader finds it.
func TestDocsLinks(t *testing.T) {
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range docPages(t, root) {
		if strings.HasPrefix(page, "docs/") && !strings.Contains(prose(string(readme)), "]("+page) {
			t.Errorf("README.md does not link %s", page)
		}
	}
	pageAnchors := map[string]map[string]bool{}
	anchorsOf := func(path string) map[string]bool {
		if a, ok := pageAnchors[path]; ok {
			return a
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		pageAnchors[path] = anchors(string(b))
		return pageAnchors[path]
	}
	for _, page := range docPages(t, root) {
		b, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			t.Fatal(err)
		}
		links := mdLink.FindAllStringSubmatch(prose(string(b)), -1)
		for _, m := range links {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := filepath.Join(root, page)
			if file != "" {
				path = filepath.Join(filepath.Dir(path), filepath.FromSlash(file))
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s links to %s, which does not exist", page, target)
					continue
				}
			}
			if anchor == "" || !strings.HasSuffix(path, ".md") {
				continue
			}
			if !anchorsOf(path)[anchor] {
				t.Errorf("%s links to %s: no heading there has the anchor #%s", page, target, anchor)
			}
		}
	}
}

// testName is a test, benchmark or example function named in the docs.
var testName = regexp.MustCompile(`\b((?:Test|Benchmark)[A-Z_][A-Za-z0-9_]*|Example[A-Za-z0-9_]*)\b`)

// TestDocsNameRealTests: every test, benchmark and example the README and
// the docs/ pages cite exists as a function, so a claim cannot keep naming
// a test that was renamed or deleted.
func TestDocsNameRealTests(t *testing.T) {
	root := repoRoot(t)
	funcs := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func ((?:Test|Benchmark|Example)\w*)\(`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			funcs[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range docPages(t, root) {
		b, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			t.Fatal(err)
		}
		for _, code := range inlineCode.FindAllString(string(b), -1) {
			for _, m := range testName.FindAllStringSubmatch(code, -1) {
				if !funcs[m[1]] {
					t.Errorf("%s names %s; no _test.go file declares func %s", page, m[1], m[1])
				}
			}
		}
	}
}

// envName is an environment variable as the docs write it in code: capitals
// with at least one underscore, alone or as NAME=value.
var envName = regexp.MustCompile(`^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?:=|$)`)

// TestDocsNameRealVariables: every variable the README and the docs/ pages
// show in code (`SESSION_TTL`, `SESSION_SECRET=old,new`) is a setting of
// `sessionkit serve` or is read somewhere in the code (a test's override, a
// script's), so a renamed variable cannot live on in the docs.
func TestDocsNameRealVariables(t *testing.T) {
	root := repoRoot(t)
	known := map[string]bool{}
	for _, s := range settings {
		known[s.env] = true
	}
	var source strings.Builder
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git" || path == filepath.Join(root, "docs")) {
			return filepath.SkipDir
		}
		switch filepath.Ext(path) {
		case ".go", ".js", ".sh", "":
			if d.IsDir() || (filepath.Ext(path) == "" && filepath.Base(filepath.Dir(path)) != "scripts") {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			source.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	code := source.String()
	for _, page := range docPages(t, root) {
		b, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			t.Fatal(err)
		}
		for _, span := range inlineCode.FindAllString(string(b), -1) {
			m := envName.FindStringSubmatch(strings.Trim(span, "`"))
			if m == nil || known[m[1]] {
				continue
			}
			if !regexp.MustCompile(`\b` + m[1] + `\b`).MatchString(code) {
				t.Errorf("%s names the variable %s, which neither sessionkit serve nor any code reads", page, m[1])
			}
		}
	}
}
