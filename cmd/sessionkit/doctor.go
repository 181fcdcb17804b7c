package main

import (
	"context"
	"io"
)

// doctorUsage is the usage line of the doctor command, empty until it is
// wired.
const doctorUsage = ""

// doctor runs the doctor command; ok is false while it is not wired.
func doctor(ctx context.Context, cmd string, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int, ok bool) {
	return 0, false
}
