package browser_test

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionkit/sessionkit/cmd/internal/doctor/browser"
	"github.com/sessionkit/sessionkit/cmd/internal/testkit/browsertest"
	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
)

// attackPage is a page on another site with a form that posts to action.
var attackPage = template.Must(template.New("attack").Parse(`<!doctype html><meta charset=utf-8><title>attack</title>
<form method=POST action="{{.}}" enctype=text/plain><input type=hidden name='{"email":"ada@example.com","password":"x","pad":"' value='"}'><button id=go>go</button></form>`))

// csrfOutcome is what one cross-site form POST did.
type csrfOutcome struct {
	Sent       bool   // the session cookie went with the POST
	SendReason string // why not
	Status     int    // the POST's status
	Survives   bool   // GET /api/user still answers 200 afterwards
}

// playCSRF logs in on the API's own origin, then submits a form on
// front.other.test that posts to /api/logout and to /api/login, with the
// cookie SameSite=Lax (the default) and SameSite=None: the server refuses
// both (CrossOriginProtection), whether or not the browser sent the cookie,
// and the session survives. It returns the table rows.
func playCSRF(t *testing.T, b *browsertest.Browser) []string {
	var rows []string
	for _, ss := range []struct {
		name string
		mode http.SameSite
	}{{"Lax", http.SameSiteLaxMode}, {"None", http.SameSiteNoneMode}} {
		for _, path := range []string{"/api/logout", "/api/login"} {
			name := fmt.Sprintf("7. cross-site form POST to %s, SameSite=%s", path, ss.name)
			t.Run(name, func(t *testing.T) {
				cfg := baseConfig(t)
				cfg.Production, cfg.SameSite = true, ss.mode
				api := on(t, b.ServeTLS(t, apiServer(t, cfg)).URL, "api.example.test")
				target := api + path
				attacker := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
					attackPage.Execute(w, target)
				})
				evil := on(t, b.ServeTLS(t, attacker).URL, "front.other.test")

				ctx := b.Profile(t)
				watch := browsertest.WatchCookies(t, ctx)
				browsertest.Step(t, ctx, "open the API's page", chromedp.Navigate(api+"/blank"))
				body := fmt.Sprintf(`{"email":%q,"password":%q}`, testEmail, testPassword)
				if r := browsertest.Fetch(t, ctx, api+"/api/login", fetchInit("POST", "", body)); r.Status != 200 {
					t.Fatalf("log-in: %+v", r)
				}
				browsertest.Step(t, ctx, "open the attacker's page", chromedp.Navigate(evil+"/"))
				submit, cancel := context.WithTimeout(ctx, browsertest.Timeout)
				resp, err := chromedp.RunResponse(submit, chromedp.Click(chromedp.ID("go")))
				cancel()
				if err != nil {
					t.Fatalf("submit the form: %v", err)
				}
				browsertest.WaitCookies(t, watch, "POST", api+"/api/login")
				browsertest.WaitCookies(t, watch, "POST", target)
				var chromium, model csrfOutcome
				chromium.Status = int(resp.Status)
				chromium.Sent, chromium.SendReason = sentTo(watch.SentCookies(target), "sessionkit.sid", nil, sessiontest.MustURL(t, target))
				browsertest.Step(t, ctx, "back to the API's page", chromedp.Navigate(api+"/blank"))
				chromium.Survives = browsertest.Fetch(t, ctx, api+"/api/user", "").Status == 200

				// The model: the log-in's cookie, then a cross-site navigation POST.
				jar := browser.NewJar(nil)
				var line string
				for _, o := range watch.SetCookies(api + "/api/login") {
					if strings.HasPrefix(o.Line, "sessionkit.sid=") && len(o.Reasons) == 0 {
						line = o.Line
					}
				}
				if v := jar.Set(sessiontest.MustURL(t, api+"/api/login"), line, false); !v.Stored {
					t.Fatalf("the model drops the log-in cookie Chromium stored: %+v", v)
				}
				model.SendReason = "absent"
				for _, d := range jar.DecideNavigation(sessiontest.MustURL(t, target), true, http.MethodPost) {
					if d.Cookie.Name == "sessionkit.sid" {
						model.Sent, model.SendReason = d.Withheld == "", d.Withheld
					}
				}
				model.Status, model.Survives = http.StatusForbidden, true // the server's promise, checked on Chromium's side

				if chromium != model {
					t.Errorf("Chromium and the model disagree:\nChromium %+v\nmodel    %+v", chromium, model)
				}
				rows = append(rows, fmt.Sprintf("| %s | %s | %d | %s | %s |", name, yesNo(chromium.Sent, chromium.SendReason),
					chromium.Status, map[bool]string{true: "yes", false: "**no**"}[chromium.Survives], agreeCell(chromium == model)))
			})
		}
	}
	return rows
}
