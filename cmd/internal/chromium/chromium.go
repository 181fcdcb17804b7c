// Package chromium drives a real headless Chromium (or Chrome) through
// chromedp for what a model of a browser can only guess: whether a cookie
// is stored and sent back. Flags starts it the way the tests and `doctor
// http --browser` both do; Watch records Chromium's own verdict, with its
// reasons, on every cookie of a tab; Fetch runs a fetch in a page.
package chromium

import (
	"os/exec"

	"github.com/chromedp/chromedp"
)

// ExecPath returns the Chromium (or Chrome) binary: Debian's
// /usr/bin/chromium or the first of the usual names on $PATH; "" when none
// is installed.
func ExecPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Flags returns the command-line switches to start Chromium with: chromedp's
// defaults, headless, no GPU, sandbox, first-run, background traffic,
// component updates or sync, a profile in userDataDir (a fresh directory:
// nothing is remembered from an earlier run), and ExecPath's binary, then
// extra.
func Flags(userDataDir string, extra ...chromedp.ExecAllocatorOption) []chromedp.ExecAllocatorOption {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.Flag("headless", true),
		chromedp.DisableGPU,
		// Chromium refuses to run as root with its sandbox on (containers,
		// CI).
		chromedp.NoSandbox,
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(userDataDir),
	)
	if p := ExecPath(); p != "" {
		opts = append(opts, chromedp.ExecPath(p))
	}
	return append(opts, extra...)
}
