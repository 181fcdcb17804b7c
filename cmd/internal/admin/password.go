package admin

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// ErrBadHash is returned for a stored password hash that is neither a
// bcrypt hash ($2a$, $2b$, $2y$) nor an argon2id PHC string.
var ErrBadHash = errors.New("not a bcrypt ($2a$, $2b$, $2y$) or argon2id PHC password hash")

// Argon2id limits an imported hash must stay within: a hash asking for
// more would let one log-in take the server's memory or minutes of CPU.
const (
	maxArgon2Memory  = 1 << 20 // KiB: 1 GiB
	maxArgon2Time    = 16
	maxArgon2Threads = 64
	// maxImportedBcryptCost: cost 16 is already seconds per log-in.
	maxImportedBcryptCost = 16
)

// argon2Params is an argon2id PHC string, decoded:
// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<key>, both in unpadded base64.
type argon2Params struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func parseArgon2id(hash string) (argon2Params, error) {
	var p argon2Params
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return p, fmt.Errorf("%w: want $argon2id$v=19$m=…,t=…,p=…$salt$hash", ErrBadHash)
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return p, fmt.Errorf("%w: argon2id parameter %q", ErrBadHash, kv)
		}
		switch {
		case k == "m" && n <= maxArgon2Memory:
			p.memory = uint32(n)
		case k == "t" && n <= maxArgon2Time:
			p.time = uint32(n)
		case k == "p" && n <= maxArgon2Threads:
			p.threads = uint8(n)
		default:
			return p, fmt.Errorf("%w: argon2id parameter %q unknown or over the limit (m ≤ %d, t ≤ %d, p ≤ %d)",
				ErrBadHash, kv, maxArgon2Memory, maxArgon2Time, maxArgon2Threads)
		}
	}
	if p.memory == 0 || p.time == 0 || p.threads == 0 {
		return p, fmt.Errorf("%w: argon2id needs m, t and p", ErrBadHash)
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return p, fmt.Errorf("%w: argon2id salt", ErrBadHash)
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) < 16 {
		return p, fmt.Errorf("%w: argon2id hash", ErrBadHash)
	}
	return p, nil
}

// CheckHash reports whether hash is a password hash this server can
// verify: bcrypt ($2a$, $2b$, $2y$) or argon2id (PHC string, version 19).
func CheckHash(hash string) error {
	if strings.HasPrefix(hash, "$argon2id$") {
		_, err := parseArgon2id(hash)
		return err
	}
	if len(hash) < 4 || hash[0] != '$' || hash[1] != '2' || !strings.ContainsRune("aby", rune(hash[2])) || hash[3] != '$' {
		return ErrBadHash
	}
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil || len(hash) != 60 {
		return fmt.Errorf("%w: a bcrypt hash is 60 characters, $2b$NN$ and 53 of salt and hash", ErrBadHash)
	}
	if cost > maxImportedBcryptCost {
		return fmt.Errorf("%w: bcrypt cost %d is over %d", ErrBadHash, cost, maxImportedBcryptCost)
	}
	return nil
}

// PasswordCheck is the outcome of VerifyPassword.
type PasswordCheck struct {
	// Match is whether the password is the hash's.
	Match bool
	// Rehash is whether a matching password's hash should be replaced by
	// one at the current bcrypt cost: it is argon2id, or bcrypt at another
	// cost (an imported hash, or BCRYPT_COST changed).
	Rehash bool
	// Work is the bcrypt work done, in units of one bcrypt round at cost 0
	// (2^cost per hash at that cost): what makes two checks take the same
	// time, observable without a clock.
	Work int64
}

// VerifyPassword checks password against hash (a bcrypt or argon2id hash;
// anything else matches nothing) so that it costs at least as much bcrypt
// work as one hash at cost, whatever the hash's own cost: a user hashed at
// a lower cost, or with argon2id, must not answer faster than one at the
// current cost, or the time would tell which emails exist (an unknown one
// is compared with a dummy hash at cost). A bcrypt hash at cost c < cost is
// followed by dummy hashes at costs c … cost-1, which add up to exactly the
// difference (2^cost − 2^c); argon2id, whose cost is not bcrypt's, by one
// at cost. dummy is a bcrypt hash at cost (any password).
func VerifyPassword(hash, password string, cost int, dummy []byte) PasswordCheck {
	var c PasswordCheck
	spend := func(from int) { // bcrypt work at costs from … cost-1
		for k := from; k < cost; k++ {
			h := dummyAt(dummy, k)
			_ = bcrypt.CompareHashAndPassword(h, []byte(password))
			c.Work += 1 << k
		}
	}
	if strings.HasPrefix(hash, "$argon2id$") {
		if p, err := parseArgon2id(hash); err == nil {
			key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
			c.Match = subtle.ConstantTimeCompare(key, p.key) == 1
			c.Rehash = c.Match
		}
		_ = bcrypt.CompareHashAndPassword(dummy, []byte(password))
		c.Work += 1 << cost
		return c
	}
	stored, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		// Not a hash (a disabled user's, or junk): the dummy's work.
		_ = bcrypt.CompareHashAndPassword(dummy, []byte(password))
		c.Work += 1 << cost
		return c
	}
	c.Match = bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
	c.Work += 1 << stored
	c.Rehash = c.Match && stored != cost
	spend(stored)
	return c
}

// dummyAt returns dummy (a bcrypt hash) with its cost field set to k: the
// work of a check at cost k, whatever it compares against.
func dummyAt(dummy []byte, k int) []byte {
	h := append([]byte(nil), dummy...)
	// $2a$NN$: the cost is the two digits at 4 and 5.
	h[4], h[5] = byte('0'+k/10), byte('0'+k%10)
	return h
}
