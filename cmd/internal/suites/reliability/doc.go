// Package reliability is sessionkit's multi-process reliability suite. It has
// no API: its tests build the real `sessionkit` binary once, run several
// `sessionkit serve` processes on one PostgreSQL schema behind an in-process
// round-robin reverse proxy, and drive them with many simulated browsers
// while they inject faults (a cut PostgreSQL connection, kill -9, a million
// expired rows to prune, rotated or mismatched secrets) and bad input.
//
// Each scenario asserts that nobody is logged out and nothing acknowledged is
// lost, and records what it measured. With SESSIONKIT_RELIABILITY_REPORT set
// to a path, the run writes those figures there as a markdown table; see
// RELIABILITY.md at the module root for the scenarios, the figures of a real
// run and the command that regenerates them.
package reliability
