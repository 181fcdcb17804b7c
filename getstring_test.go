package sessionkit_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// TestGetStringAgreesWithGet: GetString is Get into a string. An absent key
// is "" without an error; a value of another type is the error Get gives,
// not a silent "", so a key written with another type is not read as "no
// value".
func TestGetStringAgreesWithGet(t *testing.T) {
	t.Parallel()
	m, _ := newManager(t, memStore(t), nil)
	tests := []struct {
		name    string
		put     any // nil: the key is not set
		want    string
		wantErr bool
	}{
		{"absent", nil, "", false},
		{"string", "ada", "ada", false},
		{"escaped string", "a\"da\n", "a\"da\n", false},
		{"number", 42, "", true},
		{"object", map[string]int{"a": 1}, "", true},
		{"bool", true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cookie *http.Cookie
			if tt.put != nil {
				put := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					s, _ := sessionkit.From(r)
					if err := s.Put("k", tt.put); err != nil {
						t.Error(err)
					}
				}))
				cookie = sessionCookie(do(put, "POST", "/"))
			}
			get := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s, _ := sessionkit.From(r)
				got, err := s.GetString("k")
				var v string
				_, getErr := s.Get("k", &v)
				if got != tt.want || (err != nil) != tt.wantErr {
					t.Errorf("GetString = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
				}
				if (err == nil) != (getErr == nil) {
					t.Errorf("GetString error %v, Get error %v: they disagree", err, getErr)
				}
				if err != nil && !strings.Contains(err.Error(), `"k"`) {
					t.Errorf("error %q does not name the key", err)
				}
			}))
			do(get, "GET", "/", cookie)
		})
	}
}
