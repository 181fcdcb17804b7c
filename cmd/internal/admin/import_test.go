package admin_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/sessionkit/sessionkit/cmd/internal/admin"
)

// nodeBcrypt returns a bcrypt hash of password at cost with the version
// prefix a Node library writes ($2a$ from bcryptjs, $2b$ from bcrypt,
// $2y$ from PHP's): the same algorithm, another spelling.
func nodeBcrypt(t *testing.T, password string, cost int, prefix string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		t.Fatal(err)
	}
	return prefix + string(h[4:])
}

// argon2idPHC returns password's argon2id hash as a PHC string, as
// node-argon2 writes it (small parameters, for speed).
func argon2idPHC(t *testing.T, password string) string {
	t.Helper()
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, 2, 1024, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=1024,t=2,p=1$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// TestVerifyPassword checks each stored scheme and cost against the
// current cost 6: every check, right password or wrong, does at least the
// bcrypt work of one hash at cost 6 (2^6), exactly that for bcrypt at or
// below it, so a user hashed at a lower cost answers no faster; a match at
// another cost or scheme asks for a re-hash.
func TestVerifyPassword(t *testing.T) {
	t.Parallel()
	const cost, pw = 6, "correct horse battery staple"
	dummy, err := bcrypt.GenerateFromPassword([]byte("dummy"), cost)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, hash, password string
		match, rehash        bool
		work                 int64
	}{
		{"bcrypt at the current cost", nodeBcrypt(t, pw, 6, "$2a$"), pw, true, false, 1 << 6},
		{"bcrypt at cost 4, $2b$", nodeBcrypt(t, pw, 4, "$2b$"), pw, true, true, 1 << 6},
		{"bcrypt at cost 5, $2y$", nodeBcrypt(t, pw, 5, "$2y$"), pw, true, true, 1 << 6},
		{"bcrypt at cost 4, wrong password", nodeBcrypt(t, pw, 4, "$2b$"), "wrong password", false, false, 1 << 6},
		{"bcrypt at cost 7", nodeBcrypt(t, pw, 7, "$2b$"), pw, true, true, 1 << 7},
		{"argon2id", argon2idPHC(t, pw), pw, true, true, 1 << 6},
		{"argon2id, wrong password", argon2idPHC(t, pw), "wrong password", false, false, 1 << 6},
		{"no hash (a disabled user's)", "!" + nodeBcrypt(t, pw, 4, "$2a$"), pw, false, false, 1 << 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := admin.VerifyPassword(c.hash, c.password, cost, dummy)
			if got.Match != c.match || got.Rehash != c.rehash || got.Work != c.work {
				t.Errorf("VerifyPassword = %+v, want match %v, rehash %v, work %d", got, c.match, c.rehash, c.work)
			}
		})
	}
}

// TestImportUsers imports a file of ids, emails and Node's hashes on each
// backend: the users keep their ids, their passwords verify, a re-run
// reports the existing ids and changes them only with Update, a dry run
// changes nothing, and the next added user gets an id above the imported.
func TestImportUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ admin.Config, db *admin.DB) {
		ctx := t.Context()
		const pw = "node password"
		file := "id,email,password_hash\n" +
			"7,Ada@Example.com," + nodeBcrypt(t, pw, 4, "$2b$") + "\n" +
			"42,bob@example.com,\"" + argon2idPHC(t, pw) + "\"\n" // quoted: it holds commas

		rep, err := db.ImportUsers(ctx, strings.NewReader(file), admin.ImportOptions{DryRun: true})
		if err != nil || len(rep.Added) != 2 {
			t.Fatalf("dry run: %+v, %v; want 2 added", rep, err)
		}
		if list, _ := db.ListUsers(ctx); len(list) != 0 {
			t.Fatalf("the dry run imported %d users", len(list))
		}
		if rep, err = db.ImportUsers(ctx, strings.NewReader(file), admin.ImportOptions{}); err != nil || len(rep.Added) != 2 {
			t.Fatalf("import: %+v, %v", rep, err)
		}
		ada, found, err := db.UserByID(ctx, 7)
		if err != nil || !found || ada.Email != "ada@example.com" {
			t.Fatalf("user 7 = %+v, %v, %v", ada, found, err)
		}
		if !admin.VerifyPassword(ada.PasswordHash, pw, 4, []byte(nodeBcrypt(t, "x", 4, "$2a$"))).Match {
			t.Error("the imported bcrypt hash does not verify")
		}

		// Again, with Ada's hash changed: reported, unchanged; then updated.
		again := strings.Replace(file, "Ada@Example.com", "ada@example.org", 1)
		if rep, err = db.ImportUsers(ctx, strings.NewReader(again), admin.ImportOptions{}); err != nil || len(rep.Added) != 0 || len(rep.Existing) != 2 {
			t.Fatalf("re-import: %+v, %v; want 2 existing", rep, err)
		}
		if u, _, _ := db.UserByID(ctx, 7); u.Email != "ada@example.com" {
			t.Errorf("a re-import without Update changed user 7 to %s", u.Email)
		}
		if _, err = db.ImportUsers(ctx, strings.NewReader(again), admin.ImportOptions{Update: true}); err != nil {
			t.Fatal(err)
		}
		if u, _, _ := db.UserByID(ctx, 7); u.Email != "ada@example.org" {
			t.Errorf("Update left user 7 as %s", u.Email)
		}

		u, err := db.AddUser(ctx, "carol@example.com", "a new password", 4)
		if err != nil || u.ID <= 42 {
			t.Errorf("AddUser after the import: id %d, %v; want above 42", u.ID, err)
		}
	})
}

// TestImportRefusesBadFiles feeds files with one bad line after good ones:
// the error names the line and why, and no user is imported.
func TestImportRefusesBadFiles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ admin.Config, db *admin.DB) {
		ctx := t.Context()
		good := nodeBcrypt(t, "node password", 4, "$2a$")
		if _, err := db.AddUser(ctx, "taken@example.com", "a password here", 4); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ name, file, want string }{
			{"empty", "", "the file is empty"},
			{"wrong header", "id,mail,hash\n1,a@example.com," + good + "\n", "line 1: the header"},
			{"no rows", "id,email,password_hash\n", "no users"},
			{"bad id", "id,email,password_hash\n1,a@example.com," + good + "\nx,b@example.com," + good + "\n", "line 3: id \"x\""},
			{"bad email", "id,email,password_hash\n1,a@example.com," + good + "\n2,nope," + good + "\n", "line 3: not an email"},
			{"md5 hash", "id,email,password_hash\n1,a@example.com," + good + "\n2,b@example.com,5f4dcc3b5aa765d61d8327deb882cf99\n", "line 3: password_hash: not a bcrypt"},
			{"short bcrypt", "id,email,password_hash\n1,a@example.com," + good[:40] + "\n", "line 2: password_hash"},
			{"bcrypt cost 31", "id,email,password_hash\n1,a@example.com,$2b$31" + good[6:] + "\n", "line 2: password_hash"},
			{"duplicate id", "id,email,password_hash\n1,a@example.com," + good + "\n1,b@example.com," + good + "\n", "line 3: id 1 is also on line 2"},
			{"duplicate email", "id,email,password_hash\n1,a@example.com," + good + "\n2,A@example.com," + good + "\n", "line 3: a@example.com is also on line 2"},
			{"email taken", "id,email,password_hash\n100,a@example.com," + good + "\n101,taken@example.com," + good + "\n", "line 3: taken@example.com is already user"},
			{"missing field", "id,email,password_hash\n1,a@example.com\n", "line 2: 2 fields"},
			{"argon2id unquoted", "id,email,password_hash\n1,a@example.com," + argon2idPHC(t, "node password") + "\n", "line 2: 5 fields, want 3 (id,email,password_hash): quote"},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := db.ImportUsers(ctx, strings.NewReader(c.file), admin.ImportOptions{})
				if !errors.Is(err, admin.ErrBadImport) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("ImportUsers = %v, want ErrBadImport with %q", err, c.want)
				}
				if list, _ := db.ListUsers(ctx); len(list) != 1 {
					t.Errorf("a refused file left %d users, want the 1 there before", len(list))
				}
			})
		}
	})
}
