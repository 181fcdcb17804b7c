package doctor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/chromedp/chromedp"
)

// resolveRule is one --resolve HOST:PORT:ADDR: connections to HOST:PORT go
// to ADDR:PORT, while the URL, the Host header, TLS's server name and every
// cookie rule stay HOST's, as curl's --resolve does.
type resolveRule struct {
	host, port, addr string
}

// parseResolve parses curl's --resolve form, HOST:PORT:ADDR, where ADDR is
// an IP address (IPv6 with or without brackets).
func parseResolve(s string) (resolveRule, error) {
	host, rest, ok := strings.Cut(s, ":")
	port, addr, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || host == "" {
		return resolveRule{}, fmt.Errorf("%w: --resolve %q: want HOST:PORT:ADDR (e.g. staging.example.com:443:10.0.0.7)", ErrUsage, s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return resolveRule{}, fmt.Errorf("%w: --resolve %q: %q is not a port", ErrUsage, s, port)
	}
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if net.ParseIP(addr) == nil {
		return resolveRule{}, fmt.Errorf("%w: --resolve %q: %q is not an IP address", ErrUsage, s, addr)
	}
	return resolveRule{host: strings.ToLower(host), port: port, addr: addr}, nil
}

// parseResolves parses every --resolve.
func parseResolves(in []string) ([]resolveRule, error) {
	var out []resolveRule
	for _, s := range in {
		r, err := parseResolve(s)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// resolvingDialer dials the rules' addresses for their HOST:PORT and any
// other address as it is.
func resolvingDialer(rules []resolveRule) func(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err == nil {
			for _, r := range rules {
				if strings.EqualFold(host, r.host) && port == r.port {
					address = net.JoinHostPort(r.addr, port)
					break
				}
			}
		}
		return d.DialContext(ctx, network, address)
	}
}

// withResolve returns tr with the rules' dialer, when it is an
// *http.Transport (the doctor's own); a caller's other RoundTripper is kept.
func withResolve(tr http.RoundTripper, rules []resolveRule) http.RoundTripper {
	t, ok := tr.(*http.Transport)
	if !ok || len(rules) == 0 {
		return tr
	}
	t = t.Clone()
	t.DialContext = resolvingDialer(rules)
	// A proxy would resolve the name itself, elsewhere.
	t.Proxy = nil
	return t
}

// chromiumResolve is Chromium's form of the rules: host-resolver-rules
// mapping each HOST:PORT to ADDR (the port stays).
func chromiumResolve(rules []resolveRule) []chromedp.ExecAllocatorOption {
	if len(rules) == 0 {
		return nil
	}
	var maps []string
	for _, r := range rules {
		addr := r.addr
		if strings.Contains(addr, ":") {
			addr = "[" + addr + "]"
		}
		maps = append(maps, "MAP "+r.host+":"+r.port+" "+addr)
	}
	return []chromedp.ExecAllocatorOption{chromedp.Flag("host-resolver-rules", strings.Join(maps, ", "))}
}
