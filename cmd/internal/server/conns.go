package server

import (
	"net"
	"net/http"
	"net/netip"
	"sync"

	"github.com/sessionkit/sessionkit"
)

// maxIdleConnsPerClient bounds the idle keep-alive connections one client
// address may hold open: a browser keeps at most six per host, and 2,000
// held by one client for the idle timeout cost 40 MB. A connection that
// goes idle beyond the bound is closed; the client opens a new one when it
// has a request to send.
const maxIdleConnsPerClient = 16

// idleConns counts idle keep-alive connections per client address (IPv6 by
// /64, as the log-in limits do), through http.Server.ConnState. Connections
// from trusted proxies are not bounded: a load balancer pools many.
type idleConns struct {
	max     int
	exempt  func(netip.Addr) bool
	mu      sync.Mutex
	idle    map[netip.Addr]int
	idleSet map[net.Conn]netip.Addr
}

func newIdleConns(max int, exempt func(netip.Addr) bool) *idleConns {
	return &idleConns{max: max, exempt: exempt, idle: map[netip.Addr]int{}, idleSet: map[net.Conn]netip.Addr{}}
}

// connState is the http.Server's ConnState hook.
func (c *idleConns) connState(conn net.Conn, st http.ConnState) {
	if st != http.StateIdle {
		c.forget(conn)
		return
	}
	ap, err := netip.ParseAddrPort(conn.RemoteAddr().String())
	if err != nil {
		return // not TCP (a test's pipe): nothing to key by
	}
	addr := ap.Addr().Unmap()
	if c.exempt(addr) {
		return
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		addr = p.Addr()
	}
	c.mu.Lock()
	if c.idle[addr] >= c.max {
		c.mu.Unlock()
		conn.Close()
		return
	}
	c.idle[addr]++
	c.idleSet[conn] = addr
	c.mu.Unlock()
}

// forget drops conn from the idle count, if it was in it.
func (c *idleConns) forget(conn net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	addr, ok := c.idleSet[conn]
	if !ok {
		return
	}
	delete(c.idleSet, conn)
	if c.idle[addr]--; c.idle[addr] <= 0 {
		delete(c.idle, addr)
	}
}

// proxies is Config.TrustedProxies, with the library's answers to "is it
// HTTPS" and "which client" on it.
func (s *Server) proxies() sessionkit.TrustedProxies { return s.cfg.TrustedProxies }

// trustedProxy reports whether addr is one of Config.TrustedProxies.
func (s *Server) trustedProxy(addr netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
