package doctor

import (
	"regexp"

	"github.com/sessionkit/sessionkit/cmd/internal/doctor/browser"
)

// Cookie names that look like a session's, strongly (connect.sid,
// PHPSESSID, laravel_session) or weakly (auth_token, jwt), and the CSRF
// tokens that are never one (XSRF-TOKEN, csrftoken), though they match.
var (
	sessionNameRE     = regexp.MustCompile(`(?i)sid|sess`)
	weakSessionNameRE = regexp.MustCompile(`(?i)auth|token|jwt|remember|login`)
	csrfNameRE        = regexp.MustCompile(`(?i)csrf|xsrf`)
)

// sessionNameScore ranks how much a cookie's name looks like a session
// cookie's: 2 strongly, 1 weakly, 0 not at all, -1 a CSRF token.
func sessionNameScore(name string) int {
	switch {
	case csrfNameRE.MatchString(name):
		return -1
	case sessionNameRE.MatchString(name):
		return 2
	case weakSessionNameRE.MatchString(name):
		return 1
	}
	return 0
}

func looksLikeSession(name string) bool { return sessionNameScore(name) > 0 }

// pickSession chooses the session cookie among Set-Cookie verdicts.
func pickSession(vs []browser.Verdict, name string) (browser.Verdict, bool) {
	var cands []browser.Verdict
	for _, v := range vs {
		if name != "" {
			if v.Cookie.Name == name {
				cands = append(cands, v)
			}
			continue
		}
		if !v.Deletion && sessionNameScore(v.Cookie.Name) >= 0 {
			cands = append(cands, v)
		}
	}
	if len(cands) == 0 {
		return browser.Verdict{}, false
	}
	if name != "" {
		return cands[len(cands)-1], true
	}
	// The most session-like name, then HttpOnly, then the first set.
	rank := func(v browser.Verdict) int {
		r := 2 * sessionNameScore(v.Cookie.Name)
		if v.Cookie.HTTPOnly {
			r++
		}
		return r
	}
	best := cands[0]
	for _, v := range cands[1:] {
		if rank(v) > rank(best) {
			best = v
		}
	}
	return best, true
}
