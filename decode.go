package sessionkit

import (
	"encoding/json"

	"github.com/sessionkit/sessionkit/internal/jsonobject"
)

// Decoding the values read on every request. A logged-in read decodes the
// user binding (MetaKey) and, in most applications, a user id and an email;
// through encoding/json's reflection that was a fifth of the handler's CPU
// time. The fast paths below take only input whose meaning is plain (a
// string without escapes, an integer in canonical form, a literal true or
// false, an object of known keys) and hand everything else to
// encoding/json, so the result and the errors are always encoding/json's.

// decodeValue is json.Unmarshal(raw, dst), faster for the scalar types
// handlers read most.
func decodeValue(raw json.RawMessage, dst any) error {
	switch d := dst.(type) {
	case *string:
		if v, ok := plainString(raw); ok {
			*d = v
			return nil
		}
	case *int64:
		if v, ok := plainInt(raw); ok {
			*d = v
			return nil
		}
	case *int:
		if v, ok := plainInt(raw); ok && int64(int(v)) == v {
			*d = int(v)
			return nil
		}
	case *bool:
		switch string(raw) {
		case "true":
			*d = true
			return nil
		case "false":
			*d = false
			return nil
		}
	}
	return json.Unmarshal(raw, dst)
}

// plainString returns the contents of a JSON string with no escapes and
// only ASCII without going through encoding/json: the common case for ids
// and e-mail addresses.
func plainString(raw []byte) (string, bool) {
	body, ok := plainStringBody(raw)
	return string(body), ok
}

// plainStringBody is plainString's test, returning the contents in place.
func plainStringBody(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return nil, false
		}
	}
	return body, true
}

// plainInt returns the value of a JSON integer in canonical form (an
// optional minus, then digits without a leading zero), and false for
// anything else, out-of-range values included.
func plainInt(raw []byte) (int64, bool) {
	digits := raw
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 || (digits[0] == '0' && len(digits) > 1) {
		return 0, false // 18 digits cannot overflow an int64
	}
	var v int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if len(digits) < len(raw) {
		v = -v
	}
	return v, true
}

// decodeMeta decodes a MetaKey value. It walks the object once for the
// keys this library writes, and leaves anything else (another key, an
// escape, a null) to encoding/json, which also matches keys regardless of
// case.
func decodeMeta(raw json.RawMessage) (sessionMeta, error) { return walkMeta(raw, true) }

// seenOf reads the "seen" time of a MetaKey value, as decodeMeta would,
// without making the strings: every logged-in request asks, to decide
// whether last seen is due.
func seenOf(raw json.RawMessage) (int64, bool) {
	m, err := walkMeta(raw, false)
	return m.Seen, err == nil
}

// walkMeta is decodeMeta; without strings, it checks the string fields
// but leaves them empty (unless it falls back to encoding/json).
func walkMeta(raw json.RawMessage, strings bool) (sessionMeta, error) {
	var m sessionMeta
	it := jsonobject.Walk(raw)
	ok := true
	for ok && it.Next() {
		v := it.Value()
		switch string(it.Key()) {
		case "user":
			if strings {
				m.User, ok = plainString(v)
			} else {
				_, ok = plainStringBody(v)
			}
		case "ua":
			if strings {
				m.UA, ok = plainString(v)
			} else {
				_, ok = plainStringBody(v)
			}
		case "addr":
			if strings {
				m.Addr, ok = plainString(v)
			} else {
				_, ok = plainStringBody(v)
			}
		case "auth":
			m.Auth, ok = plainInt(v)
		case "seen":
			m.Seen, ok = plainInt(v)
		case "lifetimeMs":
			m.Lifetime, ok = plainInt(v)
		default:
			ok = false
		}
	}
	if ok && it.Done() {
		return m, nil
	}
	// A variable of its own: taking m's address would move m to the heap
	// on the fast path too.
	var slow sessionMeta
	err := json.Unmarshal(raw, &slow)
	return slow, err
}
