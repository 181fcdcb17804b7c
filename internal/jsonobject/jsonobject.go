// Package jsonobject splits a JSON object into its members without decoding
// their values, for stores that load a whole session on every request: a
// session's values are decoded only when a handler asks for one. Join is the
// way back, for the stores that keep a session as one JSON object.
package jsonobject

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Join returns the JSON object whose members are m's, the inverse of Split.
// A nil or empty map gives "{}": a store's column holds an object, never null
// (PostgreSQL's jsonb || NULL would be NULL). Each value must be valid JSON;
// it is compacted but otherwise kept as given, with no HTML escaping of <, >
// and &, which would be harmless but needless. Keys come out sorted.
func Join(m map[string]json.RawMessage) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// Split returns the members of the JSON object in data, each value a slice
// of data (not a copy: data must not be changed afterwards). Input it does
// not recognise as a well-formed object is handed to encoding/json, so the
// result and the errors are those of json.Unmarshal; a JSON null gives a nil
// map. Values are delimited, not validated: a malformed scalar inside a
// well-formed object fails when that value is decoded.
func Split(data []byte) (map[string]json.RawMessage, error) {
	if m, ok := split(data); ok {
		return m, nil
	}
	var m map[string]json.RawMessage
	err := json.Unmarshal(data, &m)
	return m, err
}

func split(data []byte) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	it := Walk(data)
	for it.Next() {
		if m == nil {
			m = make(map[string]json.RawMessage, bytes.Count(data, []byte{':'}))
		}
		raw := it.Key()
		if it.KeyEscaped() || !utf8.Valid(raw) {
			// Declared here, so that only this rare path puts a key on
			// the heap for encoding/json.
			var key string
			if json.Unmarshal(data[it.keyStart:it.keyEnd], &key) != nil {
				return nil, false
			}
			m[key] = it.Value()
			continue
		}
		m[string(raw)] = it.Value()
	}
	if !it.Done() {
		return nil, false
	}
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	return m, true
}

// Members walks the members of a JSON object in order, without decoding
// or copying anything: for a reader that wants a few known keys and no
// map. Walk returns one; the zero value has no members and is not Done.
//
//	it := jsonobject.Walk(data)
//	for it.Next() {
//		use(it.Key(), it.Value())
//	}
//	if !it.Done() {
//		// not an object Walk recognises: ask encoding/json
//	}
type Members struct {
	data []byte
	i    int
	// keyStart and keyEnd delimit the current key, quotes included.
	keyStart, keyEnd int
	escaped          bool
	value            []byte
	last             bool // the current member closed the object
	done, failed     bool
}

// Walk returns a Members over the JSON object in data.
func Walk(data []byte) Members {
	m := Members{data: data}
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		m.failed = true
		return m
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		m.done = skipSpace(data, i+1) == len(data)
		m.failed = !m.done
		m.last = true
	}
	m.i = i
	return m
}

// Next moves to the next member and reports whether there is one. It
// returns false at the end of the object and at the first thing it does
// not recognise; Done tells the two apart.
func (m *Members) Next() bool {
	if m.failed || m.last || m.data == nil {
		return false
	}
	data, i := m.data, m.i
	fail := func() bool { m.failed = true; return false }
	if i >= len(data) || data[i] != '"' {
		return fail()
	}
	end, escaped := skipString(data, i)
	if end < 0 {
		return fail()
	}
	m.keyStart, m.keyEnd, m.escaped = i, end, escaped
	i = skipSpace(data, end)
	if i >= len(data) || data[i] != ':' {
		return fail()
	}
	i = skipSpace(data, i+1)
	vend := skipValue(data, i)
	if vend < 0 {
		return fail()
	}
	m.value = data[i:vend:vend]
	i = skipSpace(data, vend)
	if i >= len(data) {
		return fail()
	}
	switch data[i] {
	case ',':
		m.i = skipSpace(data, i+1)
	case '}':
		m.last = true
		m.done = skipSpace(data, i+1) == len(data)
		if !m.done {
			return fail()
		}
	default:
		return fail()
	}
	return true
}

// Key returns the current member's key as it is written, between its
// quotes: the key itself unless KeyEscaped.
func (m *Members) Key() []byte { return m.data[m.keyStart+1 : m.keyEnd-1] }

// KeyEscaped reports whether the current key holds a backslash escape, so
// that Key is not the key's text.
func (m *Members) KeyEscaped() bool { return m.escaped }

// Value returns the current member's value, delimited and not validated
// (see Split), as a slice of the data.
func (m *Members) Value() []byte { return m.value }

// Done reports whether the whole input was one well-formed object and every
// member was walked.
func (m *Members) Done() bool { return m.done && m.last }

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at data[i],
// or -1, and whether it holds an escape.
func skipString(data []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '\\':
			escaped = true
			j++
		case c == '"':
			return j + 1, escaped
		case c < 0x20:
			return -1, false
		}
	}
	return -1, false
}

// skipValue returns the index just past the value starting at data[i], or -1.
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		end, _ := skipString(data, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, _ := skipString(data, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default:
		j := i
		for j < len(data) && bytes.IndexByte([]byte(",}] \t\r\n"), data[j]) < 0 {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}
