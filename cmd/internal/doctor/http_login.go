package doctor

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sessionkit/sessionkit/cmd/internal/doctor/browser"
)

// postLogin POSTs the login with jar's cookies, or with the Cookie header
// cookie when it is not nil.
func (c *httpCheck) postLogin(ctx context.Context, jar *browser.Jar, cookie *string) (*exchange, error) {
	return c.do(ctx, request{method: http.MethodPost, url: c.login, jar: jar, fromPage: true, body: c.o.LoginBody, cookie: cookie})
}

func (c *httpCheck) doLogin(ctx context.Context) error {
	pre := c.jar.All()
	ex, err := c.postLogin(ctx, c.jar, nil)
	if err != nil {
		return err
	}
	c.loginEx = ex
	ev := []string{fmt.Sprintf("POST %s → %d %s", c.login.Path, ex.status, bodySnippet(ex.body))}
	if ex.sent != "" {
		ev = append(ev, "sent Cookie: "+redactCookieHeader(ex.sent))
	}
	if !ok2xx(ex.status) {
		title, fix := c.loginFailure(ex.status)
		c.add(secLogin, "login.status", Fail, title+": nothing after it can be checked", ev, fix)
		return nil
	}
	c.add(secLogin, "login.status", Pass, fmt.Sprintf("login answered %d", ex.status), ev, "")

	v, found := pickSession(ex.verdicts, c.o.CookieName)
	var preV *browser.Verdict
	if !found {
		// No cookie from the login: did the anonymous session get upgraded?
		for _, pc := range pre {
			if c.o.CookieName == pc.Name || c.o.CookieName == "" && looksLikeSession(pc.Name) {
				for _, av := range c.anon[0].verdicts {
					if av.Cookie.Name == pc.Name {
						av := av
						preV = &av
					}
				}
			}
		}
		if preV == nil {
			name := "a session cookie"
			if c.o.CookieName != "" {
				name = fmt.Sprintf("the cookie %q", c.o.CookieName)
			}
			fix := ""
			if c.base.Scheme == "http" {
				// express-session sends no Secure cookie at all over a plain
				// connection: the request itself is the first suspect.
				fix = "This request was plain HTTP: " +
					"express-session with cookie.secure: true sets no cookie over it at all. " +
					"If users reach the site over https, run the doctor on the https:// URL " +
					"(to one instance: --resolve HOST:443:ADDR). "
			}
			c.add(secCookie, "cookie.set", Fail, "the login response sets no cookie", append(ev, "no Set-Cookie for "+name),
				fix+"Save the session at login so that the response carries Set-Cookie "+
					"(express-session: set req.session.userId inside req.session.regenerate; "+
					"sessionkit: Put then the response commits it). "+
					"Behind a TLS-terminating proxy, "+
					"express-session with cookie.secure: true sends no cookie at all unless app.set('trust proxy', 1). "+
					"If the login returns a token in the body, this is not a cookie session and the doctor does not apply.")
			return nil
		}
		v = *preV
	}
	c.session, c.sessionConfirmed = v.Cookie.Name, true
	c.sessionVerdict = &v
	c.loggedIn = true
	c.judgeCookie(v, preV != nil)
	return c.fixation(ctx, pre, v, preV != nil)
}

// loginFailure names the likely cause of a login answered with status, and
// its fix.
func (c *httpCheck) loginFailure(status int) (title, fix string) {
	switch {
	case status == http.StatusForbidden && c.origin != nil && c.crossOrigin:
		org := originOf(c.origin)
		return fmt.Sprintf("the login from the front end's origin %s was refused (403)", org),
			fmt.Sprintf("Allow the origin on the server, exactly: in its CORS allow-list and in its cross-origin "+
				"(CSRF) protection (sessionkit serve: CORS_ORIGINS=%s). "+
				"If this origin is not meant to call the API, drop --origin.", org)
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		return fmt.Sprintf("no login at POST %s (status %d)", c.login.Path, status),
			"Pass --login with the path the login POSTs to."
	case status == http.StatusTooManyRequests:
		return "the login was rate-limited (429)",
			"Wait for the server's failed-login window to pass " +
				"(earlier attempts with a wrong password count), then run the doctor again."
	case status >= 500:
		return fmt.Sprintf("the login failed with a server error (%d)", status),
			"Check the server's logs: a store or database that cannot be reached fails every login."
	case status == http.StatusForbidden:
		return "the login was refused (403)",
			"Check the credentials, and whether the server wants something a plain JSON POST lacks " +
				"(a CSRF token: pass it with --body; an Origin check behind a proxy that rewrites Host)."
	default:
		return fmt.Sprintf("login failed with status %d", status),
			"Check the credentials (--email with the password on standard input, or --body) and --login; " +
				"the doctor POSTs JSON with Content-Type: application/json."
	}
}

// fixation checks that logging in gives a new session id. When the server
// handed out a cookie before the login, the login must replace it;
// otherwise a second login, sent with the first login's cookie, must.
func (c *httpCheck) fixation(ctx context.Context, pre []browser.Cookie, v browser.Verdict, fromAnon bool) error {
	const fix = "Give the session a new id at login (express-session: req.session.regenerate before setting userId; " +
		"sessionkit: Session.Regenerate; any framework: rotate the id on privilege change)."
	name := v.Cookie.Name
	var before *browser.Cookie
	for i := range pre {
		if pre[i].Name == name {
			before = &pre[i]
		}
	}
	if fromAnon {
		c.add(secCookie, "cookie.fixation", Fail, "session fixation: the login kept the anonymous session's id",
			[]string{fmt.Sprintf("before login the server set %s=%s; the login response set no new cookie", name, Redact(before.Value))}, fix)
		return nil
	}
	if before != nil {
		oldID, _ := sessionID(before.Value)
		newID, _ := sessionID(v.Cookie.Value)
		ev := []string{fmt.Sprintf("sent %s=%s with the login; got %s=%s", name, Redact(before.Value), name, Redact(v.Cookie.Value))}
		if oldID == newID {
			c.add(secCookie, "cookie.fixation", Fail, "session fixation: the login kept the session id the browser already had", ev, fix)
		} else {
			c.add(secCookie, "cookie.fixation", Pass, "the login replaces the session id the browser had", ev, "")
		}
		return nil
	}
	// Log in again holding the first login's cookie. When the browser does
	// not send it (dropped, or its Path misses the login), send it by hand:
	// whether a login keeps the id it is given is the server's doing.
	jar := c.jar.Clone()
	var byHand *string
	sent := jar.Header(c.login, c.crossSite)
	if val, ok := cookieValue(sent, name); !ok || val != v.Cookie.Value {
		h := withCookie(sent, name, v.Cookie.Value)
		byHand = &h
	}
	ex, err := c.postLogin(ctx, jar, byHand)
	if err != nil {
		return err
	}
	ev := []string{fmt.Sprintf("a second login sent %s=%s → %d", name, Redact(v.Cookie.Value), ex.status)}
	if byHand != nil {
		ev[0] += fmt.Sprintf(" (sent by hand: the browser does not send the login's cookie to %s)", c.login.Path)
	}
	if !ok2xx(ex.status) {
		c.add(secCookie, "cookie.fixation", Info, "not checked: a second login was refused", ev, "")
		return nil
	}
	v2, found := pickSession(ex.verdicts, name)
	oldID, _ := sessionID(v.Cookie.Value)
	switch {
	case !found:
		c.add(secCookie, "cookie.fixation", Fail, "session fixation: logging in while holding a session keeps its id (no new cookie)", append(ev, "the response set no session cookie"), fix)
	default:
		newID, _ := sessionID(v2.Cookie.Value)
		ev = append(ev, fmt.Sprintf("got %s=%s", name, Redact(v2.Cookie.Value)))
		if newID == oldID {
			c.add(secCookie, "cookie.fixation", Fail, "session fixation: logging in while holding a session keeps its id", ev, fix)
		} else {
			c.add(secCookie, "cookie.fixation", Pass, "each login issues a new session id", ev, "")
		}
	}
	// Continue with the newest login, as the browser would: regenerating may
	// have destroyed the first session.
	c.jar = jar
	if found {
		c.sessionVerdict = &v2
	}
	return nil
}
