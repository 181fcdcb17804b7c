package sessionkit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

// passportSession is the key passport keeps in an express-session: its
// serializeUser's value, under req.session.passport.user.
type passportSession struct {
	User int64 `json:"user"`
}

// Sharing sessions with an express-session app that logs in with
// passport: the user id lives in the "passport" object. A log-in on Go
// writes {"passport":{"user":id}}, which passport's deserializeUser reads
// on Node, and reading the same key makes a passport log-in a logged-in
// user on Go. Authenticate binds the session for Go's session list and
// "log out everywhere"; Node ignores that key. `sessionkit serve` does the
// same with SESSION_USER_KEY=passport.user (tested against real passport
// in cmd/internal/suites/interop's TestPassport).
func Example_passport() {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	m, err := sessionkit.New(sessionkit.Config{Store: store, Secrets: []string{"a secret of at least thirty-two bytes!!"},
		ExpressSessionCookie: true}) // on a store shared with express-session
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		id := int64(42) // once the password is checked
		if err := s.Authenticate(strconv.FormatInt(id, 10)); err != nil {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
		if err := s.Put("passport", passportSession{User: id}); err != nil {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		var p passportSession
		if _, err := s.Get("passport", &p); err != nil || p.User == 0 {
			http.Error(w, "not authenticated", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "user %d", p.User)
	})
	h := m.Middleware(mux)

	login := httptest.NewRecorder()
	h.ServeHTTP(login, httptest.NewRequest("POST", "/login", nil))
	read := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/user", nil)
	req.AddCookie(login.Result().Cookies()[0])
	h.ServeHTTP(read, req)
	fmt.Println(read.Body.String())
	// Output: user 42
}
