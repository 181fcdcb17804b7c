// Command echo is a log-in / read / log-out API on labstack/echo with
// sessionkit. echo.WrapMiddleware turns Manager.Middleware into echo
// middleware, mounted here on the /api group only: routes outside it never
// touch the session store. WrapMiddleware hands the handler the request
// carrying the session (c.Request()) and a response that saves the session
// before its headers are written.
//
//	SESSION_SECRET=$(openssl rand -base64 32) go run ./echo
package main

import (
	"errors"
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/labstack/echo/v4"
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
	e := routes(sessions, slog.Default())
	// Not log.Fatal, which would exit without the deferred Close.
	log.Print(e.Start("127.0.0.1:8080"))
}

// routes mounts the session middleware on the /api group.
func routes(sessions *sessionkit.Manager, logger *slog.Logger) *echo.Echo {
	a := &app{log: logger}
	e := echo.New()
	api := e.Group("/api", echo.WrapMiddleware(sessions.Middleware))
	api.POST("/login", a.login)
	api.GET("/user", a.user)
	api.POST("/logout", a.logout)
	return e
}

type app struct{ log *slog.Logger }

// login binds the session to the user. Check the credentials first (a
// password hash, an OAuth callback): this example takes any name.
func (a *app) login(c echo.Context) error {
	var in struct {
		User string `json:"user"`
	}
	if err := c.Bind(&in); err != nil || in.User == "" {
		return echo.NewHTTPError(http.StatusBadRequest, `want {"user":"…"}`)
	}
	s, err := sessionkit.From(c.Request())
	if err != nil {
		return a.fail(c, err)
	}
	// Authenticate regenerates the session id, so a fixated id is worthless.
	if err := s.Authenticate(in.User); err != nil {
		return a.fail(c, err)
	}
	return c.JSON(http.StatusOK, map[string]string{"user": in.User})
}

// user answers the session's user, or 401.
func (a *app) user(c echo.Context) error {
	s, err := sessionkit.From(c.Request())
	if err != nil {
		return a.fail(c, err)
	}
	user, err := s.User()
	if err != nil {
		return a.fail(c, err)
	}
	if user == "" {
		return echo.NewHTTPError(http.StatusUnauthorized, "not authenticated")
	}
	return c.JSON(http.StatusOK, map[string]string{"user": user})
}

// logout deletes the session from the store and clears the cookie.
func (a *app) logout(c echo.Context) error {
	s, err := sessionkit.From(c.Request())
	if err != nil {
		return a.fail(c, err)
	}
	if err := s.Destroy(); err != nil {
		return a.fail(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

// fail turns a session error into echo's error response: 503 when the store
// is down (never 401, which a client would take for a log-out), 500
// otherwise, such as sessionkit.ErrNoMiddleware on a route outside /api.
func (a *app) fail(c echo.Context, err error) error {
	a.log.Error("session", "path", c.Path(), "err", err)
	if errors.Is(err, sessionkit.ErrStore) {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "session store unavailable").SetInternal(err)
	}
	return echo.NewHTTPError(http.StatusInternalServerError).SetInternal(err)
}
