package reliability

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// balancer is a round-robin reverse proxy in front of the instances, playing
// the TLS-terminating load balancer of a real deployment: it tells the
// instances the request came over HTTPS (X-Forwarded-Proto: https) and from
// whom (X-Forwarded-For). Like a real one it takes a backend out of
// rotation when a connection to it is refused.
type balancer struct {
	srv   *httptest.Server
	proxy *httputil.ReverseProxy

	mu       sync.Mutex
	backends []*backend
	next     int
}

type backend struct {
	name   string
	target *url.URL
	up     bool // guarded by balancer.mu

	inflight atomic.Int64
	served   atomic.Int64 // responses relayed
	failed   atomic.Int64 // requests answered 502 by the balancer
}

type backendKey struct{}

// backendHeader names the instance that answered, on every response the
// balancer relays.
const backendHeader = "X-Reliability-Backend"

func newBalancer(t *testing.T) *balancer {
	t.Helper()
	b := &balancer{}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     30 * time.Second,
	}
	b.proxy = &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			be := pr.In.Context().Value(backendKey{}).(*backend)
			pr.SetURL(be.target)
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Forwarded-Proto", "https")
		},
		ModifyResponse: func(resp *http.Response) error {
			be := resp.Request.Context().Value(backendKey{}).(*backend)
			be.served.Add(1)
			// Tests judge each answer by the configuration of the process
			// that gave it.
			resp.Header.Set(backendHeader, be.name)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			be := r.Context().Value(backendKey{}).(*backend)
			be.failed.Add(1)
			if errors.Is(err, syscall.ECONNREFUSED) {
				b.setUp(be, false) // passive health check: it is gone
			}
			w.WriteHeader(http.StatusBadGateway)
		},
		ErrorLog: discardLogger(),
	}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(func() {
		b.srv.Close()
		transport.CloseIdleConnections()
	})
	return b
}

// URL is the balancer's address.
func (b *balancer) URL() string { return b.srv.URL }

func (b *balancer) serve(w http.ResponseWriter, r *http.Request) {
	be := b.pick()
	if be == nil {
		http.Error(w, "no backend up", http.StatusServiceUnavailable)
		return
	}
	defer be.inflight.Add(-1)
	b.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, be)))
}

// pick returns the next backend in rotation with its in-flight count
// already raised (under the lock, so that drain cannot miss it), or nil
// when none is up.
func (b *balancer) pick() *backend {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range b.backends {
		be := b.backends[b.next%len(b.backends)]
		b.next++
		if be.up {
			be.inflight.Add(1)
			return be
		}
	}
	return nil
}

// add puts a backend in rotation and returns its index.
func (b *balancer) add(name, rawURL string) int {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic("balancer: " + err.Error())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = append(b.backends, &backend{name: name, target: u, up: true})
	return len(b.backends) - 1
}

// drain takes backend i out of rotation and waits (at most 10 seconds) for
// its in-flight requests to finish, as a load balancer does before a
// restart.
func (b *balancer) drain(i int) {
	b.mu.Lock()
	be := b.backends[i]
	be.up = false
	b.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for be.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// replace points backend i at a new address and puts it back in rotation.
func (b *balancer) replace(i int, name, rawURL string) {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic("balancer: " + err.Error())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends[i] = &backend{name: name, target: u, up: true}
}

func (b *balancer) setUp(be *backend, up bool) {
	b.mu.Lock()
	be.up = up
	b.mu.Unlock()
}

// backend returns backend i.
func (b *balancer) backend(i int) *backend {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.backends[i]
}

// isUp reports whether backend i is in rotation.
func (b *balancer) isUp(i int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.backends[i].up
}
