package browser

import (
	"net"
	"net/url"
	"strings"
)

// knownSuffixes are public suffixes of more than one label that the
// doctor's users are likely to meet: common second-level country domains and
// the hosting platforms whose subdomains belong to different customers (on
// which one app's cookies can never reach another's). Browsers use the full
// Public Suffix List; without it (no dependency), every other name's public
// suffix is taken to be its last label.
var knownSuffixes = map[string]bool{
	"co.uk": true, "org.uk": true, "ac.uk": true, "gov.uk": true, "me.uk": true,
	"com.au": true, "net.au": true, "org.au": true, "co.nz": true, "co.jp": true,
	"com.br": true, "com.cn": true, "co.in": true, "co.za": true, "com.mx": true,
	"com.tr": true, "co.kr": true, "com.sg": true, "com.ar": true,
	"vercel.app": true, "netlify.app": true, "herokuapp.com": true, "github.io": true,
	"pages.dev": true, "workers.dev": true, "fly.dev": true, "onrender.com": true,
	"web.app": true, "firebaseapp.com": true, "appspot.com": true,
	"azurewebsites.net": true, "cloudfront.net": true, "up.railway.app": true,
	"ngrok.io": true, "ngrok-free.app": true, "ngrok.app": true, "glitch.me": true,
	"replit.dev": true, "repl.co": true, "amplifyapp.com": true, "azurestaticapps.net": true,
	"deno.dev": true, "surge.sh": true, "onrailway.app": true,
}

func isIP(host string) bool { return net.ParseIP(host) != nil }

// PublicSuffix returns host's public suffix: the longest known suffix it ends
// with, else its last label. For an IP address it returns the address.
func PublicSuffix(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if isIP(host) {
		return host
	}
	best := ""
	for s := range knownSuffixes {
		if (host == s || strings.HasSuffix(host, "."+s)) && len(s) > len(best) {
			best = s
		}
	}
	if best != "" {
		return best
	}
	if i := strings.LastIndex(host, "."); i >= 0 {
		return host[i+1:]
	}
	return host
}

// Site returns host's registrable domain (eTLD+1), what browsers compare to
// decide whether a request is same-site: its public suffix plus one label.
// An IP address, a single-label name (localhost) or a bare public suffix is
// its own site.
func Site(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	ps := PublicSuffix(host)
	if host == ps {
		return host
	}
	rest := strings.TrimSuffix(host, "."+ps)
	if i := strings.LastIndex(rest, "."); i >= 0 {
		rest = rest[i+1:]
	}
	return rest + "." + ps
}

// SameSite reports whether a page at a and a request to b are same-site:
// same registrable domain. Ports never matter; schemes are not compared
// (browsers that apply "schemeful same-site" also require the same scheme,
// which callers can check separately).
func SameSite(a, b *url.URL) bool {
	return Site(a.Hostname()) == Site(b.Hostname())
}
