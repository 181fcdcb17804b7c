package doctor

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/sessionkit/sessionkit/cmd/internal/doctor/browser"
)

// anonHits is how many cookieless requests go to each of / and the
// protected path.
const anonHits = 3

// anonymous makes cookieless requests to / and to the protected path, as
// bots, health checks and first visits do. The first one uses the main jar,
// so that a cookie it gets is sent with the login, like a browser would.
func (c *httpCheck) anonymous(ctx context.Context) error {
	for _, u := range []*url.URL{c.base, c.protected} {
		for i := 0; i < anonHits; i++ {
			jar := browser.NewJar(c.now)
			if len(c.anon) == 0 {
				jar = c.jar
			}
			ex, err := c.do(ctx, request{method: http.MethodGet, url: u, jar: jar})
			if err != nil {
				return err
			}
			c.anon = append(c.anon, ex)
		}
	}
	return nil
}

// judgeAnonymous reports on the cookies anonymous requests received.
func (c *httpCheck) judgeAnonymous() {
	name := c.session
	if name == "" {
		// No login to learn the name from: take a session-looking one.
		for _, ex := range c.anon {
			for _, v := range ex.verdicts {
				if name == "" && looksLikeSession(v.Cookie.Name) && !v.Deletion {
					name = v.Cookie.Name
				}
			}
		}
	}
	var (
		got     int
		ids     = map[string]bool{}
		sample  string
		others  = map[string]bool{}
		perPath = map[string]int{}
	)
	for _, ex := range c.anon {
		hit := false
		for _, v := range ex.verdicts {
			if v.Deletion {
				continue
			}
			if name != "" && v.Cookie.Name == name {
				hit = true
				id, _ := sessionID(v.Cookie.Value)
				ids[id] = true
				if sample == "" {
					sample = "Set-Cookie: " + redactSetCookie(v.Cookie.Raw)
				}
			} else {
				others[v.Cookie.Name] = true
			}
		}
		if hit {
			got++
			perPath[ex.url.Path]++
		}
	}
	desc := fmt.Sprintf("%d requests without a cookie: %d to %s, %d to %s", len(c.anon), anonHits, c.base.Path, anonHits, c.protected.Path)
	var otherNames []string
	for n := range others {
		otherNames = append(otherNames, n)
	}
	sort.Strings(otherNames)
	switch {
	case got > 0:
		ev := []string{desc, fmt.Sprintf("%d of them got a %q cookie with %d different session ids: each is a session saved for nobody "+
			"(a new store row per bot, health check and first visit)", got, name, len(ids)), sample}
		for p, n := range perPath {
			ev = append(ev, fmt.Sprintf("%s: %d of %d", p, n, anonHits))
		}
		sort.Strings(ev[3:])
		if !c.sessionConfirmed {
			ev = append(ev, fmt.Sprintf("%q is taken for the session cookie by its name; log in (--email/--body) or pass --cookie to confirm", name))
		}
		c.add(secAnon, "anonymous.session", Fail, "anonymous requests get a session cookie: the server saves sessions nobody wrote to (saveUninitialized)", ev,
			"Create a session only when something is stored in it: express-session saveUninitialized: false "+
				"(and don't touch req.session in middleware that runs on every request); "+
				"sessionkit does this by default. Keep health checks and static files out of the session middleware.")
	default:
		ev := []string{desc, "none got a session cookie"}
		if len(otherNames) > 0 {
			ev = append(ev, "other cookies set anonymously (not the session cookie): "+strings.Join(otherNames, ", "))
		}
		c.add(secAnon, "anonymous.session", Pass, "anonymous requests get no session cookie", ev, "")
	}
	// The protected path must refuse anonymous requests, or the thrash
	// check below cannot see a lost session.
	var okAnon, refused int
	statuses := map[int]int{}
	for _, ex := range c.anon {
		if ex.url.Path != c.protected.Path {
			continue
		}
		statuses[ex.status]++
		switch {
		case ok2xx(ex.status):
			okAnon++
		case ex.status == http.StatusUnauthorized || ex.status == http.StatusForbidden:
			refused++
		}
	}
	last := c.anon[len(c.anon)-1].status
	ev := []string{fmt.Sprintf("%d anonymous requests to %s: %s", anonHits, c.protected.Path, statusCounts(statuses))}
	const fix = "Pass --protected with a path that answers 401 without a login and 2xx with one (ours: /api/user)."
	switch {
	case okAnon > 0:
		c.add(secAnon, "anonymous.protected", Warn, fmt.Sprintf("%s answers %d without a session: it cannot show whether the session is kept", c.protected.Path, last), ev, fix)
	case refused < anonHits:
		// Not found, a redirect to a login page, a server error: the
		// thrash check cannot tell a lost session from these.
		c.add(secAnon, "anonymous.protected", Warn, fmt.Sprintf("%s answers %d without a session, not 401: it may not be a path that needs a session", c.protected.Path, last), ev, fix)
	default:
		c.add(secAnon, "anonymous.protected", Pass, fmt.Sprintf("%s refuses anonymous requests (%d)", c.protected.Path, last), nil, "")
	}
}
