package server

import (
	"net"
	"net/netip"
	"testing"
)

// addrConn is a net.Conn with the remote address a test gives it.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

// TestRemoteAddr: the idle limit keys by the address the string form gave,
// IPv4-mapped addresses as IPv4, and a connection without one (a pipe) is
// not keyed.
func TestRemoteAddr(t *testing.T) {
	for _, c := range []struct {
		remote net.Addr
		want   string // "" is not keyed
	}{
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 5}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 5}, "2001:db8::1"},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 5, Zone: "eth0"}, "fe80::1%eth0"},
		{&net.TCPAddr{}, ""},
		{&net.UnixAddr{Name: "/tmp/x", Net: "unix"}, ""},
	} {
		addr, ok := remoteAddr(addrConn{remote: c.remote})
		if got := addr.String(); ok != (c.want != "") || ok && got != c.want {
			t.Errorf("remoteAddr(%v) = %s, %v; want %q", c.remote, got, ok, c.want)
		}
		if ok {
			ap, err := netip.ParseAddrPort(c.remote.String())
			if err != nil || ap.Addr().Unmap() != addr {
				t.Errorf("remoteAddr(%v) = %s, the string form %v, %v", c.remote, addr, ap, err)
			}
		}
	}
}
