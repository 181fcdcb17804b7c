package sessionkit

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"sync"
)

// Cookie values use express-session's format so that Go and Node services can
// share sessions: "s:" + id + "." + base64(HMAC-SHA256(secret, id)) without
// padding, URL-encoded as encodeURIComponent does ("s%3A…", "+" → "%2B",
// "/" → "%2F").

const (
	cookiePrefix        = "s:"
	encodedCookiePrefix = "s%3A"
	// idBytes is the entropy of a session id: 256 bits.
	idBytes = 32
	// maxIDLength bounds ids accepted from cookies; express-session's are 32
	// characters and ours 43.
	maxIDLength = 128
	// maxCandidates bounds how many same-name cookies a request has read. It
	// is above what a browser keeps for one site (Chrome 180 cookies per
	// domain, Firefox 150), so cookies planted in a victim's browser — by a
	// sibling subdomain, or with a longer Path — cannot push the real one
	// out of reach; a header built by hand past it only hurts its sender.
	// Each candidate costs one HMAC at most (a few hundred nanoseconds).
	maxCandidates = 200
	// maxLookups bounds the distinct validly signed ids a request's session
	// cookies name that are looked up in the store: a client holding many
	// signed cookies of dead sessions (their signatures never expire) could
	// otherwise make each request cost one store read per cookie, and each
	// log-out one delete per cookie. Past it, the rest are ignored: a
	// browser has one session cookie per path and domain, and more than four
	// means cookies were planted, which a __Host- name prevents.
	maxLookups = 4
)

// CookieStatus says what the request's session cookie was.
type CookieStatus int

const (
	// CookieAbsent means the request carried no session cookie.
	CookieAbsent CookieStatus = iota
	// CookieValid means the cookie was signed by one of the configured secrets.
	CookieValid
	// CookieBadSignature means the cookie was well formed but signed by a secret
	// this instance does not hold: another instance has a different secret, or
	// the secret was rotated without keeping the old one for verification.
	CookieBadSignature
	// CookieMalformed means the cookie was not in the signed format at all.
	CookieMalformed
)

// String returns "absent", "valid", "bad-signature" or "malformed".
func (s CookieStatus) String() string {
	switch s {
	case CookieValid:
		return "valid"
	case CookieBadSignature:
		return "bad-signature"
	case CookieMalformed:
		return "malformed"
	default:
		return "absent"
	}
}

// signer signs and verifies cookie values with an ordered list of secrets:
// the first signs, all verify.
type signer struct {
	secrets [][]byte
	// macs holds, per secret, a pool of keyed HMAC states, so verifying a
	// cookie on the request path does not rebuild the key schedule.
	macs []sync.Pool
	// verified skips the HMACs for a cookie that verified lately.
	verified verifiedSigs
}

func newSigner(secrets []string) *signer {
	s := &signer{macs: make([]sync.Pool, len(secrets))}
	for i, secret := range secrets {
		key := []byte(secret)
		s.secrets = append(s.secrets, key)
		s.macs[i].New = func() any { return hmac.New(sha256.New, key) }
	}
	return s
}

// sum returns HMAC-SHA256(secrets[i], id) appended to dst.
func (s *signer) sum(dst []byte, i int, id string) []byte {
	h := s.macs[i].Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(id))
	dst = h.Sum(dst)
	s.macs[i].Put(h)
	return dst
}

// newID returns a fresh session id: 256 bits from crypto/rand, base64url.
func newID() string {
	var b [idBytes]byte
	// crypto/rand.Read never returns an error on supported platforms (Go 1.24+).
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// sign returns the cookie value for id.
func (s *signer) sign(id string) string {
	sig := s.sum(nil, 0, id)
	var b strings.Builder
	b.Grow(len(encodedCookiePrefix) + len(id) + 1 + base64.RawStdEncoding.EncodedLen(len(sig))*2)
	b.WriteString(encodedCookiePrefix)
	b.WriteString(id)
	b.WriteByte('.')
	for _, c := range []byte(base64.RawStdEncoding.EncodeToString(sig)) {
		switch c {
		case '+':
			b.WriteString("%2B")
		case '/':
			b.WriteString("%2F")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// verify returns the id in a cookie value and the value's status. It
// parses the URL-encoded form itself, without allocating: ids are made of
// characters that need no escaping, and only the signature's "+" and "/" may
// be percent-encoded (as encodeURIComponent does) or not (as a client that
// decoded the cookie sends it back).
//
// The signature must be in its one canonical spelling: standard base64
// without padding, with zero unused bits, exactly what express-session's
// cookie-signature emits (digest('base64') with the "=" stripped) and, like
// cookie-signature's unsign, which compares the whole string, nothing else.
// A padded, URL-safe or otherwise re-spelled signature is malformed.
func (s *signer) verify(value string) (string, CookieStatus) {
	var body string
	switch {
	case strings.HasPrefix(value, cookiePrefix):
		body = value[len(cookiePrefix):]
	case len(value) >= len(encodedCookiePrefix) && strings.EqualFold(value[:len(encodedCookiePrefix)], encodedCookiePrefix):
		body = value[len(encodedCookiePrefix):]
	default:
		return "", CookieMalformed
	}
	dot := strings.LastIndexByte(body, '.')
	if dot < 1 {
		return "", CookieMalformed
	}
	id, encodedSig := body[:dot], body[dot+1:]
	if !validID(id) {
		return "", CookieMalformed
	}
	var unescaped [maxEncodedSig]byte
	n := 0
	for i := 0; i < len(encodedSig); i++ {
		c := encodedSig[i]
		if c == '%' {
			if i+2 >= len(encodedSig) {
				return "", CookieMalformed
			}
			hi, ok1 := unhex(encodedSig[i+1])
			lo, ok2 := unhex(encodedSig[i+2])
			if !ok1 || !ok2 {
				return "", CookieMalformed
			}
			c, i = hi<<4|lo, i+2
			if c != '+' && c != '/' {
				return "", CookieMalformed // %41 for "A" is another spelling
			}
		}
		if n == len(unescaped) {
			return "", CookieMalformed
		}
		unescaped[n] = c
		n++
	}
	// Strict rejects unused bits that are not zero; RawStdEncoding rejects
	// padding and the URL-safe alphabet. Together: one spelling per MAC.
	var sig [maxEncodedSig]byte
	m, err := base64.RawStdEncoding.Strict().Decode(sig[:], unescaped[:n])
	if err != nil || m != sha256.Size {
		return "", CookieMalformed
	}
	if s.verified.check(id, sig[:m]) {
		return id, CookieValid
	}
	ok := false
	var buf [sha256.Size]byte
	for i := range s.secrets {
		// Check every secret, not just until the first match, so the time
		// taken does not say which secret matched.
		if hmac.Equal(sig[:m], s.sum(buf[:0], i, id)) {
			ok = true
		}
	}
	if !ok {
		return "", CookieBadSignature
	}
	s.verified.remember(id, sig[:m])
	return id, CookieValid
}

// maxEncodedSig bounds the signature's decoded-from-URL length: 43 base64
// characters for HMAC-SHA256, with room to spare so that a longer value is
// refused by the base64 decoder, not by this bound.
const maxEncodedSig = 48

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// validID accepts the URL-safe characters that express-session (uid-safe)
// and sessionkit ids are made of.
func validID(id string) bool {
	if len(id) == 0 || len(id) > maxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Fingerprint returns a short, non-reversible identifier of a secret (one
// of Config.Secrets), not of a session: operators compare it across
// instances without revealing the secret. New logs the fingerprint of every
// secret it holds; a program that wants to show the signing one computes
// Fingerprint(cfg.Secrets[0]).
func Fingerprint(secret string) string {
	sum := sha256.Sum256([]byte("sessionkit secret fingerprint\x00" + secret))
	return hex.EncodeToString(sum[:6])
}

// readSessionCookie collects the request's session cookie candidates:
// browsers send every cookie whose domain and path match, so several may
// share the name (one per path or domain, some possibly planted by a
// sibling subdomain). It appends to ids the first maxLookups distinct
// validly signed ids, in the order the header gives them, reading at most
// maxCandidates values, and returns the status of the best one: valid if
// any verified, else a bad signature over a malformed value, since it is
// the more useful diagnosis.
// Which candidate the session uses is the Session's decision (see
// Session.load); the header order is not trusted, since a cookie with a
// longer Path comes first. It reads the Cookie header in place rather than
// through Request.Cookies, which would allocate every cookie of the
// request.
func (s *signer) readSessionCookie(r *http.Request, name string, ids []string) ([]string, CookieStatus) {
	status := CookieAbsent
	tried := 0
	for _, line := range r.Header["Cookie"] {
		for line != "" && tried < maxCandidates && len(ids) < maxLookups {
			var part string
			part, line, _ = strings.Cut(line, ";")
			n, v, ok := strings.Cut(part, "=")
			if !ok || textproto.TrimString(n) != name {
				continue
			}
			v = textproto.TrimString(v)
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			tried++
			id, st := s.verify(v)
			switch {
			case st == CookieValid:
				status = st
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			case status == CookieAbsent || (st == CookieBadSignature && status == CookieMalformed):
				status = st
			}
		}
	}
	return ids, status
}
