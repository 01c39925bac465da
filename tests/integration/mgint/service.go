package main

// service: metagate as an operator sees it — /metrics after real traffic, /healthz and
// /readyz, the drain on SIGTERM, SIGHUP reloads, the admin console, the limits — with real
// clients (lib/pq through database/sql, psql for the admin console, raw TCP), one scenario
// per call, each against its own daemon that tests/integration/service/run.sh started
// (its own config file, SQLite file and ports). The shell checks what needs the daemon
// gone or restarted (exit status, WAL file, rows after a restart, logs).
//
//	metrics        A: every documented family has its # TYPE line and labels; the counters
//	               move with CREATE/INSERT/UPDATE/DELETE/SELECT, an error (42), a wrong
//	               password, a CancelRequest, a checkpoint; idle / idle-in-transaction
//	               gauges. B: /healthz, /readyz, 404, 405; /readyz 503 once the SQLite file
//	               is deleted. The scrape after the traffic is saved (--scrape-out) for the
//	               dashboard check (C).
//	drain          D: SIGTERM with one session inside a transaction and one idle.
//	drain-timeout  E: SIGTERM with server.drain_timeout_ms = 1500 and a transaction left open.
//	double-term    F: a second SIGTERM ends the drain at once.
//	reload         G: SIGHUP with a new password, then with an invalid file.
//	admin          I: SHOW CLIENTS/STATS/CONFIG/DATABASES/VERSION, KILL CLIENT, the 42501
//	               refusal (psql against the database "metagate").
//	pause          I: PAUSE holds another client's statement until RESUME (psql).
//	limits         J: per-user connection limit, statement timeout, idle-in-transaction
//	               timeout, auth failure back-off.
//	timeouts       J: idle-session timeout, startup timeout.
//
// lib/pq reports a FATAL ErrorResponse that arrives while it runs a statement as
// driver.ErrBadConn (it reads on after the error, meets the server's close, and replaces
// the error). Every session therefore goes through a recording dialer, and a statement's
// outcome is the SQLSTATE lib/pq reported or, when lib/pq only says "bad connection", the
// SQLSTATE of the FATAL the server sent on that connection before it closed it.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lib/pq"
)

type ServiceOptions struct {
	Scenario      string
	Addr          string // 127.0.0.1:PORT
	Metrics       string // http://127.0.0.1:PORT
	PID           int
	Database      string
	User          string // the password user (alice) where the scenario has one
	Password      string // its password (p1)
	Password2     string // reload: the password after the reload (p2)
	AdminUser     string
	AdminPassword string
	DBPath        string // metrics: the SQLite file, deleted for the readiness check
	Config        string // reload: the daemon's config file, rewritten
	ConfigNext    string // reload: the config with Password2
	ConfigBad     string // reload: an invalid config
	ScrapeOut     string // metrics: the scrape after the traffic is saved here
	Psql          string
}

type svc struct {
	o          ServiceOptions
	host, port string
	checks     *Checks
}

// The long statement: seconds on any build unless something stops it.
const svcLongQuery = `WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM r WHERE i < 100000000) SELECT count(*) FROM r`

// --- a recording dialer: what the server sent on each connection ------------------------

const recMax = 8 << 20

type recConn struct {
	net.Conn
	mu   sync.Mutex
	read []byte
}

func (c *recConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.mu.Lock()
		if len(c.read)+n <= recMax {
			c.read = append(c.read, b[:n]...)
		}
		c.mu.Unlock()
	}
	return n, err
}

// fatal: the fields of the FATAL ErrorResponse the server sent on this connection (nil if
// none). The connection is plain (sslmode=disable), so the bytes read are whole messages.
func (c *recConn) fatal() map[byte]string {
	c.mu.Lock()
	b := append([]byte(nil), c.read...)
	c.mu.Unlock()
	var f map[byte]string
	for len(b) >= 5 {
		n := int(binary.BigEndian.Uint32(b[1:5]))
		if n < 4 || len(b) < 1+n {
			break
		}
		if b[0] == 'E' {
			if e := errorFields(b[5 : 1+n]); severity(e) == "FATAL" {
				f = e
			}
		}
		b = b[1+n:]
	}
	return f
}

type recDialer struct {
	mu    sync.Mutex
	conns []*recConn
}

func (d *recDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d *recDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

func (d *recDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	rc := &recConn{Conn: c}
	d.mu.Lock()
	d.conns = append(d.conns, rc)
	d.mu.Unlock()
	return rc, nil
}

// first: the session's connection (later ones are lib/pq's CancelRequests).
func (d *recDialer) first() *recConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.conns) == 0 {
		return nil
	}
	return d.conns[0]
}

// cut ends every connection of this dialer now (a blocked call returns).
func (d *recDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		_ = c.SetDeadline(time.Now())
	}
}

// --- sessions: one lib/pq connection each ----------------------------------------------

type session struct {
	name string
	db   *sql.DB
	c    *sql.Conn
	d    *recDialer
}

func (s *svc) dsn(user, password, database string, extra ...string) string {
	d := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable connect_timeout=10", s.host, s.port, user, database)
	if password != "" {
		d += " password=" + password
	}
	for _, e := range extra {
		d += " " + e
	}
	return d
}

// openAs: a session of `user` (password may be empty: trust) on `database`.
func (s *svc) openAs(name, user, password, database string, extra ...string) (*session, error) {
	conn, err := pq.NewConnector(s.dsn(user, password, database, append([]string{"application_name=mgint-" + name}, extra...)...))
	if err != nil {
		return nil, err
	}
	d := &recDialer{}
	conn.Dialer(d)
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := db.Conn(ctx)
	if err != nil {
		if c != nil {
			_ = c.Close()
		}
		_ = db.Close()
		if sqlState(err) == "" {
			if rc := d.first(); rc != nil {
				if f := rc.fatal(); f != nil {
					return nil, &pq.Error{Severity: "FATAL", Code: pq.ErrorCode(f['C']), Message: f['M']}
				}
			}
		}
		return nil, err
	}
	return &session{name: name, db: db, c: c, d: d}, nil
}

// open: a session of the scenario's default user.
func (s *svc) open(name string) (*session, error) {
	return s.openAs(name, s.defaultUser(), s.o.Password, s.o.Database)
}

func (s *svc) defaultUser() string {
	if s.o.User != "" {
		return s.o.User
	}
	return "grafana"
}

func (ss *session) close() {
	if ss == nil {
		return
	}
	_ = ss.c.Close()
	_ = ss.db.Close()
}

func (ss *session) exec(query string, args ...interface{}) error {
	return ss.execLimit(15*time.Second, query, args...)
}

func (ss *session) execLimit(limit time.Duration, query string, args ...interface{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	t := time.AfterFunc(limit+5*time.Second, ss.d.cut)
	defer t.Stop()
	_, err := ss.c.ExecContext(ctx, query, args...)
	return err
}

func (ss *session) queryInt(query string, args ...interface{}) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	t := time.AfterFunc(20*time.Second, ss.d.cut)
	defer t.Stop()
	var v int64
	err := ss.c.QueryRowContext(ctx, query, args...).Scan(&v)
	return v, err
}

// outcome: "ok", the SQLSTATE of the error, or "" for an error without one; plus a text.
func (ss *session) outcome(err error) (string, string) {
	if err == nil {
		return "ok", "ok"
	}
	if c := sqlState(err); c != "" {
		return c, errText(err)
	}
	if rc := ss.d.first(); rc != nil {
		if f := rc.fatal(); f != nil {
			return f['C'], fmt.Sprintf("lib/pq: %v; the server sent FATAL %s %q and closed the connection", err, f['C'], f['M'])
		}
	}
	return "", err.Error()
}

// --- /metrics --------------------------------------------------------------------------

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

type scrape struct {
	text    string
	types   map[string]string
	samples []sample
}

func (s *svc) get(method, path string) (int, string, error) {
	req, err := http.NewRequest(method, s.o.Metrics+path, nil)
	if err != nil {
		return 0, "", err
	}
	cl := &http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (s *svc) scrape() (*scrape, error) {
	st, body, err := s.get("GET", "/metrics")
	if err != nil {
		return nil, err
	}
	if st != 200 {
		return nil, fmt.Errorf("GET /metrics: status %d", st)
	}
	return parseScrape(body)
}

// parseScrape reads Prometheus text format 0.0.4.
func parseScrape(text string) (*scrape, error) {
	sc := &scrape{text: text, types: map[string]string{}}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			f := strings.Fields(line)
			if len(f) >= 4 && f[1] == "TYPE" {
				sc.types[f[2]] = f[3]
			}
			continue
		}
		smp := sample{labels: map[string]string{}}
		j := strings.IndexAny(line, "{ ")
		if j < 0 {
			return nil, fmt.Errorf("line %d: %q", i+1, line)
		}
		smp.name = line[:j]
		rest := line[j:]
		if rest[0] == '{' {
			k := 1
			for {
				for k < len(rest) && (rest[k] == ',' || rest[k] == ' ') {
					k++
				}
				if k >= len(rest) {
					return nil, fmt.Errorf("line %d: unterminated labels: %q", i+1, line)
				}
				if rest[k] == '}' {
					k++
					break
				}
				eq := strings.IndexByte(rest[k:], '=')
				if eq < 0 || k+eq+1 >= len(rest) || rest[k+eq+1] != '"' {
					return nil, fmt.Errorf("line %d: bad label: %q", i+1, line)
				}
				lname := rest[k : k+eq]
				k += eq + 2
				var v strings.Builder
				for k < len(rest) && rest[k] != '"' {
					if rest[k] == '\\' && k+1 < len(rest) {
						k++
						switch rest[k] {
						case 'n':
							v.WriteByte('\n')
						default:
							v.WriteByte(rest[k])
						}
					} else {
						v.WriteByte(rest[k])
					}
					k++
				}
				if k >= len(rest) {
					return nil, fmt.Errorf("line %d: unterminated label value: %q", i+1, line)
				}
				k++
				smp.labels[lname] = v.String()
			}
			rest = rest[k:]
		}
		f := strings.Fields(rest)
		if len(f) < 1 {
			return nil, fmt.Errorf("line %d: no value: %q", i+1, line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value %q: %v", i+1, f[0], err)
		}
		smp.value = v
		sc.samples = append(sc.samples, smp)
	}
	return sc, nil
}

// val: the sum of the samples named `name` whose labels include the given pairs (k, v, ...),
// and whether there was any.
func (sc *scrape) val(name string, kv ...string) (float64, bool) {
	if sc == nil {
		return 0, false
	}
	sum, found := 0.0, false
	for _, smp := range sc.samples {
		if smp.name != name {
			continue
		}
		match := true
		for i := 0; i+1 < len(kv); i += 2 {
			if smp.labels[kv[i]] != kv[i+1] {
				match = false
				break
			}
		}
		if match {
			sum += smp.value
			found = true
		}
	}
	return sum, found
}

func (sc *scrape) v(name string, kv ...string) float64 {
	x, _ := sc.val(name, kv...)
	return x
}

// labelValues: the values label `l` takes among the samples named `name`.
func (sc *scrape) labelValues(name, l string) []string {
	seen := map[string]bool{}
	for _, smp := range sc.samples {
		if smp.name == name {
			if v, ok := smp.labels[l]; ok {
				seen[v] = true
			}
		}
	}
	var out []string
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// waitMetric scrapes until cond holds (or the limit); returns the last scrape.
func (s *svc) waitMetric(limit time.Duration, cond func(*scrape) bool) (*scrape, bool) {
	deadline := time.Now().Add(limit)
	var last *scrape
	for {
		sc, err := s.scrape()
		if err == nil {
			last = sc
			if cond(sc) {
				return sc, true
			}
		}
		if time.Now().After(deadline) {
			return last, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// --- the process -----------------------------------------------------------------------

// processGone: the daemon has exited (no /proc entry, or a zombie its parent has not reaped).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	st := string(b)
	i := strings.LastIndexByte(st, ')')
	return i >= 0 && i+2 < len(st) && st[i+2] == 'Z'
}

// waitGone: how long until the daemon exited (false: still running at the limit).
func waitGone(pid int, since time.Time, limit time.Duration) (time.Duration, bool) {
	for {
		if processGone(pid) {
			return time.Since(since), true
		}
		if time.Since(since) > limit {
			return time.Since(since), false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *svc) signal(sig syscall.Signal) error {
	if s.o.PID <= 0 {
		return fmt.Errorf("no --pid")
	}
	return syscall.Kill(s.o.PID, sig)
}

// listenerClosed: a TCP connection to the client port is refused.
func (s *svc) listenerClosed() (bool, string) {
	c, err := net.DialTimeout("tcp", s.o.Addr, 2*time.Second)
	if err != nil {
		return errors.Is(err, syscall.ECONNREFUSED), err.Error()
	}
	_ = c.Close()
	return false, "the connection was accepted"
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

// --- psql (the admin console) ----------------------------------------------------------

// psql runs one command as the admin user on the database "metagate": unaligned output,
// tab-separated, header line kept, no footer.
func (s *svc) psql(command string) (string, error) {
	return s.psqlLimit(10*time.Second, command)
}

func (s *svc) psqlLimit(limit time.Duration, command string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	bin := s.o.Psql
	if bin == "" {
		bin = "psql"
	}
	cmd := exec.CommandContext(ctx, bin, "-X", "-q", "-A", "-F", "\t", "-P", "footer=off", "-v", "ON_ERROR_STOP=1",
		"-h", s.host, "-p", s.port, "-U", s.o.AdminUser, "-d", "metagate", "-c", command)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+s.o.AdminPassword, "PGCONNECT_TIMEOUT=10", "PGSSLMODE=disable",
		"PGAPPNAME=mgint-psql")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("psql timed out after %s (%v)", limit, err)
	}
	return out.String(), err
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func clip(s string, n int) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\n", " | ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// --- A, B: metrics and health ----------------------------------------------------------

type family struct {
	name   string
	typ    string
	labels []string
}

// The documented families (docs and the dashboard rely on these).
var serviceFamilies = []family{
	{"metagate_build_info", "gauge", nil},
	{"metagate_start_time_seconds", "gauge", nil},
	{"metagate_uptime_seconds", "gauge", nil},
	{"metagate_process_resident_memory_bytes", "gauge", nil},
	{"metagate_process_open_fds", "gauge", nil},
	{"metagate_process_max_fds", "gauge", nil},
	{"metagate_process_cpu_seconds_total", "counter", nil},
	{"metagate_client_connections", "gauge", []string{"state"}},
	{"metagate_client_connections_max", "gauge", nil},
	{"metagate_connections_accepted_total", "counter", nil},
	{"metagate_connections_rejected_total", "counter", []string{"reason"}},
	{"metagate_connections_closed_total", "counter", []string{"reason"}},
	{"metagate_cancel_requests_total", "counter", nil},
	{"metagate_auth_failures_total", "counter", []string{"method"}},
	{"metagate_statements_total", "counter", []string{"backend", "kind"}},
	{"metagate_statement_duration_seconds", "histogram", []string{"backend"}},
	{"metagate_errors_total", "counter", []string{"class"}},
	{"metagate_translation_cache_hits_total", "counter", []string{"path"}},
	{"metagate_translation_cache_misses_total", "counter", []string{"path"}},
	{"metagate_translation_cache_entries", "gauge", []string{"path"}},
	{"metagate_sqlite_writer_queue_length", "gauge", []string{"path"}},
	{"metagate_sqlite_writer_wait_seconds", "histogram", []string{"path"}},
	{"metagate_sqlite_wal_bytes", "gauge", []string{"path"}},
	{"metagate_sqlite_checkpoints_total", "counter", []string{"path"}},
	{"metagate_sqlite_checkpoint_duration_seconds", "histogram", []string{"path"}},
	{"metagate_sqlite_commits_total", "counter", []string{"path"}},
	{"metagate_sqlite_wal_syncs_total", "counter", []string{"path"}},
	{"metagate_sqlite_wal_sync_failures_total", "counter", []string{"path"}},
	{"metagate_client_received_bytes_total", "counter", nil},
	{"metagate_client_sent_bytes_total", "counter", nil},
	{"metagate_config_reloads_total", "counter", []string{"result"}},
	{"metagate_config_last_reload_successful", "gauge", nil},
	{"metagate_config_last_reload_success_timestamp_seconds", "gauge", nil},
	{"metagate_io_threads", "gauge", nil},
	{"metagate_paused", "gauge", nil},
}

// checkFamily: the # TYPE line has the documented type, the family has samples, and every
// sample carries the documented labels (histograms: _bucket, _sum and _count).
func (s *svc) checkFamily(sc *scrape, f family) {
	name := "metrics: " + f.name
	got, ok := sc.types[f.name]
	if !ok {
		s.checks.Fail(name, "no # TYPE line (want %s)", f.typ)
		return
	}
	if got != f.typ {
		s.checks.Fail(name, "# TYPE %s, want %s", got, f.typ)
		return
	}
	series := []string{f.name}
	if f.typ == "histogram" {
		series = []string{f.name + "_bucket", f.name + "_sum", f.name + "_count"}
	}
	var problems []string
	n := 0
	for _, sn := range series {
		cnt := 0
		for _, smp := range sc.samples {
			if smp.name != sn {
				continue
			}
			cnt++
			for _, l := range f.labels {
				if _, ok := smp.labels[l]; !ok {
					problems = append(problems, fmt.Sprintf("%s without label %s", sn, l))
					break
				}
			}
			if sn == f.name+"_bucket" {
				if _, ok := smp.labels["le"]; !ok {
					problems = append(problems, sn+" without le")
				}
			}
		}
		if cnt == 0 {
			problems = append(problems, "no "+sn+" sample")
		}
		n += cnt
	}
	if len(problems) > 5 {
		problems = append(problems[:5], "…")
	}
	s.checks.Check(name, len(problems) == 0, "%s, %d sample(s), labels %v %s", got, n, f.labels, strings.Join(problems, "; "))
}

func (s *svc) runMetrics() {
	sc0, err := s.scrape()
	if err != nil {
		s.checks.Fail("metrics: first scrape", "%v", err)
		return
	}
	s.checks.Pass("metrics: first scrape", "%d families, %d samples", len(sc0.types), len(sc0.samples))

	// B: health endpoints while everything is fine.
	st, body, err := s.get("GET", "/healthz")
	s.checks.Check("health: /healthz 200 ok", err == nil && st == 200 && strings.TrimSpace(body) == "ok", "%d %q %v", st, clip(body, 80), err)
	st, body, err = s.get("GET", "/readyz")
	s.checks.Check("health: /readyz 200", err == nil && st == 200, "%d %q %v", st, clip(body, 80), err)
	st, body, err = s.get("GET", "/no-such-path")
	s.checks.Check("health: unknown path 404", err == nil && st == 404, "%d %q %v", st, clip(body, 80), err)
	st, body, err = s.get("POST", "/metrics")
	s.checks.Check("health: POST 405", err == nil && st == 405, "%d %q %v", st, clip(body, 80), err)

	// Traffic.
	m, err := s.openAs("main", "grafana", "", s.o.Database)
	if err != nil {
		s.checks.Fail("metrics: traffic", "connect: %s", errText(err))
		return
	}
	defer m.close()
	var steps []string
	step := func(what string, err error) {
		if err != nil {
			steps = append(steps, fmt.Sprintf("%s: %s", what, errText(err)))
		}
	}
	step("CREATE TABLE", m.exec(`CREATE TABLE svc_t (id integer PRIMARY KEY, v text)`))
	for i := 1; i <= 5; i++ {
		step("INSERT", m.exec(`INSERT INTO svc_t (id, v) VALUES ($1, $2)`, i, fmt.Sprintf("row %d", i)))
	}
	step("UPDATE", m.exec(`UPDATE svc_t SET v = 'changed' WHERE id = 1`))
	step("DELETE", m.exec(`DELETE FROM svc_t WHERE id = 5`))
	for i := 0; i < 20; i++ {
		n, err := m.queryInt(`SELECT count(*) FROM svc_t`)
		if err == nil && n != 4 {
			err = fmt.Errorf("count %d, want 4", n)
		}
		step("SELECT count(*)", err)
	}
	var secret string
	{
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = m.c.QueryRowContext(ctx, `SELECT 'secret-value-123' AS x`).Scan(&secret)
		cancel()
		step("SELECT 'secret-value-123'", err)
	}
	s.checks.Check("metrics: traffic (DDL, INSERT, UPDATE, DELETE, 20 SELECTs)", len(steps) == 0, "%s", strings.Join(steps, "; "))
	_, err = m.queryInt(`SELECT count(*) FROM no_such_table`)
	code, text := m.outcome(err)
	s.checks.Check("metrics: SELECT from a missing table -> 42P01", code == "42P01", "%s", text)

	// A wrong password (the rules ask alice for a SCRAM password).
	bad, err := s.openAs("badpw", s.o.User, "wrong-"+s.o.Password, s.o.Database)
	bad.close()
	s.checks.Check("metrics: wrong password -> 28P01", sqlState(err) == "28P01", "%s", errText(err))
	good, err := s.openAs("goodpw", s.o.User, s.o.Password, s.o.Database)
	good.close()
	s.checks.Check("metrics: right password connects", err == nil, "%s", errText(err))

	// A CancelRequest: lib/pq cancels the long statement when the context ends.
	cs, err := s.openAs("cancel", "grafana", "", s.o.Database)
	if err != nil {
		s.checks.Fail("metrics: CancelRequest (context cancel)", "connect: %s", errText(err))
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		t0 := time.Now()
		var n int64
		cut := time.AfterFunc(15*time.Second, cs.d.cut)
		err = cs.c.QueryRowContext(ctx, svcLongQuery).Scan(&n)
		cut.Stop()
		cancel()
		el := time.Since(t0)
		s.checks.Check("metrics: CancelRequest (context cancel)", err != nil && el < 5*time.Second,
			"long statement -> %s after %s; %d connection(s) dialed", errText(err), ms(el), len(cs.d.conns))
		cs.close()
	}

	// A checkpoint: sqlite.checkpoint_wal_mib = 1 and ~2 MB written.
	blob := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	var cerr error
	if err := m.exec(`CREATE TABLE svc_blob (id integer PRIMARY KEY, v text)`); err != nil {
		cerr = err
	}
	for i := 0; i < 32 && cerr == nil; i++ {
		cerr = m.exec(`INSERT INTO svc_blob (id, v) VALUES ($1, $2)`, i, blob)
	}
	s.checks.Check("metrics: 2 MiB inserted (32 x 64 KiB)", cerr == nil, "%s", errText(cerr))

	// Client states: one idle session, one inside BEGIN.
	idle, err := s.openAs("idle", "grafana", "", s.o.Database)
	if err == nil {
		_, err = idle.queryInt(`SELECT 1`)
	}
	if err != nil {
		s.checks.Fail("metrics: client_connections{state=\"idle\"} >= 1", "idle session: %s", errText(err))
	} else {
		sc, ok := s.waitMetric(2*time.Second, func(sc *scrape) bool {
			return sc.v("metagate_client_connections", "state", "idle") >= 1
		})
		s.checks.Check("metrics: client_connections{state=\"idle\"} >= 1", ok, "idle = %g while a session sits idle",
			sc.v("metagate_client_connections", "state", "idle"))
	}
	tx, err := s.openAs("intx", "grafana", "", s.o.Database)
	if err == nil {
		err = tx.exec(`BEGIN`)
	}
	if err != nil {
		s.checks.Fail("metrics: client_connections{state=\"idle_in_transaction\"} >= 1", "BEGIN: %s", errText(err))
	} else {
		sc, ok := s.waitMetric(2*time.Second, func(sc *scrape) bool {
			return sc.v("metagate_client_connections", "state", "idle_in_transaction") >= 1
		})
		s.checks.Check("metrics: client_connections{state=\"idle_in_transaction\"} >= 1", ok,
			"idle_in_transaction = %g while a session sits inside BEGIN",
			sc.v("metagate_client_connections", "state", "idle_in_transaction"))
		_ = tx.exec(`ROLLBACK`)
	}
	tx.close()
	idle.close()

	closedBefore := sc0.v("metagate_connections_closed_total", "reason", "client_closed")
	sc1, _ := s.waitMetric(3*time.Second, func(sc *scrape) bool {
		return sc.v("metagate_connections_closed_total", "reason", "client_closed") >= closedBefore+4 &&
			sc.v("metagate_cancel_requests_total") >= 1 && sc.v("metagate_sqlite_checkpoints_total") >= 1
	})
	if sc1 == nil {
		s.checks.Fail("metrics: scrape after the traffic", "no scrape")
		return
	}

	for _, f := range serviceFamilies {
		s.checkFamily(sc1, f)
	}
	states := sc1.labelValues("metagate_client_connections", "state")
	want := []string{"active", "idle", "idle_in_transaction", "idle_in_transaction_aborted", "startup"}
	s.checks.Check("metrics: client_connections states", strings.Join(states, ",") == strings.Join(want, ","),
		"states %v (want %v)", states, want)

	d := func(name string, kv ...string) float64 { return sc1.v(name, kv...) - sc0.v(name, kv...) }
	for _, k := range []struct {
		kind string
		min  float64
	}{{"select", 20}, {"insert", 5}, {"update", 1}, {"delete", 1}, {"ddl", 1}} {
		got := d("metagate_statements_total", "backend", "sqlite", "kind", k.kind)
		s.checks.Check("metrics: statements_total{kind=\""+k.kind+"\"} moved", got >= k.min, "+%g (want >= %g)", got, k.min)
	}
	got := d("metagate_statement_duration_seconds_count", "backend", "sqlite")
	s.checks.Check("metrics: statement_duration_seconds_count moved", got >= 28, "+%g (want >= 28)", got)
	got, ok := sc1.val("metagate_errors_total", "class", "42")
	s.checks.Check("metrics: errors_total{class=\"42\"} >= 1", ok && got >= 1, "%g (classes %v)", got, sc1.labelValues("metagate_errors_total", "class"))
	got = d("metagate_auth_failures_total", "method", "scram-sha-256")
	s.checks.Check("metrics: auth_failures_total{method=\"scram-sha-256\"} moved", got >= 1, "+%g", got)
	got = d("metagate_connections_accepted_total")
	s.checks.Check("metrics: connections_accepted_total moved", got >= 6, "+%g (want >= 6)", got)
	got = d("metagate_connections_closed_total", "reason", "client_closed")
	s.checks.Check("metrics: connections_closed_total{reason=\"client_closed\"} moved", got >= 4, "+%g (want >= 4)", got)
	got = d("metagate_cancel_requests_total")
	s.checks.Check("metrics: cancel_requests_total moved", got >= 1, "+%g", got)
	got = d("metagate_client_received_bytes_total")
	s.checks.Check("metrics: client_received_bytes_total moved (>= 2 MiB)", got >= 2<<20, "+%g", got)
	got = d("metagate_client_sent_bytes_total")
	s.checks.Check("metrics: client_sent_bytes_total moved", got >= 1000, "+%g", got)
	got = sc1.v("metagate_sqlite_writer_wait_seconds_count")
	s.checks.Check("metrics: sqlite_writer_wait_seconds_count > 0", got > 0, "%g", got)
	got = sc1.v("metagate_sqlite_commits_total")
	s.checks.Check("metrics: sqlite_commits_total > 0", got > 0, "%g", got)
	got = sc1.v("metagate_sqlite_wal_syncs_total")
	s.checks.Check("metrics: sqlite_wal_syncs_total > 0", got > 0, "%g", got)
	got = sc1.v("metagate_translation_cache_hits_total")
	s.checks.Check("metrics: translation_cache_hits_total > 0", got > 0, "%g (misses %g, entries %g)", got,
		sc1.v("metagate_translation_cache_misses_total"), sc1.v("metagate_translation_cache_entries"))
	got = sc1.v("metagate_sqlite_checkpoints_total")
	s.checks.Check("metrics: sqlite_checkpoints_total > 0 (checkpoint_wal_mib 1, 2 MiB written)", got > 0, "%g (wal_bytes %g)", got,
		sc1.v("metagate_sqlite_wal_bytes"))
	got = sc1.v("metagate_sqlite_checkpoint_duration_seconds_count")
	s.checks.Check("metrics: sqlite_checkpoint_duration_seconds_count > 0", got > 0, "%g", got)
	if s.o.ScrapeOut != "" {
		err := os.WriteFile(s.o.ScrapeOut, []byte(sc1.text), 0o644)
		s.checks.Check("metrics: scrape saved", err == nil, "%s (%d bytes) %v", s.o.ScrapeOut, len(sc1.text), err)
	}

	// B: the SQLite file disappears under a running daemon (a database is open: `m`).
	if s.o.DBPath == "" {
		return
	}
	_, err = m.queryInt(`SELECT count(*) FROM svc_t`)
	if err != nil {
		s.checks.Fail("health: /readyz 503 after the SQLite file is deleted", "session before the delete: %s", errText(err))
		return
	}
	err = os.Remove(s.o.DBPath)
	if err != nil {
		s.checks.Fail("health: /readyz 503 after the SQLite file is deleted", "rm %s: %v", s.o.DBPath, err)
		return
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		st, body, err = s.get("GET", "/readyz")
		if (err == nil && st == 503) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.checks.Check("health: /readyz 503 after the SQLite file is deleted", err == nil && st == 503 && strings.Contains(body, "not ready"),
		"%d %q %v", st, clip(body, 200), err)
	st, body, err = s.get("GET", "/healthz")
	s.checks.Check("health: /healthz still 200", err == nil && st == 200 && strings.TrimSpace(body) == "ok", "%d %q %v", st, clip(body, 80), err)
}

// --- D, E, F: drain on SIGTERM ---------------------------------------------------------

func (s *svc) setupTable(table string) bool {
	su, err := s.open("setup")
	if err == nil {
		err = su.exec(`CREATE TABLE ` + table + ` (id integer PRIMARY KEY, who text)`)
		su.close()
	}
	if err != nil {
		s.checks.Fail("setup: CREATE TABLE "+table, "%s", errText(err))
		return false
	}
	return true
}

// inTransaction creates drain_t and opens a session that is inside a transaction holding an
// uncommitted row (id 1, `who`); nil after recording a failure under `check`.
func (s *svc) inTransaction(check, who string) *session {
	if !s.setupTable("drain_t") {
		return nil
	}
	a, err := s.open("drain-a")
	if err == nil {
		err = a.exec(`BEGIN`)
	}
	if err == nil {
		err = a.exec(fmt.Sprintf(`INSERT INTO drain_t (id, who) VALUES (1, '%s')`, who))
	}
	if err != nil {
		s.checks.Fail(check, "%s", errText(err))
		if a != nil {
			a.close()
		}
		return nil
	}
	return a
}

func (s *svc) runDrain() {
	a := s.inTransaction("drain: A BEGIN + INSERT", "a before SIGTERM")
	if a == nil {
		return
	}
	defer a.close()
	b, err := s.open("drain-b")
	if err == nil {
		_, err = b.queryInt(`SELECT 1`)
	}
	if err != nil {
		s.checks.Fail("drain: B connects", "%s", errText(err))
		return
	}
	defer b.close()
	s.checks.Pass("drain: A inside a transaction, B idle", "")

	t0 := time.Now()
	if err := s.signal(syscall.SIGTERM); err != nil {
		s.checks.Fail("drain: SIGTERM", "%v", err)
		return
	}
	time.Sleep(300 * time.Millisecond)
	_, err = b.queryInt(`SELECT 1`)
	code, text := b.outcome(err)
	s.checks.Check("drain: idle B's next query -> 57P01", code == "57P01", "%s", text)
	closed, how := s.listenerClosed()
	s.checks.Check("drain: new connection refused (listener closed)", closed, "%s", how)
	err = a.exec(`INSERT INTO drain_t (id, who) VALUES (2, 'a after SIGTERM')`)
	code, text = a.outcome(err)
	s.checks.Check("drain: A can still INSERT", code == "ok", "%s", text)
	err = a.exec(`COMMIT`)
	code, text = a.outcome(err)
	tCommit := time.Now()
	s.checks.Check("drain: A's COMMIT succeeds", code == "ok", "%s (%s after SIGTERM)", text, ms(tCommit.Sub(t0)))
	_, err = a.queryInt(`SELECT 1`)
	code, text = a.outcome(err)
	s.checks.Check("drain: A's next query -> 57P01", code == "57P01", "%s", text)
	el, gone := waitGone(s.o.PID, tCommit, 5*time.Second)
	s.checks.Check("drain: the daemon exits within 5 s of A's COMMIT", gone, "gone after %s (running: %v)", ms(el), !gone)
}

func (s *svc) runDrainTimeout() {
	a := s.inTransaction("drain timeout: BEGIN + INSERT", "never committed")
	if a == nil {
		return
	}
	defer a.close()
	t0 := time.Now()
	if err := s.signal(syscall.SIGTERM); err != nil {
		s.checks.Fail("drain timeout: SIGTERM", "%v", err)
		return
	}
	el, gone := waitGone(s.o.PID, t0, 8*time.Second)
	s.checks.Check("drain timeout: exit 1.4-4 s after SIGTERM (drain_timeout_ms 1500)", gone && el >= 1400*time.Millisecond && el <= 4*time.Second,
		"gone after %s (running: %v)", ms(el), !gone)
	_, err := a.queryInt(`SELECT 1`)
	code, text := a.outcome(err)
	s.checks.Check("drain timeout: the session's next query -> 57P01", code == "57P01", "%s", text)
}

func (s *svc) runDoubleTerm() {
	a := s.inTransaction("second SIGTERM: BEGIN + INSERT", "never committed")
	if a == nil {
		return
	}
	defer a.close()
	if err := s.signal(syscall.SIGTERM); err != nil {
		s.checks.Fail("second SIGTERM: SIGTERM", "%v", err)
		return
	}
	time.Sleep(300 * time.Millisecond)
	if processGone(s.o.PID) {
		s.checks.Fail("second SIGTERM: still draining after the first", "the daemon exited within 300 ms of the first SIGTERM despite an open transaction and drain_timeout_ms 30000")
		return
	}
	s.checks.Pass("second SIGTERM: still draining after the first", "an open transaction keeps it running")
	t1 := time.Now()
	_ = s.signal(syscall.SIGTERM)
	el, gone := waitGone(s.o.PID, t1, 6*time.Second)
	s.checks.Check("second SIGTERM: exit within 2 s", gone && el <= 2*time.Second, "gone after %s (running: %v)", ms(el), !gone)
	_, err := a.queryInt(`SELECT 1`)
	code, text := a.outcome(err)
	s.checks.Check("second SIGTERM: the session's next query -> 57P01", code == "57P01", "%s", text)
}

// --- G: SIGHUP reload ------------------------------------------------------------------

func replaceFile(dst, src string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".new")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func (s *svc) tryLogin(name, password string) (string, string) {
	ss, err := s.openAs(name, s.o.User, password, s.o.Database)
	if err == nil {
		_, err = ss.queryInt(`SELECT 1`)
		ss.close()
	}
	if err == nil {
		return "ok", "connected, SELECT 1"
	}
	if c := sqlState(err); c != "" {
		return c, errText(err)
	}
	return "", err.Error()
}

func (s *svc) runReload() {
	alice, err := s.openAs("alice", s.o.User, s.o.Password, s.o.Database)
	if err == nil {
		_, err = alice.queryInt(`SELECT 1`)
	}
	if err != nil {
		s.checks.Fail("reload: alice connects with p1", "%s", errText(err))
		return
	}
	defer alice.close()
	s.checks.Pass("reload: alice connects with p1", "")
	sc0, err := s.scrape()
	if err != nil {
		s.checks.Fail("reload: scrape", "%v", err)
		return
	}
	ok0 := sc0.v("metagate_config_reloads_total", "result", "success")
	fail0 := sc0.v("metagate_config_reloads_total", "result", "failure")

	if err := replaceFile(s.o.Config, s.o.ConfigNext); err != nil {
		s.checks.Fail("reload: config rewritten (p2)", "%v", err)
		return
	}
	_ = s.signal(syscall.SIGHUP)
	sc1, ok := s.waitMetric(5*time.Second, func(sc *scrape) bool {
		return sc.v("metagate_config_reloads_total", "result", "success") > ok0
	})
	s.checks.Check("reload: reloads_total{result=\"success\"} incremented", ok, "%g -> %g", ok0,
		sc1.v("metagate_config_reloads_total", "result", "success"))
	s.checks.Check("reload: last_reload_successful 1", sc1.v("metagate_config_last_reload_successful") == 1, "%g",
		sc1.v("metagate_config_last_reload_successful"))
	_, err = alice.queryInt(`SELECT 1`)
	code, text := alice.outcome(err)
	s.checks.Check("reload: the connected session keeps working", code == "ok", "%s", text)
	code, text = s.tryLogin("p1-after", s.o.Password)
	s.checks.Check("reload: new connection with p1 -> 28P01", code == "28P01", "%s", text)
	code, text = s.tryLogin("p2-after", s.o.Password2)
	s.checks.Check("reload: new connection with p2 succeeds", code == "ok", "%s", text)

	if err := replaceFile(s.o.Config, s.o.ConfigBad); err != nil {
		s.checks.Fail("reload: config rewritten (invalid)", "%v", err)
		return
	}
	_ = s.signal(syscall.SIGHUP)
	sc2, ok := s.waitMetric(5*time.Second, func(sc *scrape) bool {
		return sc.v("metagate_config_reloads_total", "result", "failure") > fail0
	})
	s.checks.Check("reload: invalid file -> reloads_total{result=\"failure\"} 1", ok && sc2.v("metagate_config_reloads_total", "result", "failure") == 1,
		"%g", sc2.v("metagate_config_reloads_total", "result", "failure"))
	s.checks.Check("reload: invalid file -> last_reload_successful 0", sc2.v("metagate_config_last_reload_successful") == 0, "%g",
		sc2.v("metagate_config_last_reload_successful"))
	code, text = s.tryLogin("p2-kept", s.o.Password2)
	s.checks.Check("reload: after the refused reload p2 still works", code == "ok", "%s", text)
	code, text = s.tryLogin("p1-kept", s.o.Password)
	s.checks.Check("reload: after the refused reload p1 still fails 28P01", code == "28P01", "%s", text)
	_, err = alice.queryInt(`SELECT 1`)
	code, text = alice.outcome(err)
	s.checks.Check("reload: the connected session still works", code == "ok", "%s", text)
}

// --- I: the admin console ---------------------------------------------------------------

// table: psql's unaligned output (header, rows) split on tabs.
func table(out string) ([]string, [][]string) {
	var head []string
	var rows [][]string
	for i, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		f := strings.Split(l, "\t")
		if i == 0 {
			head = f
		} else {
			rows = append(rows, f)
		}
	}
	return head, rows
}

func (s *svc) runAdmin() {
	s1, err := s.openAs("s1", s.o.User, s.o.Password, s.o.Database)
	if err != nil {
		s.checks.Fail("admin: two lib/pq sessions", "s1: %s", errText(err))
		return
	}
	defer s1.close()
	s2, err := s.openAs("s2", s.o.User, s.o.Password, s.o.Database)
	if err != nil {
		s.checks.Fail("admin: two lib/pq sessions", "s2: %s", errText(err))
		return
	}
	defer s2.close()
	id1, err1 := s1.queryInt(`SELECT pg_backend_pid()`)
	id2, err2 := s2.queryInt(`SELECT pg_backend_pid()`)
	if err1 != nil || err2 != nil {
		s.checks.Fail("admin: two lib/pq sessions", "pg_backend_pid: %s, %s", errText(err1), errText(err2))
		return
	}
	s.checks.Pass("admin: two lib/pq sessions", "ids %d and %d", id1, id2)

	out, err := s.psql("SHOW CLIENTS")
	head, rows := table(out)
	wantHead := "id,user,database,state,addr,port,tls,application_name,connect_time,state_seconds"
	s.checks.Check("admin: SHOW CLIENTS columns", err == nil && strings.Join(head, ",") == wantHead, "%s (%v)", clip(firstLine(out), 200), err)
	found := 0
	for _, r := range rows {
		if len(r) >= 8 && (r[0] == strconv.FormatInt(id1, 10) || r[0] == strconv.FormatInt(id2, 10)) &&
			r[1] == s.o.User && r[2] == s.o.Database && r[4] == "127.0.0.1" && strings.HasPrefix(r[7], "mgint-s") {
			found++
		}
	}
	s.checks.Check("admin: SHOW CLIENTS lists the lib/pq sessions", found == 2, "%d of 2 found in %d row(s): %s", found, len(rows), clip(out, 400))

	out, err = s.psql("SHOW STATS")
	s.checks.Check("admin: SHOW STATS", err == nil && strings.Contains(out, "metagate_statements_total"), "%v; %s", err, clip(out, 160))
	out, err = s.psql("SHOW CONFIG")
	redacted := strings.Contains(out, "SCRAM-SHA-256$<redacted>")
	leaked := strings.Contains(out, "SCRAM-SHA-256$4096:") || strings.Contains(out, s.o.Password) || strings.Contains(out, s.o.AdminPassword)
	s.checks.Check("admin: SHOW CONFIG redacts the verifiers", err == nil && redacted && !leaked,
		"%v; redacted form shown: %v, a verifier or password shown: %v; e.g. %s", err, redacted, leaked, clip(grepLine(out, "SCRAM-SHA-256$"), 200))
	out, err = s.psql("SHOW DATABASES")
	s.checks.Check("admin: SHOW DATABASES", err == nil && strings.HasPrefix(out, "name\t") && strings.Contains(out, s.o.DBPath),
		"%v; %s", err, clip(out, 240))
	out, err = s.psql("SHOW VERSION")
	_, vrows := table(out)
	s.checks.Check("admin: SHOW VERSION", err == nil && len(vrows) == 1 && strings.HasPrefix(vrows[0][0], "metagate "), "%v; %s", err, clip(out, 160))

	out, err = s.psql(fmt.Sprintf("KILL CLIENT %d", id1))
	s.checks.Check("admin: KILL CLIENT <id>", err == nil, "%v; %s", err, clip(out, 160))
	time.Sleep(100 * time.Millisecond)
	_, err = s1.queryInt(`SELECT 1`)
	code, text := s1.outcome(err)
	s.checks.Check("admin: the killed session's next query -> 57P01", code == "57P01", "%s", text)
	out, err = s.psql("KILL CLIENT 999999")
	s.checks.Check("admin: KILL CLIENT 999999 -> ERROR", err != nil && strings.Contains(out, "ERROR"), "psql: %v; %s", err, clip(out, 160))
	_, err = s2.queryInt(`SELECT 1`)
	code, text = s2.outcome(err)
	s.checks.Check("admin: the other session is untouched", code == "ok", "%s", text)

	ns, err := s.openAs("nonadmin", s.o.User, s.o.Password, "metagate")
	ns.close()
	sev, c, msg, _ := serverError(err)
	s.checks.Check("admin: a non-admin user on database metagate -> FATAL 42501", sev == "FATAL" && c == "42501", "%s %s %q (%s)", sev, c, msg, errText(err))
}

// runPause: PAUSE holds a new statement of another client until RESUME (its own daemon: a
// daemon that cannot be resumed must not hold up the other admin console checks).
func (s *svc) runPause() {
	s2, err := s.openAs("s2", s.o.User, s.o.Password, s.o.Database)
	if err == nil {
		_, err = s2.queryInt(`SELECT 1`)
	}
	if err != nil {
		s.checks.Fail("pause: a lib/pq session", "%s", errText(err))
		return
	}
	defer s2.close()
	out, err := s.psql("PAUSE")
	if err != nil {
		s.checks.Fail("admin: PAUSE", "%v; %s", err, clip(out, 200))
		return
	}
	s.checks.Pass("admin: PAUSE", "%s", clip(out, 80))
	done := make(chan error, 1)
	t0 := time.Now()
	go func() {
		_, err := s2.queryInt(`SELECT 1`)
		done <- err
	}()
	select {
	case err := <-done:
		s.checks.Fail("admin: PAUSE holds another client's query", "the query completed after %s during the pause: %s", ms(time.Since(t0)), errText(err))
		_, _ = s.psql("RESUME")
		return
	case <-time.After(500 * time.Millisecond):
		s.checks.Pass("admin: PAUSE holds another client's query", "not completed after 500 ms")
	}
	out, err = s.psqlLimit(5*time.Second, "RESUME")
	s.checks.Check("admin: RESUME (a new admin console connection)", err == nil, "%v; %s", err, clip(out, 200))
	wait := 5 * time.Second
	if err != nil {
		wait = 500 * time.Millisecond
	}
	select {
	case err := <-done:
		code, text := s2.outcome(err)
		s.checks.Check("admin: the held query completes after RESUME", code == "ok", "%s after %s", text, ms(time.Since(t0)))
	case <-time.After(wait):
		s.checks.Fail("admin: the held query completes after RESUME", "still waiting %s after RESUME (%s after it was sent)", wait, ms(time.Since(t0)))
		s2.d.cut()
	}
}

func grepLine(out, sub string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// --- J: limits -------------------------------------------------------------------------

func (s *svc) runLimits() {
	c1, err := s.openAs("c1", s.o.User, s.o.Password, s.o.Database)
	if err != nil {
		s.checks.Fail("limits: two sessions of alice", "c1: %s", errText(err))
		return
	}
	defer c1.close()
	c2, err := s.openAs("c2", s.o.User, s.o.Password, s.o.Database)
	if err != nil {
		s.checks.Fail("limits: two sessions of alice", "c2: %s", errText(err))
		return
	}
	defer c2.close()
	s.checks.Pass("limits: two sessions of alice", "")
	c3, err := s.openAs("c3", s.o.User, s.o.Password, s.o.Database)
	c3.close()
	_, code, msg, _ := serverError(err)
	want := fmt.Sprintf("too many connections for role %q", s.o.User)
	s.checks.Check("limits: a 3rd session of alice -> 53300", code == "53300" && msg == want, "%s (want 53300 %q)", errText(err), want)

	// statement_timeout
	err = c2.exec(`SET statement_timeout = '200ms'`)
	if err != nil {
		s.checks.Fail("limits: statement_timeout 200ms -> 57014", "SET: %s", errText(err))
	} else {
		t0 := time.Now()
		_, err = c2.queryInt(svcLongQuery)
		el := time.Since(t0)
		sev, code, msg, _ := serverError(err)
		s.checks.Check("limits: statement_timeout 200ms -> 57014", sev == "ERROR" && code == "57014" && msg == "canceling statement due to statement timeout" && el < 3*time.Second,
			"%s after %s", errText(err), ms(el))
		_, err = c2.queryInt(`SELECT 1`)
		code, text := c2.outcome(err)
		s.checks.Check("limits: the connection stays usable after the timeout", code == "ok", "%s", text)
	}

	// idle_in_transaction_timeout_ms = 300
	err = c1.exec(`BEGIN`)
	if err != nil {
		s.checks.Fail("limits: idle in transaction 1 s -> 25P03", "BEGIN: %s", errText(err))
	} else {
		time.Sleep(time.Second)
		_, err = c1.queryInt(`SELECT 1`)
		code, text := c1.outcome(err)
		s.checks.Check("limits: idle in transaction 1 s -> 25P03", code == "25P03", "%s", text)
	}
	c1.close()
	c2.close()

	// Auth failure back-off: 100 ms doubling per failure from 127.0.0.1.
	var times []time.Duration
	var codes []string
	for i := 0; i < 4; i++ {
		t0 := time.Now()
		ss, err := s.openAs(fmt.Sprintf("wrong%d", i), s.o.User, "wrong-password", s.o.Database)
		times = append(times, time.Since(t0))
		ss.close()
		codes = append(codes, sqlState(err))
	}
	increasing := true
	for i := 1; i < len(times); i++ {
		if times[i] <= times[i-1] {
			increasing = false
		}
	}
	var ts []string
	for _, t := range times {
		ts = append(ts, ms(t))
	}
	all28 := strings.Join(codes, ",") == "28P01,28P01,28P01,28P01"
	s.checks.Check("limits: auth back-off (4 wrong passwords, increasing, 4th >= 0.35 s)", all28 && increasing && times[3] >= 350*time.Millisecond,
		"times %v, codes %v", ts, codes)
}

func (s *svc) runTimeouts() {
	ss, err := s.open("idle")
	if err == nil {
		_, err = ss.queryInt(`SELECT 1`)
	}
	if err != nil {
		s.checks.Fail("timeouts: idle session 1 s -> 57P05", "connect: %s", errText(err))
	} else {
		time.Sleep(time.Second)
		_, err = ss.queryInt(`SELECT 1`)
		code, text := ss.outcome(err)
		s.checks.Check("timeouts: idle session 1 s -> 57P05", code == "57P05", "%s", text)
		ss.close()
	}

	// startup_timeout_ms = 500: a client that connects and sends nothing.
	r, err := dialRaw(s.o.Addr)
	if err != nil {
		s.checks.Fail("timeouts: silent TCP client closed by the server (startup_timeout_ms 500)", "dial: %v", err)
		return
	}
	defer r.close()
	t0 := time.Now()
	o := r.collect(5*time.Second, false)
	el := time.Since(t0)
	s.checks.Check("timeouts: silent TCP client closed by the server (startup_timeout_ms 500)", o.closed && el >= 400*time.Millisecond && el <= 2*time.Second,
		"%s after %s", o.types(), ms(el))
}

// --- entry ------------------------------------------------------------------------------

func runService(o ServiceOptions) int {
	host, port, err := net.SplitHostPort(o.Addr)
	if err != nil {
		fmt.Printf("service: --addr %q: %v\n", o.Addr, err)
		return 2
	}
	if o.Database == "" {
		o.Database = "grafana"
	}
	s := &svc{o: o, host: host, port: port, checks: &Checks{}}
	// Nothing may hang: the whole scenario has 75 s.
	watchdog := time.AfterFunc(75*time.Second, func() {
		s.checks.Fail("service: "+o.Scenario, "watchdog: still running after 75 s")
		os.Exit(s.checks.Summary())
	})
	defer watchdog.Stop()
	t0 := time.Now()
	switch o.Scenario {
	case "metrics":
		s.runMetrics()
	case "drain":
		s.runDrain()
	case "drain-timeout":
		s.runDrainTimeout()
	case "double-term":
		s.runDoubleTerm()
	case "reload":
		s.runReload()
	case "admin":
		s.runAdmin()
	case "pause":
		s.runPause()
	case "limits":
		s.runLimits()
	case "timeouts":
		s.runTimeouts()
	default:
		fmt.Printf("service: unknown scenario %q\n", o.Scenario)
		return 2
	}
	fmt.Printf("== service %s took %.1fs\n", o.Scenario, time.Since(t0).Seconds())
	return s.checks.Summary()
}
