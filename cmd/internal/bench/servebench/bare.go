package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/redisstore"
)

// The bare servers are what serve is measured against: plain net/http
// handlers, each in a process of its own like serve (the benchmark starts
// itself with -bare), that do the least a logged-in GET /api/user can do:
//
//   - "pg", the PostgreSQL floor: the sessions store's own primary-key
//     SELECT for the id in X-Session-Id;
//   - "redis", the Redis floor: the one HGETALL redisstore's Load sends, on
//     the key the store itself names (Store.Key), so that a change of key
//     scheme (hashed ids) moves the floor with the store;
//   - "ceiling": no session at all, the same JSON for every request: what
//     serve with its cache on would answer if a session cost nothing.
//
// The floors answer the session's user as /api/user does; X-Session-Id
// carries the id as the store keeps it (see storedID), so a floor does no
// hashing (a SHA-256 of 60 bytes, well under 1 µs: noise beside a round
// trip).
const (
	barePG      = "pg"
	bareRedis   = "redis"
	bareCeiling = "ceiling"
)

// serveBare serves the bare handler kind on a free port and prints its URL.
// url is the PostgreSQL URL ("pg"), the REDIS_URL ("redis", with prefix the
// store's key prefix), or unused ("ceiling").
func serveBare(kind, url, prefix string) error {
	var h http.Handler
	switch kind {
	case barePG:
		p, err := pgxpool.New(context.Background(), url)
		if err != nil {
			return err
		}
		h = pgFloor(p)
	case bareRedis:
		client, _, err := admin.RedisClient(url)
		if err != nil {
			return err
		}
		store, err := redisstore.New(client, redisstore.Config{Prefix: prefix})
		if err != nil {
			return err
		}
		h = redisFloor(client, store)
	case bareCeiling:
		h = ceiling()
	default:
		return fmt.Errorf("unknown bare kind %q", kind)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println("http://" + ln.Addr().String())
	return http.Serve(ln, h)
}

// benchUser is /api/user's answer: serve writes the same bytes (encoding/json's
// spelling of this struct).
type benchUser struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
}

// writeUser writes u as /api/user does; a zero id is no user (401).
func writeUser(w http.ResponseWriter, u benchUser) {
	if u.ID == 0 {
		http.Error(w, "not authenticated", http.StatusUnauthorized)
		return
	}
	b, _ := json.Marshal(u) // two plain fields always marshal
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// pgFloor runs the sessions store's own primary-key SELECT for the id in
// the X-Session-Id header.
func pgFloor(pool *pgxpool.Pool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sess []byte
		var created, expire time.Time
		err := pool.QueryRow(r.Context(), "SELECT sess, created_at, expire FROM sessions WHERE sid = $1 AND expire > now()",
			r.Header.Get("X-Session-Id")).Scan(&sess, &created, &expire)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		var v struct {
			ID    int64  `json:"userId"`
			Email string `json:"email"`
		}
		if err := json.Unmarshal(sess, &v); err != nil {
			v.ID = 0
		}
		writeUser(w, benchUser{v.ID, v.Email})
	})
}

// redisFloor runs redisstore's Load command, HGETALL of the session's hash,
// for the id in the X-Session-Id header. The field names are the native
// layout's ("v." and the session key, holding its JSON value).
func redisFloor(client redis.UniversalClient, store *redisstore.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fields, err := client.HGetAll(r.Context(), store.Key(r.Header.Get("X-Session-Id"))).Result()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		var u benchUser
		u.ID, _ = strconv.ParseInt(fields["v.userId"], 10, 64)
		if err := json.Unmarshal([]byte(fields["v.email"]), &u.Email); err != nil {
			u.ID = 0
		}
		writeUser(w, u)
	})
}

// ceiling answers every request with the bench user's JSON, reading
// nothing: no cookie, no session, no store.
func ceiling() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeUser(w, benchUser{ID: 1, Email: email})
	})
}
