// Command gin is a log-in / read / log-out API on gin-gonic/gin with
// sessionkit, through withSessions (sessions.go), a small adapter from
// Manager.Middleware to a gin.HandlerFunc, mounted here on the /api group
// only: routes outside it never touch the session store.
//
//	SESSION_SECRET=$(openssl rand -base64 32) go run ./gin
package main

import (
	"errors"
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

func main() {
	store := memstore.New(memstore.Config{}) // pgstore or sqlitestore in production
	defer store.Close()
	sessions, err := sessionkit.New(sessionkit.Config{Store: store, Secrets: []string{os.Getenv("SESSION_SECRET")}})
	if err != nil {
		log.Fatal(err)
	}
	// Not log.Fatal, which would exit without the deferred Close.
	log.Print(routes(sessions, slog.Default()).Run("127.0.0.1:8080"))
}

// routes mounts the session middleware on the /api group.
func routes(sessions *sessionkit.Manager, logger *slog.Logger) *gin.Engine {
	a := &app{log: logger}
	r := gin.New()
	api := r.Group("/api", withSessions(sessions))
	api.POST("/login", a.login)
	api.GET("/user", a.user)
	api.POST("/logout", a.logout)
	return r
}

type app struct{ log *slog.Logger }

// login binds the session to the user. Check the credentials first (a
// password hash, an OAuth callback): this example takes any name.
func (a *app) login(c *gin.Context) {
	var in struct {
		User string `json:"user" binding:"required"`
	}
	if err := c.ShouldBindJSON(&in); err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": `want {"user":"…"}`})
		return
	}
	s, err := sessionkit.From(c.Request)
	if err != nil {
		a.fail(c, err)
		return
	}
	// Authenticate regenerates the session id, so a fixated id is worthless.
	if err := s.Authenticate(in.User); err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"user": in.User})
}

// user answers the session's user, or 401.
func (a *app) user(c *gin.Context) {
	s, err := sessionkit.From(c.Request)
	if err != nil {
		a.fail(c, err)
		return
	}
	user, err := s.User()
	if err != nil {
		a.fail(c, err)
		return
	}
	if user == "" {
		c.JSON(http.StatusUnauthorized, gin.H{"error": "not authenticated"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"user": user})
}

// logout deletes the session from the store and clears the cookie. The
// 204 goes out when the chain ends; withSessions has saved the session (the
// cleared cookie) by then.
func (a *app) logout(c *gin.Context) {
	s, err := sessionkit.From(c.Request)
	if err != nil {
		a.fail(c, err)
		return
	}
	if err := s.Destroy(); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// fail answers a session error: 503 when the store is down (never 401, which
// a client would take for a log-out), 500 otherwise, such as
// sessionkit.ErrNoMiddleware on a route outside the /api group.
func (a *app) fail(c *gin.Context, err error) {
	a.log.Error("session", "path", c.FullPath(), "err", err)
	if errors.Is(err, sessionkit.ErrStore) {
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "session store unavailable"})
		return
	}
	c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
}
