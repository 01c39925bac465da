// mglatency: per-query latency of Grafana's runtime queries, PostgreSQL vs metagate.
//
// Compiled together with tests/differential/mgdiff (run.sh copies those files next to this
// one; mgdiff's own main is renamed), so the corpus parsers, sample parameters, migration
// replay and setup script are exactly the ones the differential test uses.
//
// Usage (run.sh builds and calls it): mglatency --pg DSN --mg DSN --corpus MIGRATIONS.sql
// --queries runtime-queries.sql --params runtime-params.json --setup runtime-setup.sql
// --tsv OUT.tsv [--n 200] [--warmup 5] [--block 20] [--budget 6] [--log SETUP.log]
//
// First, schema and data on both sides: mgdiff's migration replay (lock step, as Grafana's
// migrator over lib/pq) and runtime-setup.sql; their comparison output goes to --log.
// Then, for every runtime statement in file order, one pinned lib/pq connection per side
// (database/sql: unnamed Parse/Describe + Bind/Execute with arguments, a simple Query
// without, like Grafana): warm-up on both sides, then N timed executions per side in
// blocks of --block, alternating PG, metagate, PG, ... so both sides see the same machine.
//
// Writes (anything mgdiff's readOnly() rejects: INSERT/UPDATE/DELETE, RETURNING, setval,
// advisory locks): each timed execution runs as BEGIN; <statement>; ROLLBACK and only the
// statement is timed. Rolling back keeps every repetition identical (an INSERT never hits
// its own earlier row, an UPDATE always finds the row it expects) and keeps both databases
// identical; the cost of COMMIT (fsync on PostgreSQL, the WAL write on SQLite) is therefore
// not in these numbers. After the timing, the statement is applied once for real
// (autocommit, all of its parameter sets) on both sides, so that later statements see the
// same data as in the differential run (e.g. an UPDATE of the row inserted just before).
// The first parameter set of a statement is the one timed. A statement that errors on
// either side during warm-up or timing is skipped and listed.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"time"
)

type benchConn struct {
	db   *sql.DB
	conn *sql.Conn
}

func openBench(dsn string) (*benchConn, error) {
	s, err := openLibpq(context.Background(), withConnectTimeout(dsn), "libpq")
	if err != nil {
		return nil, err
	}
	return &benchConn{db: s.db, conn: s.conn}, nil
}

// kind of a statement, which decides how one execution is wrapped.
const (
	kRead     = "read"     // as is (autocommit)
	kWrite    = "write"    // BEGIN; timed statement; ROLLBACK
	kBegin    = "begin"    // timed BEGIN; ROLLBACK
	kCommit   = "commit"   // BEGIN; timed COMMIT (of an empty transaction)
	kRollback = "rollback" // timed ROLLBACK (outside a transaction, as in the corpus)
)

func kindOf(sqlText string) string {
	switch strings.ToUpper(strings.TrimSpace(sqlText)) {
	case "BEGIN":
		return kBegin
	case "COMMIT":
		return kCommit
	case "ROLLBACK":
		return kRollback
	case ";":
		return kRead
	}
	if readOnly(sqlText) {
		return kRead
	}
	return kWrite
}

type job struct {
	st      *Statement
	kind    string
	args    []interface{}   // the timed parameter set
	sets    [][]interface{} // all sets (for applying a write)
	isQuery bool
	prepare bool // lib/pq db.Prepare + Exec + Close (SaveAlertInstances)
}

// once runs one execution and returns the time of the statement itself.
func (c *benchConn) once(ctx context.Context, j *job) (time.Duration, error) {
	simple := func(q string) error { _, err := c.conn.ExecContext(ctx, q); return err }
	switch j.kind {
	case kWrite, kCommit:
		if err := simple("BEGIN"); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	err := c.run(ctx, j, [][]interface{}{j.args})
	d := time.Since(start)
	switch j.kind {
	case kWrite, kBegin:
		if rerr := simple("ROLLBACK"); rerr != nil && err == nil {
			err = rerr
		}
	}
	return d, err
}

// run executes the statement once per argument set (the way mgdiff's libpq client does).
func (c *benchConn) run(ctx context.Context, j *job, sets [][]interface{}) error {
	if j.prepare {
		stmt, err := c.conn.PrepareContext(ctx, j.st.SQL)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, a := range sets {
			if _, err := stmt.ExecContext(ctx, a...); err != nil {
				return err
			}
		}
		return nil
	}
	for _, a := range sets {
		if j.isQuery {
			rows, err := c.conn.QueryContext(ctx, j.st.SQL, a...)
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return err
			}
		} else {
			res, err := c.conn.ExecContext(ctx, j.st.SQL, a...)
			if err != nil {
				return err
			}
			res.RowsAffected()
		}
	}
	return nil
}

type row struct {
	entry, kind, text string
	n                 int
	pg, mg            [2]float64 // p50, p99 in µs
}

func pct(ds []time.Duration, p float64) float64 {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	i := int(math.Ceil(p*float64(len(s)))) - 1 // nearest rank
	if i < 0 {
		i = 0
	}
	return float64(s[i].Nanoseconds()) / 1000
}

func errStr(err error) string { s, _ := errText(err); return s }

func main() {
	pgDSN := flag.String("pg", "", "PostgreSQL DSN")
	mgDSN := flag.String("mg", "", "metagate DSN")
	corpus := flag.String("corpus", "", "migrations corpus (schema)")
	queries := flag.String("queries", "", "runtime-queries.sql")
	params := flag.String("params", "", "runtime-params.json")
	setup := flag.String("setup", "", "runtime-setup.sql")
	tsv := flag.String("tsv", "grafana-latency.tsv", "output TSV")
	logPath := flag.String("log", "", "where the schema/setup comparison output goes (default: discarded)")
	n := flag.Int("n", 200, "timed executions per query and side")
	warmup := flag.Int("warmup", 5, "untimed executions per query and side first")
	block := flag.Int("block", 20, "executions per side before switching sides")
	budget := flag.Float64("budget", 6, "seconds per query (both sides): fewer than --n executions for slow queries, at least --block")
	flag.Parse()
	if *pgDSN == "" || *mgDSN == "" || *corpus == "" || *queries == "" || *params == "" {
		fatalf("usage: mglatency --pg DSN --mg DSN --corpus F --queries F --params F [--setup F] [--tsv F]")
	}
	stepTimeout = 20 * time.Second

	// --- 1. schema and sample data on both sides (mgdiff's own replay, output to the log).
	t0 := time.Now()
	stdout := os.Stdout
	logf, err := os.Create(os.DevNull)
	if *logPath != "" {
		logf, err = os.Create(*logPath)
	}
	if err != nil {
		fatalf("%v", err)
	}
	os.Stdout = logf
	rep := NewReporter(0, false)
	err = RunMigrations(rep, *pgDSN, *mgDSN, *corpus)
	if err == nil && *setup != "" {
		err = runSetup(rep, RuntimeConfig{RefDSN: *pgDSN, TgtDSN: *mgDSN, Setup: *setup})
	}
	rep.Summary("schema+setup")
	os.Stdout = stdout
	logf.Close()
	if err != nil {
		fatalf("schema/setup: %v", err)
	}
	fmt.Printf("schema + setup data: %.1f s, %d checks, %d differences between the sides%s\n",
		time.Since(t0).Seconds(), rep.Passed+rep.Failed, rep.Failed, map[bool]string{true: " (see " + *logPath + ")", false: ""}[rep.Failed > 0 && *logPath != ""])

	// --- 2. the runtime statements.
	stmts, err := ParseRuntime(*queries)
	if err != nil {
		fatalf("%v", err)
	}
	pf, err := LoadParams(*params)
	if err != nil {
		fatalf("%v", err)
	}
	pg, err := openBench(*pgDSN)
	if err != nil {
		fatalf("connect PostgreSQL: %v", err)
	}
	mg, err := openBench(*mgDSN)
	if err != nil {
		fatalf("connect metagate: %v", err)
	}
	sides := [2]*benchConn{pg, mg}
	sideName := [2]string{"pg", "metagate"}

	var rows []row
	var skipped []string
	t1 := time.Now()
	for _, st := range stmts {
		o := pf.Statements[st.Entry]
		text := clipText(st.SQL, 70)
		if o != nil && o.Skip != "" {
			skipped = append(skipped, fmt.Sprintf("%-8s %s\n         params file: %s", st.Entry, text, o.Skip))
			continue
		}
		if o != nil && len(o.Clients) > 0 && !contains(o.Clients, "libpq") {
			skipped = append(skipped, fmt.Sprintf("%-8s %s\n         params file: not run through lib/pq", st.Entry, text))
			continue
		}
		sets, err := o.ArgSets(ClientTag("libpq"))
		if err != nil {
			fatalf("%s: %v", st.Entry, err)
		}
		j := &job{st: st, kind: kindOf(st.SQL), args: sets[0], sets: sets,
			isQuery: returnsRows(st.SQL), prepare: o != nil && o.Prepare}

		// Warm-up (untimed) on both sides; any error skips the statement.
		var ds [2][]time.Duration
		var failure string
		var warm [2]time.Duration
		for s := 0; s < 2 && failure == ""; s++ {
			for i := 0; i < *warmup; i++ {
				ctx, cancel := stepCtx()
				d, err := sides[s].once(ctx, j)
				cancel()
				if err != nil {
					failure = sideName[s] + ": " + errStr(err)
					break
				}
				warm[s] += d
			}
		}
		// Slow statements get fewer executions, so the run stays bounded.
		reps := *n
		if *warmup > 0 && failure == "" {
			per := (warm[0] + warm[1]).Seconds() / float64(*warmup)
			if per > 0 && float64(reps)*per > *budget {
				reps = int(*budget / per)
				if reps < *block {
					reps = *block
				}
			}
		}
		// Timed executions, alternating sides block by block.
		for done := 0; done < reps && failure == ""; done += *block {
			for s := 0; s < 2 && failure == ""; s++ {
				for i := done; i < done+*block && i < reps; i++ {
					ctx, cancel := stepCtx()
					d, err := sides[s].once(ctx, j)
					cancel()
					if err != nil {
						failure = sideName[s] + ": " + errStr(err)
						break
					}
					ds[s] = append(ds[s], d)
				}
			}
		}
		if failure != "" {
			skipped = append(skipped, fmt.Sprintf("%-8s %s\n         %s", st.Entry, text, failure))
		} else {
			rows = append(rows, row{entry: st.Entry, kind: j.kind, text: text, n: reps,
				pg: [2]float64{pct(ds[0], 0.50), pct(ds[0], 0.99)},
				mg: [2]float64{pct(ds[1], 0.50), pct(ds[1], 0.99)}})
		}
		// Apply a write once for real on both sides (see the header comment).
		// Errors are expected for some sets (the 23505 vectors) but must be the same on both
		// sides, or the data has diverged.
		if j.kind == kWrite {
			var res [2]string
			for s := 0; s < 2; s++ {
				ctx, cancel := stepCtx()
				if err := sides[s].run(ctx, j, sets); err != nil {
					res[s] = errStr(err)
				}
				cancel()
			}
			if res[0] != res[1] {
				fmt.Printf("WARNING %s: applying it gave pg=%q metagate=%q; later statements may see different data\n", st.Entry, res[0], res[1])
			}
		}
	}
	elapsed := time.Since(t1)

	// --- 3. report.
	out, err := os.Create(*tsv)
	if err != nil {
		fatalf("%v", err)
	}
	fmt.Fprintln(out, "entry\tkind\tn\tpg_p50_us\tpg_p99_us\tmg_p50_us\tmg_p99_us\tp50_ratio\tp99_ratio\tsql")
	fmt.Printf("\n%-8s %-8s %4s %9s %9s %9s %9s %7s %7s  %s\n", "entry", "kind", "n", "pg p50", "pg p99", "mg p50", "mg p99", "x p50", "x p99", "statement (µs; x = metagate/pg)")
	var lr50, lr99 float64
	le := 0
	for _, r := range rows {
		x50, x99 := r.mg[0]/r.pg[0], r.mg[1]/r.pg[1]
		lr50 += math.Log(x50)
		lr99 += math.Log(x99)
		if r.mg[0] <= r.pg[0] {
			le++
		}
		fmt.Printf("%-8s %-8s %4d %9.0f %9.0f %9.0f %9.0f %7.2f %7.2f  %s\n", r.entry, r.kind, r.n, r.pg[0], r.pg[1], r.mg[0], r.mg[1], x50, x99, r.text)
		fmt.Fprintf(out, "%s\t%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.3f\t%.3f\t%s\n", r.entry, r.kind, r.n, r.pg[0], r.pg[1], r.mg[0], r.mg[1], x50, x99, r.text)
	}
	out.Close()
	k := float64(len(rows))
	fmt.Printf("\n%d statements timed, %d skipped, %.0f s of timing; TSV: %s\n", len(rows), len(skipped), elapsed.Seconds(), *tsv)
	if len(rows) > 0 {
		fmt.Printf("geometric mean p50 ratio (metagate/pg): %.3f\n", math.Exp(lr50/k))
		fmt.Printf("geometric mean p99 ratio (metagate/pg): %.3f\n", math.Exp(lr99/k))
		fmt.Printf("metagate p50 <= pg p50: %d of %d statements\n", le, len(rows))
		sort.SliceStable(rows, func(a, b int) bool { return rows[a].mg[0]/rows[a].pg[0] > rows[b].mg[0]/rows[b].pg[0] })
		fmt.Println("\nworst p50 ratios:")
		for i := 0; i < 5 && i < len(rows); i++ {
			r := rows[i]
			fmt.Printf("  %-8s x%-6.2f %7.0f vs %7.0f µs  %s\n", r.entry, r.mg[0]/r.pg[0], r.mg[0], r.pg[0], clipText(r.st(stmts), 160))
		}
	}
	if len(skipped) > 0 {
		fmt.Println("\nskipped:")
		for _, s := range skipped {
			fmt.Println("  " + s)
		}
	}
}

// st returns the full text of the row's statement.
func (r row) st(stmts []*Statement) string {
	for _, s := range stmts {
		if s.Entry == r.entry {
			return s.SQL
		}
	}
	return r.text
}

func clipText(s string, max int) string {
	s = collapseWS(s)
	if len(s) > max {
		return s[:max-3] + "..."
	}
	return s
}
