package chromium

// reasons are Chromium's cookie reasons (DevTools protocol
// SetCookieBlockedReason and CookieBlockedReason) in words.
var reasons = map[string]string{
	"SecureOnly":                      "SecureOnly: a Secure cookie and a connection that is not HTTPS (nor localhost)",
	"SameSiteStrict":                  "SameSiteStrict: a SameSite=Strict cookie and a cross-site request",
	"SameSiteLax":                     "SameSiteLax: a SameSite=Lax cookie and a cross-site request that is not a top-level GET",
	"SameSiteUnspecifiedTreatedAsLax": "SameSiteUnspecifiedTreatedAsLax: no SameSite (so Lax) and a cross-site request that is not a top-level GET",
	"SameSiteNoneInsecure":            "SameSiteNoneInsecure: SameSite=None without Secure",
	"UserPreferences":                 "UserPreferences: a third-party cookie, which Chromium's settings block",
	"ThirdPartyPhaseout":              "ThirdPartyPhaseout: a third-party cookie, which Chromium blocks",
	"InvalidDomain":                   "InvalidDomain: the Domain attribute does not cover the host that set it, or is a public suffix",
	"InvalidPrefix":                   "InvalidPrefix: a __Host- or __Secure- name without the attributes its prefix requires",
	"DomainMismatch":                  "DomainMismatch: the cookie's host or Domain does not cover the request's host",
	"NotOnPath":                       "NotOnPath: the request's path is not under the cookie's Path",
	"NameValuePairExceedsMaxSize":     "NameValuePairExceedsMaxSize: name and value are over 4096 bytes",
	"SyntaxError":                     "SyntaxError: the Set-Cookie line does not parse",
	"OverwriteSecure":                 "OverwriteSecure: a non-Secure cookie may not replace a Secure one",
}

// Explain puts one of Chromium's cookie reasons in words; an unknown one
// is returned as it is.
func Explain(reason string) string {
	if s, ok := reasons[reason]; ok {
		return s
	}
	return reason
}
