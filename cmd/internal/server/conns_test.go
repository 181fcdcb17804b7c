package server_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
)

// TestIdleConnectionsPerClientAreBounded: one client address holding 40
// keep-alive connections after a request each keeps at most 16 of them
// open (2,000 held for 2 minutes cost 40 MB before); a trusted proxy's
// pool is not cut.
func TestIdleConnectionsPerClientAreBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		trusted string
		maxOpen int
	}{
		{"a client", "", 16},
		{"a trusted proxy", "127.0.0.1,::1", 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			cfg.TrustedProxies, _ = server.ParseTrustedProxies(tc.trusted)
			h := serveReal(t, cfg)
			var conns []net.Conn
			for range 40 {
				c, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(time.Minute))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				conns = append(conns, c)
			}
			closed := make([]bool, len(conns))
			open := func() int {
				n := 0
				for i, c := range conns {
					if closed[i] {
						continue
					}
					c.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
					_, err := c.Read(make([]byte, 1))
					if errors.Is(err, os.ErrDeadlineExceeded) {
						n++
					} else {
						closed[i] = true
					}
				}
				return n
			}
			if tc.maxOpen < len(conns) {
				poll.Until(t, "the server to close the idle connections beyond the bound", func() bool { return open() <= tc.maxOpen })
			}
			// The bound holds and is not over-applied.
			if n := open(); n != tc.maxOpen {
				t.Fatalf("%d idle connections open, want %d", n, tc.maxOpen)
			}
		})
	}
}
