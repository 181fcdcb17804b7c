package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
)

// maxBody is the largest request body the API reads: its bodies are an
// email (at most 254 bytes) and passwords (at most 72), so 8 KiB holds any
// of them even with every character escaped, and a 60 KiB "email" is
// refused while it is read, before it is parsed.
const maxBody = 8 << 10

// badBody is a request body the API refuses: the status and the message of
// the error response.
type badBody struct {
	status int
	msg    string
}

// write answers the refused request.
func (b *badBody) write(w http.ResponseWriter) { writeError(w, b.status, b.msg) }

// decodeJSON reads one JSON object of at most maxBody bytes into dst, a
// pointer to a struct with json tags, and returns nil or why it refuses the
// body. It is strict, so that one request has one meaning whatever parser
// reads it: the Content-Type must be application/json (415 otherwise: a
// text/plain body is what a cross-site form or a no-preflight fetch sends),
// and the object's keys must be dst's, spelled exactly, each at most once
// (encoding/json alone would take "EMAIL" for "email" and the last of two
// "email" keys).
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) *badBody {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &badBody{http.StatusUnsupportedMediaType, "Content-Type must be application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &badBody{http.StatusBadRequest, "request body too large (limit 8 KiB)"}
	}
	if err != nil {
		return &badBody{http.StatusBadRequest, "request body could not be read"}
	}
	if msg := checkKeys(body, dst); msg != "" {
		return &badBody{http.StatusBadRequest, msg}
	}
	var wrongType *json.UnmarshalTypeError
	switch err := json.Unmarshal(body, dst); {
	case err == nil:
		return nil
	case errors.As(err, &wrongType):
		// encoding/json's own message names Go types, which mean nothing
		// to a client.
		return &badBody{http.StatusBadRequest, fmt.Sprintf("%q must be a JSON %s, not %s", wrongType.Field, wrongType.Type, wrongType.Value)}
	default:
		return &badBody{http.StatusBadRequest, "request body is not valid JSON: " + err.Error()}
	}
}

// checkKeys walks the top-level object in body and returns "" or the
// message of a 400: not one JSON object, or a key that is unknown to dst or
// repeated.
func checkKeys(body []byte, dst any) string {
	known := jsonKeys(dst)
	shape := `{"` + strings.Join(known, `":…,"`) + `":…}`
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	switch {
	case errors.Is(err, io.EOF):
		return "request body is empty: send " + shape
	case err != nil:
		return "request body is not valid JSON: " + err.Error()
	case tok != json.Delim('{'):
		return "request body must be a JSON object: " + shape
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "request body is not valid JSON: " + err.Error()
		}
		key, _ := tok.(string)
		switch {
		case seen[key]:
			return fmt.Sprintf("duplicate key %q: send each of %s once", key, shape)
		case !slices.Contains(known, key):
			return fmt.Sprintf("unknown key %q: send %s", key, shape)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "request body is not valid JSON: " + err.Error()
		}
	}
	if _, err := dec.Token(); err != nil {
		return "request body is not valid JSON: " + err.Error()
	}
	if _, err := dec.Token(); err != io.EOF {
		return "request body must be a single JSON object"
	}
	return ""
}

// jsonKeys lists the json names of the fields of the struct dst
// points to, as they must be spelled.
func jsonKeys(dst any) []string {
	t := reflect.TypeOf(dst).Elem()
	var keys []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}
