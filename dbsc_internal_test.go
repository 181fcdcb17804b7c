package sessionkit

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
)

// markers is the least store useChallenge needs: Create, refusing an
// existing id. (memstore cannot be imported here: it imports sessionkit.)
type markers struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (s *markers) Create(_ context.Context, id string, _ Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids[id] {
		return ErrExists
	}
	s.ids[id] = true
	return nil
}

func (s *markers) Load(context.Context, string) (Record, bool, error)  { return Record{}, false, nil }
func (s *markers) Update(context.Context, string, Patch) (bool, error) { return false, nil }
func (s *markers) Delete(context.Context, string) error                { return nil }
func (s *markers) Prune(context.Context, int) (int, error)             { return 0, nil }

// TestChallengePurposes checks that a challenge serves only the purpose and
// the session it was issued for: the refresh endpoint hands refresh
// challenges to whoever shows the session cookie, and one must never
// register another key.
func TestChallengePurposes(t *testing.T) {
	m, err := New(Config{Store: &markers{ids: map[string]bool{}}, Secrets: []string{"0123456789abcdef0123456789abcdef"}, DeviceBound: &DeviceBoundConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/", nil)
	tests := []struct {
		name                 string
		issued, used         string
		issuedFor, presented string
		want                 error
	}{
		{"refresh for refresh", purposeRefresh, purposeRefresh, "a", "a", nil},
		{"register for register", purposeRegister, purposeRegister, "a", "a", nil},
		{"refresh for register", purposeRefresh, purposeRegister, "a", "a", errChallengeInvalid},
		{"register for refresh", purposeRegister, purposeRefresh, "a", "a", errChallengeInvalid},
		{"another session's", purposeRefresh, purposeRefresh, "a", "b", errChallengeInvalid},
		{"not one of ours", "", purposeRefresh, "", "a", errChallengeInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := "bm90IGEgY2hhbGxlbmdlIQ.1999999999.AAAAAAAAAAAAAAAAAAAAAA"
			if tc.issued != "" {
				c = m.newChallenge(tc.issued, tc.issuedFor)
			}
			if err := m.useChallenge(r, tc.used, tc.presented, c); !errors.Is(err, tc.want) {
				t.Fatalf("useChallenge: %v, want %v", err, tc.want)
			}
			if err := m.useChallenge(r, tc.used, tc.presented, c); tc.want == nil && !errors.Is(err, errChallengeUsed) {
				t.Fatalf("second use: %v, want %v", err, errChallengeUsed)
			}
		})
	}
}
