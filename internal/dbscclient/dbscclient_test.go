package dbscclient

import (
	"reflect"
	"testing"
)

// The examples are the draft's own (its Secure-Session-Registration and
// Secure-Session-Challenge sections).
func TestParseRegistration(t *testing.T) {
	tests := []struct {
		header string
		want   []Registration
	}{
		{`(ES256);path="reg";challenge="cv";authorization="ac"`, []Registration{{Algs: []string{"ES256"}, Path: "reg", Challenge: "cv"}}},
		{`(ES256 RS256);path="reg";challenge="cv"`, []Registration{{Algs: []string{"ES256", "RS256"}, Path: "reg", Challenge: "cv"}}},
		{`(ES256);path="reg1";challenge="cv1";authorization="a", (RS256);path="reg2";challenge="cv2";authorization="b"`,
			[]Registration{{Algs: []string{"ES256"}, Path: "reg1", Challenge: "cv1"}, {Algs: []string{"RS256"}, Path: "reg2", Challenge: "cv2"}}},
		{`(ES256);challenge="cv"`, nil}, // no path: ignored, as the draft says
		{`ES256;path="reg"`, nil},       // not an inner list
		{``, nil},
	}
	for _, tc := range tests {
		got, ok := ParseRegistration(tc.header)
		if !reflect.DeepEqual(got, tc.want) || ok != (tc.want != nil) {
			t.Errorf("ParseRegistration(%q) = %+v, %v; want %+v", tc.header, got, ok, tc.want)
		}
	}
}

func TestParseChallenge(t *testing.T) {
	tests := []struct {
		header, challenge, id string
		ok                    bool
	}{
		{`"new challenge";id="my session"`, "new challenge", "my session", true},
		{` "c1";id="session 1" `, "c1", "session 1", true},
		{`"c1"`, "", "", false}, // no id: the draft ignores it
		{`c1;id="s"`, "", "", false},
	}
	for _, tc := range tests {
		c, id, ok := ParseChallenge(tc.header)
		if c != tc.challenge || id != tc.id || ok != tc.ok {
			t.Errorf("ParseChallenge(%q) = %q, %q, %v", tc.header, c, id, ok)
		}
	}
}

func TestParseInstructions(t *testing.T) {
	tests := []struct {
		body  string
		ended bool
		ok    bool
	}{
		{`{"session_identifier":"s","refresh_url":"/r","scope":{"include_site":false},"credentials":[{"type":"cookie","name":"b","attributes":"Path=/"}]}`, false, true},
		{`{"continue":false}`, true, true},
		{`{"session_identifier":"s","scope":{},"credentials":[{"type":"cookie","name":"b"}]}`, false, false}, // include_site is required
		{`{"session_identifier":"s","scope":{"include_site":true},"credentials":[{"type":"token","name":"b"}]}`, false, false},
		{`{"session_identifier":"s","scope":{"include_site":true},"credentials":[]}`, false, false},
		{`not json`, false, false},
	}
	for _, tc := range tests {
		in, err := ParseInstructions([]byte(tc.body))
		if (err == nil) != tc.ok || (err == nil && in.Ended() != tc.ended) {
			t.Errorf("ParseInstructions(%s) = %+v, %v; want ok %v, ended %v", tc.body, in, err, tc.ok, tc.ended)
		}
	}
}

// TestNewKey: the keys' JWKs have the draft's shapes (P-256 with 32-byte x
// and y; RSA with e = 65537), and "none" makes no key. The proofs they sign
// are checked by the server's verifier in the root package's tests.
func TestNewKey(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256"} {
		k, err := NewKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		jwk := k.JWK()
		if (alg == "ES256") != (jwk["kty"] == "EC" && jwk["crv"] == "P-256" && len(jwk["x"]) == 43 && len(jwk["y"]) == 43) {
			t.Errorf("%s JWK %v", alg, jwk)
		}
		if (alg == "RS256") != (jwk["kty"] == "RSA" && jwk["e"] == "AQAB") {
			t.Errorf("%s JWK %v", alg, jwk)
		}
	}
	if _, err := NewKey("none"); err == nil {
		t.Error("NewKey(none) made a key")
	}
}
