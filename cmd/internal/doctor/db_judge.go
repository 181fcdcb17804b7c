package doctor

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sessionkit/sessionkit/pgstore"
)

// judgeTable turns one table's measurement into findings.
func judgeTable(t sessTable, m *measurement) []Finding {
	j := judge{t: t, st: m.stats, sec: sectionOf(t)}
	j.rows()
	j.pruning(m.oldestExpired, m.rowsDeleted)
	j.expireIndex(m.expireIndexes)
	j.sidIndex(m.sidIndexes)
	j.size(m.lastAutovacuum)
	j.anonymous(m.anonymousKeys)
	j.perUser()
	j.unread(m.expressRows)
	j.creation()
	return j.out
}

// judge turns a table's measurements into findings.
type judge struct {
	t   sessTable
	st  *TableStats
	sec string
	out []Finding
}

func (j *judge) add(id string, s Status, title string, ev []string, fix string) {
	if s == Pass || s == Info {
		fix = ""
	}
	if ev == nil {
		ev = []string{}
	}
	j.out = append(j.out, Finding{ID: id, Section: j.sec, Status: s, Title: title, Evidence: ev, Fix: fix})
}

func writeRateFinding(t sessTable, st *TableStats, d time.Duration) Finding {
	ev := []string{
		fmt.Sprintf("over %s: %.2f inserts/s, %.2f updates/s, %.2f deletes/s (PostgreSQL's statistics, which lag up to a second or so)", d, *st.InsertsPerSec, *st.UpdatesPerSec, *st.DeletesPerSec),
		"inserts are new sessions; " +
			"if they track your request rate, sessions are created per request (anonymous saves or cookies not sticking)",
		"updates close to your request rate mean a write on every request " +
			"(express-session resave: true, or a touch per request without a threshold)",
	}
	return Finding{ID: "db.writes", Section: sectionOf(t), Status: Info, Title: fmt.Sprintf("%.2f inserts/s and %.2f updates/s", *st.InsertsPerSec, *st.UpdatesPerSec), Evidence: ev}
}

func pct(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func humanAge(secs float64) string {
	d := time.Duration(secs * float64(time.Second))
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.0f days", d.Hours()/24)
	case d >= 2*time.Hour:
		return fmt.Sprintf("%.0f hours", d.Hours())
	default:
		return d.Round(time.Second).String()
	}
}

func (j *judge) rows() {
	st := j.st
	cols := make([]string, 0, len(j.t.cols))
	for _, c := range []string{"sid", "sess", "expire", "created_at"} {
		if ty, ok := j.t.cols[c]; ok {
			cols = append(cols, c+" "+ty)
		}
	}
	ev := []string{"recognised as " + st.Kind + " (" + strings.Join(cols, ", ") + ")"}
	if _, own := j.t.cols["created_at"]; !own {
		// pgstore's rule (pgstore.LayoutConnectPgSimple): no created_at.
		ev = append(ev, "sessionkit serve can share it with express-session as it is (no DDL): SESSION_TABLE="+j.t.label())
	}
	j.add("db.rows", Info, fmt.Sprintf("%s: %d live, %d expired", plural(st.Rows, "row"), st.Rows-st.Expired, st.Expired), ev, "")
}

func (j *judge) pruning(oldest *float64, tupDel int64) {
	st := j.st
	q := j.t.ident()
	fix := fmt.Sprintf("Run the store's pruning in a process that stays up: "+
		"connect-pg-simple prunes every 15 minutes unless pruneSessionInterval is false "+
		"(serverless functions never live long enough to run it); sessionkit: Config.PruneInterval. "+
		"Or schedule it (cron, pg_cron):\nDELETE FROM %s WHERE expire < now();  -- in batches on a big table", q)
	if st.Expired == 0 {
		j.add("db.prune", Pass, "no expired rows: pruning keeps up", nil, "")
		return
	}
	age := 0.0
	if oldest != nil {
		age = *oldest
	}
	ev := []string{
		fmt.Sprintf("%d of %s (%.0f%%) are expired but still present; the oldest expired %s ago", st.Expired, plural(st.Rows, "row"), pct(st.Expired, st.Rows), humanAge(age)),
		fmt.Sprintf("rows deleted since statistics were reset: %d", tupDel),
	}
	switch {
	case age < 3600:
		j.add("db.prune", Pass, "expired rows are recent: within a normal pruning interval", ev, "")
	case age >= 24*3600 || st.Expired*2 >= st.Rows:
		j.add("db.prune", Fail, fmt.Sprintf("pruning is not running: %d expired rows, the oldest %s past expiry", st.Expired, humanAge(age)), ev, fix)
	default:
		j.add("db.prune", Warn, fmt.Sprintf("pruning lags: expired rows up to %s old", humanAge(age)), ev, fix)
	}
}

func (j *judge) expireIndex(names []string) {
	if len(names) > 0 {
		j.add("db.expire-index", Pass, "an index on expire exists ("+strings.Join(names, ", ")+")", nil, "")
		return
	}
	// The store's own name, so that its migration later finds this index.
	idx := pgx.Identifier{pgstore.ExpireIndexName(j.t.name)}.Sanitize()
	j.add("db.expire-index", Fail, "no index on expire: every prune (DELETE … WHERE expire < now()) scans the whole table",
		[]string{"no valid index whose first column is expire"},
		fmt.Sprintf("CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (expire);", idx, j.t.ident()))
}

func (j *judge) sidIndex(names []string) {
	if len(names) > 0 {
		j.add("db.sid-index", Pass, "sid is unique ("+strings.Join(names, ", ")+")", nil, "")
		return
	}
	j.add("db.sid-index", Warn, "no unique index on sid: every session load scans the table and duplicate ids are possible", nil,
		fmt.Sprintf("ALTER TABLE %s ADD PRIMARY KEY (sid);", j.t.ident()))
}

func (j *judge) size(lastAutovac *time.Time) {
	st := j.st
	ev := []string{
		fmt.Sprintf("total %s: table %s, indexes %s", humanBytes(st.TotalBytes), humanBytes(st.TableBytes), humanBytes(st.IndexBytes)),
		fmt.Sprintf("PostgreSQL's estimates: %d live tuples, %d dead", st.LiveTuples, st.DeadTuples),
	}
	if lastAutovac != nil {
		ev = append(ev, "last autovacuum "+lastAutovac.UTC().Format(time.RFC3339))
	} else {
		ev = append(ev, "never autovacuumed since statistics were reset")
	}
	dead := st.DeadTuples
	if dead > 1000 && pct(dead, dead+st.LiveTuples) > 20 {
		stop := "Stop writing the session on every request (express-session resave: false; " +
			"touch only after part of the lifetime has passed)"
		if st.Kind != "sessionkit" {
			// resave: false is the usual setting already; the store's touch
			// is the write left.
			stop = "Stop writing the session on every request: express-session resave: false, " +
				"and connect-pg-simple's touch, " +
				"which updates expire on every request that reads an unchanged session even with resave: false, " +
				"off with disableTouch: true in the store's options " +
				"(the row then expires maxAge after its last save, so keep rolling: false)"
		}
		j.add("db.bloat", Warn, fmt.Sprintf("%.0f%% of the table is dead tuples: writes outpace autovacuum", pct(dead, dead+st.LiveTuples)), ev,
			fmt.Sprintf("%s; let autovacuum catch up, or run VACUUM (ANALYZE) %s;", stop, j.t.ident()))
		return
	}
	j.add("db.bloat", Pass, fmt.Sprintf("%s on disk, %s", humanBytes(st.TotalBytes), plural(dead, "dead tuple")), ev, "")
}

func (j *judge) anonymous(topKeys []string) {
	st := j.st
	if st.Rows == 0 {
		j.add("db.anonymous", Info, "the table is empty", nil, "")
		return
	}
	var found []string
	for _, k := range sortedKeys(st.UserKeys) {
		found = append(found, fmt.Sprintf("%s (%s)", k, plural(st.UserKeys[k], "row")))
	}
	keys := "none of the login keys (" + strings.Join(defaultUserKeys, ", ") + ") was found; name yours with --user-key"
	if len(found) > 0 {
		keys = "login marked by: " + strings.Join(found, ", ")
	}
	ev := []string{
		fmt.Sprintf("%d of %s (%.0f%%) carry no login; %d (%.0f%%) hold nothing but the cookie", st.Anonymous, plural(st.Rows, "row"), pct(st.Anonymous, st.Rows), st.Empty, pct(st.Empty, st.Rows)),
		keys,
	}
	if len(topKeys) > 0 {
		ev = append(ev, "keys in the rows without a login: "+strings.Join(topKeys, ", "))
	}
	switch {
	case pct(st.Empty, st.Rows) > 50:
		j.add("db.anonymous", Fail, fmt.Sprintf("%.0f%% of the sessions are empty: the server saves a session for every anonymous hit (saveUninitialized)", pct(st.Empty, st.Rows)), ev,
			"Create a session only when something is stored in it: express-session saveUninitialized: false; "+
				"sessionkit does this by default. "+
				"Keep health checks, bots and static files out of the session middleware. "+
				"Then delete the empty rows:\nDELETE FROM "+j.t.ident()+" WHERE (sess::jsonb - 'cookie') = '{}'::jsonb;")
	case pct(st.Anonymous, st.Rows) > 50:
		j.add("db.anonymous", Warn, fmt.Sprintf("%.0f%% of the sessions carry no login", pct(st.Anonymous, st.Rows)), ev,
			"If anonymous sessions are deliberate (carts, consent), fine; "+
				"otherwise create sessions only at login. If logins use another key, pass it with --user-key.")
	default:
		j.add("db.anonymous", Pass, fmt.Sprintf("%.0f%% of the sessions carry a login", 100-pct(st.Anonymous, st.Rows)), ev, "")
	}
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (j *judge) perUser() {
	st := j.st
	if st.Users == 0 {
		j.add("db.per-user", Info, "no live logged-in sessions to count per user", nil, "")
		return
	}
	ev := []string{fmt.Sprintf("live logged-in sessions belong to %s: %.1f per user on average, at most %d", plural(st.Users, "user"), st.AvgPerUser, st.MaxPerUser)}
	const fix = "Many sessions per user mean logins do not stick: the browser drops or never sends the cookie, " +
		"or instances reject each other's (different secrets), so users log in again and again. " +
		"Run `sessionkit doctor http` against the site; also destroy the session on logout."
	switch {
	case st.AvgPerUser > 20:
		j.add("db.per-user", Fail, fmt.Sprintf("%.0f sessions per user on average: logins are not sticking", st.AvgPerUser), ev, fix)
	case st.AvgPerUser > 5 || st.MaxPerUser > 25:
		j.add("db.per-user", Warn, fmt.Sprintf("up to %d sessions for one user (%.1f on average)", st.MaxPerUser, st.AvgPerUser), ev, fix)
	default:
		j.add("db.per-user", Pass, fmt.Sprintf("%.1f sessions per user on average, at most %d", st.AvgPerUser, st.MaxPerUser), ev, "")
	}
}

func (j *judge) creation() {
	st := j.st
	if st.CreatedFrom == "" {
		j.add("db.creation", Info, "creation rate cannot be known: no created_at column and no cookie.originalMaxAge in sess", nil, "")
		return
	}
	ev := []string{fmt.Sprintf("created in the last hour: %d; in the last 24 hours: %d (%.1f per hour)", st.CreatedLastHour, st.CreatedLastDay, float64(st.CreatedLastDay)/24)}
	if st.CreatedLastDay > 0 {
		ev = append(ev, fmt.Sprintf("of the last 24 hours' sessions: %d anonymous, %d logged in", st.CreatedLastDayAnonymous, st.CreatedLastDay-st.CreatedLastDayAnonymous))
	}
	if st.CreatedFrom != "created_at" {
		ev = append(ev, "estimated as expire minus the cookie's originalMaxAge: for sessions whose expiry is refreshed "+
			"(rolling, touch) this is the last activity, not the creation")
	}
	j.add("db.creation", Info, fmt.Sprintf("%s created in the last hour, %d in the last 24 hours", plural(st.CreatedLastHour, "session"), st.CreatedLastDay), ev, "")
}
