package doctor

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/sessionkit/sessionkit/cmd/internal/server"
)

// TestHTTPDBSC: against serve with DBSC=on, the doctor registers a key,
// finds the session cookie alone refused and refreshes the bound cookie;
// with the registration endpoint missing it says the registration does not
// complete; with DBSC off it says none is offered.
func TestHTTPDBSC(t *testing.T) {
	on := startServe(t, server.Config{DBSC: true})
	tests := []struct {
		name string
		url  string
		want map[string]Status
	}{
		{"on", on.URL, map[string]Status{"dbsc.offered": Pass, "dbsc.registration": Pass, "dbsc.enforced": Pass, "dbsc.refresh": Pass}},
		{"registration missing", brokenRegistration(t, on.URL), map[string]Status{"dbsc.offered": Pass, "dbsc.registration": Fail}},
		{"off", startServe(t, server.Config{}).URL, map[string]Status{"dbsc.offered": Info}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := checkHTTP(t, HTTPOptions{URL: tc.url, LoginBody: []byte(`{"email":"` + serveEmail + `","password":"` + servePassword + `"}`)})
			for id, st := range tc.want {
				expect(t, r, id, st)
			}
			if tc.want["dbsc.registration"] != Fail {
				noFail(t, r)
			}
		})
	}
}

// brokenRegistration is a proxy to target that answers 404 for the
// registration endpoint, as a server that offers DBSC without mounting it.
func brokenRegistration(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dbsc/register" {
			http.NotFound(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}
