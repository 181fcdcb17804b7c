package server

import "github.com/sessionkit/sessionkit/cmd/internal/admin"

// SetAfterPasswordCheck makes f run inside every log-in between the password
// check and the session save, so a test can race a removal against it.
func SetAfterPasswordCheck(s *Server, f func()) { s.afterPasswordCheck = f }

// SetPasswordChecked makes f hear of every password check's outcome and
// bcrypt work, so a test can see the work done without a clock.
func SetPasswordChecked(s *Server, f func(admin.PasswordCheck)) { s.passwordChecked = f }
