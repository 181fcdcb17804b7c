package sessionkit_test

import (
	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
)

// The helpers these tests share with the cross-store suite
// (cmd/internal/suites/crossstore) are written once, in sessiontest; the
// short names keep the tests reading as they did.
const (
	secretA = sessiontest.SecretA
	secretB = sessiontest.SecretB
)

type (
	logBuffer     = sessiontest.LogBuffer
	discardWriter = sessiontest.DiscardWriter
)

var (
	memStore      = sessiontest.MemStore
	newManager    = sessiontest.NewManager
	app           = sessiontest.App
	do            = sessiontest.Do
	sessionCookie = sessiontest.SessionCookie
	login         = sessiontest.Login
	idOf          = sessiontest.IDOf
	pair          = sessiontest.Pair
	sendHeader    = sessiontest.SendHeader
	near          = sessiontest.Near
	userApp       = sessiontest.UserApp
	httpRequest   = sessiontest.Request
	serve         = sessiontest.Serve
)
