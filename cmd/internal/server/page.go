package server

import (
	"embed"
	"net/http"
)

// web holds the account page: plain HTML, CSS and JavaScript, no build step
// and no third-party assets, compiled into the binary.
//
//go:embed web/index.html web/app.css web/app.js
var web embed.FS

// pageCSP lets the page load only its own script, style and API: no inline
// script or style, no other origin, no framing, no plugins.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// page serves one embedded file with the page's security headers. The
// files are read once, at start; a missing one is a build mistake.
func page(name, contentType string) http.Handler {
	body, err := web.ReadFile("web/" + name)
	if err != nil {
		panic("server: embedded page file " + name + ": " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		// Revalidated on every load, so a new binary's page is used at once.
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(body)
	})
}
