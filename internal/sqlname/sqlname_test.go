package sqlname

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"sessions", true},
		{"_", true},
		{"Mixed_Case2", true},
		{strings.Repeat("a", 63), true},
		{"", false},
		{strings.Repeat("a", 64), false},
		{"1abc", false},
		{"a.b", false},
		{"a-b", false},
		{"a b", false},
		{`"quoted"`, false},
		{"séance", false},
		{"x'y", false},
		{"sessions;", false},
		{"tab\tle", false},
		{"line\n", false}, // $ in Go's regexp does not match before a final newline
	}
	for _, tc := range tests {
		if got := Valid(tc.name); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
