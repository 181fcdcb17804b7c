package reliability

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// binPath is the sessionkit binary TestMain builds for the whole package.
var binPath string

// reportEnv names the file TestMain writes the figures to, when set.
const reportEnv = "SESSIONKIT_RELIABILITY_REPORT"

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sessionkit-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reliability:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "sessionkit")
	start := time.Now()
	// By import path, from the package directory: the command is in this
	// package's module whichever directory holds the go.mod.
	const command = "github.com/sessionkit/sessionkit/cmd/sessionkit"
	build := exec.Command(goTool(), "build", "-o", binPath, command)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "reliability: go build %s: %v\n%s", command, err, out)
		return 1
	}
	buildTime := time.Since(start)

	code := m.Run()
	redisCluster.Stop()

	if path := os.Getenv(reportEnv); path != "" {
		md := reports.markdown(buildTime)
		if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "reliability: write %s: %v\n", path, err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "reliability: figures written to %s\n", path)
	}
	return code
}

// goTool finds the go command: on PATH, or in the GOROOT the test was built
// with.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// scenarioReport is what one scenario measured, for RELIABILITY.md.
type scenarioReport struct {
	test    string
	Name    string
	Load    string
	Faults  string
	figures []figure
	lost    string
	failed  bool
	elapsed time.Duration
}

type figure struct{ name, value string }

// add records a figure; values are formatted with %v.
func (r *scenarioReport) add(name string, value any) {
	r.figures = append(r.figures, figure{name, fmt.Sprint(value)})
}

// addf records a figure formatted with format.
func (r *scenarioReport) addf(name, format string, a ...any) {
	r.figures = append(r.figures, figure{name, fmt.Sprintf(format, a...)})
}

// setLost records what the scenario lost, in words ("0 of 1234 …").
func (r *scenarioReport) setLost(format string, a ...any) { r.lost = fmt.Sprintf(format, a...) }

// reportSet collects the scenarios' reports in the order they finish.
type reportSet struct {
	mu   sync.Mutex
	list []*scenarioReport
}

var reports reportSet

// newReport starts the report of t's scenario; it is logged and kept when t
// ends, marked failed if t failed.
func newReport(t testing.TB, name, load, faults string) *scenarioReport {
	t.Helper()
	r := &scenarioReport{test: t.Name(), Name: name, Load: load, Faults: faults}
	start := time.Now()
	t.Cleanup(func() {
		r.elapsed = time.Since(start)
		r.failed = t.Failed()
		var b strings.Builder
		fmt.Fprintf(&b, "%s (%s)\n", r.Name, r.elapsed.Round(time.Millisecond))
		for _, f := range r.figures {
			fmt.Fprintf(&b, "  %-40s %s\n", f.name, f.value)
		}
		if r.lost != "" {
			fmt.Fprintf(&b, "  %-40s %s\n", "lost", r.lost)
		}
		t.Log(b.String())
		reports.mu.Lock()
		reports.list = append(reports.list, r)
		reports.mu.Unlock()
	})
	return r
}

// scenarioOrder is the order of the scenarios, for the report.
var scenarioOrder = []string{
	"TestLoadSharedSessions", "TestRollingSecretRotation", "TestThrashDifferentSecrets",
	"TestPostgresOutage", "TestConcurrentWritesOneSession", "TestKillInstance",
	"TestPruneUnderLoad", "TestBadInput", "FuzzLogin",
}

// markdown renders the reports as RELIABILITY.md's figures section.
func (s *reportSet) markdown(build time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rank := func(r *scenarioReport) int {
		if i := slices.Index(scenarioOrder, r.test); i >= 0 {
			return i
		}
		return len(scenarioOrder)
	}
	slices.SortStableFunc(s.list, func(a, b *scenarioReport) int { return rank(a) - rank(b) })
	var b strings.Builder
	fmt.Fprintf(&b, "Generated %s on %s/%s, %d CPUs, %s; binary built in %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(),
		runtime.Version(), build.Round(100*time.Millisecond))
	b.WriteString("| Scenario | Load | Faults | Lost | Result | Time |\n|---|---|---|---|---|---|\n")
	for _, r := range s.list {
		result := "pass"
		if r.failed {
			result = "**FAIL**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", cell(r.Name), cell(r.Load), cell(r.Faults),
			cell(r.lost), result, r.elapsed.Round(100*time.Millisecond))
	}
	for _, r := range s.list {
		fmt.Fprintf(&b, "\n#### %s\n\n| Figure | Value |\n|---|---|\n", r.Name)
		for _, f := range r.figures {
			fmt.Fprintf(&b, "| %s | %s |\n", cell(f.name), cell(f.value))
		}
	}
	return b.String()
}

// cell escapes a table cell.
func cell(s string) string {
	if s == "" {
		return "–"
	}
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
