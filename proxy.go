package sessionkit

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// TrustedProxies lists the addresses of the reverse proxies whose
// X-Forwarded-Proto and X-Forwarded-For headers are believed (see
// Config.TrustedProxies). Its methods answer, for a request, the questions
// those headers settle: did it come over HTTPS, and from which client. The
// zero value trusts no proxy: every such header is ignored, since a client
// could send it.
type TrustedProxies []netip.Prefix

// HTTPSVerdict reports whether r counts as HTTPS, and why, in words an
// operator can act on: r arrived over TLS, or its immediate peer is a
// trusted proxy whose X-Forwarded-Proto says https. X-Forwarded-Proto from
// any other peer is ignored. Config.OnInsecureCookie receives the reason.
func (t TrustedProxies) HTTPSVerdict(r *http.Request) (https bool, reason string) {
	if r.TLS != nil {
		return true, "the connection is TLS"
	}
	proto := forwardedProto(r)
	if proto == "" {
		return false, "plain HTTP connection and no X-Forwarded-Proto header"
	}
	peer, ok := peerAddr(r)
	if !ok {
		return false, "X-Forwarded-Proto ignored: the peer address " + r.RemoteAddr + " cannot be parsed"
	}
	if !t.trusts(peer) {
		return false, "X-Forwarded-Proto: " + proto + " ignored: peer " + peer.String() + " is not in TrustedProxies"
	}
	if proto != "https" {
		return false, "trusted proxy " + peer.String() + " says X-Forwarded-Proto: " + proto
	}
	return true, "trusted proxy " + peer.String() + " says X-Forwarded-Proto: https"
}

// isHTTPS is HTTPSVerdict without the explanation, for the request path.
func (t TrustedProxies) isHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if len(t) == 0 || forwardedProto(r) != "https" {
		return false
	}
	peer, ok := peerAddr(r)
	return ok && t.trusts(peer)
}

func (t TrustedProxies) trusts(peer netip.Addr) bool {
	for _, p := range t {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// forwardedProto returns the first X-Forwarded-Proto value, lower-cased: the
// one set by the proxy nearest the client.
func forwardedProto(r *http.Request) string {
	v := r.Header.Get("X-Forwarded-Proto")
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return strings.ToLower(strings.TrimSpace(v))
}

func peerAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// ClientAddr returns the address of the client that sent r, for rate
// limiting and logs: the immediate peer, or, when the peer is a trusted
// proxy, the first address in X-Forwarded-For that is not a trusted proxy,
// read from the right (the hops a trusted proxy appended). A garbled hop
// stops the walk at the last address that could be believed. ok is false
// when the peer address cannot be parsed.
func (t TrustedProxies) ClientAddr(r *http.Request) (addr netip.Addr, ok bool) {
	addr, ok = peerAddr(r)
	if !ok || !t.trusts(addr) {
		return addr, ok
	}
	for _, line := range slices.Backward(r.Header.Values("X-Forwarded-For")) {
		hops := strings.Split(line, ",")
		for _, hop := range slices.Backward(hops) {
			a, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				return addr, true
			}
			addr = a.Unmap()
			if !t.trusts(addr) {
				return addr, true
			}
		}
	}
	return addr, true
}

// ClientNetwork is the network of r's client (ClientAddr) as session lists
// and security logs give it: the /24 of an IPv4 address, the /48 of an
// IPv6 one, or "unknown". It tells one network from another without naming
// a person.
func (t TrustedProxies) ClientNetwork(r *http.Request) string {
	if addr, ok := t.ClientAddr(r); ok {
		if n := coarseAddr(addr); n != "" {
			return n
		}
	}
	return "unknown"
}
