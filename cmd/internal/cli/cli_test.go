package cli

import "testing"

// TestRedactURL: no password reaches a message, wherever the URL carries it.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:hunter2@db:5432/app":                       "postgres://app:xxxxx@db:5432/app",
		"postgres://app@db/app?password=hunter2&sslmode=require":   "postgres://app@db/app?password=xxxxx&sslmode=require",
		"postgres://app@db/app?sslmode=verify-full&sslpassword=h2": "postgres://app@db/app?sslmode=verify-full&sslpassword=xxxxx",
		"postgres://app@db/app?sslmode=disable":                    "postgres://app@db/app?sslmode=disable",
		"host=db user=app password=hunter2":                        "(DATABASE_URL, not shown)",
		"redis+cluster://u:hunter2@h1:6379,h2:6379/0":              "redis+cluster://u:xxxxx@h1:6379,h2:6379/0",
		"redis://:hunter2@cache:6379/0":                            "redis://:xxxxx@cache:6379/0",
	} {
		if got := RedactURL(in, "DATABASE_URL"); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
