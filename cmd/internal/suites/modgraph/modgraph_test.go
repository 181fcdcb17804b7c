package modgraph_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const sk = "github.com/sessionkit/sessionkit"

// goTimeout bounds each go command: a cold module cache downloads, a warm
// one answers in seconds.
const goTimeout = 5 * time.Minute

// repoRoot is the directory holding go.work, above the package directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.work above the working directory")
		}
		dir = parent
	}
}

// goCmd runs the go command in dir, outside any workspace, as a user's
// build runs, and returns its standard output.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), goTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return string(out)
}

// userApp writes a module that imports pkgs and takes every sessionkit
// module it names from the clone at root with a replace line, and returns
// its directory.
func userApp(t *testing.T, root string, modules, pkgs []string) string {
	t.Helper()
	dir := t.TempDir()
	var mod strings.Builder
	fmt.Fprintf(&mod, "module example.com/app\n\ngo 1.26.0\n\n")
	for _, m := range modules {
		fmt.Fprintf(&mod, "require %s v0.0.0\n", m)
	}
	for _, m := range modules {
		fmt.Fprintf(&mod, "replace %s => %s\n", m, filepath.Join(root, strings.TrimPrefix(strings.TrimPrefix(m, sk), "/")))
	}
	var main strings.Builder
	main.WriteString("package main\n\nimport (\n")
	for _, p := range pkgs {
		fmt.Fprintf(&main, "\t_ %q\n", p)
	}
	main.WriteString(")\n\nfunc main() {}\n")
	for name, body := range map[string]string{"go.mod": mod.String(), "main.go": main.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestUserModuleGraph: an app importing the root package and memstore has
// no other module in its graph; one importing a store or promcollector
// gets that module's driver and the driver's own requirements, never
// another driver, Chromium's or the command's. Guards the README's install
// section and CHANGELOG's module layout entry.
func TestUserModuleGraph(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	drivers := map[string]string{
		"pgx":        "github.com/jackc/pgx/",
		"go-redis":   "github.com/redis/go-redis/",
		"modernc":    "modernc.org/",
		"prometheus": "github.com/prometheus/",
		"chromedp":   "github.com/chromedp/",
		"x/term":     "golang.org/x/term",
		"x/crypto":   "golang.org/x/crypto",
	}
	for _, c := range []struct {
		name    string
		modules []string // sessionkit modules the app requires
		pkgs    []string // packages it imports
		driver  string   // the one driver it may get ("" for none at all)
	}{
		{"root and memstore", []string{sk}, []string{sk, sk + "/memstore"}, ""},
		{"pgstore", []string{sk, sk + "/pgstore"}, []string{sk, sk + "/pgstore"}, "pgx"},
		{"sqlitestore", []string{sk, sk + "/sqlitestore"}, []string{sk, sk + "/sqlitestore"}, "modernc"},
		{"redisstore", []string{sk, sk + "/redisstore"}, []string{sk, sk + "/redisstore"}, "go-redis"},
		{"promcollector", []string{sk, sk + "/promcollector"}, []string{sk, sk + "/promcollector"}, "prometheus"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := userApp(t, root, c.modules, c.pkgs)
			goCmd(t, dir, "mod", "tidy")
			goCmd(t, dir, "build", "./...")
			graph := strings.Fields(goCmd(t, dir, "list", "-m", "-f", "{{.Path}}", "all"))
			if c.driver == "" {
				want := append([]string{"example.com/app"}, c.modules...)
				if !slices.Equal(graph, want) {
					t.Fatalf("module graph %v, want only %v", graph, want)
				}
				return
			}
			for name, prefix := range drivers {
				has := slices.ContainsFunc(graph, func(m string) bool { return strings.HasPrefix(m, prefix) })
				if has != (name == c.driver) {
					t.Errorf("%s in the module graph: %v, want %v (graph %v)", name, has, name == c.driver, graph)
				}
			}
		})
	}
}

// TestEveryModuleInWorkspace: every go.mod of the repository is a module
// go.work uses, so scripts/test, which tests the modules go.work lists,
// tests them all.
func TestEveryModuleInWorkspace(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	var onDisk []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.Name() == "go.mod" {
			onDisk = append(onDisk, filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), goTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(root, "go.work"))
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("go list -m in the workspace: %v\n%s", err, exit.Stderr)
	} else if err != nil {
		t.Fatal(err)
	}
	used := strings.Fields(string(out))
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range onDisk {
		onDisk[i] = strings.Replace(d, root, realRoot, 1)
	}
	slices.Sort(onDisk)
	slices.Sort(used)
	if !slices.Equal(onDisk, used) {
		t.Fatalf("modules on disk %v, go.work uses %v", onDisk, used)
	}
}
