-- The table the README's `sessionkit doctor db` example reads: connect-pg-simple's
-- table as its README creates it, but without the expiry index, full of sessions
-- express-session saved for anonymous hits (saveUninitialized: true) and never
-- pruned. Run it again to start over. It only touches the schema sessionkit_demo:
--
--   psql postgres://postgres@127.0.0.1:5432/test -f docs/connect-pg-simple-demo.sql
--   go run ./cmd/sessionkit doctor db postgres://postgres@127.0.0.1:5432/test --schema sessionkit_demo
--
-- internal/doctor's tests run this file and check the findings the README shows.
SET client_min_messages TO warning;
CREATE SCHEMA IF NOT EXISTS sessionkit_demo;
SET search_path TO sessionkit_demo;
DROP TABLE IF EXISTS "session";

-- connect-pg-simple's table.sql, without its CREATE INDEX "IDX_session_expire".
CREATE TABLE "session" ("sid" varchar NOT NULL COLLATE "default", "sess" json NOT NULL, "expire" timestamp(6) NOT NULL) WITH (OIDS=FALSE);
ALTER TABLE "session" ADD CONSTRAINT "session_pkey" PRIMARY KEY ("sid") NOT DEFERRABLE INITIALLY IMMEDIATE;

-- 240 anonymous sessions that expired over the last three days, never pruned.
INSERT INTO "session" (sid, sess, expire)
SELECT 'old' || g, json_build_object('cookie', json_build_object('originalMaxAge', 86400000, 'expires', to_char(e AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'httpOnly', true, 'path', '/')), e::timestamp
FROM generate_series(1, 240) g, LATERAL (SELECT now() - (g * interval '17 minutes') - interval '1 hour' AS e) x;

-- 120 live anonymous sessions created over the last day.
INSERT INTO "session" (sid, sess, expire)
SELECT 'anon' || g, json_build_object('cookie', json_build_object('originalMaxAge', 86400000, 'expires', to_char(e AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'httpOnly', true, 'path', '/')), e::timestamp
FROM generate_series(1, 120) g, LATERAL (SELECT now() + interval '1 day' - (g * interval '11 minutes') AS e) x;

-- 24 logged-in sessions of 6 users.
INSERT INTO "session" (sid, sess, expire)
SELECT 'user' || g, json_build_object('cookie', json_build_object('originalMaxAge', 86400000, 'expires', to_char(e AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'httpOnly', true, 'path', '/'), 'userId', g % 6, 'email', 'u' || (g % 6) || '@example.com'), e::timestamp
FROM generate_series(1, 24) g, LATERAL (SELECT now() + interval '1 day' - (g * interval '37 minutes') AS e) x;
