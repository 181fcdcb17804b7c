module github.com/sessionkit/sessionkit/redisstore

go 1.26.0

require (
	github.com/redis/go-redis/v9 v9.23.0
	github.com/sessionkit/sessionkit v0.0.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

// Used when this module is developed alone (GOWORK=off); ignored by the
// modules that require it, which replace or version sessionkit themselves.
replace github.com/sessionkit/sessionkit => ../
