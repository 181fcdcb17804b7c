package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
)

// developmentSecret returns the secret New signs with when none is
// configured outside production: the one kept in dataDir, generated on
// first use. It warns, naming the file and the secret's fingerprint (never
// the secret), because instances that do not share it log each other's
// users out.
func developmentSecret(dataDir string, log *slog.Logger) (string, error) {
	secret, created, err := devSecret(dataDir, log)
	if err != nil {
		return "", fmt.Errorf("SESSION_SECRET is not set and the development secret in %s cannot be used: %w", dataDir, err)
	}
	verb := "using the"
	if created {
		verb = "generated a"
	}
	log.Warn(fmt.Sprintf("SESSION_SECRET is not set: %s development secret kept in %s; "+
		"every instance sharing the sessions must use the same secret, "+
		"so set SESSION_SECRET in production",
		verb, dataDir+"/"+SecretFile), "fingerprint", sessionkit.Fingerprint(secret))
	return secret, nil
}

// devSecret returns the development secret kept in dir, creating it (48
// random bytes, base64, mode 0600) if it does not exist. Several processes
// starting at once end up with the same secret: the file is written aside
// and linked into place, which fails for all but the first.
func devSecret(dir string, log *slog.Logger) (secret string, created bool, err error) {
	if err := admin.PrivateDir(dir, log); err != nil {
		return "", false, err
	}
	path := filepath.Join(dir, SecretFile)
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		// Whoever can read it can sign any session cookie.
		return "", false, fmt.Errorf("%s is mode %04o, readable by other users, and it signs every session: "+
			"run chmod 600 %s (or delete it to have a new one generated)", path, fi.Mode().Perm(), path)
	}
	if b, err := os.ReadFile(path); err == nil {
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", false, fmt.Errorf("%s is empty: delete it to have a new secret generated", path)
		}
		return s, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", false, err
	}
	var b [48]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (Go 1.24+)
	secret = base64.StdEncoding.EncodeToString(b[:])
	tmp, err := os.CreateTemp(dir, SecretFile+".*")
	if err != nil {
		return "", false, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", false, err
	}
	if _, err := tmp.WriteString(secret + "\n"); err != nil {
		tmp.Close()
		return "", false, err
	}
	if err := tmp.Close(); err != nil {
		return "", false, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return devSecret(dir, log) // another process won the race
		}
		return "", false, err
	}
	return secret, true, nil
}
