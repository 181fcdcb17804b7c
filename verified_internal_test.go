package sessionkit

import (
	"strings"
	"testing"
)

// TestVerifiedSignatures: a remembered signature changes no answer. The
// same cookie verifies again; the remembered id with another signature is
// checked in full (a forgery is refused, the id signed by an older secret
// still verifies); and the memory stays bounded.
func TestVerifiedSignatures(t *testing.T) {
	current, older := "current-secret-0123456789abcdefghijklmnopqrstuvwxyz", "older-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	s := newSigner([]string{current, older})
	oldOnly := newSigner([]string{older})
	id := newID()
	forged := newSigner([]string{"attacker-secret-0123456789abcdefghijklmnopqrstuvwxyz"}).sign(id)
	for _, step := range []struct {
		name, value string
		want        CookieStatus
	}{
		{"first use", s.sign(id), CookieValid},
		{"remembered", s.sign(id), CookieValid},
		{"forged signature for a remembered id", forged, CookieBadSignature},
		{"older secret's signature for a remembered id", oldOnly.sign(id), CookieValid},
		{"remembered again", s.sign(id), CookieValid},
		{"another id with the remembered signature", strings.Replace(s.sign(id), id, newID(), 1), CookieBadSignature},
	} {
		if got, st := s.verify(step.value); st != step.want || (st == CookieValid && got != id) {
			t.Errorf("%s: verify = %q, %v; want %v", step.name, got, st, step.want)
		}
	}
	for range maxVerified + 10 {
		if _, st := s.verify(s.sign(newID())); st != CookieValid {
			t.Fatal(st)
		}
	}
	n := 0
	s.verified.m.Range(func(any, any) bool { n++; return true })
	if n > maxVerified {
		t.Errorf("%d signatures remembered, bound %d", n, maxVerified)
	}
}
