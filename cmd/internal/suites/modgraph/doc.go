// Package modgraph holds the tests that keep sessionkit's dependencies
// where the layout promises: an app pays only for the modules it imports.
// They build scratch apps that take sessionkit from a clone with replace
// lines, as the README's install section says, and read the module graph
// those apps get (go list -m all). They run the go command, which may
// fetch from the module proxy the first time.
package modgraph
