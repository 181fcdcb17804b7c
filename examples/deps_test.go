package examples

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestFrameworksStayOutOfTheLibrary: the README says the examples'
// dependencies never reach an app that imports sessionkit. The library's
// module graph, as a user's build sees it (no go.work), holds none of them.
func TestFrameworksStayOutOfTheLibrary(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), "go", "list", "-m", "all")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -m all in the library's module: %v\n%s", err, out)
	}
	for _, framework := range []string{"github.com/go-chi/chi", "github.com/labstack/echo", "github.com/gin-gonic/gin"} {
		if strings.Contains(string(out), framework) {
			t.Errorf("the library's module graph holds %s:\n%s", framework, out)
		}
	}
}
