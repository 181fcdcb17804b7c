package chromium

import (
	"context"
	"fmt"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// blankPage is the page OpenPage serves: no script, no policy, nothing of
// the site's own.
const blankPage = "<!doctype html><meta charset=utf-8><title>sessionkit doctor</title>"

// PageFlags are the switches a Chromium that opens pages with OpenPage
// starts with. A page answered by interception has no address of its own,
// so Chromium's Local Network Access checks count it as public and refuse
// its fetches to a loopback or private API; the page stands in for the
// app's own, which is served from the API's address space, so the checks
// are off. (The first two features are chromedp's defaults, which the
// switch would otherwise replace.)
func PageFlags() []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,LocalNetworkAccessChecks")}
}

// OpenPage navigates the tab of ctx to pageURL and answers that one
// navigation itself, through the DevTools protocol's request interception,
// with a blank page and no Content-Security-Policy. The page then has
// pageURL's origin without the site serving it: the site's own pages, their
// CSP and their 404s play no part in what a fetch from it does, and the
// host need not even resolve. Every other request of the tab goes to the
// network as usual. Start the browser with PageFlags.
func OpenPage(ctx context.Context, pageURL string) error {
	paused := make(chan fetch.RequestID, 1)
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			select {
			case paused <- e.RequestID:
			default:
			}
		}
	}); err != nil {
		return fmt.Errorf("chromium: open %s: %w", pageURL, err)
	}
	pattern := []*fetch.RequestPattern{{URLPattern: escapePattern(pageURL), RequestStage: fetch.RequestStageRequest}}
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: pattern}); err != nil {
		return fmt.Errorf("chromium: intercept %s: %w", pageURL, err)
	}
	// The navigation waits for its answer, so the answer comes from here;
	// the goroutine ends with this call.
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answered := make(chan error, 1)
	go func() {
		select {
		case id := <-paused:
			_, err := chromedp.Call(gctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
				RequestID:       id,
				ResponseCode:    200,
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html; charset=utf-8"}, {Name: "Cache-Control", Value: "no-store"}},
				Body:            []byte(blankPage),
			})
			answered <- err
		case <-gctx.Done():
			answered <- gctx.Err()
		}
	}()
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		cancel()
		<-answered
		return fmt.Errorf("chromium: open %s: %w", pageURL, err)
	}
	if err := <-answered; err != nil {
		return fmt.Errorf("chromium: answer %s: %w", pageURL, err)
	}
	if _, err := chromedp.Call(ctx, fetch.Disable, cdp.Empty{}); err != nil {
		return fmt.Errorf("chromium: stop intercepting: %w", err)
	}
	return nil
}

// escapePattern makes s a Fetch URL pattern matching s only: '*' and '?'
// are wildcards there, and backslash escapes them.
func escapePattern(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`).Replace(s)
}
