// Command probe is the client side of bench/ha: a lib/pq database/sql pool (4 connections) that
// writes and reads every 10 ms through a proxy (HAProxy or metagate) while the harness makes the
// PostgreSQL cluster behind it switch over or lose its primary, and records what a client sees.
//
//	probe run    -dsn DSN -out summary.json -acked acked.txt [-status status.json] [-ops ops.csv]
//	             [-stop FILE] [-max 300s] [-interval 10ms] [-op-timeout 75s] [-stall 1s]
//	             [-run-id N] [-table ha_probe]
//	probe verify -dsn DSN -acked acked.txt [-table ha_probe]
//
// acked.txt has one line per acknowledged write: the id and the unix time (ms) it was acknowledged.
//
// run: a writer (INSERT of a new id, autocommit) and a reader (SELECT max(id)), each closed-loop
// at -interval: an operation starts on the next tick after the previous one ended, so a stalled
// operation shows as one long operation, not a pile-up. Each operation's start, end, outcome,
// SQLSTATE and message go to -ops; each acknowledged write's id to -acked. Every 200 ms -status
// gets the running counters (the harness waits on it). At the end (the -stop file exists, or -max
// passed) -out gets the JSON summary (see summarize).
//
// verify: the acknowledged ids missing from the table on the server DSN names (the new primary),
// with when the first and last of them were acknowledged.
//
// Every socket read and write has a deadline of -op-timeout, so no operation can hang forever
// (lib/pq's context cancellation cannot interrupt a read from a server that never answers).
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
)

// deadlineConn puts a fresh deadline on every read and write.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(b)
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(b)
}

// lib/pq's startup sets and clears deadlines itself (connect_timeout); ours win on each call.
func (c *deadlineConn) SetDeadline(t time.Time) error      { return nil }
func (c *deadlineConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *deadlineConn) SetWriteDeadline(t time.Time) error { return nil }

type dialer struct{ timeout time.Duration }

// pool is the probe's database/sql pool, replaced after a driver panic: lib/pq 1.10.7 dereferences
// a nil result when a server answers a simple Query with ReadyForQuery alone (no RowDescription,
// CommandComplete, EmptyQueryResponse or ErrorResponse before it), and database/sql then never
// gets that connection back. The panic is recorded as a failed operation ("client-panic") and the
// next operations use a fresh pool.
type pool struct {
	mu        sync.Mutex
	db        *sql.DB
	dsn       string
	opTimeout time.Duration
	conns     int
}

func (p *pool) get() (*sql.DB, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.db == nil {
		db, err := openDB(p.dsn, p.opTimeout, p.conns)
		if err != nil {
			return nil, err
		}
		p.db = db
	}
	return p.db, nil
}

func (p *pool) discard(db *sql.DB) {
	p.mu.Lock()
	if p.db == db {
		p.db = nil
	}
	p.mu.Unlock()
	go db.Close()
}

func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.db != nil {
		p.db.Close()
		p.db = nil
	}
}

type panicError struct{ v interface{} }

func (e panicError) Error() string { return fmt.Sprintf("driver panic: %v", e.v) }

// guarded runs one operation on the pool, turning a driver panic into an error.
func guarded(p *pool, f func(*sql.DB) error) (err error) {
	db, err := p.get()
	if err != nil {
		return err
	}
	defer func() {
		if v := recover(); v != nil {
			p.discard(db)
			err = panicError{v}
		}
	}()
	return f(db)
}

func (d dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d dialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

func (d dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.timeout, KeepAlive: 5 * time.Second}
	c, err := nd.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &deadlineConn{Conn: c, timeout: d.timeout}, nil
}

func openDB(dsn string, opTimeout time.Duration, conns int) (*sql.DB, error) {
	connector, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	connector.Dialer(dialer{timeout: opTimeout})
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	return db, nil
}

// op is one operation as the client saw it.
type op struct {
	Kind     string // "write" or "read"
	Start    time.Time
	End      time.Time
	OK       bool
	SQLState string
	Message  string
}

func (o op) latency() time.Duration { return o.End.Sub(o.Start) }

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

var addrRE = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+`)
var numRE = regexp.MustCompile(`\b\d{4,}\b`)

// classify: SQLSTATE (or a network/driver class) and a message stable enough to group on.
func classify(err error) (string, string) {
	var pe *pq.Error
	var pp panicError
	if errors.As(err, &pp) {
		return "client-panic", numRE.ReplaceAllString(pp.Error(), "N")
	}
	if errors.As(err, &pe) {
		return string(pe.Code), numRE.ReplaceAllString(pe.Message, "N")
	}
	msg := err.Error()
	state := "client"
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		state = "timeout"
	case errors.Is(err, context.DeadlineExceeded):
		state = "timeout"
	case strings.Contains(msg, "connection refused"):
		state = "refused"
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "broken pipe"), msg == "EOF",
		strings.Contains(msg, "unexpected EOF"), strings.Contains(msg, "bad connection"):
		state = "conn-lost"
	}
	msg = addrRE.ReplaceAllString(msg, "ADDR")
	msg = numRE.ReplaceAllString(msg, "N")
	return state, msg
}

type recorder struct {
	mu        sync.Mutex
	ops       []op
	acked     *bufio.Writer
	lastOK    map[string]time.Time
	lastBad   time.Time
	inflight  map[string]time.Time
	counts    map[string][2]int
	stall     time.Duration
	opsFile   *bufio.Writer
	firstBoth bool
}

func (r *recorder) begin(kind string, t time.Time) {
	r.mu.Lock()
	r.inflight[kind] = t
	r.mu.Unlock()
}

func (r *recorder) add(o op, id int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.inflight, o.Kind)
	r.ops = append(r.ops, o)
	c := r.counts[o.Kind]
	if o.OK {
		c[0]++
		r.lastOK[o.Kind] = o.End
		if o.Kind == "write" {
			fmt.Fprintf(r.acked, "%d %d\n", id, ms(o.End))
		}
	} else {
		c[1]++
	}
	r.counts[o.Kind] = c
	if !o.OK || o.latency() > r.stall {
		if o.End.After(r.lastBad) {
			r.lastBad = o.End
		}
	}
	if r.opsFile != nil {
		ok := 0
		if o.OK {
			ok = 1
		}
		fmt.Fprintf(r.opsFile, "%s,%d,%d,%d,%s,%q\n", o.Kind, o.Start.UnixMicro(), o.End.UnixMicro(), ok, o.SQLState, o.Message)
	}
}

type status struct {
	NowMs         int64 `json:"now_ms"`
	WriteOK       int   `json:"write_ok"`
	WriteFailed   int   `json:"write_failed"`
	ReadOK        int   `json:"read_ok"`
	ReadFailed    int   `json:"read_failed"`
	WriteLastOKMs int64 `json:"write_last_ok_ms"`
	ReadLastOKMs  int64 `json:"read_last_ok_ms"`
	LastBadMs     int64 `json:"last_bad_ms"`
	// The start of an operation still running (0: none), so a hold shows while it lasts.
	WriteInflightMs int64 `json:"write_inflight_since_ms"`
	ReadInflightMs  int64 `json:"read_inflight_since_ms"`
}

func (r *recorder) status() status {
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.acked.Flush()
	if r.opsFile != nil {
		_ = r.opsFile.Flush()
	}
	return status{
		NowMs: ms(time.Now()), WriteOK: r.counts["write"][0], WriteFailed: r.counts["write"][1],
		ReadOK: r.counts["read"][0], ReadFailed: r.counts["read"][1],
		WriteLastOKMs: ms(r.lastOK["write"]), ReadLastOKMs: ms(r.lastOK["read"]), LastBadMs: ms(r.lastBad),
		WriteInflightMs: ms(r.inflight["write"]), ReadInflightMs: ms(r.inflight["read"]),
	}
}

func writeJSONAtomic(path string, v interface{}) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// kindSummary: what one kind of operation saw over the whole run.
type kindSummary struct {
	OK          int     `json:"ok"`
	Failed      int     `json:"failed"`
	Stalled     int     `json:"stalled"` // succeeded, but took longer than -stall
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	FirstBadMs  int64   `json:"first_bad_ms"` // start of the first failed or stalled operation (0: none)
	LastBadMs   int64   `json:"last_bad_ms"`  // end of the last one
	FirstFailMs int64   `json:"first_fail_ms"`
	LastFailMs  int64   `json:"last_fail_ms"`
	// The longest interval between the completions of two consecutive successful operations.
	LongestGapMs   int64 `json:"longest_gap_ms"`
	LongestGapFrom int64 `json:"longest_gap_from_ms"`
	LongestGapTo   int64 `json:"longest_gap_to_ms"`
	// The longest span from the start of a failed or stalled operation to the end of the next
	// successful one (a stalled success closes its own span).
	LongestOutageMs   int64 `json:"longest_outage_ms"`
	LongestOutageFrom int64 `json:"longest_outage_from_ms"`
	LongestOutageTo   int64 `json:"longest_outage_to_ms"`
	// From the first bad operation's start to the end of the first success after the last bad
	// one: the whole disturbed period, however many outages it had.
	DisruptionMs int64 `json:"disruption_ms"`
	Outages      int   `json:"outages"`
	Unrecovered  bool  `json:"unrecovered"` // the run ended inside an outage
	LastOKMs     int64 `json:"last_ok_ms"`
}

type errGroup struct {
	Kind     string `json:"kind"`
	SQLState string `json:"sqlstate"`
	Message  string `json:"message"`
	Count    int    `json:"count"`
	FirstMs  int64  `json:"first_ms"`
	LastMs   int64  `json:"last_ms"`
}

type summary struct {
	StartMs    int64       `json:"start_ms"`
	EndMs      int64       `json:"end_ms"`
	IntervalMs float64     `json:"interval_ms"`
	StallMs    float64     `json:"stall_ms"`
	Acked      int         `json:"acked_writes"`
	Write      kindSummary `json:"write"`
	Read       kindSummary `json:"read"`
	Errors     []errGroup  `json:"errors"`
	StopReason string      `json:"stop_reason"`
}

func summarizeKind(ops []op, stall time.Duration) kindSummary {
	var s kindSummary
	sort.Slice(ops, func(i, j int) bool { return ops[i].Start.Before(ops[j].Start) })
	var lats []float64
	var prevOK time.Time
	bad := func(o op) bool { return !o.OK || o.latency() > stall }
	outStart := time.Time{}
	for _, o := range ops {
		l := float64(o.latency().Microseconds()) / 1000
		if o.OK {
			s.OK++
			lats = append(lats, l)
			if o.latency() > stall {
				s.Stalled++
			}
			if !prevOK.IsZero() {
				if g := o.End.Sub(prevOK).Milliseconds(); g > s.LongestGapMs {
					s.LongestGapMs, s.LongestGapFrom, s.LongestGapTo = g, ms(prevOK), ms(o.End)
				}
			}
			prevOK = o.End
			s.LastOKMs = ms(o.End)
		} else {
			s.Failed++
			if s.FirstFailMs == 0 {
				s.FirstFailMs = ms(o.Start)
			}
			s.LastFailMs = ms(o.End)
		}
		if bad(o) {
			if s.FirstBadMs == 0 {
				s.FirstBadMs = ms(o.Start)
			}
			s.LastBadMs = ms(o.End)
			if outStart.IsZero() {
				outStart = o.Start
			}
		}
		if o.OK && !outStart.IsZero() {
			s.Outages++
			if d := o.End.Sub(outStart).Milliseconds(); d > s.LongestOutageMs {
				s.LongestOutageMs, s.LongestOutageFrom, s.LongestOutageTo = d, ms(outStart), ms(o.End)
			}
			s.DisruptionMs = ms(o.End) - s.FirstBadMs
			outStart = time.Time{}
		}
	}
	if !outStart.IsZero() && len(ops) > 0 {
		s.Unrecovered = true
		s.Outages++
		end := ops[len(ops)-1].End
		if d := end.Sub(outStart).Milliseconds(); d > s.LongestOutageMs {
			s.LongestOutageMs, s.LongestOutageFrom, s.LongestOutageTo = d, ms(outStart), ms(end)
		}
		s.DisruptionMs = ms(end) - s.FirstBadMs
	}
	sort.Float64s(lats)
	if n := len(lats); n > 0 {
		s.P50Ms = lats[n/2]
		s.P99Ms = lats[(n*99)/100]
		s.MaxMs = lats[n-1]
	}
	return s
}

func summarize(ops []op, stall time.Duration) (kindSummary, kindSummary, []errGroup) {
	var w, r []op
	groups := map[string]*errGroup{}
	for _, o := range ops {
		if o.Kind == "write" {
			w = append(w, o)
		} else {
			r = append(r, o)
		}
		if !o.OK {
			k := o.Kind + "\x00" + o.SQLState + "\x00" + o.Message
			g := groups[k]
			if g == nil {
				g = &errGroup{Kind: o.Kind, SQLState: o.SQLState, Message: o.Message, FirstMs: ms(o.Start)}
				groups[k] = g
			}
			g.Count++
			g.LastMs = ms(o.End)
		}
	}
	var gl []errGroup
	for _, g := range groups {
		gl = append(gl, *g)
	}
	sort.Slice(gl, func(i, j int) bool {
		if gl[i].Count != gl[j].Count {
			return gl[i].Count > gl[j].Count
		}
		return gl[i].FirstMs < gl[j].FirstMs
	})
	return summarizeKind(w, stall), summarizeKind(r, stall), gl
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func cmdRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	dsn := fs.String("dsn", "", "lib/pq connection string of the proxy")
	out := fs.String("out", "summary.json", "JSON summary written at the end")
	ackedPath := fs.String("acked", "acked.txt", "acknowledged write ids, one per line")
	statusPath := fs.String("status", "", "running counters, rewritten every 200 ms")
	opsPath := fs.String("ops", "", "every operation as CSV (kind,start_us,end_us,ok,sqlstate,message)")
	stop := fs.String("stop", "", "stop when this file exists")
	max := fs.Duration("max", 300*time.Second, "stop after this long in any case")
	interval := fs.Duration("interval", 10*time.Millisecond, "pace of each of the writer and the reader")
	opTimeout := fs.Duration("op-timeout", 75*time.Second, "socket read/write deadline (caps one operation)")
	stall := fs.Duration("stall", time.Second, "a successful operation slower than this counts as stalled")
	runID := fs.Int64("run-id", 1, "ids written are run-id*1e9 + n")
	table := fs.String("table", "ha_probe", "table written (id bigint primary key)")
	conns := fs.Int("conns", 4, "pool size")
	_ = fs.Parse(args)
	if *dsn == "" {
		return errors.New("-dsn is required")
	}
	pool := &pool{dsn: *dsn, opTimeout: *opTimeout, conns: *conns}
	if _, err := pool.get(); err != nil {
		return err
	}
	af, err := os.Create(*ackedPath)
	if err != nil {
		return err
	}
	defer af.Close()
	rec := &recorder{
		acked: bufio.NewWriter(af), lastOK: map[string]time.Time{}, inflight: map[string]time.Time{},
		counts: map[string][2]int{}, stall: *stall,
	}
	if *opsPath != "" {
		of, err := os.Create(*opsPath)
		if err != nil {
			return err
		}
		defer of.Close()
		rec.opsFile = bufio.NewWriter(of)
		fmt.Fprintln(rec.opsFile, "kind,start_us,end_us,ok,sqlstate,message")
	}
	insert := fmt.Sprintf("INSERT INTO %s (id) VALUES ($1)", *table)
	query := fmt.Sprintf("SELECT max(id) FROM %s", *table)
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	loop := func(kind string, do func(db *sql.DB, n int64) error) {
		defer wg.Done()
		t := time.NewTicker(*interval)
		defer t.Stop()
		var n int64
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			n++
			o := op{Kind: kind, Start: time.Now()}
			rec.begin(kind, o.Start)
			err := guarded(pool, func(db *sql.DB) error { return do(db, n) })
			o.End = time.Now()
			if err == nil {
				o.OK = true
			} else {
				o.SQLState, o.Message = classify(err)
			}
			rec.add(o, *runID*1_000_000_000+n)
		}
	}
	wg.Add(2)
	go loop("write", func(db *sql.DB, n int64) error {
		_, err := db.Exec(insert, *runID*1_000_000_000+n)
		return err
	})
	go loop("read", func(db *sql.DB, _ int64) error {
		var v sql.NullInt64
		return db.QueryRow(query).Scan(&v)
	})
	reason := "max"
	tick := time.NewTicker(200 * time.Millisecond)
	for time.Since(start) < *max {
		<-tick.C
		if *statusPath != "" {
			_ = writeJSONAtomic(*statusPath, rec.status())
		}
		if *stop != "" && fileExists(*stop) {
			reason = "stop-file"
			break
		}
	}
	tick.Stop()
	cancel()
	defer pool.close()
	// An operation in flight ends within -op-timeout at worst.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(*opTimeout + 5*time.Second):
		reason += ",op-still-running"
	}
	rec.mu.Lock()
	ops := append([]op(nil), rec.ops...)
	_ = rec.acked.Flush()
	if rec.opsFile != nil {
		_ = rec.opsFile.Flush()
	}
	acked := rec.counts["write"][0]
	rec.mu.Unlock()
	if *statusPath != "" {
		_ = writeJSONAtomic(*statusPath, rec.status())
	}
	w, r, groups := summarize(ops, *stall)
	s := summary{
		StartMs: ms(start), EndMs: ms(time.Now()),
		IntervalMs: float64(interval.Microseconds()) / 1000, StallMs: float64(stall.Microseconds()) / 1000,
		Acked: acked, Write: w, Read: r, Errors: groups, StopReason: reason,
	}
	if s.Errors == nil {
		s.Errors = []errGroup{}
	}
	return writeJSONAtomic(*out, s)
}

func cmdVerify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ExitOnError)
	dsn := fs.String("dsn", "", "lib/pq connection string of the (new) primary")
	ackedPath := fs.String("acked", "acked.txt", "acknowledged write ids")
	table := fs.String("table", "ha_probe", "table written")
	_ = fs.Parse(args)
	db, err := openDB(*dsn, 30*time.Second, 1)
	if err != nil {
		return err
	}
	defer db.Close()
	f, err := os.Open(*ackedPath)
	if err != nil {
		return err
	}
	defer f.Close()
	var ids []int64
	ackMs := map[int64]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return fmt.Errorf("bad id %q: %v", fields[0], err)
		}
		ids = append(ids, v)
		if len(fields) > 1 {
			ackMs[v], _ = strconv.ParseInt(fields[1], 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	// One round trip per 10000 ids: the ids not in the table.
	var missing []int64
	for i := 0; i < len(ids); i += 10000 {
		j := i + 10000
		if j > len(ids) {
			j = len(ids)
		}
		rows, err := db.Query(fmt.Sprintf(
			"SELECT a.id FROM unnest($1::bigint[]) AS a(id) LEFT JOIN %s t ON t.id = a.id WHERE t.id IS NULL ORDER BY 1", *table),
			pq.Array(ids[i:j]))
		if err != nil {
			return err
		}
		for rows.Next() {
			var v int64
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			missing = append(missing, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	sample := missing
	if len(sample) > 20 {
		sample = sample[:20]
	}
	if sample == nil {
		sample = []int64{}
	}
	// When each missing write was acknowledged (unix ms), first and last.
	var first, last int64
	for _, id := range missing {
		if t := ackMs[id]; t != 0 {
			if first == 0 || t < first {
				first = t
			}
			if t > last {
				last = t
			}
		}
	}
	b, _ := json.Marshal(map[string]interface{}{"acked": len(ids), "missing": len(missing), "missing_sample": sample,
		"missing_first_ack_ms": first, "missing_last_ack_ms": last})
	fmt.Println(string(b))
	return nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe run|verify [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = cmdRun(os.Args[2:])
	case "verify":
		err = cmdVerify(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}
