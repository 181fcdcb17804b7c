package doctor

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/sessionkit/sessionkit/cmd/internal/doctor/browser"
)

// cors checks the preflight and the credentialed responses, and whether the
// cookie goes cross-site at all.
func (c *httpCheck) cors(ctx context.Context) error {
	org := originOf(c.origin)
	if !c.crossOrigin {
		c.add(secCORS, "cors.same-origin", Info, "the front end's origin is the API's own: CORS does not apply", []string{"origin " + org}, "")
		return nil
	}
	const corsFix = "Answer with Access-Control-Allow-Origin set to the request's exact origin " +
		"(from an allow-list, never * and never null), " +
		"Access-Control-Allow-Credentials: true and Vary: Origin, on the preflight and on every response; " +
		"the page must fetch with credentials: 'include'."
	// Preflight.
	pre, err := c.do(ctx, request{method: http.MethodOptions, url: c.login, header: map[string]string{
		"Origin":                         org,
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "content-type",
	}})
	if err != nil {
		return err
	}
	var probs []string
	if !ok2xx(pre.status) {
		probs = append(probs, fmt.Sprintf("status %d (a preflight needs 2xx)", pre.status))
	}
	probs = append(probs, acaoProblems(pre.header, org)...)
	if ah := pre.header.Get("Access-Control-Allow-Headers"); !listHas(ah, "content-type") {
		probs = append(probs, fmt.Sprintf("Access-Control-Allow-Headers is %q: content-type is not allowed (and * does not count with credentials)", ah))
	}
	ev := []string{fmt.Sprintf("OPTIONS %s with Origin: %s, Access-Control-Request-Method: POST, Access-Control-Request-Headers: content-type → %d", c.login.Path, org, pre.status)}
	ev = append(ev, corsHeaders(pre.header)...)
	if len(probs) > 0 {
		c.add(secCORS, "cors.preflight", Fail, "the preflight fails: the browser never sends the login ("+probs[0]+")", append(ev, probs...), corsFix)
	} else {
		c.add(secCORS, "cors.preflight", Pass, "the preflight allows a credentialed JSON POST from "+org, ev, "")
	}

	// Credentialed responses.
	type resp struct {
		what string
		ex   *exchange
	}
	var rs []resp
	if c.loginEx != nil {
		rs = append(rs, resp{"POST " + c.login.Path, c.loginEx})
	}
	if c.firstAuthed != nil {
		rs = append(rs, resp{"GET " + c.protected.Path, c.firstAuthed})
	}
	if len(rs) == 0 {
		ex, err := c.do(ctx, request{method: http.MethodGet, url: c.protected, fromPage: true})
		if err != nil {
			return err
		}
		rs = append(rs, resp{"GET " + c.protected.Path, ex})
	}
	probs, ev = nil, nil
	varyMissing := []string{}
	for _, r := range rs {
		ev = append(ev, fmt.Sprintf("%s with Origin: %s → %d; %s", r.what, org, r.ex.status, strings.Join(corsHeaders(r.ex.header), "; ")))
		for _, p := range acaoProblems(r.ex.header, org) {
			probs = append(probs, r.what+": "+p)
		}
		if !listHas(strings.Join(r.ex.header.Values("Vary"), ","), "origin") {
			varyMissing = append(varyMissing, r.what)
		}
	}
	title := "credentialed responses allow " + org
	if len(probs) > 0 {
		title = "the browser blocks the API's responses: " + probs[0]
		if strings.Contains(probs[0], "*") {
			title = "Access-Control-Allow-Origin: * with credentials: browsers block every credentialed response"
		}
		c.add(secCORS, "cors.credentials", Fail, title, append(ev, probs...), corsFix)
	} else {
		c.add(secCORS, "cors.credentials", Pass, title, ev, "")
	}
	if len(varyMissing) > 0 {
		c.add(secCORS, "cors.vary", Warn, "no Vary: Origin on responses that echo the origin: a cache can serve one origin's response to another",
			[]string{"missing on: " + strings.Join(varyMissing, ", ")}, "Add Vary: Origin to every response whose Access-Control-Allow-Origin depends on the request.")
	} else {
		c.add(secCORS, "cors.vary", Pass, "Vary: Origin is set", nil, "")
	}

	// Will the cookie go cross-site?
	site, apiSite := browser.Site(c.origin.Hostname()), browser.Site(c.base.Hostname())
	if !c.crossSite {
		c.add(secCORS, "cors.cookie-site", Pass, fmt.Sprintf("same site (%s): the browser sends the session cookie with credentialed fetches", site),
			[]string{fmt.Sprintf("front end %s, API %s", org, originOf(c.base))}, "")
		return nil
	}
	ev = []string{fmt.Sprintf("front end site %s, API site %s: cross-site", site, apiSite)}
	if c.sessionVerdict == nil {
		c.add(secCORS, "cors.cookie-site", Info, "cross-site front end; no session cookie to judge (log in to check it)", ev, "")
		return nil
	}
	ck := c.sessionVerdict.Cookie
	sameSiteFix := fmt.Sprintf("Best: serve the API under the front end's site "+
		"(e.g. api.%s) so the cookie is first-party with SameSite=Lax. "+
		"SameSite=None; Secure does not help: "+
		"Chromium with its default settings blocks third-party cookies whatever their SameSite "+
		"(see sessionkit's docs/browser-cookies.md for what Chromium does).", site)
	if ck.SameSite != "None" {
		ss := ck.SameSite
		if ss == "" {
			ss = "unset (Lax)"
		}
		c.add(secCORS, "cors.cookie-site", Fail, fmt.Sprintf("the browser will not send the session cookie cross-site: SameSite=%s", ss),
			append(ev, "SameSite Lax and Strict cookies are neither stored from nor sent with cross-site fetch/XHR, "+
				"so every API call from the front end is anonymous"), sameSiteFix)
		return nil
	}
	c.add(secCORS, "cors.cookie-site", Fail, "the session cookie is a third-party cookie: Chromium blocks it with its default settings, "+
		"as do Safari, Brave and Chrome's Incognito mode",
		append(ev, "SameSite=None; Secure: stored and sent cross-site only where the user allows third-party cookies"), sameSiteFix)
	return nil
}

// acaoProblems checks a credentialed CORS response's headers for origin org.
func acaoProblems(h http.Header, org string) []string {
	var p []string
	switch acao := h.Get("Access-Control-Allow-Origin"); {
	case acao == "":
		p = append(p, "no Access-Control-Allow-Origin")
	case acao == "*":
		p = append(p, "Access-Control-Allow-Origin: * is refused for credentialed requests")
	case acao == "null":
		p = append(p, "Access-Control-Allow-Origin: null (any sandboxed page would match)")
	case acao != org:
		p = append(p, fmt.Sprintf("Access-Control-Allow-Origin %q is not the origin %q", acao, org))
	}
	if acac := h.Get("Access-Control-Allow-Credentials"); acac != "true" {
		if acac == "" {
			acac = "absent"
		}
		p = append(p, "Access-Control-Allow-Credentials is "+acac+", not true")
	}
	return p
}

func corsHeaders(h http.Header) []string {
	var out []string
	for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Vary"} {
		if vs := h.Values(k); len(vs) > 0 {
			out = append(out, k+": "+strings.Join(vs, ", "))
		}
	}
	if len(out) == 0 {
		out = append(out, "no CORS headers")
	}
	return out
}

// listHas reports whether a comma-separated header list names v
// (case-insensitively).
func listHas(list, v string) bool {
	for _, item := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(item), v) {
			return true
		}
	}
	return false
}
