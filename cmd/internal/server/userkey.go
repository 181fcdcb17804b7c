package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
)

// PassportUserKey is SESSION_USER_KEY for an app that logs in with
// passport: passport's serializeUser keeps the user id in
// req.session.passport.user.
const PassportUserKey = "passport.user"

// userKey is where the session keeps the user's id: a top-level key
// (express-session apps that set req.session.userId), or one key of an
// object (passport's "passport.user").
type userKey struct{ outer, inner string }

// parseUserKey checks SESSION_USER_KEY: a key, or key.key.
func parseUserKey(s string) (userKey, error) {
	if s == "" {
		return userKey{outer: admin.SessionUserIDKey}, nil
	}
	outer, inner, nested := strings.Cut(s, ".")
	if outer == "" || nested && (inner == "" || strings.Contains(inner, ".")) || outer == sessionkit.MetaKey || outer == sessionkit.ExpressCookieKey {
		return userKey{}, fmt.Errorf("%q is not a session key (userId) or key.key (passport.user), nor one sessionkit or express-session keeps", s)
	}
	return userKey{outer: outer, inner: inner}, nil
}

// String is the key as SESSION_USER_KEY names it.
func (k userKey) String() string {
	if k.inner == "" {
		return k.outer
	}
	return k.outer + "." + k.inner
}

// read returns the user id the session keeps under k. A value this server
// could not have written (not an integer, or a string of one as some
// passport apps serialize) reads as no user; the error is only ever a
// store failure (sessionkit.ErrStore).
func (k userKey) read(sess *sessionkit.Session) (id int64, found bool, err error) {
	var raw json.RawMessage
	found, err = sess.Get(k.outer, &raw)
	switch {
	case errors.Is(err, sessionkit.ErrStore):
		return 0, false, err
	case err != nil || !found:
		return 0, false, nil
	}
	if k.inner != "" {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return 0, false, nil
		}
		if raw, found = obj[k.inner]; !found {
			return 0, false, nil
		}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = json.RawMessage(s)
	}
	id, perr := strconv.ParseInt(string(raw), 10, 64)
	if perr != nil {
		return 0, false, nil
	}
	return id, true, nil
}

// write stores id under k, as the Node app would: passport.user replaces
// the whole passport object, as passport's log-in does.
func (k userKey) write(sess *sessionkit.Session, id int64) error {
	if k.inner == "" {
		return sess.Put(k.outer, id)
	}
	return sess.Put(k.outer, map[string]int64{k.inner: id})
}
