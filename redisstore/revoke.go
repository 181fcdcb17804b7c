package redisstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit"
)

// Unacknowledged deletes (Config.Replicas). A Delete whose WAIT fell short
// has deleted the session on its master only: if that master dies before a
// replica has the delete, the promoted replica brings the session back, a
// log-out or revocation undone. The store therefore remembers such an id
// for Config.RevocationWindow: its own Load, LoadMany and Update treat the
// session as gone meanwhile, and it deletes the session again (with the
// acknowledgement) every revocationRetry until a delete is acknowledged, so
// that a session brought back by a failover is deleted again on the new
// master within that interval. Other processes learn of it only from that
// repeated delete (and its announcement to their caches).

// DefaultRevocationWindow is Config.RevocationWindow's zero value.
const DefaultRevocationWindow = time.Minute

// revocationRetry is how often the unacknowledged deletes are sent again.
const revocationRetry = 250 * time.Millisecond

// revocations are the ids whose delete was not acknowledged, by their
// hash (sessionkit.HashID, so that a session deleted by its stored hash is
// gone for its cookie's id too), each with the id given and the time until
// which it is remembered; running is set while the store's one retry loop
// runs.
type revocations struct {
	mu      sync.Mutex
	until   map[string]revocation
	running bool
}

// revocation is one unacknowledged delete.
type revocation struct {
	id    string
	until time.Time
}

// revoked reports whether id's delete is still unacknowledged.
func (s *Store) revoked(id string) bool {
	s.revs.mu.Lock()
	defer s.revs.mu.Unlock()
	r, ok := s.revs.until[sessionkit.HashID(id)]
	if ok && time.Now().After(r.until) {
		delete(s.revs.until, sessionkit.HashID(id))
		return false
	}
	return ok
}

// forget drops id from the unacknowledged deletes.
func (s *Store) forget(id string) {
	s.revs.mu.Lock()
	delete(s.revs.until, sessionkit.HashID(id))
	s.revs.mu.Unlock()
}

// afterDelete is called with Delete's error: an ErrNotReplicated makes the
// store remember id and delete it again until a delete is acknowledged or
// the window passes; an acknowledged delete ends that.
func (s *Store) afterDelete(id string, err error) {
	if err == nil {
		s.forget(id)
		return
	}
	if !errors.Is(err, ErrNotReplicated) || s.revocationWindow <= 0 {
		return
	}
	s.revs.mu.Lock()
	defer s.revs.mu.Unlock()
	if s.revs.until == nil {
		s.revs.until = map[string]revocation{}
	}
	s.revs.until[sessionkit.HashID(id)] = revocation{id: id, until: time.Now().Add(s.revocationWindow)}
	if !s.revs.running {
		s.revs.running = true
		go s.retryDeletes()
	}
}

// retryDeletes is the store's one retry loop: every revocationRetry it
// deletes each remembered id again, one after the other (so that a Redis
// whose replicas are gone gets one delete per ReplicaTimeout, not a storm),
// forgetting those acknowledged and those whose window passed, and ends
// when none is left.
func (s *Store) retryDeletes() {
	for {
		time.Sleep(revocationRetry)
		s.revs.mu.Lock()
		now := time.Now()
		var ids []string
		for key, r := range s.revs.until {
			if now.After(r.until) {
				delete(s.revs.until, key)
				continue
			}
			ids = append(ids, r.id)
		}
		if len(ids) == 0 {
			s.revs.running = false
			s.revs.mu.Unlock()
			return
		}
		s.revs.mu.Unlock()
		for _, id := range ids {
			ctx, cancel := context.WithTimeout(context.Background(), s.replicaTimeout+time.Second)
			err := s.deleteAcked(ctx, id)
			cancel()
			if err == nil {
				s.logger.Info("redisstore: an unacknowledged delete is now acknowledged", "session", shortID(id))
				s.forget(id)
			}
		}
	}
}

// shortID is the first characters of a session id, for logs.
func shortID(id string) string {
	if len(id) > 6 {
		return id[:6] + "…"
	}
	return id
}
