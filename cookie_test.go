package sessionkit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http/httptest"
	"slices"
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
	id, other := newID(), newID()
	good, second := s.sign(id), s.sign(other)
	tests := []struct {
		name    string
		header  string
		wantIDs []string
		want    CookieStatus
	}{
		{"none", "other=1", nil, CookieAbsent},
		{"stale then good", "sid=s%3Ajunk.AAAA; sid=" + good, []string{id}, CookieValid},
		{"bad signature beats malformed", "sid=junk; sid=s%3A" + id + ".VsGrLWxH70thMZ0UFRyXRku36bZwo2%2FC38oA%2FKr%2BGsQ", nil, CookieBadSignature},
		{"malformed after a bad signature keeps the bad signature", "sid=s%3A" + id + ".VsGrLWxH70thMZ0UFRyXRku36bZwo2%2FC38oA%2FKr%2BGsQ; sid=junk", nil, CookieBadSignature},
		{"every valid one, in order, once", "sid=" + second + "; sid=junk; sid=" + good + "; sid=" + second, []string{other, id}, CookieValid},
		// A browser keeps at most 180 cookies for a site: junk planted in
		// it cannot push the real cookie out of reach.
		{"a browser's worth of junk first", strings.Repeat("sid=junk; ", 179) + "sid=" + good, []string{id}, CookieValid},
		{"a hand-made header past the bound", strings.Repeat("sid=junk; ", maxCandidates) + "sid=" + good, nil, CookieMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", tt.header)
			gotIDs, st := s.readSessionCookie(r, "sid", nil)
			if !slices.Equal(gotIDs, tt.wantIDs) || st != tt.want {
				t.Fatalf("got %q %v, want %q %v", gotIDs, st, tt.wantIDs, tt.want)
			}
		})
	}
}

// TestOneSpellingPerSignature: a signature verifies only in the form
// express-session's cookie-signature emits (standard base64, no padding,
// zero unused bits; "+" and "/" percent-encoded or not). Each other
// spelling of the same MAC is refused as malformed.
func TestOneSpellingPerSignature(t *testing.T) {
	s := newSigner([]string{testSecret})
	v := expressVectors[0]
	sig := base64.RawStdEncoding.EncodeToString(mac([]byte(testSecret), v.id))
	// The last character carries 2 unused bits (43 characters for 32
	// bytes); setting one gives a second decoding of the same MAC.
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", sig[len(sig)-1])
	nonCanonical := sig[:len(sig)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[last^1])
	tests := []struct {
		name  string
		value string
		want  CookieStatus
	}{
		{"express-session's own cookie", v.cookie, CookieValid},
		{"decoded by the client", "s:" + v.id + "." + sig, CookieValid},
		{"lower-case percent escapes", strings.ReplaceAll(strings.ReplaceAll(v.cookie, "%2F", "%2f"), "%2B", "%2b"), CookieValid},
		{"padded", v.cookie + "=", CookieMalformed},
		{"padded and escaped", v.cookie + "%3D", CookieMalformed},
		{"URL-safe alphabet", "s:" + v.id + "." + strings.NewReplacer("+", "-", "/", "_").Replace(sig), CookieMalformed},
		{"non-zero unused bits", "s:" + v.id + "." + nonCanonical, CookieMalformed},
		{"a letter percent-encoded", "s:" + v.id + ".%" + strings.ToUpper(hex.EncodeToString([]byte(sig[:1]))) + sig[1:], CookieMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, st := s.verify(tt.value); st != tt.want {
				t.Fatalf("verify(%q) = %v, want %v", tt.value, st, tt.want)
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

// mac is express-session's (cookie-signature's) HMAC of id, for checking
// signatures against known values.
func mac(secret []byte, id string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(id))
	return h.Sum(nil)
}
