package sessionkit

import (
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
)

const testSecret = "a-secret-of-at-least-32-bytes-long!!"

// Vectors produced by Node's express-session (cookie-signature, then
// encodeURIComponent), so sessions can be shared with Node services.
var expressVectors = []struct{ id, cookie string }{
	{"abcDEF123_-xyz", "s%3AabcDEF123_-xyz.VsGrLWxH70thMZ0UFRyXRku36bZwo2%2FC38oA%2FKr%2BGsQ"},
	{"sbOH26JLVTTzM_UqdmzGxBi6Hfo-aWkV", "s%3AsbOH26JLVTTzM_UqdmzGxBi6Hfo-aWkV.MdZZbG4%2BoThXYD8XJwJiyPVN3pHMVvvRU7nCXlF0Kxg"},
}

func TestExpressSessionFormat(t *testing.T) {
	s := newSigner([]string{testSecret})
	for _, v := range expressVectors {
		if got := s.sign(v.id); got != v.cookie {
			t.Errorf("sign(%q) = %q, express-session gives %q", v.id, got, v.cookie)
		}
		if id, st := s.verify(v.cookie); st != CookieValid || id != v.id {
			t.Errorf("verify(%q) = %q, %v", v.cookie, id, st)
		}
	}
	// cookie-signature's own README vector.
	if got := base64.RawStdEncoding.EncodeToString(mac([]byte("tobiiscool"), "hello")); got != "DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI" {
		t.Errorf("mac vector = %q", got)
	}
}

func TestRotation(t *testing.T) {
	old := newSigner([]string{testSecret})
	rotated := newSigner([]string{strings.Repeat("n", 40), testSecret})
	id := newID()
	if got, st := rotated.verify(old.sign(id)); st != CookieValid || got != id {
		t.Fatalf("rotated signer rejects an old cookie: %v", st)
	}
	if _, st := old.verify(rotated.sign(id)); st != CookieBadSignature {
		t.Fatalf("new cookies are not signed with the first secret: %v", st)
	}
}

func TestNewIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newID()
		if len(id) != 43 || !validID(id) || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}

func TestSameNameCookies(t *testing.T) {
	s := newSigner([]string{testSecret})
	id := newID()
	good := s.sign(id)
	tests := []struct {
		name   string
		header string
		wantID string
		want   CookieStatus
	}{
		{"none", "other=1", "", CookieAbsent},
		{"stale then good", "sid=s%3Ajunk.AAAA; sid=" + good, id, CookieValid},
		{"bad signature beats malformed", "sid=junk; sid=s%3A" + id + ".VsGrLWxH70thMZ0UFRyXRku36bZwo2%2FC38oA%2FKr%2BGsQ", "", CookieBadSignature},
		{"only the first few are tried", strings.Repeat("sid=junk; ", maxCandidates) + "sid=" + good, "", CookieMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", tt.header)
			gotID, st := s.readSessionCookie(r, "sid")
			if gotID != tt.wantID || st != tt.want {
				t.Fatalf("got %q %v, want %q %v", gotID, st, tt.wantID, tt.want)
			}
		})
	}
}

// FuzzVerify checks that no cookie value makes the decoder panic, and that
// a value it accepts is exactly what signing its id produces. The seed corpus
// runs in the normal suite; `go test -fuzz FuzzVerify` explores further.
func FuzzVerify(f *testing.F) {
	s := newSigner([]string{testSecret, strings.Repeat("o", 32)})
	for _, v := range expressVectors {
		f.Add(v.cookie)
	}
	for _, seed := range []string{"", "s:", "s%3A", "s%3A.", "s:a.b", "s%3Aabc.%ZZ", "%", "s%3A" + strings.Repeat("a", 200) + ".x",
		"s%3Aabc.VsGrLWxH70thMZ0UFRyXRku36bZwo2%2FC38oA%2FKr%2BGsQ=", "s%3Aa\x00b.c", "s%3A\xff\xfe.c", s.sign(newID())} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		id, st := s.verify(value)
		switch st {
		case CookieValid:
			if !validID(id) {
				t.Fatalf("accepted an invalid id %q", id)
			}
			first := newSigner([]string{testSecret})
			second := newSigner([]string{strings.Repeat("o", 32)})
			if _, a := first.verify(first.sign(id)); a != CookieValid {
				t.Fatal("round trip failed")
			}
			_, a := first.verify(value)
			_, b := second.verify(value)
			if a != CookieValid && b != CookieValid {
				t.Fatalf("%q accepted but verifies under neither secret", value)
			}
		case CookieBadSignature, CookieMalformed:
			if id != "" {
				t.Fatalf("rejected value returned id %q", id)
			}
		default:
			t.Fatalf("status %v for a present value", st)
		}
	})
}
