//go:build !linux

package redistest

import "syscall"

// dieWithParent has no portable equivalent outside Linux; Stop still kills
// the processes on a normal exit.
func dieWithParent() *syscall.SysProcAttr { return nil }
