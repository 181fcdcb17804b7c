package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Status is a finding's verdict.
type Status string

const (
	// Pass means the check found nothing wrong.
	Pass Status = "PASS"
	// Warn means something works but is fragile, wasteful or weaker than it
	// should be.
	Warn Status = "WARN"
	// Fail means something is broken: sessions are lost, leak or cost rows.
	Fail Status = "FAIL"
	// Info is a measurement with no verdict (row counts, rates).
	Info Status = "INFO"
)

// Finding is one check's result.
type Finding struct {
	// ID is stable across releases, for programs: "login.secure",
	// "db.expire-index", ….
	ID string `json:"id"`
	// Section groups findings in the human report ("Login cookie", or the
	// table name for doctor db).
	Section string `json:"section"`
	Status  Status `json:"status"`
	// Title says what was found in one line, naming the cause when it is a
	// WARN or FAIL.
	Title string `json:"title"`
	// Evidence lists what was observed. Cookie values and session ids appear
	// only as short prefixes.
	Evidence []string `json:"evidence"`
	// Fix says what to change; empty for PASS and INFO.
	Fix string `json:"fix,omitempty"`
}

// Summary counts findings by status.
type Summary struct {
	// Status is the worst status: FAIL, WARN or PASS.
	Status string `json:"status"`
	Pass   int    `json:"pass"`
	Warn   int    `json:"warn"`
	Fail   int    `json:"fail"`
	Info   int    `json:"info"`
}

// Report is the result of one doctor run, what --json prints.
type Report struct {
	// Kind is "http", "db" or "redis".
	Kind string `json:"kind"`
	// Target is the URL examined; a database URL never includes its password.
	Target   string    `json:"target"`
	Findings []Finding `json:"findings"`
	Summary  Summary   `json:"summary"`
	// Browser says, for doctor http, what judged the cookies: headless
	// Chromium ("headless Chromium (Chrome/156.0…)") or the doctor's model.
	Browser string `json:"browser,omitempty"`
	// Tables holds doctor db's measurements per session table.
	Tables []TableStats `json:"tables,omitempty"`
	// Redis holds doctor redis's measurements per key layout, and
	// RedisServers what it read of each server (each master of a cluster).
	Redis        []RedisStats  `json:"redis,omitempty"`
	RedisServers []RedisServer `json:"redisServers,omitempty"`
}

// add appends a finding.
func (r *Report) add(f Finding) {
	if f.Evidence == nil {
		f.Evidence = []string{}
	}
	r.Findings = append(r.Findings, f)
}

// finish computes the summary.
func (r *Report) finish() {
	s := Summary{}
	for _, f := range r.Findings {
		switch f.Status {
		case Pass:
			s.Pass++
		case Warn:
			s.Warn++
		case Fail:
			s.Fail++
		case Info:
			s.Info++
		}
	}
	switch {
	case s.Fail > 0:
		s.Status = string(Fail)
	case s.Warn > 0:
		s.Status = string(Warn)
	default:
		s.Status = string(Pass)
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	r.Summary = s
}

// Failed reports whether any finding is a FAIL.
func (r *Report) Failed() bool { return r.Summary.Fail > 0 }

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ANSI colours, used only when the output is a terminal.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

// WriteText writes the human report: findings grouped by section in the
// order they were found, each with its evidence and fix. color adds ANSI
// colours.
func (r *Report) WriteText(w io.Writer, color bool) error {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	statusCode := map[Status]string{Pass: ansiGreen, Warn: ansiYellow, Fail: ansiRed + ansiBold, Info: ansiCyan}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", paint(ansiBold, "sessionkit doctor "+r.Kind+" "+r.Target))
	if r.Browser != "" {
		fmt.Fprintf(&b, "%s\n", paint(ansiDim, "browser: "+r.Browser))
	}
	section := "\x00"
	for _, f := range r.Findings {
		if f.Section != section {
			section = f.Section
			fmt.Fprintf(&b, "\n%s\n", paint(ansiBold, section))
		}
		fmt.Fprintf(&b, "  %s  %s\n", paint(statusCode[f.Status], string(f.Status)), f.Title)
		for _, e := range f.Evidence {
			for i, line := range strings.Split(e, "\n") {
				lead := "- "
				if i > 0 {
					lead = "  "
				}
				fmt.Fprintf(&b, "        %s\n", paint(ansiDim, lead+line))
			}
		}
		if f.Fix != "" {
			for i, line := range strings.Split(f.Fix, "\n") {
				lead := "fix: "
				if i > 0 {
					lead = "     "
				}
				fmt.Fprintf(&b, "        %s%s\n", paint(ansiBold, lead), line)
			}
		}
	}
	s := r.Summary
	fmt.Fprintf(&b, "\n%s: %d FAIL, %d WARN, %d PASS, %d INFO\n",
		paint(statusCode[Status(s.Status)], s.Status), s.Fail, s.Warn, s.Pass, s.Info)
	_, err := io.WriteString(w, b.String())
	return err
}

// Redact shortens a cookie value or session id to what may be shown: the
// "s:"/"s%3A" prefix of a signed express-session value, then at most six
// characters of the id, then an ellipsis and the full length.
func Redact(v string) string {
	prefix := ""
	for _, p := range []string{"s%3A", "s%3a", "s:"} {
		if strings.HasPrefix(v, p) {
			prefix, v = p, v[len(p):]
			break
		}
	}
	if v == "" {
		return prefix + `""`
	}
	// Already redacted (a debug endpoint's "[redacted]" or "abc…"): keep it.
	if p, ok := truncated(v); ok && len(p) <= 6 || strings.Contains(strings.ToLower(v), "redacted") && len(v) <= 12 {
		return prefix + v
	}
	n := len(prefix) + len(v)
	if len(v) > 6 {
		v = v[:6]
	}
	return fmt.Sprintf("%s%s… (%d chars)", prefix, v, n)
}

// redactCookieHeader redacts every value in a Cookie header.
func redactCookieHeader(h string) string {
	if h == "" {
		return "(none)"
	}
	parts := strings.Split(h, ";")
	for i, p := range parts {
		name, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			parts[i] = Redact(name)
			continue
		}
		parts[i] = name + "=" + Redact(val)
	}
	return strings.Join(parts, "; ")
}

// redactSetCookie shows a Set-Cookie header with its value redacted and its
// attributes as sent.
func redactSetCookie(raw string) string {
	pair, attrs, _ := strings.Cut(raw, ";")
	name, val, ok := strings.Cut(pair, "=")
	if !ok {
		return Redact(strings.TrimSpace(pair)) + ";" + attrs
	}
	s := strings.TrimSpace(name) + "=" + Redact(strings.TrimSpace(val))
	if strings.TrimSpace(attrs) != "" {
		s += ";" + attrs
	}
	return s
}

// sessionID extracts the session id from an express-session style signed
// value ("s:<id>.<sig>", possibly URL-encoded), or returns the whole value
// for an opaque cookie. signed reports which.
func sessionID(v string) (id string, signed bool) {
	var rest string
	switch {
	case strings.HasPrefix(v, "s%3A"), strings.HasPrefix(v, "s%3a"):
		rest = v[4:]
	case strings.HasPrefix(v, "s:"):
		rest = v[2:]
	default:
		return v, false
	}
	i := strings.LastIndex(rest, ".")
	if i <= 0 {
		return v, false
	}
	return rest[:i], true
}
