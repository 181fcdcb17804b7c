package doctor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionkit/sessionkit/cmd/internal/testkit/browsertest"
)

// screenshotDirEnv names a directory to write the report's screenshot into;
// docs/doctor-db-report.png was made with
//
//	SESSIONKIT_SCREENSHOT_DIR=$PWD/docs go test ./cmd/internal/doctor -run TestHTMLReportInChromium
const screenshotDirEnv = "SESSIONKIT_SCREENSHOT_DIR"

// TestHTMLReportInChromium: doctor db --html on connect-pg-simple's table
// full of anonymous rows writes a page that real Chromium renders with no
// console error, whose chart draws bars of non-zero height for both the
// anonymous and the logged-in sessions, and whose findings are on screen.
func TestHTMLReportInChromium(t *testing.T) {
	schema, url := brokenCPS(t)
	report := filepath.Join(t.TempDir(), "report.html")
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"db", url, "--table", schema + ".session", "--html", report}, nil, &out, &errb); code != 1 {
		t.Fatalf("doctor db exit %d, want 1\n%s%s", code, out.String(), errb.String())
	}

	b := browsertest.Start(t)
	ctx := b.Profile(t)
	console := browsertest.WatchConsole(t, ctx)
	browsertest.Step(t, ctx, "open the report",
		chromedp.EmulateViewport(1000, 900),
		chromedp.Navigate("file://"+report),
		chromedp.WaitVisible(chromedp.CSS("svg")),
	)
	if h1 := browsertest.Value(t, ctx, "read the title", chromedp.Text(chromedp.CSS("h1"))); h1 != "sessionkit doctor db" {
		t.Fatalf("h1 %q", h1)
	}
	// The bars as laid out: how many of each colour have a visible height.
	type drawn struct{ Anonymous, LoggedIn, Fails int }
	got := browsertest.Value(t, ctx, "measure the chart", chromedp.Evaluate[drawn](`(() => {
		const n = fill => [...document.querySelectorAll('svg rect[fill="' + fill + '"]')].filter(r => r.getBoundingClientRect().height > 0).length;
		return {Anonymous: n(`+"`"+chartAnonColor+"`"+`), LoggedIn: n(`+"`"+chartLoggedColor+"`"+`),
			Fails: [...document.querySelectorAll('.finding.fail')].filter(f => f.getBoundingClientRect().height > 0).length};
	})()`))
	if got.Anonymous == 0 || got.LoggedIn == 0 || got.Fails == 0 {
		t.Fatalf("the rendered report shows %+v: want bars of both kinds and the failures", got)
	}
	if errs := console.Errors(); len(errs) > 0 {
		t.Fatalf("console errors: %q", errs)
	}

	dir := os.Getenv(screenshotDirEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	browsertest.Screenshot(t, ctx, filepath.Join(dir, "doctor-db-report.png"))
}
