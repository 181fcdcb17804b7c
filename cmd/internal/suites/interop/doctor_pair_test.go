package interop

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/cmd/internal/doctor"
)

// TestDoctorPair runs `sessionkit doctor pair` against the real Node app
// and serve on one table: with the same lifetime on both sides it passes;
// with SESSION_TTL=1d against Node's cookie.maxAge of 7 days it fails on
// the lifetime, naming the fix, and on nothing else.
func TestDoctorPair(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		goEnv map[string]string
		code  int
		want  []string
	}{
		{"coherent", nil, doctor.ExitOK, []string{"PASS", "Go reads the session Node created", "Node reads the session Go created",
			"a log-out on Go ends the session on Node", "the cookie lives as long on both sides: 168h0m0s"}},
		{"SESSION_TTL differs", map[string]string{"SESSION_TTL": "1d"}, doctor.ExitFail, []string{
			"a log-in's cookie lives 168h0m0s on Node and 24h0m0s on Go", "SESSION_TTL=168h0m0s"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := startStackWith(t, stackOptions{users: 1, goEnv: c.goEnv})
			var out, errOut bytes.Buffer
			code := doctor.RunEnv(t.Context(), []string{"pair", "--node", s.nodeURL, "--go", s.goURL, "--email", s.users[0].Email},
				strings.NewReader(s.users[0].Password+"\n"), &out, &errOut, func(string) string { return "" })
			if code != c.code {
				t.Fatalf("doctor pair exit %d, want %d:\n%s%s", code, c.code, out.String(), errOut.String())
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("the report lacks %q:\n%s", w, out.String())
				}
			}
			if n := strings.Count(out.String(), "  FAIL  "); c.code == doctor.ExitFail && n != 1 {
				t.Errorf("more than the lifetime fails:\n%s", out.String())
			}
		})
	}
}
