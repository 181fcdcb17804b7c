// An express-session app on connect-redis 10, the Node side of redisstore's
// interop test (redisstore/interop_test.go). Configured by the environment:
// REDIS_URL, PREFIX (connect-redis's key prefix), SECRET, COOKIE_NAME and
// MAX_AGE_MS. It prints "listening http://127.0.0.1:<port>" once it serves.
// USERS (JSON [{"id","email","password"}]) gives it the log-in API of
// internal/interop's express app (/api/login, /api/user, /api/logout,
// /api/node-key, /api/keys), which the runbook test plays against.
import express from "express"
import session from "express-session"
// CONNECT_REDIS picks the connect-redis release: connect-redis (10),
// connect-redis-9 or connect-redis-11 (npm aliases in package.json).
const {RedisStore} = await import(process.env.CONNECT_REDIS || "connect-redis")
import {createClient} from "redis"

const client = createClient({url: process.env.REDIS_URL})
client.on("error", (err) => console.error("redis:", err.message))
await client.connect()

const app = express()
app.use(
  session({
    store: new RedisStore({client, prefix: process.env.PREFIX}),
    secret: process.env.SECRET,
    name: process.env.COOKIE_NAME,
    resave: false,
    saveUninitialized: false,
    cookie: {maxAge: Number(process.env.MAX_AGE_MS), httpOnly: true, sameSite: "lax"},
  }),
)

// GET /get: the session as express-session sees it.
app.get("/get", (req, res) => {
  res.json({id: req.sessionID, session: req.session})
})

// POST /set?key=K&value=JSON: sets one key and saves.
app.post("/set", (req, res) => {
  req.session[req.query.key] = JSON.parse(req.query.value)
  req.session.save((err) => (err ? res.status(500).json({error: String(err)}) : res.json({ok: true})))
})

// POST /destroy: ends the session.
app.post("/destroy", (req, res) => {
  req.session.destroy((err) => (err ? res.status(500).json({error: String(err)}) : res.json({ok: true})))
})

// The log-in API, as internal/interop/testdata/expressapp/server.js has it.
const users = JSON.parse(process.env.USERS || "[]")
app.use("/api", express.json())
app.post("/api/login", (req, res, next) => {
  const body = req.body || {}
  const user = users.find((u) => u.email === body.email && u.password === body.password)
  if (!user) return res.status(401).json({error: "invalid login"})
  req.session.regenerate((err) => {
    if (err) return next(err)
    req.session.userId = user.id
    req.session.email = user.email
    res.json({ok: true})
  })
})
app.get("/api/user", (req, res) => {
  if (!req.session.userId) return res.status(401).json({error: "not authenticated"})
  res.json({id: req.session.userId, email: req.session.email})
})
app.post("/api/logout", (req, res, next) => {
  req.session.destroy((err) => {
    if (err) return next(err)
    res.clearCookie(process.env.COOKIE_NAME, {path: "/"})
    res.json({ok: true})
  })
})
app.post("/api/node-key", (req, res) => {
  if (!req.session.userId) return res.status(401).json({error: "not authenticated"})
  req.session.nodeKey = (req.body || {}).value
  res.json({ok: true})
})
app.get("/api/keys", (req, res) => {
  if (!req.session.userId) return res.status(401).json({error: "not authenticated"})
  const {cookie, ...keys} = req.session
  res.json(keys)
})

const server = app.listen(0, "127.0.0.1", () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`)
})
process.on("SIGTERM", () => {
  server.close()
  client.quit().finally(() => process.exit(0))
})
