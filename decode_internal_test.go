package sessionkit

import (
	"encoding/json"
	"reflect"
	"testing"
)

// decodeCases are values a session may hold: the plain ones the fast paths
// take, and the ones they must leave to encoding/json.
var decodeCases = []string{
	`"ada@example.com"`, `""`, `"caf\u00e9"`, `"café"`, `"a\"b"`, `"tab	"`, `"unterminated`, `null`,
	`0`, `-0`, `7`, `-42`, `123456789012345678`, `9223372036854775807`, `-9223372036854775808`,
	`9223372036854775808`, `01`, `-`, `1.0`, `1e3`, `+1`, ` 1`, `1 `, `0x10`,
	`true`, `false`, `True`, `nul`, `[]`, `{}`, `{"a":1}`, ``,
	`{"user":"u:1","auth":1764500000,"seen":1764500100,"ua":"Mozilla/5.0","addr":"203.0.113.0/24","lifetimeMs":2592000000}`,
	`{"user":"u:1"}`, `{"USER":"u:1"}`, `{"user":"u:1","user":"u:2"}`, `{"user":null}`, `{"user":"é"}`,
	`{"user":"u:1","extra":[1,2]}`, `{"seen":1.5}`, `{"seen":"1"}`, `{"lifetimeMs":01}`, `{"user":"u:1",}`,
	`{"user":"u:1"} x`, ` {"user" : "u:1" , "auth" : 5 } `, `{"us\u0065r":"u:1"}`,
}

// TestDecodeMatchesEncodingJSON: decodeValue and decodeMeta give exactly
// what json.Unmarshal gives, value and failure alike.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, c := range decodeCases {
		checkDecode(t, c)
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) { checkDecode(t, s) })
}

func checkDecode(t *testing.T, s string) {
	t.Helper()
	raw := json.RawMessage(s)
	for _, newDst := range []func() any{
		func() any { return new(string) },
		func() any { return new(int64) },
		func() any { return new(int) },
		func() any { return new(bool) },
		func() any { return new(any) },
	} {
		got, want := newDst(), newDst()
		gotErr, wantErr := decodeValue(raw, got), json.Unmarshal(raw, want)
		if (gotErr != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeValue(%q, %T) = %v, %v; encoding/json: %v, %v", s, got, reflect.ValueOf(got).Elem(), gotErr, reflect.ValueOf(want).Elem(), wantErr)
		}
	}
	if seen, ok := seenOf(raw); ok != (wantMetaErr(raw) == nil) || (ok && seen != wantSeen(raw)) {
		t.Errorf("seenOf(%q) = %d, %v; encoding/json: %d, %v", s, seen, ok, wantSeen(raw), wantMetaErr(raw))
	}
	got, gotErr := decodeMeta(raw)
	var want sessionMeta
	wantErr := json.Unmarshal(raw, &want)
	if (gotErr != nil) != (wantErr != nil) || (wantErr == nil && got != want) {
		t.Errorf("decodeMeta(%q) = %+v, %v; encoding/json: %+v, %v", s, got, gotErr, want, wantErr)
	}
}

// TestDecodeAllocations: the values a logged-in read decodes cost no more
// than the strings they return.
func TestDecodeAllocations(t *testing.T) {
	meta := json.RawMessage(`{"user":"u:1","auth":1764500000,"seen":1764500100,"ua":"Mozilla/5.0","addr":"203.0.113.0/24"}`)
	var id int64
	number := json.RawMessage(`42`)
	for _, tc := range []struct {
		name string
		max  float64
		f    func()
	}{
		{"int64", 0, func() { _ = decodeValue(number, &id) }},
		{"meta", 3, func() { _, _ = decodeMeta(meta) }}, // user, ua, addr
		{"seen", 0, func() { _, _ = seenOf(meta) }},
	} {
		if n := testing.AllocsPerRun(100, tc.f); n > tc.max {
			t.Errorf("%s: %v allocations, want at most %v", tc.name, n, tc.max)
		}
	}
}

func wantMetaErr(raw json.RawMessage) error {
	var m sessionMeta
	return json.Unmarshal(raw, &m)
}

func wantSeen(raw json.RawMessage) int64 {
	var m sessionMeta
	_ = json.Unmarshal(raw, &m)
	return m.Seen
}
