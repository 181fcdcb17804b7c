package jsonobject

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestJoin(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]json.RawMessage
		want string
	}{
		{"nil", nil, `{}`},
		{"empty", map[string]json.RawMessage{}, `{}`},
		{"sorted and compacted", map[string]json.RawMessage{"b": json.RawMessage(` [1, 2] `), "a": json.RawMessage(`{"x" : null}`)}, `{"a":{"x":null},"b":[1,2]}`},
		{"no HTML escaping", map[string]json.RawMessage{"<k>": json.RawMessage(`"a<b>&c"`)}, `{"<k>":"a<b>&c"}`},
		{"odd keys", map[string]json.RawMessage{"a\"b": json.RawMessage(`1`), "": json.RawMessage(`2`)}, `{"":2,"a\"b":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Join(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("Join = %s, %v; want %s", got, err, tc.want)
			}
			back, err := Split([]byte(got))
			if err != nil || len(back) != len(tc.in) {
				t.Fatalf("Split(Join) = %q, %v; want %d members", back, err, len(tc.in))
			}
		})
	}
	if _, err := Join(map[string]json.RawMessage{"k": json.RawMessage(`{bad`)}); err == nil {
		t.Fatal("Join accepted a value that is not JSON")
	}
}

var cases = []string{
	`{}`, ` { } `, `null`, `{"a":1}`, `{"a": 1, "b": "x"}`, `{"user": {"id": 42, "roles": ["a", "b"]}, "n": null}`,
	`{"k\"ey": "va\"l}ue", "e\u00e9": "\u2603"}`, `{"a":1,"a":2}`, `{"s": "a,b}c]d"}`, `{"t": true, "f": false, "x": -1.5e3}`,
	`{"nested": [[[{"a": "]"}]]]}`, "{\n\t\"a\" :\r\n 1 \n}",
	// malformed: the fallback must answer exactly as encoding/json does
	`{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1} x`, `[1]`, `"s"`, ``, `{"a":"unterminated}`, `{"a":[1,2}`, "{\"a\":\"\x01\"}",
}

func TestSplitMatchesEncodingJSON(t *testing.T) {
	for _, c := range cases {
		var want map[string]json.RawMessage
		wantErr := json.Unmarshal([]byte(c), &want)
		got, err := Split([]byte(c))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%q: error %v, encoding/json says %v", c, err, wantErr)
			continue
		}
		if !reflect.DeepEqual(normalise(got), normalise(want)) {
			t.Errorf("%q: %q, encoding/json gives %q", c, got, want)
		}
	}
}

func normalise(m map[string]json.RawMessage) map[string]string {
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

// FuzzSplit checks that every object Split accepts holds what encoding/json
// reads from it, value for value.
func FuzzSplit(f *testing.F) {
	for _, c := range cases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Split([]byte(s))
		var want map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &want) != nil {
			return // malformed somewhere inside; Split may delimit it anyway
		}
		if err != nil {
			t.Fatalf("%q: Split failed on valid JSON: %v", s, err)
		}
		for k, v := range want {
			var a, b any
			json.Unmarshal(v, &a)
			if json.Unmarshal(got[k], &b) != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("%q: key %q = %q, want %q", s, k, got[k], v)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d members, want %d", s, len(got), len(want))
		}
	})
}
