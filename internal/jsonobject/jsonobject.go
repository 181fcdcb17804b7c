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
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, false
	}
	m := make(map[string]json.RawMessage, bytes.Count(data, []byte{':'}))
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return m, skipSpace(data, i+1) == len(data)
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return nil, false
		}
		end, escaped := skipString(data, i)
		if end < 0 {
			return nil, false
		}
		var key string
		if escaped || !utf8.Valid(data[i+1:end-1]) {
			if json.Unmarshal(data[i:end], &key) != nil {
				return nil, false
			}
		} else {
			key = string(data[i+1 : end-1])
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return nil, false
		}
		i = skipSpace(data, i+1)
		vend := skipValue(data, i)
		if vend < 0 {
			return nil, false
		}
		m[key] = data[i:vend:vend]
		i = skipSpace(data, vend)
		if i >= len(data) {
			return nil, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return m, skipSpace(data, i+1) == len(data)
		default:
			return nil, false
		}
	}
}

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
