package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// debugEndpoint compares what the server says it received with what was
// sent.
func (c *httpCheck) debugEndpoint(ctx context.Context) error {
	const hits = 3
	var (
		ev                                []string
		notFound, notJSON, noHeader       int
		headerMissing, headerDiff, idDiff int
		noUser, badSig                    int
		fields                            bool
	)
	for i := 0; i < hits; i++ {
		ex, err := c.do(ctx, request{method: http.MethodGet, url: c.debug, jar: c.jar, fromPage: true})
		if err != nil {
			return err
		}
		if ex.status == http.StatusNotFound {
			notFound++
			continue
		}
		var d map[string]any
		if json.Unmarshal(ex.body, &d) != nil {
			notJSON++
			ev = append(ev, fmt.Sprintf("GET %s → %d, not JSON: %s", c.debug.Path, ex.status, bodySnippet(ex.body)))
			continue
		}
		line := fmt.Sprintf("sent Cookie: %s; server saw", redactCookieHeader(ex.sent))
		hv, hasHeader := firstKey(d, "cookiesHeader", "cookieHeader", "cookies", "cookie")
		if !hasHeader {
			noHeader++
		} else {
			got, _ := hv.(string)
			line += " cookiesHeader: " + redactCookieHeader(got)
			same, masked := sameCookieHeader(ex.sent, got)
			switch {
			case ex.sent != "" && got == "":
				headerMissing++
			case !same:
				headerDiff++
			case masked:
				line += " (values redacted by the server: names compared)"
			}
		}
		if sig, ok := d["signature"].(string); ok {
			line += ", signature " + sig
			// sessionkit's name; "unknown" is what its servers said before.
			if sig == "bad-signature" || sig == "unknown" {
				badSig++
			}
		}
		lost := false
		if idv, ok := d["id"].(string); ok {
			fields = true
			line += ", id " + Redact(idv)
			// Compare with the cookie sent, not the jar: the response may
			// already have replaced it.
			if v, ok := cookieValue(ex.sent, c.session); ok {
				if cid, signed := sessionID(v); signed && !sameID(cid, idv) {
					idDiff++
				}
			}
		}
		if hs, ok := d["hasSession"]; ok {
			fields = true
			line += ", hasSession " + jsonText(hs)
			if c.loggedIn && hs == false {
				lost = true
			}
		}
		if uv, ok := d["userId"]; ok {
			fields = true
			line += ", userId " + jsonText(uv)
			if c.loggedIn && (uv == nil || uv == "") {
				lost = true
			}
		}
		if lost {
			noUser++
		}
		ev = append(ev, line)
	}
	ev = dedupe(ev)
	switch {
	case notFound == hits:
		c.add(secDebug, "debug.cookies", Warn, fmt.Sprintf("%s answered 404 (disabled, as it should be in production?)", c.debug.Path), nil,
			"Pass --debug with the path of an endpoint that reports the Cookie header and session it received, or drop --debug.")
		return nil
	case notJSON > 0:
		c.add(secDebug, "debug.cookies", Warn, "the debug endpoint does not answer JSON", ev, "It should answer {\"id\",\"hasSession\",\"userId\",\"cookiesHeader\"}.")
		return nil
	}
	switch {
	case headerMissing > 0:
		c.add(secDebug, "debug.cookies", Fail, fmt.Sprintf("the server received no Cookie header on %d of %d requests that carried one: something in between strips it", headerMissing, hits), ev,
			"Find what drops the Cookie header between the browser and the app: a CDN or cache rule, a proxy, "+
				"a serverless rewrite to another service, or a route served by another app.")
	case headerDiff > 0:
		c.add(secDebug, "debug.cookies", Warn, fmt.Sprintf("the server received a different Cookie header than was sent (%d of %d)", headerDiff, hits), ev,
			"Something between the browser and the app rewrites cookies (a proxy adding or removing some); "+
				"make sure the session cookie passes unchanged.")
	case noHeader == hits:
		c.add(secDebug, "debug.cookies", Info, "the debug endpoint does not report the Cookie header it received (cookiesHeader)", ev, "")
	default:
		c.add(secDebug, "debug.cookies", Pass, "the server receives exactly the Cookie header the browser sends", ev, "")
	}
	if !fields {
		return nil
	}
	switch {
	case badSig > 0:
		c.add(secDebug, "debug.session", Fail, fmt.Sprintf("the server rejected the cookie's signature on %d of %d requests: an instance with a different secret", badSig, hits), ev,
			"Use one secret on every instance (the same first secret in the list; old ones only for verification during a rotation).")
	case idDiff > 0:
		c.add(secDebug, "debug.session", Fail, fmt.Sprintf("the server sees another session than the cookie names "+
			"(%d of %d): it rejected the cookie's signature (a different secret) or could not load the session", idDiff, hits), ev,
			"Use one secret on every instance and one shared store; check the store is reachable from every instance.")
	case noUser > 0:
		c.add(secDebug, "debug.session", Fail, fmt.Sprintf("the server does not see the login on %d of %d requests", noUser, hits), ev,
			"The login's session is not the one this route loads: check secret, "+
				"cookie name and store are the same for the login route and this one.")
	default:
		c.add(secDebug, "debug.session", Pass, "the server sees the session the cookie names", ev, "")
	}
	return nil
}

// sameCookieHeader compares the Cookie header sent with the one a debug
// endpoint reports having received. The endpoint may redact values
// ("[redacted]", "abc…"): then names and order are compared, and masked says
// so.
func sameCookieHeader(sent, got string) (same, masked bool) {
	if sent == got {
		return true, false
	}
	split := func(h string) [][2]string {
		var out [][2]string
		for _, p := range strings.Split(h, ";") {
			if p = strings.TrimSpace(p); p != "" {
				n, v, _ := strings.Cut(p, "=")
				out = append(out, [2]string{n, v})
			}
		}
		return out
	}
	a, b := split(sent), split(got)
	if len(a) != len(b) {
		return false, false
	}
	for i := range a {
		if a[i][0] != b[i][0] {
			return false, false
		}
		if a[i][1] == b[i][1] {
			continue
		}
		if !looksRedacted(a[i][1], b[i][1]) {
			return false, false
		}
		masked = true
	}
	return true, masked
}

// looksRedacted reports whether shown is a redaction of value.
func looksRedacted(value, shown string) bool {
	l := strings.ToLower(shown)
	if strings.Contains(l, "redacted") || strings.Contains(l, "***") {
		return true
	}
	if p, ok := truncated(shown); ok {
		return strings.HasPrefix(value, p)
	}
	return false
}

// truncated strips a trailing ellipsis ("…" or "...").
func truncated(s string) (string, bool) {
	for _, e := range []string{"…", "..."} {
		if p, ok := strings.CutSuffix(s, e); ok {
			return p, true
		}
	}
	return s, false
}

// sameID compares a session id with one a debug endpoint reports, which may
// be a prefix ending in an ellipsis.
func sameID(id, shown string) bool {
	if p, ok := truncated(shown); ok {
		return p != "" && strings.HasPrefix(id, p)
	}
	return id == shown
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// dedupe collapses runs of identical lines into one with a count.
func dedupe(lines []string) []string {
	var out []string
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && lines[j] == lines[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%s (×%d)", lines[i], j-i))
		} else {
			out = append(out, lines[i])
		}
		i = j
	}
	return out
}

func firstKey(m map[string]any, keys ...string) (any, bool) {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v, true
		}
	}
	return nil, false
}
