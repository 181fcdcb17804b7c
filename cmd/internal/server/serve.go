package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"
)

// MaxHeaderBytes bounds a request's header block: a session API needs a
// cookie header and a few others, and 64 KiB also holds a browser's worth
// of same-name cookies (the library reads up to 200 of them). Larger
// headers get 431 Request Header Fields Too Large before any handler runs.
const MaxHeaderBytes = 64 << 10

// Serve serves HTTP on ln until ctx ends, then shuts down gracefully:
// it stops accepting, lets in-flight requests finish (for at most
// Config.ShutdownTimeout) and returns. It logs "listening on http://…" with
// the real address once it accepts connections. It does not Close s.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler: s,
		// One deadline for the whole request, headers and body alike (the
		// API's bodies are a few hundred bytes): a slow client gets 10 s.
		// A separate ReadHeaderTimeout would cost every request a second
		// read-deadline change, a few percent of a logged-in read.
		ReadTimeout:    10 * time.Second,
		WriteTimeout:   30 * time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnState:      newIdleConns(maxIdleConnsPerClient, s.trustedProxy).connState,
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	s.log.Info("listening on "+listenURL(ln.Addr()), "addr", ln.Addr().String())

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing in-flight requests", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		hs.Close()
		err = fmt.Errorf("shutdown: requests still running after %s were cut off", s.cfg.ShutdownTimeout)
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// listenURL turns a listener address into a URL a person can open.
func listenURL(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "localhost"
	} else if tcp.IP.To4() == nil {
		host = "[" + host + "]"
	}
	return "http://" + host + ":" + strconv.Itoa(tcp.Port)
}

// Run starts a server with cfg, listens on cfg.Addr, serves until ctx ends,
// then shuts down in order: in-flight requests finish, the pruner stops, the
// database closes.
func Run(ctx context.Context, cfg Config) error {
	s, err := New(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (ADDR): %w", s.cfg.Addr, err)
	}
	if err := s.Serve(ctx, ln); err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	s.log.Info("stopped")
	return nil
}
