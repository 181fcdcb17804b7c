package redistest

import "syscall"

// dieWithParent makes the kernel kill a started redis-server when the test
// binary dies (a panic, a timeout's kill), so no cluster outlives its test.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
