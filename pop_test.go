package sessionkit_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// popApp is app plus POST /pop?k=<key>[&as=int][&late=1]: it pops key as a
// string (or an int), after writing the response headers when late is set,
// and answers "found value" or "absent", or 400 with the error.
func popApp(m *sessionkit.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", app(m))
	pop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		q := r.URL.Query()
		if q.Get("late") != "" {
			w.WriteHeader(http.StatusAccepted)
		}
		var dst any = new(string)
		if q.Get("as") == "int" {
			dst = new(int)
		}
		found, err := s.Pop(q.Get("k"), dst)
		switch {
		case err != nil && q.Get("late") != "":
			fmt.Fprint(w, err.Error())
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
		case found:
			fmt.Fprintf(w, "found %v", *dst.(*string))
		default:
			fmt.Fprint(w, "absent")
		}
	})
	mux.Handle("POST /pop", m.Middleware(pop))
	return mux
}

func TestPop(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, query string
		wantCode    int
		wantBody    string
		// writes is how many store writes the pop makes; stays whether
		// the key is still there afterwards.
		writes int64
		stays  bool
	}{
		{"present", "k=flash", 200, "found saved!", 1, false},
		{"absent", "k=other", 200, "absent", 0, true},
		{"does not decode", "k=flash&as=int", 400, "", 0, true},
		{"after the headers", "k=flash&late=1", http.StatusAccepted, sessionkit.ErrCommitted.Error(), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := memStore(t)
			m, _ := newManager(t, store, nil)
			h := popApp(m)
			c := sessionCookie(do(h, "POST", "/put?k=flash&v=saved!"))
			writes := store.Writes()
			w := do(h, "POST", "/pop?"+tc.query, c)
			if w.Code != tc.wantCode || (tc.wantBody != "" && w.Body.String() != tc.wantBody) {
				t.Fatalf("pop: %d %q, want %d %q", w.Code, w.Body.String(), tc.wantCode, tc.wantBody)
			}
			if got := store.Writes() - writes; got != tc.writes {
				t.Errorf("store writes = %d, want %d", got, tc.writes)
			}
			want := ""
			if tc.stays {
				want = "saved!"
			}
			if got := do(h, "GET", "/get?k=flash", c).Body.String(); got != want {
				t.Errorf("flash after the pop = %q, want %q", got, want)
			}
		})
	}
}

// Of the request's goroutines popping one key, exactly one gets it.
func TestPopOnceAcrossGoroutines(t *testing.T) {
	t.Parallel()
	m, _ := newManager(t, memStore(t), nil)
	var got atomic.Int32
	var failed atomic.Value
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if err := s.Put("flash", "once"); err != nil {
			failed.Store(err)
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var v string
				found, err := s.Pop("flash", &v)
				if err != nil {
					failed.Store(err)
				}
				if found {
					got.Add(1)
				}
			}()
		}
		wg.Wait()
	}))
	do(h, "POST", "/")
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	if n := got.Load(); n != 1 {
		t.Fatalf("%d goroutines popped the flash, want 1", n)
	}
}
