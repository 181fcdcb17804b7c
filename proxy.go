package sessionkit

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// HTTPSVerdict says how a request reached the server, as far as the session
// cookie is concerned.
type HTTPSVerdict struct {
	// HTTPS reports whether the request counts as HTTPS.
	HTTPS bool
	// Reason says why, in words an operator can act on.
	Reason string
}

// HTTPSVerdict reports whether r counts as HTTPS: it arrived over TLS, or its
// immediate peer is a trusted proxy whose X-Forwarded-Proto says https.
// X-Forwarded-Proto from any other peer is ignored, since a client could
// send it.
func (m *Manager) HTTPSVerdict(r *http.Request) HTTPSVerdict {
	if r.TLS != nil {
		return HTTPSVerdict{HTTPS: true, Reason: "the connection is TLS"}
	}
	proto := forwardedProto(r)
	if proto == "" {
		return HTTPSVerdict{Reason: "plain HTTP connection and no X-Forwarded-Proto header"}
	}
	peer, ok := peerAddr(r)
	if !ok {
		return HTTPSVerdict{Reason: "X-Forwarded-Proto ignored: the peer address " + r.RemoteAddr + " cannot be parsed"}
	}
	if !m.trusted(peer) {
		return HTTPSVerdict{Reason: "X-Forwarded-Proto: " + proto + " ignored: peer " + peer.String() + " is not in TrustedProxies"}
	}
	if proto != "https" {
		return HTTPSVerdict{Reason: "trusted proxy " + peer.String() + " says X-Forwarded-Proto: " + proto}
	}
	return HTTPSVerdict{HTTPS: true, Reason: "trusted proxy " + peer.String() + " says X-Forwarded-Proto: https"}
}

// isHTTPS is HTTPSVerdict without the explanation, for the request path.
func (m *Manager) isHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if len(m.cfg.TrustedProxies) == 0 || forwardedProto(r) != "https" {
		return false
	}
	peer, ok := peerAddr(r)
	return ok && m.trusted(peer)
}

func (m *Manager) trusted(peer netip.Addr) bool {
	for _, p := range m.cfg.TrustedProxies {
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
func (m *Manager) ClientAddr(r *http.Request) (addr netip.Addr, ok bool) {
	addr, ok = peerAddr(r)
	if !ok || !m.trusted(addr) {
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
			if !m.trusted(addr) {
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
func (m *Manager) ClientNetwork(r *http.Request) string {
	if addr, ok := m.ClientAddr(r); ok {
		if n := coarseAddr(addr); n != "" {
			return n
		}
	}
	return "unknown"
}
