package sessionkit

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// The two endpoints a DBSC browser talks to. They read the session cookie
// themselves, so they work with or without Middleware around them, and they
// are the only requests a device-bound session serves without its bound
// cookie: the refresh exists to get one.

// DeviceBoundRegistration returns the handler to mount at
// DeviceBoundConfig.RegistrationPath (POST). It binds the request's
// logged-in session to the public key in the browser's signed proof (the
// Secure-Session-Response header), once per log-in: the proof must sign the
// challenge Session.Authenticate offered, unexpired and unused. It answers
// with the session instructions and the first bound cookie. Without
// Config.DeviceBound it answers 404.
func (m *Manager) DeviceBoundRegistration() http.Handler { return http.HandlerFunc(m.registerBound) }

// DeviceBoundRefresh returns the handler to mount at
// DeviceBoundConfig.RefreshPath (POST). A browser whose bound cookie is
// missing or expired asks it for a new one, naming its session in
// Sec-Secure-Session-Id: it answers 403 with a challenge
// (Secure-Session-Challenge), then a new bound cookie for a proof that
// signs it with the session's key. A session that has ended (log-out,
// revocation, a new log-in) answers {"continue": false}, which ends it in
// the browser too. Without Config.DeviceBound it answers 404.
func (m *Manager) DeviceBoundRefresh() http.Handler { return http.HandlerFunc(m.refreshBound) }

// boundSessionOf loads the session the request's cookie names, under the
// same rule as Session.load: exactly one live candidate, or none.
func (m *Manager) boundSessionOf(r *http.Request) (id string, rec Record, found bool, err error) {
	var buf [1]string
	ids, status := m.signer.readSessionCookie(r, m.cfg.Cookie.Name, buf[:0])
	m.noteCookie(r, status)
	switch len(ids) {
	case 0:
		return "", Record{}, false, nil
	case 1:
		if rec, found, err = m.load(r.Context(), ids[0]); err != nil || !found {
			return "", Record{}, false, err
		}
		return ids[0], rec, true, nil
	}
	// Several signed candidates: one batched read, as Session.load does.
	recs, err := m.loadMany(r.Context(), ids)
	if err != nil {
		return "", Record{}, false, err
	}
	for _, c := range ids {
		if got, ok := recs[c]; ok {
			if found {
				return "", Record{}, false, nil // two live sessions: none
			}
			id, rec, found = c, got, true
		}
	}
	return id, rec, found, nil
}

// boundError answers a DBSC request with status and a short reason. A 4xx
// other than 403 makes the browser end its device-bound session; 5xx makes
// it retry later.
func (m *Manager) boundError(w http.ResponseWriter, r *http.Request, status int, reason string, err error) {
	if status >= 500 {
		m.log.Error("sessionkit: DBSC "+reason, "path", r.URL.Path, "err", err)
	}
	http.Error(w, reason, status)
}

// proofRefused answers a refused proof with status and counts it.
func (m *Manager) proofRefused(w http.ResponseWriter, r *http.Request, status int, err error) {
	m.stats.boundProofsRefused.Add(1)
	m.boundError(w, r, status, err.Error(), nil)
}

func (m *Manager) registerBound(w http.ResponseWriter, r *http.Request) {
	if m.dbsc == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	id, rec, found, err := m.boundSessionOf(r)
	switch {
	case err != nil:
		m.boundError(w, r, http.StatusServiceUnavailable, "session store unavailable", err)
		return
	case !found || UserOf(rec.Values) == "":
		m.boundError(w, r, http.StatusUnauthorized, "no logged-in session", nil)
		return
	case isBound(rec.Values):
		// Only the log-in's challenge registers, once: a session bound
		// already keeps its key until the next log-in.
		m.boundError(w, r, http.StatusForbidden, "session already bound", nil)
		return
	}
	now := m.dbsc.now()
	p, err := parseProof(r.Header.Get("Secure-Session-Response"), now)
	if err == nil && p.jwk == nil {
		err = fmt.Errorf("%w: no jwk in the registration proof", errProof)
	}
	if err == nil {
		err = p.verify(p.alg, p.jwk)
	}
	if err != nil {
		m.proofRefused(w, r, http.StatusBadRequest, err)
		return
	}
	if err := m.useChallenge(r, purposeRegister, id, p.jti); err != nil {
		if errors.Is(err, ErrStore) {
			m.boundError(w, r, http.StatusServiceUnavailable, "session store unavailable", err)
		} else {
			m.proofRefused(w, r, http.StatusForbidden, err)
		}
		return
	}
	jwk, err := canonicalJWK(p.jwk)
	if err != nil {
		m.proofRefused(w, r, http.StatusBadRequest, err)
		return
	}
	b := binding{ID: newBindingID(), Alg: p.alg, JWK: jwk, At: now.Unix()}
	raw, err := json.Marshal(b)
	if err != nil {
		m.boundError(w, r, http.StatusInternalServerError, "encode the binding", err)
		return
	}
	found, err = m.update(r.Context(), id, Patch{Set: map[string]json.RawMessage{DeviceBoundKey: raw}})
	switch {
	case err != nil:
		m.boundError(w, r, http.StatusServiceUnavailable, "session store unavailable", err)
	case !found:
		m.boundError(w, r, http.StatusUnauthorized, "no logged-in session", nil)
	default:
		m.answerBound(w, r, id, b.ID)
	}
}

func (m *Manager) refreshBound(w http.ResponseWriter, r *http.Request) {
	if m.dbsc == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	// Only a browser sends Sec- headers: a cross-site page cannot probe
	// this endpoint for the user's log-in state.
	sid := sfString(r.Header.Get("Sec-Secure-Session-Id"))
	if sid == "" {
		m.boundError(w, r, http.StatusBadRequest, "no Sec-Secure-Session-Id", nil)
		return
	}
	id, rec, found, err := m.boundSessionOf(r)
	if err != nil {
		m.boundError(w, r, http.StatusServiceUnavailable, "session store unavailable", err)
		return
	}
	b, bound := boundOf(rec.Values)
	if !found || !bound || b.ID != sid {
		// Logged out, revoked or logged in again: the browser ends the
		// device-bound session and stops deferring requests for it.
		m.writeCookie(w.Header(), r, m.expiredBoundCookie())
		writeBoundJSON(w, map[string]bool{"continue": false})
		return
	}
	response := r.Header.Get("Secure-Session-Response")
	if response == "" {
		m.challengeBound(w, r, id, sid)
		return
	}
	p, err := parseProof(response, m.dbsc.now())
	if err == nil && p.jwk != nil {
		err = fmt.Errorf("%w: a refresh proof carries no jwk", errProof)
	}
	if err != nil {
		m.proofRefused(w, r, http.StatusBadRequest, err)
		return
	}
	if err := p.verify(b.Alg, b.JWK); err != nil {
		m.log.Warn("sessionkit: security: a DBSC refresh was signed by another key than the session's; refused (a copied session cookie?)",
			"event", "dbsc_wrong_key", "client", m.cfg.TrustedProxies.ClientNetwork(r), "err", err)
		m.proofRefused(w, r, http.StatusUnauthorized, err)
		return
	}
	if err := m.useChallenge(r, purposeRefresh, id, p.jti); err != nil {
		if errors.Is(err, ErrStore) {
			m.boundError(w, r, http.StatusServiceUnavailable, "session store unavailable", err)
			return
		}
		// An old or used challenge: the draft has the browser sign the
		// new one sent with the 403 and try again.
		m.stats.boundProofsRefused.Add(1)
		m.challengeBound(w, r, id, sid)
		return
	}
	m.answerBound(w, r, id, sid)
}

// challengeBound answers 403 with a fresh refresh challenge.
func (m *Manager) challengeBound(w http.ResponseWriter, r *http.Request, id, sid string) {
	w.Header().Set("Secure-Session-Challenge", challengeHeader(m.newChallenge(purposeRefresh, id), sid))
	http.Error(w, "sign the challenge", http.StatusForbidden)
}

func challengeHeader(challenge, sid string) string {
	return `"` + challenge + `";id="` + sid + `"`
}

// sessionInstructions is the JSON a registration or refresh answers with.
type sessionInstructions struct {
	SessionIdentifier string              `json:"session_identifier"`
	RefreshURL        string              `json:"refresh_url"`
	Scope             sessionScope        `json:"scope"`
	Credentials       []sessionCredential `json:"credentials"`
}

type sessionScope struct {
	IncludeSite bool `json:"include_site"`
}

type sessionCredential struct {
	Type       string `json:"type"`
	Name       string `json:"name"`
	Attributes string `json:"attributes"`
}

// answerBound sets a new bound cookie and answers with the session
// instructions, and with the challenge for the next refresh, which spares
// the browser the 403 round trip then.
func (m *Manager) answerBound(w http.ResponseWriter, r *http.Request, id, sid string) {
	m.writeCookie(w.Header(), r, m.boundCookie(id, m.dbsc.now()))
	w.Header().Set("Secure-Session-Challenge", challengeHeader(m.newChallenge(purposeRefresh, id), sid))
	writeBoundJSON(w, sessionInstructions{
		SessionIdentifier: sid,
		RefreshURL:        m.dbsc.cfg.RefreshPath,
		Scope:             sessionScope{IncludeSite: false},
		Credentials:       []sessionCredential{{Type: "cookie", Name: m.dbsc.cfg.CookieName, Attributes: m.dbsc.attrs}},
	})
}

func writeBoundJSON(w http.ResponseWriter, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// sfString returns the content of a structured-field string ("…"), or the
// value itself when it is a bare token; "" for anything else.
func sfString(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if strings.ContainsAny(v, "\"\\") {
		return ""
	}
	return v
}

// newBindingID returns a fresh DBSC session identifier: 128 random bits.
func newBindingID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
