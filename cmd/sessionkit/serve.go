package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/cmd/internal/server"
)

// serve runs the reference server until ctx ends (SIGINT, SIGTERM).
func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	loaded, err := server.LoadConfig(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sessionkit serve: %v\n", err)
		return 2
	}
	cfg := loaded.Config
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: loaded.LogLevel}))
	// go-redis reports (a dial that failed in a Redis outage, say) through
	// its one package-wide logger, as unstructured lines on standard error;
	// this program owns the process, so it sends them to its own log.
	redis.SetLogger(redisLogger{cfg.Logger})
	if path := getenv("SESSIONKIT_CPU_PROFILE"); path != "" {
		stopProfile, err := startCPUProfile(path)
		if err != nil {
			fmt.Fprintf(stderr, "sessionkit serve: SESSIONKIT_CPU_PROFILE: %v\n", err)
			return 2
		}
		defer stopProfile()
	}
	if err := server.Run(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "sessionkit serve: %v\n", err)
		if errors.Is(err, sessionkit.ErrInvalidConfig) || errors.Is(err, admin.ErrInvalidConfig) {
			return 2 // a setting to change, like LoadConfig's errors
		}
		return 1
	}
	return 0
}

// redisLogger hands go-redis's messages to the server's log, at Warn: it
// logs what went wrong talking to Redis.
type redisLogger struct{ log *slog.Logger }

// Printf implements go-redis's logging interface.
func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

// startCPUProfile profiles the server's CPU into path until the returned
// function is called, when the server has shut down: a profile of the real
// binary under real load, for go tool pprof (cmd/internal/bench/servebench's
// -cpuprofile collects its instances' this way).
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
