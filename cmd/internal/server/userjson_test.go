package server

import (
	"encoding/json"
	"testing"
)

// FuzzUserJSON: the hand-written /api/user body is byte for byte what
// encoding/json writes, whatever the email holds.
func FuzzUserJSON(f *testing.F) {
	for _, email := range []string{"a@example.com", "", `q"uote@x`, `back\slash`, "<script>&", "tab\there",
		"ünï@example.com", "\u2028", "\xff\xfe", "del\x7f", "\x00"} {
		f.Add(int64(42), email)
	}
	f.Add(int64(-1), "min")
	f.Fuzz(func(t *testing.T, id int64, email string) {
		u := userResponse{ID: id, Email: email}
		want, err := json.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON = %s, encoding/json = %s", got, want)
		}
	})
}
