// Package crossstore holds the tests that run the root package's behaviour
// on the real stores: PostgreSQL, Redis (one server and a Cluster), SQLite
// and memory. They need those services, which is why they live in the tools
// module and not beside the root package, whose own tests run on memstore
// and need none. The benchmarks whose figures BENCHMARKS.md gives for
// PostgreSQL and Redis are here too.
package crossstore
