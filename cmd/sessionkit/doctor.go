package main

import (
	"context"
	"io"

	"github.com/sessionkit/sessionkit/internal/doctor"
)

// doctorUsage is the doctor command's line in the usage text.
const doctorUsage = `  doctor http URL | db DATABASE_URL   diagnose a live deployment's sessions (sessionkit doctor -h)
`

// runDoctor runs `sessionkit doctor …`; ok is false for any other command.
func runDoctor(ctx context.Context, cmd string, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int, ok bool) {
	if cmd != "doctor" {
		return 0, false
	}
	return doctor.Run(ctx, args, stdin, stdout, stderr), true
}
