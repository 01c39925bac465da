// mgbackup: the client side of bench/backup/run.sh (issue 6, point 9, first half).
//
//	mgbackup schema  --dsn DSN --corpus migrations-grafana11.0.0-iqbal.sql
//	mgbackup seed    --dsn DSN --db-file PATH --bytes N [--seed S]
//	mgbackup backup  --dsn DSN --metrics URL --metagate BIN --config F --backup-dir D ...
//	mgbackup capture --dsn-on DSN --dsn-off DSN --metrics-on URL --metrics-off URL ...
//	mgbackup outage  --dsn DSN --metrics URL --backup-dir D --s3rver ... (outage.go, outage.sh)
//	mgbackup ping    --dsn DSN                  (opens the database, prints row counts)
//	mgbackup wait    --metrics URL --name METRIC [--min 1] [--timeout 900]
//
// run.sh builds it in GOPATH mode together with tests/differential/mgdiff/corpus.go (the
// migration corpus parser, copied next to these files at build time) and Debian's lib/pq.
//
// schema: replays the corpus on one server the way Grafana's migrator does over lib/pq
// (advisory lock, one transaction per migration with its migration_log row; IfIndexExists-
// guarded DROP INDEX entries are skipped when the index is absent, as on a fresh database).
// seed: seed.go. backup, capture: experiments.go (the load itself: load.go).
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"regexp"
	"time"

	_ "github.com/lib/pq"
)

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "mgbackup: "+format+"\n", a...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		die("usage: mgbackup schema|seed|backup|capture [flags]")
	}
	cmd, args := os.Args[1], os.Args[2:]
	switch cmd {
	case "schema":
		fs := flag.NewFlagSet(cmd, flag.ExitOnError)
		dsn := fs.String("dsn", "", "metagate DSN")
		corpus := fs.String("corpus", "", "migration corpus")
		fs.Parse(args)
		t0 := time.Now()
		n, err := replaySchema(*dsn, *corpus)
		if err != nil {
			die("schema: %v", err)
		}
		fmt.Printf("schema: %d migrations replayed in %.1f s\n", n, time.Since(t0).Seconds())
	case "seed":
		fs := flag.NewFlagSet(cmd, flag.ExitOnError)
		dsn := fs.String("dsn", "", "metagate DSN")
		dbFile := fs.String("db-file", "", "the SQLite file metagate serves (its size decides when to stop)")
		bytes := fs.Int64("bytes", 1_100_000_000, "stop once file + WAL reach this many bytes")
		seed := fs.Int64("seed", 42, "random seed")
		fs.Parse(args)
		if err := runSeed(*dsn, *dbFile, *bytes, *seed); err != nil {
			die("seed: %v", err)
		}
	case "ping":
		// Opens the database (metagate opens a file on its first client) and prints its size.
		fs := flag.NewFlagSet(cmd, flag.ExitOnError)
		dsn := fs.String("dsn", "", "metagate DSN")
		fs.Parse(args)
		db, err := sql.Open("postgres", *dsn)
		if err != nil {
			die("ping: %v", err)
		}
		defer db.Close()
		var nd, nv, na int64
		err = db.QueryRow(`SELECT (SELECT count(*) FROM dashboard), (SELECT count(*) FROM dashboard_version), (SELECT count(*) FROM annotation)`).Scan(&nd, &nv, &na)
		if err != nil {
			die("ping: %v", err)
		}
		fmt.Printf("%d dashboards, %d dashboard versions, %d annotations\n", nd, nv, na)
	case "wait":
		// Waits until a metric (summed over its series) reaches --min.
		fs := flag.NewFlagSet(cmd, flag.ExitOnError)
		url := fs.String("metrics", "", "/metrics URL")
		name := fs.String("name", "", "metric name")
		min := fs.Float64("min", 1, "value to reach")
		timeout := fs.Float64("timeout", 900, "seconds")
		fs.Parse(args)
		end := time.Now().Add(time.Duration(*timeout * 1e9))
		for {
			m, err := scrape(*url)
			if err == nil && m[*name] >= *min {
				fmt.Printf("%s = %g\n", *name, m[*name])
				return
			}
			if time.Now().After(end) {
				die("wait: %s did not reach %g within %.0f s (last: %v, %v)", *name, *min, *timeout, m[*name], err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	case "backup":
		cmdBackup(args)
	case "capture":
		cmdCapture(args)
	case "outage":
		cmdOutage(args)
	default:
		die("unknown command %q", cmd)
	}
}

var reDropIdx = regexp.MustCompile(`(?i)DROP INDEX "([^"]+)"`)

func replaySchema(dsn, corpus string) (int, error) {
	migs, err := ParseMigrations(corpus)
	if err != nil {
		return 0, err
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxIdleConns(2)
	ctx := context.Background()
	if err := db.PingContext(ctx); err != nil {
		return 0, err
	}
	lockKey := fmt.Sprint(uint32(crc32.ChecksumIEEE([]byte("grafana")) * 1486364155))
	lockTx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	var locked bool
	if err := lockTx.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey).Scan(&locked); err != nil || !locked {
		return 0, fmt.Errorf("advisory lock: %v (locked=%v)", err, locked)
	}
	logged := map[string]bool{}
	var tname string
	if err := lockTx.QueryRowContext(ctx, `SELECT tablename FROM pg_tables WHERE tablename = $1`, "migration_log").Scan(&tname); err == nil {
		rows, err := lockTx.QueryContext(ctx, `SELECT "migration_id" FROM "migration_log"`)
		if err != nil {
			return 0, err
		}
		for rows.Next() {
			var id string
			rows.Scan(&id)
			logged[id] = true
		}
		rows.Close()
	}
	ran := 0
	for _, m := range migs {
		if m.Code || logged[m.ID] {
			continue
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return ran, err
		}
		skip := false
		if m.IfIndexNote {
			if mm := reDropIdx.FindStringSubmatch(m.SQL); mm != nil {
				var one int
				err := tx.QueryRowContext(ctx, `SELECT 1 FROM "pg_indexes" WHERE "indexname"=$1`, mm[1]).Scan(&one)
				skip = err == sql.ErrNoRows
			}
		}
		if !skip {
			if _, err := tx.ExecContext(ctx, WireSQL(m.SQL)); err != nil {
				tx.Rollback()
				return ran, fmt.Errorf("migration %d %q: %v", m.LogID, m.ID, err)
			}
		}
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO "migration_log" ("migration_id","sql","success","error","timestamp") VALUES ($1, $2, $3, $4, $5) RETURNING "id"`,
			m.ID, m.SQL, true, "", m.Timestamp).Scan(&id); err != nil {
			tx.Rollback()
			return ran, fmt.Errorf("migration_log row for %q: %v", m.ID, err)
		}
		if err := tx.Commit(); err != nil {
			return ran, err
		}
		ran++
	}
	if _, err := lockTx.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, lockKey); err != nil {
		return ran, err
	}
	return ran, lockTx.Commit()
}
