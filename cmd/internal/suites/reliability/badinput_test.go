package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// badInputLimits lift the log-in rate limits, so that every bad log-in
// reaches the code that checks it instead of being cut short with 429 (which
// would also be a clear 4xx, but would test less).
var badInputLimits = map[string]string{
	"LOGIN_MAX_FAILURES":          "1000000",
	"LOGIN_MAX_FAILURES_PER_ADDR": "1000000",
}

// badCase is one malformed request, sent as raw bytes so that nothing in a
// client library cleans it up on the way.
type badCase struct {
	name string
	// method and path of the request; cookie, when set, is the whole Cookie
	// header value; body is sent as is, with contentType (zero:
	// application/json); header, when set, is one more raw header line.
	method, path        string
	cookie, contentType string
	header              string
	body                []byte
	// want lists the acceptable statuses, all 4xx.
	want []int
}

// TestBadInput sends malformed cookies and log-in bodies straight to an
// instance. Each must get a clear 4xx (a status and a body saying why) and
// write nothing: the sessions and users tables are unchanged and the
// instance counts no store write.
func TestBadInput(t *testing.T) {
	rep := newReport(t, "Bad input",
		"malformed cookies and log-in bodies, one request each, straight to an instance (no proxy to clean them up)",
		"hostile input")
	db := newDatabase(t)
	emails := db.addUsers(t, 1)
	in := startInstance(t, "instance-0", db.env(badInputLimits))
	c := &cluster{db: db, instances: []*instance{in}}
	client := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// One real session, so that a bad request that deleted or changed a
	// row would show.
	b := &browser{email: emails[0], base: in.url, client: client}
	if ex := b.login(ctx); ex.status != http.StatusOK {
		t.Fatalf("login: %d %v", ex.status, ex.err)
	}
	id := sessionID(b.cookie)
	if ex := b.user(ctx); ex.status != http.StatusOK {
		t.Fatalf("the session does not work: %d", ex.status)
	}

	cases := badCases(id)
	usersBefore := usersDigest(t, db)
	var rejected, answered4xx, wrote int
	for _, bc := range cases {
		t.Run(bc.name, func(t *testing.T) {
			before, writesBefore := db.sessions(t), c.storeWrites(t)
			status, body, err := rawRequest(in.url, bc.request())
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			after, writesAfter := db.sessions(t), c.storeWrites(t)
			ok := false
			for _, w := range bc.want {
				ok = ok || status == w
			}
			if status >= 400 && status < 500 {
				answered4xx++
			}
			if !ok || len(bytes.TrimSpace(body)) == 0 {
				t.Errorf("status %d, body %.200q; want one of %v with a body saying why", status, body, bc.want)
			} else {
				rejected++
			}
			if before != after || writesBefore != writesAfter {
				wrote++
				t.Errorf("the request wrote to the store: rows %d → %d (changed: %t), store writes %v → %v",
					before.rows, after.rows, before.digest != after.digest, writesBefore, writesAfter)
			}
			rep.addf(bc.name, "%d %s", status, shortBody(body))
		})
	}
	if got := usersDigest(t, db); got != usersBefore {
		t.Errorf("the users table changed")
	}
	// The real session survived all of it.
	if ex := b.user(ctx); ex.status != http.StatusOK {
		t.Errorf("after the bad input the session answers %d", ex.status)
	}
	rep.addf("cases answered with the expected clear 4xx", "%d of %d (%d were 4xx at all)", rejected, len(cases), answered4xx)
	rep.setLost("%d of %d bad requests wrote to the store", wrote, len(cases))
}

// badCases lists the malformed requests; id is a live session's id, for
// forgeries of a real session.
func badCases(id string) []badCase {
	const user, login = "/api/user", "/api/login"
	get := func(name, cookie string, want ...int) badCase {
		return badCase{name: name, method: http.MethodGet, path: user, cookie: cookie, want: want}
	}
	post := func(name string, body []byte, want ...int) badCase {
		return badCase{name: name, method: http.MethodPost, path: login, body: body, want: want}
	}
	sig16 := base64.RawStdEncoding.EncodeToString(make([]byte, 16))
	sig64 := base64.RawStdEncoding.EncodeToString(make([]byte, 64))
	many := make([]string, 100)
	for i := range many {
		switch i % 3 {
		case 0:
			many[i] = cookieName + "=" + sign(id, secretB) // another secret's
		case 1:
			many[i] = cookieName + "=" + sign(fmt.Sprintf("forged%03d", i), secretB)
		default:
			many[i] = cookieName + "=garbage" + fmt.Sprint(i)
		}
	}
	realSig := sign(id, secretA)
	deep := func(open, close string, n int) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	sqlEmail := func(e, pw string) []byte { return loginBody(e, pw) }
	const sqlA = `' OR '1'='1`
	const sqlB = `'; DROP TABLE sessions; --`
	const sqlC = `"; DELETE FROM users WHERE ''='`
	return []badCase{
		// Cookies.
		get("cookie header of 2 MiB", cookieName+"="+strings.Repeat("a", 2<<20), http.StatusRequestHeaderFieldsTooLarge),
		get("cookie value of 64 KiB", cookieName+"=s%3A"+strings.Repeat("a", 64<<10)+"."+sig16, http.StatusUnauthorized),
		get("100 cookies of the same name, none valid", strings.Join(many, "; "), http.StatusUnauthorized),
		get("cookie value with invalid UTF-8 bytes", cookieName+"=s%3A\xff\xfe\xfd."+sig16, http.StatusUnauthorized),
		get("cookie value with percent-encoded invalid UTF-8", cookieName+"=s%3A%FF%FE%FD."+strings.SplitN(realSig, ".", 2)[1], http.StatusUnauthorized),
		get("cookie value with a NUL byte", cookieName+"=s%3A"+id+"\x00."+sig16, http.StatusBadRequest),
		get("cookie value with a percent-encoded NUL", cookieName+"=s%3A"+id+"%00."+strings.SplitN(realSig, ".", 2)[1], http.StatusUnauthorized),
		get("signature of 16 bytes", cookieName+"=s%3A"+id+"."+sig16, http.StatusUnauthorized),
		get("signature of 64 bytes", cookieName+"=s%3A"+id+"."+sig64, http.StatusUnauthorized),
		get("empty signature", cookieName+"=s%3A"+id+".", http.StatusUnauthorized),
		get("signature one character short", cookieName+"="+realSig[:len(realSig)-1], http.StatusUnauthorized),
		get("real session id signed by another secret", cookieName+"="+sign(id, secretB), http.StatusUnauthorized),
		get("unsigned session id", cookieName+"="+url.PathEscape(id), http.StatusUnauthorized),
		get("validly signed id of no session", cookieName+"="+sign("no-such-session-0123456789", secretA), http.StatusUnauthorized),
		get("SQL in the cookie value", cookieName+"=s%3A"+url.PathEscape(sqlA)+"."+sig16, http.StatusUnauthorized),
		get("SQL in a validly signed id", cookieName+"="+sign(sqlB, secretA), http.StatusUnauthorized),
		get("SQL in the cookie name", `x'); DELETE FROM sessions; --=1`, http.StatusUnauthorized),

		// Log-in bodies.
		post("log-in body not JSON (form encoded)", []byte("email=user0%40example.com&password=x"), http.StatusBadRequest),
		post("log-in body empty", nil, http.StatusBadRequest),
		post("log-in body truncated JSON", []byte(`{"email":"user0@example.com","password":`), http.StatusBadRequest),
		post("log-in body two objects", []byte(`{"email":"a@b.c","password":"x"}{}`), http.StatusBadRequest),
		post("log-in body a JSON array", []byte(`["user0@example.com","x"]`), http.StatusBadRequest),
		post("log-in fields of the wrong type", []byte(`{"email":1,"password":true}`), http.StatusBadRequest),
		post("log-in fields null", []byte(`{"email":null,"password":null}`), http.StatusBadRequest),
		post("log-in body nested 10,000 deep (arrays)", []byte(deep("[", "]", 10000)), http.StatusBadRequest),
		post("log-in email nested 10,000 deep (objects)", []byte(`{"email":`+deep(`{"a":`, "}", 10000)+`,"password":"x"}`), http.StatusBadRequest),
		post("log-in body 1 MiB long", []byte(`{"email":"`+strings.Repeat("a", 1<<20)+`","password":"x"}`), http.StatusBadRequest),
		post("log-in email of 60 KiB", loginBody(strings.Repeat("a", 60<<10)+"@example.com", "x"), http.StatusBadRequest),
		post("log-in with invalid UTF-8 in the JSON", []byte("{\"email\":\"user0@example.com\xff\",\"password\":\"\xfe\"}"), http.StatusUnauthorized),
		post("log-in email with a NUL (\\u0000)", []byte(`{"email":"user0@example.com\u0000","password":"x"}`), http.StatusBadRequest, http.StatusUnauthorized),
		post("log-in password with a NUL (\\u0000)", []byte(`{"email":"user0@example.com","password":"`+password+`\u0000"}`), http.StatusBadRequest, http.StatusUnauthorized),
		post("SQL in both log-in fields", sqlEmail(sqlA, sqlA), http.StatusUnauthorized),
		post("SQL after a real email", sqlEmail("user0@example.com'--", password), http.StatusUnauthorized),
		post("SQL in the password of a real email", sqlEmail("user0@example.com", sqlB), http.StatusUnauthorized),
		post("SQL in the email, quoted", sqlEmail(sqlC+"@example.com", sqlC), http.StatusUnauthorized),
		post("SQL in a field name", []byte(`{"email'; DROP TABLE users; --":"x","password":"x"}`), http.StatusBadRequest),

		// Hardening (issue 9): one spelling per signature, one meaning per
		// body, a bounded header block.
		get("real signature padded with =", cookieName+"="+realSig+"%3D", http.StatusUnauthorized),
		get("real signature with a letter percent-encoded", cookieName+"=s%3A"+id+".%"+fmt.Sprintf("%02X", realSig[len("s%3A")+len(id)+1])+realSig[len("s%3A")+len(id)+2:], http.StatusUnauthorized),
		{name: "headers of 900 KiB", method: http.MethodGet, path: user, header: "X-Padding: " + strings.Repeat("a", 900<<10), want: []int{http.StatusRequestHeaderFieldsTooLarge}},
		{name: "log-in body as text/plain", method: http.MethodPost, path: login, contentType: "text/plain", body: loginBody("user0@example.com", "x"), want: []int{http.StatusUnsupportedMediaType}},
		post("log-in body with a duplicate key", []byte(`{"email":"a@b.c","email":"user0@example.com","password":"x"}`), http.StatusBadRequest),
		post("log-in key case-folded (EMAIL)", []byte(`{"EMAIL":"user0@example.com","password":"x"}`), http.StatusBadRequest),
		post("log-in body with an unknown key", []byte(`{"email":"user0@example.com","password":"x","admin":true}`), http.StatusBadRequest),
	}
}

// request renders the case as raw HTTP/1.1.
func (bc badCase) request() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: reliability\r\nConnection: close\r\n", bc.method, bc.path)
	if bc.cookie != "" {
		fmt.Fprintf(&b, "Cookie: %s\r\n", bc.cookie)
	}
	if bc.header != "" {
		fmt.Fprintf(&b, "%s\r\n", bc.header)
	}
	if bc.method == http.MethodPost {
		ct := bc.contentType
		if ct == "" {
			ct = "application/json"
		}
		fmt.Fprintf(&b, "Content-Type: %s\r\nContent-Length: %d\r\n", ct, len(bc.body))
	}
	b.WriteString("\r\n")
	b.Write(bc.body)
	return b.Bytes()
}

// rawRequest sends req to the server at base and reads its answer. The
// request is written concurrently with the read, because a server may
// answer (431, 400) and close before it has read all of a huge request.
func rawRequest(base string, req []byte) (status int, body []byte, err error) {
	u, err := url.Parse(base)
	if err != nil {
		return 0, nil, err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	go func() { _, _ = conn.Write(req) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, body, nil
}

// usersDigest summarises the users table.
func usersDigest(t *testing.T, db *database) string {
	t.Helper()
	var d string
	if err := db.pool.QueryRow(context.Background(),
		`SELECT count(*) || ':' || coalesce(md5(string_agg(id || email || password_hash, ',' ORDER BY id)), '') FROM users`).Scan(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

// shortBody returns a body on one line, cut to 80 bytes.
func shortBody(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}
