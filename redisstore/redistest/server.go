package redistest

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// StartServer starts a redis-server of the test's own on a free local port,
// with its files in a temporary directory and the extra configuration args
// ("--maxmemory-policy", "allkeys-lru", …: the settings a test may not
// change on the shared server), and returns its address; it is killed when
// the test ends. It fails the test when the server cannot start.
func StartServer(tb testing.TB, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := tb.TempDir()
	var err error
	for range startAttempts {
		var ports []int
		if ports, err = freePorts(1); err != nil {
			break
		}
		p := strconv.Itoa(ports[0])
		cmd := exec.Command("redis-server", append([]string{"--port", p, "--bind", "127.0.0.1", "--dir", dir, "--logfile", "redis-" + p + ".log"}, args...)...)
		cmd.SysProcAttr = dieWithParent()
		if err = cmd.Start(); err != nil {
			break
		}
		n := &node{cmd: cmd, exited: make(chan struct{})}
		go func() {
			_ = cmd.Wait()
			close(n.exited)
		}()
		tb.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-n.exited
		})
		addr := "127.0.0.1:" + p
		if err = waitOwnPing(ctx, addr, n); err == nil {
			return addr
		}
		if !errors.Is(err, errNodeExited) {
			break
		}
	}
	tb.Fatalf("redistest: start redis-server %v: %v", args, err)
	return ""
}
