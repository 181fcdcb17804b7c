package server

// SetAfterPasswordCheck makes f run inside every log-in between the password
// check and the session save, so a test can race a removal against it.
func SetAfterPasswordCheck(s *Server, f func()) { s.afterPasswordCheck = f }
