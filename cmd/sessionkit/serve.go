package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/admin"
	"github.com/sessionkit/sessionkit/internal/server"
)

// serve runs the reference server until ctx ends (SIGINT, SIGTERM).
func serve(ctx context.Context, args []string, stderr io.Writer, getenv env) int {
	loaded, err := server.LoadConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sessionkit serve: %v\n", err)
		return 2
	}
	cfg := loaded.Config
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: loaded.LogLevel}))
	if err := server.Run(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "sessionkit serve: %v\n", err)
		if errors.Is(err, sessionkit.ErrInvalidConfig) || errors.Is(err, admin.ErrInvalidConfig) {
			return 2 // a setting to change, like LoadConfig's errors
		}
		return 1
	}
	return 0
}
