// Package dbscclient is the browser's side of Device Bound Session
// Credentials (the W3C draft of February 2026, Secure-Session-* headers),
// as far as a Go program needs it to talk to a server: a session key that
// signs DBSC proofs (ES256 or RS256 compact JWS), and the parsers of the
// headers and the session instructions a server sends. The library's
// tests, serve's tests and `sessionkit doctor http` use it; it is not a
// browser (no scope matching, no deferral, no key storage).
package dbscclient

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// Key is a browser's session key.
type Key struct {
	// Alg is "ES256" or "RS256".
	Alg    string
	signer crypto.Signer
}

// NewKey makes a key for alg: a P-256 key for ES256, a 2048-bit RSA key
// for RS256.
func NewKey(alg string) (*Key, error) {
	var (
		k   crypto.Signer
		err error
	)
	switch alg {
	case "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("dbscclient: no key for %q: use ES256 or RS256", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("dbscclient: make a %s key: %w", alg, err)
	}
	return &Key{Alg: alg, signer: k}, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// JWK returns the key's public half as a JWK (RFC 7517).
func (k *Key) JWK() map[string]string {
	switch pub := k.signer.Public().(type) {
	case *ecdsa.PublicKey:
		raw, err := pub.Bytes() // 0x04 || x || y
		if err != nil {
			panic("dbscclient: " + err.Error())
		}
		return map[string]string{"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])}
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	}
	panic("dbscclient: unknown key type")
}

// Sign returns the compact JWS of header and payload signed with the key,
// whatever they say: tests use it to make malformed proofs.
func (k *Key) Sign(header, payload map[string]any) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	input := b64(h) + "." + b64(p)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch s := k.signer.(type) {
	case *ecdsa.PrivateKey:
		r, ss, err := ecdsa.Sign(rand.Reader, s, digest[:])
		if err != nil {
			panic("dbscclient: " + err.Error())
		}
		// JWS ES256 is r||s, 32 bytes each.
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
	case *rsa.PrivateKey:
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, s, crypto.SHA256, digest[:]); err != nil {
			panic("dbscclient: " + err.Error())
		}
	}
	return input + "." + b64(sig)
}

// Proof returns the DBSC proof for challenge as a browser makes it: typ
// dbsc+jwt, the challenge as jti, and the public key in the header at
// registration only.
func (k *Key) Proof(challenge string, registration bool) string {
	header := map[string]any{"alg": k.Alg, "typ": "dbsc+jwt"}
	if registration {
		header["jwk"] = k.JWK()
	}
	return k.Sign(header, map[string]any{"jti": challenge})
}

// Registration is one entry of a Secure-Session-Registration header.
type Registration struct {
	// Algs are the algorithms the server accepts, in its order.
	Algs []string
	// Path is where to send the registration; Challenge is to sign.
	Path, Challenge string
}

var (
	registrationRE = regexp.MustCompile(`^\(([A-Za-z0-9 ]*)\)((?:;[a-z_]+="[^"\\]*")*)$`)
	paramRE        = regexp.MustCompile(`;([a-z_]+)="([^"\\]*)"`)
	challengeRE    = regexp.MustCompile(`^"([^"\\]*)";id="([^"\\]*)"$`)
)

// ParseRegistration reads a Secure-Session-Registration header value of the
// forms this project's server sends (one inner list of tokens with string
// parameters per entry, entries separated by commas); ok is false when no
// entry has a path.
func ParseRegistration(v string) (regs []Registration, ok bool) {
	for _, entry := range strings.Split(v, ",") {
		m := registrationRE.FindStringSubmatch(strings.TrimSpace(entry))
		if m == nil {
			continue
		}
		reg := Registration{Algs: strings.Fields(m[1])}
		for _, p := range paramRE.FindAllStringSubmatch(m[2], -1) {
			switch p[1] {
			case "path":
				reg.Path = p[2]
			case "challenge":
				reg.Challenge = p[2]
			}
		}
		if reg.Path != "" {
			regs = append(regs, reg)
		}
	}
	return regs, len(regs) > 0
}

// ParseChallenge reads a Secure-Session-Challenge header value:
// "challenge";id="session identifier".
func ParseChallenge(v string) (challenge, id string, ok bool) {
	m := challengeRE.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// Instructions are the session instructions (JSON) a registration or
// refresh answers with.
type Instructions struct {
	SessionIdentifier string `json:"session_identifier"`
	RefreshURL        string `json:"refresh_url"`
	// Continue is false to end the session; absent means true.
	Continue *bool `json:"continue"`
	Scope    *struct {
		Origin      string `json:"origin"`
		IncludeSite *bool  `json:"include_site"`
	} `json:"scope"`
	Credentials []Credential `json:"credentials"`
}

// Credential is one bound credential of the instructions.
type Credential struct {
	Type       string `json:"type"`
	Name       string `json:"name"`
	Attributes string `json:"attributes"`
}

// ParseInstructions decodes body and checks what the draft requires of it:
// continue false, or a session identifier, a scope with include_site and
// at least one cookie credential with a name.
func ParseInstructions(body []byte) (Instructions, error) {
	var in Instructions
	if err := json.Unmarshal(body, &in); err != nil {
		return in, fmt.Errorf("dbscclient: session instructions are not JSON: %w", err)
	}
	if in.Ended() {
		return in, nil
	}
	if in.SessionIdentifier == "" || in.Scope == nil || in.Scope.IncludeSite == nil || len(in.Credentials) == 0 {
		return in, fmt.Errorf("dbscclient: session instructions lack session_identifier, scope.include_site or credentials")
	}
	for _, c := range in.Credentials {
		if c.Type != "cookie" || c.Name == "" {
			return in, fmt.Errorf("dbscclient: a credential is not a named cookie")
		}
	}
	return in, nil
}

// Ended reports whether the instructions end the session (continue: false).
func (in Instructions) Ended() bool { return in.Continue != nil && !*in.Continue }
