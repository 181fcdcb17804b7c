package doctor

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// thrash makes Repeat requests to the protected path after the login,
// as the browser would: each response's Set-Cookie replaces the jar's.
// When some are refused it also replays the login's own cookie unchanged,
// which tells instances that disagree (some accept it, some do not) from a
// server that never accepts it.
func (c *httpCheck) thrash(ctx context.Context) error {
	name := c.session
	current := ""
	if cur := c.sessionCookie(c.protected); cur != nil {
		current = cur.Value
	}
	loginHeader := c.jar.Header(c.protected, c.crossSite)
	var (
		seq        []string
		ok, bad    int
		other      = map[int]int{}
		newIDs     int
		sameResent int
		opaqueNew  bool
		newOnBad   int
	)
	for i := 0; i < c.o.Repeat; i++ {
		ex, err := c.do(ctx, request{method: http.MethodGet, url: c.protected, jar: c.jar, fromPage: true})
		if err != nil {
			return err
		}
		if c.firstAuthed == nil {
			c.firstAuthed = ex
		}
		switch {
		case ok2xx(ex.status):
			ok++
			seq = append(seq, "ok")
		case ex.status == http.StatusUnauthorized || ex.status == http.StatusForbidden:
			bad++
			seq = append(seq, fmt.Sprint(ex.status))
		default:
			other[ex.status]++
			seq = append(seq, fmt.Sprint(ex.status))
		}
		for _, v := range ex.verdicts {
			if v.Cookie.Name != name || !v.Stored {
				continue
			}
			oldID, signed := sessionID(current)
			newID, _ := sessionID(v.Cookie.Value)
			switch {
			case v.Cookie.Value == current:
				sameResent++
			case signed && oldID == newID:
				sameResent++
			default:
				newIDs++
				if !signed {
					opaqueNew = true
				}
				if !ok2xx(ex.status) {
					newOnBad++
				}
				seq[len(seq)-1] += "+new-cookie"
			}
			current = v.Cookie.Value
		}
	}
	n := c.o.Repeat
	ev := []string{fmt.Sprintf("%d requests to %s after login, as a browser (keeping any new cookie): %d ok, %d refused", n, c.protected.Path, ok, bad)}
	if len(other) > 0 {
		ev[0] += ", other: " + statusCounts(other)
	}
	ev = append(ev, "sequence: "+strings.Join(seq, " "))
	if newIDs > 0 {
		ev = append(ev, fmt.Sprintf("%d responses set a new %q session cookie (%d of them on refused requests)", newIDs, name, newOnBad))
	}
	if sameResent > 0 {
		ev = append(ev, fmt.Sprintf("%d responses re-sent the same session id (rolling expiry)", sameResent))
	}

	// Replay the login's cookie unchanged.
	var fixedOK, fixedBad int
	if (bad > 0 || len(other) > 0) && loginHeader != "" {
		probes := min(n, 10)
		var fseq []string
		for i := 0; i < probes; i++ {
			ex, err := c.do(ctx, request{method: http.MethodGet, url: c.protected, fromPage: true, cookie: &loginHeader})
			if err != nil {
				return err
			}
			switch {
			case ok2xx(ex.status):
				fixedOK++
				fseq = append(fseq, "ok")
			default:
				fixedBad++
				fseq = append(fseq, fmt.Sprint(ex.status))
			}
		}
		ev = append(ev, fmt.Sprintf("the login's own cookie replayed unchanged %d times: %d ok, %d refused (%s)", probes, fixedOK, fixedBad, strings.Join(fseq, " ")))
	}

	const thrashFix = "Give every instance the same session secret (the same first secret in the list; " +
		"old ones only for verification during a rotation) and the same shared store " +
		"(one PostgreSQL table, never an in-memory store per instance). Sticky load balancing only hides this."
	intermittent := fmt.Sprintf("the session comes and goes (%d of %d requests refused): instances with different secrets or not sharing a store", bad, n)
	switch {
	case bad > 0 && newIDs > 0 && fixedOK > 0 && fixedBad == 0:
		// The login's cookie always works when replayed: what broke the
		// session is the new cookie a response handed out, not the
		// instances disagreeing about the login's.
		c.add(secThrash, "persist.thrash", Fail, "session thrash: the server replaces the login's cookie with a new session it then refuses", ev,
			"The login's cookie works, "+
				"but a response after it set a new session cookie: "+
				"the server does not recognise the session on that request "+
				"(a secret or store differing between instances, or between routes) and starts a new one. "+thrashFix)
	case ok > 0 && bad > 0:
		c.add(secThrash, "persist.thrash", Fail, intermittent, ev, thrashFix)
	case bad > 0 && fixedOK > 0 && fixedBad > 0:
		if newOnBad > 0 {
			ev = append(ev, "every refusal also handed the browser a new session cookie, so once refused it stays logged out")
		}
		c.add(secThrash, "persist.thrash", Fail,
			fmt.Sprintf("session thrash: the login's cookie is accepted by some requests and refused by others "+
				"(%d of %d): instances with different secrets or not sharing a store", fixedBad, fixedOK+fixedBad), ev, thrashFix)
	case bad+len(other) == n && bad > 0:
		title, fix := c.neverRecognised()
		c.add(secThrash, "persist.thrash", Fail, title, ev, fix)
	case ok == n && newIDs > 0 && opaqueNew:
		c.add(secThrash, "persist.thrash", Warn, fmt.Sprintf("the server replaces the session cookie on %d of %d requests", newIDs, n), ev,
			"If this is a rotating token, fine; "+
				"if it is a session id, each replacement is a new session (thrash): check secrets and the store.")
	case ok == n && newIDs > 0:
		c.add(secThrash, "persist.thrash", Fail, fmt.Sprintf("session thrash: %d of %d requests got a new session id", newIDs, n), ev, thrashFix)
	case len(other) > 0:
		c.add(secThrash, "persist.thrash", Fail, fmt.Sprintf("%s answered neither 2xx nor 401 after login", c.protected.Path), ev,
			"Check --protected and the server's logs for these statuses.")
	default:
		c.add(secThrash, "persist.thrash", Pass, fmt.Sprintf("all %d requests kept the session", n), ev, "")
	}
	return nil
}

// neverRecognised explains why every request after the login was refused.
func (c *httpCheck) neverRecognised() (title, fix string) {
	if c.sessionVerdict != nil {
		if p, rejected := c.sessionVerdict.Rejection(); rejected {
			return "the session is never recognised: the browser dropped the login cookie (" + p.Message + ")",
				"Fix the cookie's attributes (see Session cookie above)."
		}
	}
	if c.sessionCookie(c.protected) == nil {
		why := "its Path, Domain or Secure flag"
		if c.crossSite {
			why = "SameSite: the front end is on another site"
		}
		return fmt.Sprintf("the session is never recognised: the browser does not send the cookie to %s (%s)", c.protected.Path, why),
			"Make the cookie reach the API (see Session cookie and Cross-origin above)."
	}
	return "the session is never recognised after login: the server does not accept the cookie it just set",
		"Check that the login saves the session " +
			"(a store error, or saveUninitialized:false with nothing stored), that the session middleware is mounted on " + c.protected.Path +
			" with the same cookie name and secret as on the login route, and that every instance shares secret and store."
}
