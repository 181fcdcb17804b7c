'use strict';
// The seed's stack as a team runs it: express 5, express-session 1.19 and
// connect-pg-simple 10 on one PostgreSQL table, with the seed's session
// options (resave false, saveUninitialized false, rolling false). The Go
// tests in internal/interop start it beside `sessionkit serve` on the same
// table, secret and cookie name. Everything comes from the environment:
//
//   DATABASE_URL    PostgreSQL URL (node-postgres passes ?options= on)
//   SESSION_SCHEMA  schema of the sessions table (connect-pg-simple schemaName)
//   SESSION_TABLE   sessions table (connect-pg-simple tableName), default "session"
//   SESSION_SECRET  comma-separated secrets; the first signs, as in sessionkit
//   COOKIE_NAME     session cookie name
//   USERS           JSON [{"id":1,"email":"…","password":"…"}]: the accounts
//                   sessionkit's users table holds, with the same ids
//   PORT            port on 127.0.0.1; 0 picks one
//   AUTH            "passport": log in with passport-local (passport 0.7),
//                   which keeps the user id in req.session.passport.user;
//                   otherwise req.session.userId and email, by hand
//   COOKIE_MAX_AGE  cookie.maxAge in milliseconds, default 7 days
//   COOKIE_SECURE   "1": cookie.secure true (a production setting), else false
//
// It prints "listening on http://127.0.0.1:PORT" once it accepts requests.
const express = require('express');
const session = require('express-session');
const PgSimple = require('connect-pg-simple');
const { Pool } = require('pg');
const passport = require('passport');
const LocalStrategy = require('passport-local').Strategy;

const env = process.env;
const pool = new Pool({ connectionString: env.DATABASE_URL });
pool.on('error', (err) => console.error('PG Pool error:', err));
const PgSession = PgSimple(session);
const users = JSON.parse(env.USERS || '[]');
const maxAge = Number(env.COOKIE_MAX_AGE || 7 * 24 * 60 * 60 * 1000);
const usePassport = env.AUTH === 'passport';

const app = express();
app.use(express.json());
app.use('/api', session({
  store: new PgSession({
    pool,
    schemaName: env.SESSION_SCHEMA || undefined,
    tableName: env.SESSION_TABLE || 'session',
    createTableIfMissing: true,
    ttl: maxAge / 1000,
    pruneSessionInterval: 60 * 60,
  }),
  secret: env.SESSION_SECRET.split(','),
  name: env.COOKIE_NAME,
  resave: false,
  saveUninitialized: false,
  rolling: false,
  cookie: {
    path: '/',
    httpOnly: true,
    secure: env.COOKIE_SECURE === '1',
    sameSite: 'lax',
    maxAge,
  },
}));

// The signed-in user's id, wherever this variant keeps it.
const userIdOf = (req) => (usePassport ? (req.user && req.user.id) : req.session.userId);

if (usePassport) {
  passport.use(new LocalStrategy({ usernameField: 'email' }, (email, password, done) => {
    const user = users.find((u) => u.email === email && u.password === password);
    done(null, user || false);
  }));
  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id, done) => done(null, users.find((u) => u.id === id) || false));
  app.use('/api', passport.session());
  app.post('/api/login', passport.authenticate('local', { failWithError: true }), (req, res) => res.json({ ok: true }));
  app.use('/api/login', (err, req, res, next) => res.status(401).json({ error: 'invalid login' }));
}

// The seed's log-in, by hand: the user's id and email in the session.
const loginByHand = (req, res, next) => {
  const body = req.body || {};
  const user = users.find((u) => u.email === body.email && u.password === body.password);
  if (!user) return res.status(401).json({ error: 'invalid login' });
  req.session.regenerate((err) => {
    if (err) return next(err);
    req.session.userId = user.id;
    req.session.email = user.email;
    res.json({ ok: true });
  });
};
if (!usePassport) app.post('/api/login', loginByHand);

app.get('/api/user', (req, res) => {
  if (usePassport && req.user) {
    return res.json({ id: req.user.id, email: req.user.email });
  }
  if (!usePassport && req.session.userId) {
    return res.json({ id: req.session.userId, email: req.session.email });
  }
  return res.status(401).json({ error: 'not authenticated' });
});

app.post('/api/logout', (req, res, next) => {
  req.session.destroy((err) => {
    if (err) return next(err);
    res.clearCookie(env.COOKIE_NAME, { path: '/' });
    res.json({ ok: true });
  });
});

// A key of the Node app's own, set and read on a logged-in session.
app.post('/api/node-key', (req, res) => {
  if (!userIdOf(req)) return res.status(401).json({ error: 'not authenticated' });
  req.session.nodeKey = (req.body || {}).value;
  res.json({ ok: true });
});

app.get('/api/keys', (req, res) => {
  if (!userIdOf(req)) return res.status(401).json({ error: 'not authenticated' });
  const { cookie, ...keys } = req.session;
  res.json(keys);
});

const server = app.listen(Number(env.PORT || 0), '127.0.0.1', () => {
  console.log('listening on http://127.0.0.1:' + server.address().port);
});

process.on('SIGTERM', () => {
  server.close();
  pool.end();
});
