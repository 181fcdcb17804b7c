package browser

import (
	"net/url"
	"strings"
)

// The credentials modes of fetch (RequestInit.credentials).
const (
	// CredentialsOmit: never send or store cookies.
	CredentialsOmit = "omit"
	// CredentialsSameOrigin, fetch's default: cookies only to the page's own
	// origin (scheme, host and port).
	CredentialsSameOrigin = "same-origin"
	// CredentialsInclude: cookies to any origin, which must then answer with
	// Access-Control-Allow-Credentials: true and its exact origin.
	CredentialsInclude = "include"
)

// WithheldCredentials: the fetch's credentials mode keeps every cookie out
// (a cross-origin fetch without credentials: 'include').
const WithheldCredentials = "credentials"

// CredentialsSent reports whether a fetch from a page at page to target,
// with credentials mode ("" is the default, same-origin), sends cookies and
// stores those of the response at all.
func CredentialsSent(mode string, page, target *url.URL) bool {
	switch mode {
	case CredentialsOmit:
		return false
	case CredentialsInclude:
		return true
	default:
		return SameOrigin(page, target)
	}
}

// SameOrigin reports whether a and b have the same scheme, host and port.
func SameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "wss":
		return "443"
	default:
		return "80"
	}
}
