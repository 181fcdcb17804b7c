// An express-session app on connect-redis 10, the Node side of redisstore's
// interop test (redisstore/interop_test.go). Configured by the environment:
// REDIS_URL, PREFIX (connect-redis's key prefix), SECRET, COOKIE_NAME and
// MAX_AGE_MS. It prints "listening http://127.0.0.1:<port>" once it serves.
import express from "express"
import session from "express-session"
import {RedisStore} from "connect-redis"
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

const server = app.listen(0, "127.0.0.1", () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`)
})
process.on("SIGTERM", () => {
  server.close()
  client.quit().finally(() => process.exit(0))
})
