package doctor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"

	"github.com/sessionkit/sessionkit/internal/dbscclient"
)

// secDBSC is the report section of device-bound sessions.
const secDBSC = "Device-bound session (DBSC)"

// dbscCheck logs in again and looks at the response for a device-bound session offer
// (Secure-Session-Registration, the W3C draft's header) and, when there is
// one, plays the browser: it makes a key, registers it, checks that the
// session cookie alone is now refused, and refreshes the bound cookie. It
// runs after the other logged-in checks, since a bound session changes
// what the session cookie alone is worth.
func (c *httpCheck) dbscCheck(ctx context.Context) error {
	if c.loginEx.header.Get("Secure-Session-Registration") == "" {
		c.add(secDBSC, "dbsc.offered", Info, "the login offers no device-bound session "+
			"(DBSC): a copied session cookie works until the session ends (sessionkit serve: DBSC=on)", nil, "")
		return nil
	}
	// A log-in of its own: the first one's offer was for a session that
	// the checks since (fixation) may have replaced, and a registration
	// challenge serves only the session it was issued with.
	login, err := c.postLogin(ctx, c.jar, nil)
	if err != nil {
		return err
	}
	if !ok2xx(login.status) {
		c.add(secDBSC, "dbsc.offered", Info, fmt.Sprintf("not checked: a second login answered %d", login.status), nil, "")
		return nil
	}
	offer := login.header.Get("Secure-Session-Registration")
	if offer == "" {
		c.add(secDBSC, "dbsc.offered", Info, "the login offers no device-bound session "+
			"(DBSC): a copied session cookie works until the session ends (sessionkit serve: DBSC=on)", nil, "")
		return nil
	}
	ev := []string{"Secure-Session-Registration: " + offer}
	regs, ok := dbscclient.ParseRegistration(offer)
	var reg dbscclient.Registration
	for _, r := range regs {
		if slices.Contains(r.Algs, "ES256") || slices.Contains(r.Algs, "RS256") {
			reg, ok = r, true
			break
		}
		ok = false
	}
	if !ok || reg.Challenge == "" {
		c.add(secDBSC, "dbsc.offered", Fail, "the login's device-bound session offer is not one a browser can use", ev,
			`Send Secure-Session-Registration: (ES256 RS256);path="/dbsc/register";challenge="…" `+
				`(a structured-field list: algorithms as tokens, path and challenge as strings).`)
		return nil
	}
	if !secureContext(c.base) {
		c.add(secDBSC, "dbsc.offered", Warn, "the login offers a device-bound session over plain HTTP, which browsers ignore", ev,
			"Serve over HTTPS: browsers use DBSC only on secure origins (and http://localhost).")
		return nil
	}
	c.add(secDBSC, "dbsc.offered", Pass, "the login offers a device-bound session", ev, "")

	alg := "ES256"
	if !slices.Contains(reg.Algs, alg) {
		alg = "RS256"
	}
	key, err := dbscclient.NewKey(alg)
	if err != nil {
		return fmt.Errorf("doctor: %w", err)
	}
	regURL, err := c.login.Parse(reg.Path)
	if err != nil {
		c.add(secDBSC, "dbsc.registration", Fail, "the registration path is not a URL", ev, "Give path= a path such as /dbsc/register.")
		return nil
	}
	ex, err := c.do(ctx, request{method: http.MethodPost, url: regURL, jar: c.jar,
		header: map[string]string{"Secure-Session-Response": `"` + key.Proof(reg.Challenge, true) + `"`}})
	if err != nil {
		return err
	}
	ev = append(ev, fmt.Sprintf("POST %s with an %s key's proof → %d %s", regURL.Path, alg, ex.status, bodySnippet(ex.body)))
	in, bound, problem := dbscAnswer(ex)
	if problem != "" {
		c.add(secDBSC, "dbsc.registration", Fail, "a browser's registration does not complete: "+problem, ev,
			"Mount the registration handler at the offered path "+
				"(sessionkit: Manager.DeviceBoundRegistration) and answer with the session instructions and the bound cookie.")
		return nil
	}
	c.add(secDBSC, "dbsc.registration", Pass, fmt.Sprintf("a browser's registration completes (%s key, bound cookie %s)", alg, bound), ev, "")

	if cur := c.sessionCookie(c.protected); cur != nil {
		alone := c.session + "=" + cur.Value
		ex, err := c.do(ctx, request{method: http.MethodGet, url: c.protected, cookie: &alone})
		if err != nil {
			return err
		}
		aev := []string{fmt.Sprintf("GET %s with the session cookie only → %d", c.protected.Path, ex.status)}
		if ok2xx(ex.status) {
			c.add(secDBSC, "dbsc.enforced", Warn, "after registration the session cookie alone still works: a copied cookie is not stopped", aev,
				"Refuse a bound session's requests that lack a valid bound cookie (sessionkit does this for Config.DeviceBound).")
		} else {
			c.add(secDBSC, "dbsc.enforced", Pass, "after registration the session cookie alone is refused", aev, "")
		}
	}
	return c.dbscRefresh(ctx, key, regURL, in, ex)
}

// dbscRefresh refreshes the bound cookie as a browser does when it expires:
// signing the challenge the registration sent, or the one a 403 brings.
func (c *httpCheck) dbscRefresh(ctx context.Context, key *dbscclient.Key, regURL *url.URL, in dbscclient.Instructions, reg *exchange) error {
	refreshURL, err := regURL.Parse(in.RefreshURL)
	if err != nil || in.RefreshURL == "" {
		refreshURL = regURL
	}
	challenge, _, _ := dbscclient.ParseChallenge(reg.header.Get("Secure-Session-Challenge"))
	var ev []string
	for attempt := 0; attempt < 2; attempt++ {
		h := map[string]string{"Sec-Secure-Session-Id": `"` + in.SessionIdentifier + `"`}
		if challenge != "" {
			h["Secure-Session-Response"] = `"` + key.Proof(challenge, false) + `"`
		}
		ex, err := c.do(ctx, request{method: http.MethodPost, url: refreshURL, jar: c.jar, header: h})
		if err != nil {
			return err
		}
		ev = append(ev, fmt.Sprintf("POST %s (challenge signed: %v) → %d %s", refreshURL.Path, challenge != "", ex.status, bodySnippet(ex.body)))
		if ex.status == http.StatusForbidden {
			next, _, ok := dbscclient.ParseChallenge(ex.header.Get("Secure-Session-Challenge"))
			if !ok || next == challenge {
				break
			}
			challenge = next
			continue
		}
		if _, bound, problem := dbscAnswer(ex); problem != "" {
			ev = append(ev, problem)
		} else {
			c.add(secDBSC, "dbsc.refresh", Pass, "the bound cookie refreshes with a signed challenge ("+bound+")", ev, "")
			return nil
		}
		break
	}
	c.add(secDBSC, "dbsc.refresh", Fail, "the bound cookie does not refresh: browsers will treat the user as logged out once it expires", ev,
		"Mount the refresh handler at refresh_url (sessionkit: Manager.DeviceBoundRefresh); "+
			"answer 403 with Secure-Session-Challenge: \"…\";id=\"…\", then a new bound cookie for the signed proof.")
	return nil
}

// dbscAnswer checks a registration or refresh answer: 200, valid session
// instructions that go on, and the bound cookie they name set. It returns
// the instructions, the bound cookie's name, and what is wrong, if anything.
func dbscAnswer(ex *exchange) (dbscclient.Instructions, string, string) {
	if ex.status != http.StatusOK {
		return dbscclient.Instructions{}, "", fmt.Sprintf("status %d", ex.status)
	}
	in, err := dbscclient.ParseInstructions(ex.body)
	switch {
	case err != nil:
		return in, "", err.Error()
	case in.Ended():
		return in, "", `the answer ends the session ("continue": false)`
	}
	name := in.Credentials[0].Name
	for _, v := range ex.verdicts {
		if v.Cookie.Name == name && !v.Deletion {
			return in, name, ""
		}
	}
	return in, "", fmt.Sprintf("the bound cookie %q is not set", name)
}

// secureContext reports whether browsers treat base as a secure origin,
// where DBSC applies: HTTPS, or a loopback host.
func secureContext(base *url.URL) bool {
	if base.Scheme == "https" {
		return true
	}
	host := base.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
