package server_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

// TestImportedUsersLogIn imports users with the hashes a Node app keeps
// (bcrypt $2a$/$2b$/$2y$ at cost 4, argon2id) into a server at BCRYPT_COST
// 5, on SQLite and PostgreSQL: each logs in with the Node password, after
// which the stored hash is the server's own (bcrypt at cost 5) and still
// takes the password. Every check, known user at any cost or scheme,
// wrong password or unknown email, does the bcrypt work of one hash at
// cost 5 (argon2id's own work comes on top), so none answers faster.
func TestImportedUsersLogIn(t *testing.T) {
	const pw = "a password from node"
	salt := make([]byte, 16)
	rand.Read(salt)
	argon := fmt.Sprintf("$argon2id$v=19$m=1024,t=2,p=1$%s$%s", base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte(pw), salt, 2, 1024, 1, 32)))
	h, err := bcrypt.GenerateFromPassword([]byte(pw), 4)
	if err != nil {
		t.Fatal(err)
	}
	csv := "id,email,password_hash\n" +
		"11,a@example.com,$2a$" + string(h[4:]) + "\n" +
		"12,b@example.com,$2b$" + string(h[4:]) + "\n" +
		"13,c@example.com,$2y$" + string(h[4:]) + "\n" +
		"14,d@example.com,\"" + argon + "\"\n"
	for _, backend := range []string{admin.SQLite, admin.Postgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			cfg.BcryptCost = 5
			if backend == admin.Postgres {
				_, cfg.DatabaseURL = pgtest.Schema(t)
			}
			hs := start(t, cfg)
			var mu sync.Mutex
			var work []int64
			server.SetPasswordChecked(hs.srv, func(c admin.PasswordCheck) {
				mu.Lock()
				defer mu.Unlock()
				work = append(work, c.Work)
			})
			if _, err := hs.srv.DB().ImportUsers(t.Context(), strings.NewReader(csv), admin.ImportOptions{}); err != nil {
				t.Fatal(err)
			}
			expectStatus(t, hs.do("POST", "/api/login", loginBody("nobody@example.com", pw), nil), 401, "")
			for id := int64(11); id <= 14; id++ {
				u, _, _ := hs.srv.DB().UserByID(t.Context(), id)
				expectStatus(t, hs.do("POST", "/api/login", loginBody(u.Email, "a wrong password"), nil), 401, "")
				c := hs.login(u.Email, pw, nil)
				r := hs.do("GET", "/api/user", "", c)
				expectStatus(t, r, 200, fmt.Sprintf(`{"id":%d,"email":%q}`, id, u.Email))
				after, _, _ := hs.srv.DB().UserByID(t.Context(), id)
				if cost, err := bcrypt.Cost([]byte(after.PasswordHash)); err != nil || cost != 5 || after.PasswordHash == u.PasswordHash {
					t.Errorf("user %d's hash after log-in: %.7s… (cost %d, %v); want the server's bcrypt at cost 5", id, after.PasswordHash, cost, err)
				}
				hs.login(u.Email, pw, nil) // the new hash takes the password
			}
			mu.Lock()
			defer mu.Unlock()
			if len(work) != 1+4*3 {
				t.Fatalf("%d password checks, want 13", len(work))
			}
			for i, w := range work {
				if w != 1<<5 {
					t.Errorf("check %d did bcrypt work %d, want 2^5 = 32, as every other", i, w)
				}
			}
		})
	}
}
