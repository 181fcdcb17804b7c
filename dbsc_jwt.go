package sessionkit

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// A DBSC proof is a compact JWS (RFC 7515) whose header holds typ
// "dbsc+jwt", alg ES256 or RS256 and, at registration only, the new public
// key as a JWK; its payload holds the challenge as jti. It is checked here
// with the standard library alone: the two algorithms are a few lines
// each, and a general JWT library's options (other algorithms, "none",
// keys from the token at refresh) are what a strict check must refuse.

// maxProofLen bounds the Secure-Session-Response header read: an RS256 proof
// with a 4096-bit key in its header is under 2 KB.
const maxProofLen = 8 << 10

// proofSkew is how far a proof's iat may lie in the future: clocks differ.
const proofSkew = time.Minute

// errProof is wrapped by every refusal of a proof's form or signature.
var errProof = errors.New("sessionkit: DBSC proof refused")

// proof is a parsed, not yet verified, DBSC proof.
type proof struct {
	alg          string
	jwk          json.RawMessage // header's key; nil when absent
	jti          string
	signingInput string
	sig          []byte
}

// parseProof splits and decodes a proof, checking its form: three
// base64url parts, typ dbsc+jwt, alg ES256 or RS256, a string jti, and
// numeric lifetime claims, when present, that hold at now.
func parseProof(token string, now time.Time) (proof, error) {
	token = strings.TrimSpace(token)
	// The header is a structured-field string in the draft; early
	// implementations sent the bare token.
	if len(token) >= 2 && token[0] == '"' && token[len(token)-1] == '"' {
		token = token[1 : len(token)-1]
	}
	if len(token) > maxProofLen {
		return proof{}, fmt.Errorf("%w: longer than %d bytes", errProof, maxProofLen)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return proof{}, fmt.Errorf("%w: not a compact JWS", errProof)
	}
	var header struct {
		Typ string          `json:"typ"`
		Alg string          `json:"alg"`
		JWK json.RawMessage `json:"jwk"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return proof{}, fmt.Errorf("%w: header: %w", errProof, err)
	}
	if header.Typ != "dbsc+jwt" {
		return proof{}, fmt.Errorf("%w: typ %q, want dbsc+jwt", errProof, header.Typ)
	}
	if header.Alg != "ES256" && header.Alg != "RS256" {
		return proof{}, fmt.Errorf("%w: alg %q was not offered", errProof, header.Alg)
	}
	var payload struct {
		JTI *string          `json:"jti"`
		IAT *json.RawMessage `json:"iat"`
		EXP *json.RawMessage `json:"exp"`
		NBF *json.RawMessage `json:"nbf"`
	}
	if err := decodeSegment(parts[1], &payload); err != nil {
		return proof{}, fmt.Errorf("%w: payload: %w", errProof, err)
	}
	if payload.JTI == nil || *payload.JTI == "" {
		return proof{}, fmt.Errorf("%w: no jti", errProof)
	}
	if err := checkLifetimes(payload.IAT, payload.EXP, payload.NBF, now); err != nil {
		return proof{}, err
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil {
		return proof{}, fmt.Errorf("%w: signature is not base64url", errProof)
	}
	p := proof{alg: header.Alg, jti: *payload.JTI, signingInput: parts[0] + "." + parts[1], sig: sig}
	if len(header.JWK) > 0 && !bytes.Equal(header.JWK, []byte("null")) {
		p.jwk = header.JWK
	}
	return p, nil
}

// checkLifetimes checks the optional claims the draft does not require
// but a proof may carry: iat not in the future, exp not past, nbf reached.
// Each must be a NumericDate when present.
func checkLifetimes(iat, exp, nbf *json.RawMessage, now time.Time) error {
	claim := func(name string, raw *json.RawMessage) (time.Time, bool, error) {
		if raw == nil {
			return time.Time{}, false, nil
		}
		var sec float64
		if err := json.Unmarshal(*raw, &sec); err != nil {
			return time.Time{}, false, fmt.Errorf("%w: %s is not a number", errProof, name)
		}
		return time.Unix(int64(sec), 0), true, nil
	}
	if t, ok, err := claim("iat", iat); err != nil {
		return err
	} else if ok && t.After(now.Add(proofSkew)) {
		return fmt.Errorf("%w: iat is in the future", errProof)
	}
	if t, ok, err := claim("exp", exp); err != nil {
		return err
	} else if ok && !t.After(now.Add(-proofSkew)) {
		return fmt.Errorf("%w: expired", errProof)
	}
	if t, ok, err := claim("nbf", nbf); err != nil {
		return err
	} else if ok && t.After(now.Add(proofSkew)) {
		return fmt.Errorf("%w: not valid yet (nbf)", errProof)
	}
	return nil
}

func decodeSegment(seg string, dst any) error {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return errors.New("not base64url")
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return errors.New("not a JSON object")
	}
	return nil
}

// verify checks the proof's signature with the public key jwk (the
// binding's), which must be a key for the proof's alg.
func (p proof) verify(alg string, jwk json.RawMessage) error {
	if p.alg != alg {
		return fmt.Errorf("%w: signed with %s, the key is %s", errProof, p.alg, alg)
	}
	key, err := parseJWK(alg, jwk)
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte(p.signingInput))
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		// JWS ES256 signatures are r||s, 32 bytes each, not ASN.1.
		if len(p.sig) != 64 {
			return fmt.Errorf("%w: ES256 signature of %d bytes", errProof, len(p.sig))
		}
		r, s := new(big.Int).SetBytes(p.sig[:32]), new(big.Int).SetBytes(p.sig[32:])
		if !ecdsa.Verify(k, digest[:], r, s) {
			return fmt.Errorf("%w: bad signature", errProof)
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], p.sig); err != nil {
			return fmt.Errorf("%w: bad signature", errProof)
		}
	}
	return nil
}

// RSA keys outside these bounds are refused: smaller ones are weak, larger
// ones make each verification cost what an attacker chooses.
const (
	minRSABits = 2048
	maxRSABits = 4096
)

// jwkFields are the members of the JWKs a proof may carry.
type jwkFields struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

// parseJWK returns the public key in jwk, which must suit alg: a P-256 EC
// key for ES256, an RSA key of 2048 to 4096 bits for RS256.
func parseJWK(alg string, jwk json.RawMessage) (crypto.PublicKey, error) {
	var f jwkFields
	if err := json.Unmarshal(jwk, &f); err != nil {
		return nil, fmt.Errorf("%w: jwk is not a JSON object", errProof)
	}
	b64 := base64.RawURLEncoding.Strict()
	switch {
	case alg == "ES256" && f.Kty == "EC" && f.Crv == "P-256":
		x, errX := b64.DecodeString(f.X)
		y, errY := b64.DecodeString(f.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("%w: jwk x and y must be 32 bytes of base64url", errProof)
		}
		point := append(append([]byte{4}, x...), y...)
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return nil, fmt.Errorf("%w: jwk is not a P-256 point", errProof)
		}
		return k, nil
	case alg == "RS256" && f.Kty == "RSA":
		n, errN := b64.DecodeString(f.N)
		e, errE := b64.DecodeString(f.E)
		if errN != nil || errE != nil || len(n) == 0 || n[0] == 0 || len(e) == 0 || len(e) > 4 || e[0] == 0 {
			return nil, fmt.Errorf("%w: jwk n and e must be unpadded base64url integers", errProof)
		}
		k := &rsa.PublicKey{N: new(big.Int).SetBytes(n)}
		for _, b := range e {
			k.E = k.E<<8 | int(b)
		}
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, fmt.Errorf("%w: RSA key of %d bits, want %d to %d", errProof, bits, minRSABits, maxRSABits)
		}
		if k.E < 3 || k.E%2 == 0 || k.E > 1<<31-1 {
			return nil, fmt.Errorf("%w: RSA exponent %d", errProof, k.E)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%w: a %s proof needs %s, got kty %q crv %q", errProof, alg, wantKey(alg), f.Kty, f.Crv)
}

func wantKey(alg string) string {
	if alg == "ES256" {
		return "an EC P-256 key"
	}
	return "an RSA key"
}

// canonicalJWK returns the key's public members only, in a fixed order: what
// the session keeps.
func canonicalJWK(jwk json.RawMessage) (json.RawMessage, error) {
	var f jwkFields
	if err := json.Unmarshal(jwk, &f); err != nil {
		return nil, fmt.Errorf("%w: jwk is not a JSON object", errProof)
	}
	return json.Marshal(f)
}
