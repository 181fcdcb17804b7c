package main

import (
	"bufio"
	"io"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/sessionkit"
)

// withSessions adapts Manager.Middleware to gin: the rest of the chain runs
// inside the middleware, with c.Request set to the request that carries the
// session (sessionkit.From(c.Request) finds it) and c.Writer writing through
// the middleware's response writer, which saves the session before the
// headers go out. Both are put back for the middleware before this one.
//
// gin.WrapH or gin.WrapF cannot do this: they end the chain in an
// http.Handler, where this has to run c.Next() in the middle of one.
func withSessions(m *sessionkit.Manager) gin.HandlerFunc {
	return func(c *gin.Context) {
		req, writer := c.Request, c.Writer
		m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.Request = r
			c.Writer = &sessionWriter{ResponseWriter: writer, w: w}
			c.Next()
		})).ServeHTTP(writer, req)
		c.Request, c.Writer = req, writer
	}
}

// sessionWriter is the gin.ResponseWriter the handlers see: what writes the
// response goes through w, the session middleware's writer, which saves the
// session and then writes to gin's own writer beneath it; Status, Size and
// Written are gin's writer's, which sees every byte.
type sessionWriter struct {
	gin.ResponseWriter                     // gin's writer, beneath the middleware
	w                  http.ResponseWriter // the middleware's writer
}

func (s *sessionWriter) Header() http.Header { return s.w.Header() }

// WriteHeader saves the session; gin's writer then keeps the status until
// the first byte or WriteHeaderNow, as it always does.
func (s *sessionWriter) WriteHeader(code int) { s.w.WriteHeader(code) }

func (s *sessionWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

func (s *sessionWriter) WriteString(str string) (int, error) { return io.WriteString(s.w, str) }

// WriteHeaderNow saves the session before gin sends the headers (as
// c.AbortWithStatus does).
func (s *sessionWriter) WriteHeaderNow() {
	s.w.WriteHeader(s.ResponseWriter.Status())
	s.ResponseWriter.WriteHeaderNow()
}

func (s *sessionWriter) Flush() { _ = http.NewResponseController(s.w).Flush() }

func (s *sessionWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(s.w).Hijack()
}

// Unwrap lets http.ResponseController reach the middleware's writer.
func (s *sessionWriter) Unwrap() http.ResponseWriter { return s.w }
