package doctor

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The thresholds of db.unread: logged-in sessions saved at least
// unreadAge ago, at least unreadMin of them, of which unreadShare or more
// were never read since.
const (
	unreadAge   = "1 hour"
	unreadMin   = 10
	unreadShare = 50.0
)

// countUnread counts, among the live logged-in express-session rows (those
// whose sess.cookie holds expires and originalMaxAge), the ones saved more
// than unreadAge ago and, of those, the ones never read since. A request
// that reads an unchanged session makes express-session call the store's
// touch, and connect-pg-simple's touch moves expire past the cookie.expires
// the row was saved with; a row whose expire still equals it (to the
// second, touch rounds up) was never read after its last save. A log-in
// whose Set-Cookie the browser drops leaves exactly such a row.
func (m *measurement) countUnread(ctx context.Context, tx pgx.Tx, t sessTable, p sqlParts) error {
	q := fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE saved < now() - interval '%[1]s'),
  count(*) FILTER (WHERE saved < now() - interval '%[1]s' AND touched <= x + interval '1 second')
FROM (SELECT e AS touched, (s #>> '{cookie,expires}')::timestamptz AS x,
        (s #>> '{cookie,expires}')::timestamptz - (s #>> '{cookie,originalMaxAge}')::float8 * interval '1 millisecond' AS saved
      FROM %[2]s
      WHERE e > now() AND COALESCE(%[3]s, false)
        AND jsonb_typeof(s #> '{cookie,originalMaxAge}') = 'number'
        AND s #>> '{cookie,expires}' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$') u`, unreadAge, p.from, p.logged)
	st := m.stats
	var all int64
	if err := tx.QueryRow(ctx, q, p.args...).Scan(&all, &st.LoggedInSaved, &st.LoggedInUnread); err != nil {
		return fmt.Errorf("doctor: unread sessions of %s: %w", t.label(), err)
	}
	m.expressRows = all > 0
	return nil
}

// unread judges the logged-in sessions never read after their log-in.
func (j *judge) unread(expressRows bool) {
	st := j.st
	if !expressRows {
		// Only express-session rows say when they were last saved.
		return
	}
	share := pct(st.LoggedInUnread, st.LoggedInSaved)
	ev := []string{
		fmt.Sprintf("%d of the %s logged in more than %s ago "+
			"(%.0f%%) were never read since: expire still equals the cookie.expires they were saved with, "+
			"which the store's touch moves on every read",
			st.LoggedInUnread, plural(st.LoggedInSaved, "live session"), unreadAge, share),
		fmt.Sprintf("threshold: a warning from %.0f%% of at least %d such sessions; "+
			"a user who logs in and leaves looks the same, and so does connect-pg-simple's disableTouch (then ignore this)", unreadShare, unreadMin),
	}
	switch {
	case st.LoggedInSaved < unreadMin:
		j.add("db.unread", Info, fmt.Sprintf("%s logged in more than %s ago: too few to tell whether log-ins stick", plural(st.LoggedInSaved, "live session"), unreadAge), ev, "")
	case share >= unreadShare:
		j.add("db.unread", Warn, fmt.Sprintf("%.0f%% of the logged-in sessions were never read after the log-in: browsers may be dropping the cookie", share), ev,
			"A log-in whose cookie the browser drops "+
				"(Secure over plain HTTP, SameSite or Domain, "+
				"a front end on another site) or that other instances reject "+
				"(another secret) leaves a row nobody reads again. "+
				"Run `sessionkit doctor http URL --email E --browser chromium` against the site as users reach it.")
	default:
		j.add("db.unread", Pass, fmt.Sprintf("%.0f%% of the logged-in sessions were read again after the log-in", 100-share), ev, "")
	}
}
