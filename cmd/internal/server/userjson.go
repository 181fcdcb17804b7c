package server

import (
	"encoding/json"
	"strconv"
)

// appendJSON appends u as encoding/json writes it. GET /api/user answers
// every logged-in page load, so its body is built here rather than through
// encoding/json's reflection; an email with anything but printable ASCII
// that JSON leaves as it is goes through encoding/json, whose escaping (of
// "<", ">" and "&" too) stays the one spelling.
func (u userResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, u.ID, 10)
	b = append(b, `,"email":`...)
	if plainJSONString(u.Email) {
		b = append(b, '"')
		b = append(b, u.Email...)
		b = append(b, '"')
	} else {
		quoted, _ := json.Marshal(u.Email) // a string always marshals
		b = append(b, quoted...)
	}
	return append(b, '}')
}

// plainJSONString reports whether encoding/json writes s as it is between
// quotes.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
