package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/server"
)

// TestNPMPackage: a Node team runs the doctor without Go. scripts/release
// --host builds this platform's stamped binary and the npm packages; they
// are packed with `npm pack`, installed into a scratch Node project from the
// packed files alone (offline: the other platforms' optional packages are
// skipped), and `npx sessionkit --version` prints the stamped version while
// `npx sessionkit doctor http` passes a local sessionkit serve.
func TestNPMPackage(t *testing.T) {
	for _, tool := range []string{"node", "npm", "npx"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required for the npm package test: %v", tool, err)
		}
	}
	dist, scratch := t.TempDir(), t.TempDir()
	const version = "v0.0.1-npmtest"
	run := func(dir string, env []string, name string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		// npm's cache in the test's own directory: nothing of the user's.
		cmd.Env = append(append(os.Environ(), "npm_config_cache="+filepath.Join(scratch, ".npm-cache"), "npm_config_update_notifier=false"), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, out.String())
		}
		return out.String()
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	run(repo, nil, "sh", "scripts/release", "--host", "--out", dist, version)
	if sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS")); err != nil || !strings.Contains(string(sums), "sessionkit-"+version+"-"+runtime.GOOS+"-"+runtime.GOARCH) {
		t.Fatalf("SHA256SUMS: %v %q", err, sums)
	}

	// Pack the launcher and this platform's package, as `npm publish` would.
	platform := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	osName := map[string]string{"windows": "win32"}[runtime.GOOS]
	if osName == "" {
		osName = runtime.GOOS
	}
	var tgz []string
	for _, pkg := range []string{"sessionkit", osName + "-" + platform} {
		name := strings.TrimSpace(lastLine(run(filepath.Join(dist, "npm", pkg), nil, "npm", "pack", "--pack-destination", dist, "--loglevel=error")))
		tgz = append(tgz, filepath.Join(dist, name))
	}
	if err := os.WriteFile(filepath.Join(scratch, "package.json"), []byte(`{"name": "scratch", "private": true}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(scratch, nil, "npm", append([]string{"install", "--offline", "--no-audit", "--no-fund", "--loglevel=error"}, tgz...)...)

	if out := run(scratch, nil, "npx", "--offline", "sessionkit", "--version"); !strings.HasPrefix(out, "sessionkit "+version+" (") || !strings.Contains(out, ", built ") {
		t.Fatalf("npx sessionkit --version = %q, want the stamped version, commit and date", out)
	}

	// A local app: sessionkit serve's server on the embedded SQLite default.
	env := map[string]string{"DATA_DIR": t.TempDir(), "BCRYPT_COST": "4", "PRUNE_INTERVAL": "off"}
	loaded, err := server.LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	loaded.Logger = slog.New(slog.DiscardHandler)
	srv, err := server.New(t.Context(), loaded.Config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.DB().AddUser(t.Context(), "ada@example.com", "correct horse battery staple", 4); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	out := run(scratch, nil, "npx", "--offline", "sessionkit", "doctor", "http", ts.URL, "--repeat", "3",
		"--body", `{"email": "ada@example.com", "password": "correct horse battery staple"}`)
	if !strings.Contains(out, "PASS  all 3 requests kept the session") || strings.Contains(out, "FAIL ") {
		t.Fatalf("npx sessionkit doctor http:\n%s", out)
	}
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
