package doctor

import (
	"context"
	"errors"
	"testing"
)

// TestResolveFlag: --resolve takes curl's HOST:PORT:ADDR, IPv6 with or
// without brackets; anything else is a usage error that names the form,
// before any request is sent.
func TestResolveFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want resolveRule
		ok   bool
	}{
		{"staging.example.com:443:10.0.0.7", resolveRule{"staging.example.com", "443", "10.0.0.7"}, true},
		{"Staging.Example.com:8080:[::1]", resolveRule{"staging.example.com", "8080", "::1"}, true},
		{"staging.example.com:80:::1", resolveRule{"staging.example.com", "80", "::1"}, true},
		{"staging.example.com:443", resolveRule{}, false},
		{"staging.example.com:https:10.0.0.7", resolveRule{}, false},
		{"staging.example.com:0:10.0.0.7", resolveRule{}, false},
		{":443:10.0.0.7", resolveRule{}, false},
		{"staging.example.com:443:db.internal", resolveRule{}, false},
	} {
		got, err := parseResolve(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("%q = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if !tc.ok && !errors.Is(err, ErrUsage) {
			t.Errorf("%q: err %v, want ErrUsage", tc.in, err)
		}
	}
	if _, err := CheckHTTP(context.Background(), HTTPOptions{URL: "http://127.0.0.1:1/", Resolve: []string{"x:1"}}); !errors.Is(err, ErrUsage) {
		t.Fatalf("CheckHTTP with a bad Resolve: %v, want ErrUsage", err)
	}
}
