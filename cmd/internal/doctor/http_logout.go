package doctor

import (
	"context"
	"fmt"
	"net/http"
)

// logoutCheck logs out and replays the old cookie.
func (c *httpCheck) logoutCheck(ctx context.Context) error {
	old := c.sessionCookie(c.protected)
	if old == nil {
		c.add(secLogout, "logout.cleared", Info, "not checked: the browser holds no session cookie for "+c.protected.Path, nil, "")
		return nil
	}
	oldHeader := c.jar.Header(c.protected, c.crossSite)
	ex, err := c.do(ctx, request{method: http.MethodPost, url: c.logout, jar: c.jar, fromPage: true})
	if err != nil {
		return err
	}
	ev := []string{fmt.Sprintf("POST %s → %d", c.logout.Path, ex.status)}
	for _, v := range ex.verdicts {
		if v.Cookie.Name == c.session {
			ev = append(ev, "Set-Cookie: "+redactSetCookie(v.Cookie.Raw))
		}
	}
	if ex.status == http.StatusNotFound {
		c.add(secLogout, "logout.cleared", Warn, fmt.Sprintf("no logout endpoint at %s", c.logout.Path), ev, "Pass --logout with the logout path (POST), or --logout '' to skip.")
		return nil
	}
	if !ok2xx(ex.status) {
		c.add(secLogout, "logout.cleared", Fail, fmt.Sprintf("logout failed with status %d", ex.status), ev, "Logout must answer 2xx, destroy the session and clear the cookie.")
		return nil
	}
	after := c.sessionCookie(c.protected)
	switch {
	case after == nil:
		c.add(secLogout, "logout.cleared", Pass, "logout clears the cookie", ev, "")
	case after.Value != old.Value:
		c.add(secLogout, "logout.cleared", Pass, "logout replaces the cookie with a new session's", ev, "")
	default:
		ev = append(ev, "the browser still holds and sends the old "+c.session+" cookie")
		c.add(secLogout, "logout.cleared", Warn, "logout leaves the session cookie in the browser", ev,
			"Clear the cookie with the same Name, Path and Domain it was set with "+
				"(express-session: res.clearCookie(name, {path, domain}) after req.session.destroy; "+
				"sessionkit: Destroy does both).")
	}
	// Replay the old cookie, as someone who had copied it would.
	rex, err := c.do(ctx, request{method: http.MethodGet, url: c.protected, fromPage: true, cookie: &oldHeader})
	if err != nil {
		return err
	}
	ev = []string{fmt.Sprintf("GET %s with the pre-logout cookie %s=%s → %d", c.protected.Path, c.session, Redact(old.Value), rex.status)}
	switch {
	case ok2xx(rex.status):
		c.add(secLogout, "logout.replay", Fail, "the old cookie still works after logout: the session was not destroyed on the server", ev,
			"Delete the session from the store on logout (express-session: req.session.destroy; "+
				"sessionkit: Session.Destroy), not only the cookie: a copied cookie must die with the logout.")
	case rex.status == http.StatusUnauthorized || rex.status == http.StatusForbidden:
		c.add(secLogout, "logout.replay", Pass, "the old cookie is refused after logout", ev, "")
	default:
		c.add(secLogout, "logout.replay", Warn, fmt.Sprintf("replaying the old cookie got status %d (expected 401)", rex.status), ev, "")
	}
	return nil
}
