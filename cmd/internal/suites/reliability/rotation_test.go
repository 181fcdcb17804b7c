package reliability

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	rotationBrowsers = 90
	rotationWorkers  = 16
)

// TestRollingSecretRotation restarts three instances one by one from
// SESSION_SECRET=old to new,old (the first signs, both verify), then one by
// one to new, while browsers keep reading through the balancer. Every answer
// is judged by the secrets of the process that gave it: an instance holding
// the secret that signed the browser's cookie must answer 200, one that does
// not may only answer 401. No browser is logged out before the old secret is
// dropped; the figures show when cookies moved to the new secret.
func TestRollingSecretRotation(t *testing.T) {
	rep := newReport(t, "Rolling secret rotation [old] → [new,old] → [new]",
		fmt.Sprintf("3 instances restarted one by one, twice; %d browsers reading through the balancer throughout", rotationBrowsers),
		"6 graceful restarts (SIGTERM), secrets changed")
	rollingSecretRotation(t, rep, newDatabase(t))
}

// TestRollingSecretRotationCached is the rotation with SESSION_CACHE=on in
// every instance: the same judgement holds while each instance answers the
// sessions it read before from its cache.
func TestRollingSecretRotationCached(t *testing.T) {
	rep := newReport(t, "Rolling secret rotation [old] → [new,old] → [new] (session cache on)",
		fmt.Sprintf("3 instances with SESSION_CACHE=on restarted one by one, twice; %d browsers reading through the balancer throughout", rotationBrowsers),
		"6 graceful restarts (SIGTERM), secrets changed")
	rollingSecretRotation(t, rep, newCachedDatabase(t))
}

func rollingSecretRotation(t *testing.T, rep *scenarioReport, db *database) {
	const oldS, newS = secretA, secretB
	emails := db.addUsers(t, rotationBrowsers)
	lb := newBalancer(t)

	var mu sync.Mutex
	secretsOf := map[string][]string{} // process name → its secrets
	generation := 0
	start := func(slot int, secrets ...string) *instance {
		mu.Lock()
		generation++
		name := fmt.Sprintf("instance-%d/gen-%d", slot, generation)
		secretsOf[name] = secrets
		mu.Unlock()
		return startInstance(t, name, db.env(map[string]string{"SESSION_SECRET": strings.Join(secrets, ",")}))
	}
	instances := make([]*instance, 3)
	for i := range instances {
		instances[i] = start(i, oldS)
		lb.add(instances[i].name, instances[i].url)
	}
	client := newClient(t)
	browsers := newBrowsers(client, lb.URL(), emails)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var errs errorf
	parallel(rotationWorkers, len(browsers), func(i int) {
		if ex := browsers[i].login(ctx); ex.err != nil || ex.status != http.StatusOK || !signedWith(ex.setCookie, oldS) {
			errs.add("browser %d login under [old]: status %d, err %v, cookie signed by old: %t", i, ex.status, ex.err, signedWith(ex.setCookie, oldS))
		}
	})
	errs.check(t)
	if t.Failed() {
		return
	}

	// step counts one stage's answers.
	type step struct {
		name                   string
		ok, refused, resigned  atomic.Int64
		onNew                  int
		refusedOld, refusedNew atomic.Int64
	}
	var steps []*step
	// judge checks one read against the answering process's secrets.
	judge := func(st *step, b *browser, sent string, ex exchange) {
		signer := "?"
		switch {
		case signedWith(sent, oldS):
			signer = "old"
		case signedWith(sent, newS):
			signer = "new"
		}
		mu.Lock()
		held, known := secretsOf[ex.backend]
		mu.Unlock()
		holds := (signer == "old" && slices.Contains(held, oldS)) || (signer == "new" && slices.Contains(held, newS))
		if ex.setCookie != "" {
			st.resigned.Add(1)
			if !signedWith(ex.setCookie, newS) || !slices.Contains(held, newS) || held[0] != newS {
				errs.add("%s: browser %d got a cookie not signed by %s's first secret", st.name, b.n, ex.backend)
			}
		}
		switch {
		case ex.err != nil:
			errs.add("%s: browser %d: %v", st.name, b.n, ex.err)
		case !known:
			errs.add("%s: browser %d: answer from unknown backend %q", st.name, b.n, ex.backend)
		case ex.status == http.StatusOK && holds && userEmail(ex.body) == b.email:
			st.ok.Add(1)
		case ex.status == http.StatusUnauthorized && !holds:
			st.refused.Add(1)
			if signer == "old" {
				st.refusedOld.Add(1)
			} else {
				st.refusedNew.Add(1)
			}
		default:
			errs.add("%s: browser %d (cookie signed by %s) got %d from %s holding %d secret(s), holds the signer: %t",
				st.name, b.n, signer, ex.status, ex.backend, len(held), holds)
		}
	}
	// pass makes every browser read once.
	pass := func(st *step) {
		parallel(rotationWorkers, len(browsers), func(i int) {
			b := browsers[i]
			sent := b.cookie
			judge(st, b, sent, b.user(ctx))
		})
	}
	// during keeps browsers reading while f runs, then makes one more full
	// pass, so every browser is judged after the change too.
	during := func(name string, f func()) *step {
		st := &step{name: name}
		stop := make(chan struct{})
		reading := make(chan struct{})
		go func() {
			defer close(reading)
			untilStopped(stop, rotationWorkers, len(browsers), 1000, func(_, i int) {
				b := browsers[i]
				sent := b.cookie
				judge(st, b, sent, b.user(ctx))
			})
		}()
		f()
		close(stop)
		<-reading
		pass(st)
		for _, b := range browsers {
			if signedWith(b.cookie, newS) {
				st.onNew++
			}
		}
		steps = append(steps, st)
		return st
	}
	restart := func(slot int, secrets ...string) {
		lb.drain(slot)
		if !instances[slot].stop() {
			t.Errorf("%s did not shut down cleanly on SIGTERM: %v", instances[slot].name, instances[slot].err)
		}
		instances[slot] = start(slot, secrets...)
		lb.replace(slot, instances[slot].name, instances[slot].url)
	}

	during("all [old]", func() {})
	var probeStatus int
	for i := range instances {
		during(fmt.Sprintf("roll 1: instance-%d → [new,old]", i), func() { restart(i, newS, oldS) })
		if i == 0 {
			// The mixed window: a log-in on the upgraded instance gets a
			// cookie signed by new, which the instances still on [old]
			// cannot verify. Logging in there now would be logged out.
			probe := &browser{n: -1, email: emails[0], base: instances[0].url, client: client}
			if ex := probe.login(ctx); ex.status != http.StatusOK || !signedWith(ex.setCookie, newS) {
				t.Errorf("probe log-in on [new,old]: status %d, cookie signed by new: %t", ex.status, signedWith(ex.setCookie, newS))
			}
			probe.base = instances[1].url
			probeStatus = probe.user(ctx).status
			if probeStatus != http.StatusUnauthorized {
				t.Errorf("probe: a cookie signed by new got %d from an [old] instance, want 401", probeStatus)
			}
			probe.base = instances[0].url
			probe.logout(ctx)
		}
	}
	// Every instance verifies both secrets: now cookies may move. Half the
	// browsers log in again and get cookies signed by new.
	during("all [new,old]", func() {})
	var relog errorf
	parallel(rotationWorkers, len(browsers)/2, func(i int) {
		b := browsers[2*i]
		if ex := b.login(ctx); ex.status != http.StatusOK || !signedWith(ex.setCookie, newS) {
			relog.add("browser %d log-in under [new,old]: status %d, signed by new: %t", b.n, ex.status, signedWith(ex.setCookie, newS))
		}
	})
	relog.check(t)
	during("all [new,old], half the browsers logged in again", func() {})
	var refusedBeforeDrop int64
	for _, st := range steps {
		refusedBeforeDrop += st.refused.Load()
	}
	for i := range instances {
		during(fmt.Sprintf("roll 2: instance-%d → [new]", i), func() { restart(i, newS) })
	}
	final := steps[len(steps)-1]
	errs.check(t)

	onOld := 0
	for _, b := range browsers {
		if signedWith(b.cookie, oldS) {
			onOld++
		}
	}
	if refusedBeforeDrop != 0 {
		t.Errorf("%d reads refused before the old secret was dropped", refusedBeforeDrop)
	}
	// Once every instance holds only new, exactly the browsers still on an
	// old cookie are logged out.
	if got := final.refused.Load(); final.refusedNew.Load() != 0 || got < int64(onOld) {
		t.Errorf("after the rotation: %d refusals (%d of cookies signed by new), want every one of the %d old cookies refused and no new one",
			got, final.refusedNew.Load(), onOld)
	}
	last := &cluster{instances: instances}
	bad, _ := last.metric(t, `sessionkit_rejected_cookies_total{reason="bad_signature"}`)
	if db.cache {
		// The last generation's figures: each served many reads after its
		// restart, so its cache must have answered some.
		hits, _ := last.metric(t, `sessionkit_cache_lookups_total{result="hit"}`)
		misses, _ := last.metric(t, `sessionkit_cache_lookups_total{result="miss"}`)
		if hits == 0 {
			t.Errorf("the [new] instances made no cache hit (%v misses): is SESSION_CACHE on?", misses)
		}
		rep.add("cache hits / misses of the [new] instances", fmt.Sprintf("%.0f / %.0f", hits, misses))
	}

	var resigned int64
	for _, st := range steps {
		rep.addf(st.name, "%d OK, %d refused (old cookie %d, new cookie %d); cookies signed by new: %d/%d",
			st.ok.Load(), st.refused.Load(), st.refusedOld.Load(), st.refusedNew.Load(), st.onNew, rotationBrowsers)
		resigned += st.resigned.Load()
	}
	rep.add("reads refused before old was dropped", refusedBeforeDrop)
	rep.addf("cookies re-signed by a read", "%d (a cookie moves to new only when one is issued: log-in, or an idle-timeout touch)", resigned)
	rep.addf("log-in during the mixed window, then read on an [old] instance", "%d (why the first roll must finish before anything signs with new)", probeStatus)
	rep.addf("browsers logged out when old was dropped", "%d of %d (those with no log-in since [new,old]); bad signatures counted by the [new] instances: %v", onOld, rotationBrowsers, bad)
	rep.setLost("0 browsers logged out before old was dropped (%d measured); %d when it was, as expected", refusedBeforeDrop, onOld)
}
