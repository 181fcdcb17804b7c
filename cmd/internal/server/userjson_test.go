package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
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

// TestWriteUserAsWriteJSON: GET /api/user's writer answers with the bytes
// and headers writeJSON would, its reused buffer leaves nothing of a longer
// answer in a shorter one, and an Add to one answer's shared header value
// changes no other answer.
func TestWriteUserAsWriteJSON(t *testing.T) {
	s := &Server{}
	for _, u := range []userResponse{
		{ID: 7, Email: "a-much-longer-address@example.com"}, {ID: 8, Email: "b@x"}, {ID: 9, Email: "<ü>"},
	} {
		want := httptest.NewRecorder()
		writeJSON(want, http.StatusOK, u)
		got := httptest.NewRecorder()
		s.writeUser(got, u)
		if got.Code != want.Code || got.Body.String() != want.Body.String() {
			t.Errorf("writeUser(%v) = %d %q, writeJSON = %d %q", u, got.Code, got.Body, want.Code, want.Body)
		}
		if !reflect.DeepEqual(got.Header(), want.Header()) {
			t.Errorf("writeUser(%v) headers %v, writeJSON's %v", u, got.Header(), want.Header())
		}
		got.Header().Add("X-Content-Type-Options", "other")
		got.Header().Add("Content-Type", "other")
	}
	if len(valueJSON) != 1 || valueJSON[0] != "application/json" || len(valueNosniff) != 1 || valueNosniff[0] != "nosniff" {
		t.Errorf("the shared header values changed: %q, %q", valueJSON, valueNosniff)
	}
}
