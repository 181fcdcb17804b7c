// Package interop holds the tests that run `sessionkit serve` beside the
// real Node stack it replaces: express 5, express-session 1.19 and
// connect-pg-simple 10 (testdata/expressapp, installed by scripts/test with
// npm ci), on one PostgreSQL table with one secret and one cookie name. They
// back docs/moving-from-node.md's "Sharing one table with express-session".
// Like every test here they fail, never skip, when PostgreSQL, node or the
// app's node_modules are missing.
package interop
