package main

// `mgdiff migrations`: replay a migration corpus the way Grafana's migrator
// does over lib/pq (pkg/services/sqlstore/migrator/migrator.go), on the
// reference and on the target in lock step, comparing every step; then compare
// the resulting schemas through the catalog queries Grafana and xorm run.
//
// Grafana's sequence on start-up (migration_locking = true, the default):
//
//	Ping (";"), the recursive-CTE probe
//	lock session:  BEGIN; SELECT pg_try_advisory_lock($1)   -- $1 decimal STRING
//	  SELECT tablename FROM pg_tables WHERE tablename = $1  -- IsTableExist(migration_log)
//	  SELECT "id", … FROM "migration_log"                    -- only if the table exists
//	  for each migration not yet logged, on ANOTHER pooled connection:
//	    BEGIN
//	    [condition query, e.g. IfIndexExists: SELECT 1 FROM "pg_indexes" WHERE"tablename"=$1 AND "indexname"=$2]
//	    <migration SQL>  -- sess.Exec(sql) without args = one simple Query, may hold several statements
//	    INSERT INTO "migration_log" (…) VALUES ($1…$5) RETURNING "id"   -- run as a query
//	    COMMIT
//	  SELECT pg_advisory_unlock($1); COMMIT
//
// A skipped conditional migration is still logged with success = true.

import (
	"context"
	"database/sql"
	"fmt"
	"hash/crc32"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

const (
	sqlTableCheck   = `SELECT tablename FROM pg_tables WHERE tablename = $1`
	sqlMigrationLog = `SELECT "id", "migration_id", "sql", "success", "error", "timestamp" FROM "migration_log"`
	sqlTryLock      = `SELECT pg_try_advisory_lock($1)`
	sqlUnlock       = `SELECT pg_advisory_unlock($1)`
	sqlIndexCheck   = `SELECT 1 FROM "pg_indexes" WHERE"tablename"=$1 AND "indexname"=$2`
	sqlInsertLog    = `INSERT INTO "migration_log" ("migration_id","sql","success","error","timestamp") VALUES ($1, $2, $3, $4, $5) RETURNING "id"`
	sqlCTEProbe     = "WITH RECURSIVE cte (n) AS\n\t\t\t(\n\t\t\tSELECT 1\n\t\t\tUNION ALL\n\t\t\tSELECT n + 1 FROM cte WHERE n < 2\n\t\t\t)\n\t\t\tSELECT * FROM cte;"
	sqlUserCount    = `SELECT COUNT(id) AS Count FROM "user"`

	// Schema comparison (information_schema / pg_indexes) after the replay.
	sqlTablesPublic = `SELECT tablename FROM pg_tables WHERE schemaname = $1`
	sqlAllTables    = `SELECT tablename FROM pg_tables`
	sqlColumns      = `SELECT column_name, data_type, is_nullable, column_default, character_maximum_length, ordinal_position FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`
	sqlIndexes      = `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname`
	// xorm's GetIndexes (dialect_postgres.go), no ORDER BY.
	sqlXormIndexes = `SELECT indexname, indexdef FROM pg_indexes WHERE tablename=$1`
	// xorm's GetColumns, schema-less variant (dialect_postgres.go@2117b8b2), verbatim.
	sqlXormColumns = `SELECT column_name, column_default, is_nullable, data_type, character_maximum_length,
    CASE WHEN p.contype = 'p' THEN true ELSE false END AS primarykey,
    CASE WHEN p.contype = 'u' THEN true ELSE false END AS uniquekey
FROM pg_attribute f
    JOIN pg_class c ON c.oid = f.attrelid JOIN pg_type t ON t.oid = f.atttypid
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = f.attnum
    LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_constraint p ON p.conrelid = c.oid AND f.attnum = ANY (p.conkey)
    LEFT JOIN pg_class AS g ON p.confrelid = g.oid
    LEFT JOIN INFORMATION_SCHEMA.COLUMNS s ON s.column_name=f.attname AND c.relname=s.table_name
WHERE c.relkind = 'r'::char AND c.relname = $1 AND f.attnum > 0 ORDER BY f.attnum`
	// xorm IsColumnExist, one call per column in Sync paths.
	sqlColumnCheck = `SELECT column_name FROM INFORMATION_SCHEMA.COLUMNS WHERE table_name = $1 AND column_name = $2`
)

// side is one server driven through a lib/pq connection pool, like Grafana's engine.
type side struct {
	name   string
	db     *sql.DB
	lockTx *sql.Tx
	tx     *sql.Tx
}

func openSide(name, dsn string) (*side, error) {
	db, err := sql.Open("postgres", withConnectTimeout(dsn))
	if err != nil {
		return nil, err
	}
	db.SetMaxIdleConns(2) // Grafana's default max_idle_conn
	db.SetConnMaxLifetime(4 * time.Hour)
	return &side{name: name, db: db}, nil
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...interface{}) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...interface{}) (sql.Result, error)
}

func sqlQuery(ctx context.Context, q queryer, query string, args ...interface{}) *Result {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return errResult(err)
	}
	return readSQLRows(rows)
}

func sqlExec(ctx context.Context, q queryer, query string, args ...interface{}) *Result {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return errResult(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return &Result{Tag: "rows affected: " + err.Error()}
	}
	return &Result{Tag: fmt.Sprintf("rows affected %d", n)}
}

// stepTimeout bounds every single round trip so a hung target cannot stall the run.
var stepTimeout = 60 * time.Second

func stepCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), stepTimeout)
}

// AdvisoryLockKey is Grafana's GenerateAdvisoryLockId: a decimal string.
func AdvisoryLockKey(dbName string) string {
	return fmt.Sprint(uint32(crc32.ChecksumIEEE([]byte(dbName)) * 1486364155))
}

func dbNameOf(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		return strings.TrimPrefix(u.Path, "/")
	}
	for _, kv := range strings.Fields(dsn) {
		if strings.HasPrefix(kv, "dbname=") {
			return strings.Trim(strings.TrimPrefix(kv, "dbname="), "'")
		}
	}
	return "grafana"
}

var (
	reCreateTable = regexp.MustCompile(`(?i)CREATE TABLE (?:IF NOT EXISTS )?"([^"]+)"`)
	reRenameTable = regexp.MustCompile(`(?i)ALTER TABLE "([^"]+)" RENAME TO "([^"]+)"`)
	reDropIndex   = regexp.MustCompile(`(?i)DROP INDEX "([^"]+)"`)
)

// indexTable guesses the table of a Grafana index name IDX_<table>_<cols> /
// UQE_<table>_<cols>: the longest known table name that fits.
func indexTable(index string, tables map[string]bool) string {
	rest := index
	if len(rest) > 4 && (strings.HasPrefix(rest, "IDX_") || strings.HasPrefix(rest, "UQE_")) {
		rest = rest[4:]
	}
	best := ""
	for t := range tables {
		if strings.HasPrefix(rest, t+"_") && len(t) > len(best) {
			best = t
		}
	}
	return best
}

// RunMigrations is the `migrations` subcommand.
func RunMigrations(rep *Reporter, refDSN, tgtDSN, corpus string) error {
	migs, err := ParseMigrations(corpus)
	if err != nil {
		return err
	}
	ref, err := openSide("ref", refDSN)
	if err != nil {
		return err
	}
	defer ref.db.Close()
	tgt, err := openSide("target", tgtDSN)
	if err != nil {
		return err
	}
	defer tgt.db.Close()
	sides := []*side{ref, tgt}
	lockKey := AdvisoryLockKey(dbNameOf(refDSN))
	const cl = "libpq"

	// both runs f on each side with its own step timeout and compares the results.
	both := func(entry string, o CompareOpts, f func(ctx context.Context, s *side) *Result) (*Result, *Result) {
		var res [2]*Result
		for i, s := range sides {
			s := s
			res[i] = watchdog(rep, entry, s.name, func() *Result {
				ctx, cancel := stepCtx()
				defer cancel()
				return f(ctx, s)
			})
		}
		rep.CompareResults(entry, cl, res[0], res[1], o)
		return res[0], res[1]
	}

	// --- start-up: ping, CTE probe, lock, table check, log read.
	both("startup:ping", CompareOpts{}, func(ctx context.Context, s *side) *Result {
		if err := s.db.PingContext(ctx); err != nil {
			return errResult(err)
		}
		return &Result{Tag: "ping ok"}
	})
	both("startup:cte-probe", CompareOpts{}, func(ctx context.Context, s *side) *Result {
		return sqlQuery(ctx, s.db, sqlCTEProbe)
	})
	both("startup:lock", CompareOpts{}, func(ctx context.Context, s *side) *Result {
		tx, err := s.db.BeginTx(context.Background(), nil) // not ctx: database/sql rolls a tx back when its context ends
		if err != nil {
			return errResult(err)
		}
		s.lockTx = tx
		return sqlQuery(ctx, tx, sqlTryLock, lockKey)
	})
	logged := map[string]bool{}
	r0, _ := both("startup:table-check", CompareOpts{}, func(ctx context.Context, s *side) *Result {
		return sqlQuery(ctx, lockOrDB(s), sqlTableCheck, "migration_log")
	})
	if len(r0.Rows) > 0 {
		r1, _ := both("startup:migration-log", CompareOpts{Unordered: true}, func(ctx context.Context, s *side) *Result {
			return sqlQuery(ctx, lockOrDB(s), sqlMigrationLog)
		})
		for _, row := range r1.Rows {
			f := strings.Split(row, " | ")
			if len(f) > 1 {
				logged[f[1]] = true
			}
		}
	}

	// --- the migrations.
	tables := map[string]bool{}
	ran, skipped := 0, 0
	for _, m := range migs {
		entry := fmt.Sprintf("mig[%d] %s", m.LogID, m.ID)
		if m.Code {
			skipped++
			continue
		}
		// Track table names for the IfIndexExists table guess.
		for _, mm := range reCreateTable.FindAllStringSubmatch(m.SQL, -1) {
			tables[mm[1]] = true
		}
		for _, mm := range reRenameTable.FindAllStringSubmatch(m.SQL, -1) {
			tables[mm[2]] = true
		}
		if logged[m.ID] {
			continue
		}
		ran++
		wire := WireSQL(m.SQL)
		both(entry+" :begin", CompareOpts{}, func(ctx context.Context, s *side) *Result {
			tx, err := s.db.BeginTx(context.Background(), nil) // not ctx: database/sql rolls a tx back when its context ends
			if err != nil {
				s.tx = nil
				return errResult(err)
			}
			s.tx = tx
			return &Result{Tag: "BEGIN"}
		})
		// Condition: IfIndexExists(table, index) — each side decides on its own answer.
		skip := [2]bool{}
		if m.IfIndexNote {
			idx := ""
			if mm := reDropIndex.FindStringSubmatch(m.SQL); mm != nil {
				idx = mm[1]
			}
			tbl := indexTable(idx, tables)
			rr, rt := both(entry+" :condition", CompareOpts{}, func(ctx context.Context, s *side) *Result {
				if s.tx == nil {
					return &Result{Err: "client: no transaction"}
				}
				return sqlQuery(ctx, s.tx, sqlIndexCheck, tbl, idx)
			})
			skip[0] = rr.Err == "" && len(rr.Rows) == 0
			skip[1] = rt.Err == "" && len(rt.Rows) == 0
			rep.Logf("%s: IfIndexExists(%q, %q): ref skips=%v target skips=%v", entry, tbl, idx, skip[0], skip[1])
		}
		var execRes [2]*Result
		for i, s := range sides {
			if s.tx == nil {
				execRes[i] = &Result{Err: "client: no transaction"}
				continue
			}
			if skip[i] {
				execRes[i] = &Result{Tag: "skipped by condition"}
				continue
			}
			tx := s.tx
			execRes[i] = watchdog(rep, entry+" :exec", s.name, func() *Result {
				ctx, cancel := stepCtx()
				defer cancel()
				return sqlExec(ctx, tx, wire)
			})
		}
		rep.CompareResults(entry+" :exec", cl, execRes[0], execRes[1], CompareOpts{})
		// Log row + COMMIT, or ROLLBACK after a failure (Grafana aborts start-up there;
		// the harness goes on to compare as much as possible).
		both(entry+" :log", CompareOpts{}, func(ctx context.Context, s *side) *Result {
			i := sideIndex(sides, s)
			if s.tx == nil {
				return &Result{Err: "client: no transaction"}
			}
			if execRes[i].Err != "" {
				return &Result{Tag: "not logged (exec failed)"}
			}
			return sqlQuery(ctx, s.tx, sqlInsertLog, m.ID, m.SQL, true, "", m.Timestamp)
		})
		both(entry+" :commit", CompareOpts{}, func(ctx context.Context, s *side) *Result {
			i := sideIndex(sides, s)
			if s.tx == nil {
				return &Result{Err: "client: no transaction"}
			}
			tx := s.tx
			s.tx = nil
			if execRes[i].Err != "" {
				if err := tx.Rollback(); err != nil {
					return errResult(err)
				}
				return &Result{Tag: "ROLLBACK"}
			}
			if err := tx.Commit(); err != nil {
				return errResult(err)
			}
			return &Result{Tag: "COMMIT"}
		})
	}
	rep.Logf("%s: %d migrations run, %d code migrations skipped", corpus, ran, skipped)

	both("startup:unlock", CompareOpts{}, func(ctx context.Context, s *side) *Result {
		if s.lockTx == nil {
			return &Result{Err: "client: no lock transaction"}
		}
		r := sqlQuery(ctx, s.lockTx, sqlUnlock, lockKey)
		if err := s.lockTx.Commit(); err != nil && r.Err == "" {
			r = errResult(err)
		}
		s.lockTx = nil
		return r
	})

	// --- a second Grafana start: everything is logged now.
	both("restart:table-check", CompareOpts{}, func(ctx context.Context, s *side) *Result {
		return sqlQuery(ctx, s.db, sqlTableCheck, "migration_log")
	})
	both("restart:migration-log", CompareOpts{Unordered: true}, func(ctx context.Context, s *side) *Result {
		return sqlQuery(ctx, s.db, sqlMigrationLog)
	})
	both("restart:user-count", CompareOpts{}, func(ctx context.Context, s *side) *Result {
		return sqlQuery(ctx, s.db, sqlUserCount)
	})

	compareSchemas(rep, sides)
	return nil
}

// withConnectTimeout adds lib/pq's connect_timeout so that a server that
// accepts TCP but never answers the startup cannot stall a connection attempt.
func withConnectTimeout(dsn string) string {
	if strings.Contains(dsn, "connect_timeout") {
		return dsn
	}
	secs := int(stepTimeout / time.Second)
	if secs < 1 {
		secs = 1
	}
	return addDSNParam(dsn, "connect_timeout", fmt.Sprint(secs))
}

// watchdog runs one round trip and gives up on the whole run if it does not
// come back well after its context deadline (a server that ignores
// CancelRequest and never answers would otherwise block a driver read forever).
func watchdog(rep *Reporter, entry, sideName string, f func() *Result) *Result {
	ch := make(chan *Result, 1)
	go func() { ch <- f() }()
	select {
	case r := <-ch:
		return r
	case <-time.After(stepTimeout + 10*time.Second):
		rep.Fail(entry, sideName, "hung", fmt.Sprintf("no answer within %s (the %s server ignores cancellation); giving up", stepTimeout+10*time.Second, sideName))
		rep.Summary(rep.Title)
		os.Exit(1)
		return nil
	}
}

func lockOrDB(s *side) queryer {
	if s.lockTx != nil {
		return s.lockTx
	}
	return s.db
}

func sideIndex(sides []*side, s *side) int {
	for i, x := range sides {
		if x == s {
			return i
		}
	}
	return 0
}

// compareSchemas compares, table by table, what the catalogs say on both sides.
func compareSchemas(rep *Reporter, sides []*side) {
	const cl = "libpq"
	get := func(s *side, q string, args ...interface{}) *Result {
		return watchdog(rep, "schema", s.name, func() *Result {
			ctx, cancel := stepCtx()
			defer cancel()
			return sqlQuery(ctx, s.db, q, args...)
		})
	}
	// Table lists (Grafana's GetTables, with and without a schema).
	rt, tt := get(sides[0], sqlTablesPublic, "public"), get(sides[1], sqlTablesPublic, "public")
	rep.CompareResults("schema:tables(public)", cl, rt, tt, CompareOpts{Unordered: true})
	rep.CompareResults("introspect:1.8#1 all tables", cl, get(sides[0], sqlAllTables), get(sides[1], sqlAllTables), CompareOpts{Unordered: true})

	set := map[string]bool{}
	for _, r := range []*Result{rt, tt} {
		for _, row := range r.Rows {
			set[row] = true
		}
	}
	var names []string
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)

	for _, t := range names {
		// information_schema.columns, one check per column (+ the column order).
		rc, tc := get(sides[0], sqlColumns, t), get(sides[1], sqlColumns, t)
		if !rep.Check("schema:"+t, cl, "columns query error", rc.Err, tc.Err) || rc.Err != "" {
			continue
		}
		rep.Check("schema:"+t, cl, "column order", firstFields(rc.Rows), firstFields(tc.Rows))
		compareKeyed(rep, "schema:"+t, "column", keyed(rc.Rows), keyed(tc.Rows))

		ri, ti := get(sides[0], sqlIndexes, t), get(sides[1], sqlIndexes, t)
		if rep.Check("schema:"+t, cl, "indexes query error", ri.Err, ti.Err) && ri.Err == "" {
			compareKeyed(rep, "schema:"+t, "index", keyed(ri.Rows), keyed(ti.Rows))
		}
		cnt := `SELECT count(*) FROM "` + strings.ReplaceAll(t, `"`, `""`) + `"`
		rep.CompareResults("schema:"+t+" row count", cl, get(sides[0], cnt), get(sides[1], cnt), CompareOpts{})

		// The introspection queries Grafana / xorm run per table.
		rep.CompareResults("introspect:1.1#1 "+t, cl, get(sides[0], sqlTableCheck, t), get(sides[1], sqlTableCheck, t), CompareOpts{})
		rep.CompareResults("introspect:1.8#4 "+t, cl, get(sides[0], sqlXormIndexes, t), get(sides[1], sqlXormIndexes, t), CompareOpts{Unordered: true})
		rep.CompareResults("introspect:1.8#3 "+t, cl, get(sides[0], sqlXormColumns, t), get(sides[1], sqlXormColumns, t), CompareOpts{Unordered: true})
		if len(rc.Rows) > 0 {
			col := strings.SplitN(rc.Rows[0], " | ", 2)[0]
			rep.CompareResults("introspect:1.4#5 "+t+"."+col, cl, get(sides[0], sqlColumnCheck, t, col), get(sides[1], sqlColumnCheck, t, col), CompareOpts{})
		}
	}
}

func firstFields(rows []string) string {
	var out []string
	for _, r := range rows {
		out = append(out, strings.SplitN(r, " | ", 2)[0])
	}
	return strings.Join(out, ", ")
}

// keyed maps the first field of each row to the rest.
func keyed(rows []string) map[string]string {
	m := map[string]string{}
	for _, r := range rows {
		f := strings.SplitN(r, " | ", 2)
		if len(f) == 2 {
			m[f[0]] = f[1]
		} else {
			m[f[0]] = ""
		}
	}
	return m
}

func compareKeyed(rep *Reporter, entry, what string, a, b map[string]string) {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		x, okA := a[k]
		y, okB := b[k]
		if !okA {
			x = "<absent>"
		}
		if !okB {
			y = "<absent>"
		}
		rep.Check(entry+"."+k, "libpq", what, x, y)
	}
}
