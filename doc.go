// Package sessionkit provides server-side web sessions for net/http that are
// right by default and loud when they are not.
//
// [New] checks a [Config] and returns a [Manager]; its [Manager.Middleware]
// gives every request a lazy [Session], reached with [From]. A request that
// never touches its session costs no store call; a session nobody wrote to
// gets no row and no cookie; an unchanged session is not written; a changed
// one is written as a patch of the keys that changed, before the response
// headers go out. Cookies are signed in express-session's format, so Go and
// Node services can share sessions.
//
// Values are read with [Session.Get], which decodes into any type, and
// written with [Session.Put] and [Session.Delete]; a log-in calls
// [Session.Regenerate] (or [Session.Authenticate]) and a log-out
// [Session.Destroy]. A store failure is an error wrapping [ErrStore] (answer
// 503, never a log-out), a handler outside the middleware gets
// [ErrNoMiddleware], and a configuration that cannot work gets an error
// wrapping [ErrInvalidConfig].
//
// Sessions live in a [Store]: the pgstore, sqlitestore, redisstore and
// memstore packages provide one each, and storetest checks any other.
// [Manager.Middleware] does not protect against cross-site request forgery:
// wrap it with [net/http.CrossOriginProtection] (see the example).
package sessionkit
