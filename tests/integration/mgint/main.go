// mgint: integration tests for metagate that need real clients and real sockets.
//
//	mgint concurrency --dsn DSN [--clients 50] [--pgx 12] [--duration 15s] [--pid PID]
//	mgint hostile     --addr HOST:PORT --dsn DSN [--user U] [--seeds 200] [--burst 200] [--pid PID] [--reference]
//	mgint protocol    --addr HOST:PORT --ca FILE --other-ca FILE --password PW --md5-password PW [--pid PID] [--reference]
//	mgint service     --scenario NAME --addr HOST:PORT --metrics URL --pid PID [options] (see service.go)
//
// concurrency: 50 clients (lib/pq through database/sql, and pgx v4) run a Grafana-like
// mix of reads and writes for a bounded time, then every committed write is checked.
// hostile: raw TCP clients send malformed protocol input while a healthy lib/pq client
// keeps querying; every bad connection must end in the PostgreSQL way, never a hang.
// protocol: TLS (certificate checks, hostssl rules), SCRAM and md5 authentication, and
// CancelRequest through lib/pq and pgx, against a daemon run with the config run.sh wrote.
// failover: lib/pq clients under a load while the PostgreSQL cluster behind metagate fails
// over (failover.go; tests/integration/ha/run.sh).
//
// Both print their figures and end with "N passed, M failed"; exit status 1 on any
// failure, 2 on usage errors. --pid lets the tool check that the daemon process is still
// alive (and, for hostile, count its open file descriptors). --reference (hostile, protocol) runs
// against a real PostgreSQL and accepts its documented deviations from metagate's
// contract (silent close on framing errors), to validate the expectations themselves.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/jackc/pgconn"
	"github.com/lib/pq"
)

// Checks collects named pass/fail results and prints the final summary line.
type Checks struct {
	mu     sync.Mutex
	passed int
	failed int
}

func (c *Checks) Pass(name string, format string, args ...interface{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.passed++
	fmt.Printf("PASS %-40s %s\n", name, fmt.Sprintf(format, args...))
}

func (c *Checks) Fail(name string, format string, args ...interface{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failed++
	fmt.Printf("FAIL %-40s %s\n", name, fmt.Sprintf(format, args...))
}

// Check records a pass when ok, else a failure; detail is printed either way.
func (c *Checks) Check(name string, ok bool, format string, args ...interface{}) {
	if ok {
		c.Pass(name, format, args...)
	} else {
		c.Fail(name, format, args...)
	}
}

func (c *Checks) Summary() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Printf("%d passed, %d failed\n", c.passed, c.failed)
	if c.failed > 0 {
		return 1
	}
	return 0
}

// sqlState returns the SQLSTATE of a server error from lib/pq or pgx, "" otherwise.
func sqlState(err error) string {
	var pqe *pq.Error
	if errors.As(err, &pqe) {
		return string(pqe.Code)
	}
	var pge *pgconn.PgError
	if errors.As(err, &pge) {
		return pge.Code
	}
	return ""
}

// constraintName returns the constraint named by a server error, "" if none.
func constraintName(err error) string {
	var pqe *pq.Error
	if errors.As(err, &pqe) {
		return pqe.Constraint
	}
	var pge *pgconn.PgError
	if errors.As(err, &pge) {
		return pge.ConstraintName
	}
	return ""
}

// errText renders an error with its SQLSTATE when it has one.
func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	if st := sqlState(err); st != "" {
		return st + ": " + err.Error()
	}
	return err.Error()
}

// isLockError: the errors metagate promises clients never see (SQLite's busy/locked,
// lock timeouts on the writer).
func isLockError(err error) bool {
	if err == nil {
		return false
	}
	s := strings.ToLower(err.Error())
	return sqlState(err) == "55P03" || strings.Contains(s, "database is locked") ||
		strings.Contains(s, "sqlite_busy") || strings.Contains(s, "database table is locked")
}

// processAlive: kill(pid, 0) succeeds (pid <= 0: not checked, reported alive).
func processAlive(pid int) bool {
	if pid <= 0 {
		return true
	}
	return syscall.Kill(pid, 0) == nil
}

// openFDs counts /proc/PID/fd entries (-1 if unknown).
func openFDs(pid int) int {
	if pid <= 0 {
		return -1
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

func usage() {
	fmt.Fprintf(os.Stderr, `usage:
  mgint concurrency --dsn DSN [--clients 50] [--pgx 12] [--duration 15s] [--pid PID]
  mgint hostile     --addr HOST:PORT --dsn DSN [--user U] [--seeds 200] [--burst 200] [--pid PID] [--reference]
  mgint protocol    --addr HOST:PORT --ca FILE --other-ca FILE --password PW --md5-password PW [--pid PID] [--reference]
  mgint service     --scenario metrics|drain|drain-timeout|double-term|reload|admin|pause|limits|timeouts
                    --addr HOST:PORT --metrics URL --pid PID [--database D] [--user U --password PW]
                    [--password2 PW] [--admin-user U --admin-password PW] [--db-path FILE] [--config FILE
                    --config-next FILE --config-bad FILE] [--scrape-out FILE] [--psql BIN]
  mgint pooling     --dsn DSN --pg-dsn PGDSN --pool-size N [--server-user mg_scram] [--reference]
  mgint failover    --dsn DSN --stop-file FILE [--acked FILE] [--clients 8] [--interval 10ms] [--failovers 1] [--max 120s] [--table fo]
`)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	switch cmd {
	case "concurrency":
		var o ConcOptions
		fs.StringVar(&o.DSN, "dsn", "", "lib/pq / pgx DSN (keyword=value)")
		fs.IntVar(&o.Clients, "clients", 50, "concurrent clients in total")
		fs.IntVar(&o.PgxClients, "pgx", 12, "how many of them use pgx v4 (the rest lib/pq)")
		fs.DurationVar(&o.Duration, "duration", 15e9, "how long the clients run")
		fs.IntVar(&o.PID, "pid", 0, "daemon pid (liveness check)")
		fs.Int64Var(&o.Seed, "seed", 1, "random seed")
		_ = fs.Parse(os.Args[2:])
		if o.DSN == "" || o.Clients < 1 || o.PgxClients > o.Clients {
			usage()
		}
		os.Exit(runConcurrency(o))
	case "hostile":
		var o HostileOptions
		fs.StringVar(&o.Addr, "addr", "", "daemon address HOST:PORT")
		fs.StringVar(&o.DSN, "dsn", "", "lib/pq DSN for the healthy client")
		fs.StringVar(&o.User, "user", "grafana", "user name in raw startup packets")
		fs.StringVar(&o.Database, "database", "grafana", "database name in raw startup packets")
		fs.IntVar(&o.Seeds, "seeds", 200, "seeds for each random case (bytes before/after startup, mutated traffic)")
		fs.IntVar(&o.PID, "pid", 0, "daemon pid (liveness and descriptor checks)")
		fs.IntVar(&o.Burst, "burst", 200, "connections opened at once")
		fs.BoolVar(&o.Reference, "reference", false, "target is a real PostgreSQL (accept its silent closes)")
		_ = fs.Parse(os.Args[2:])
		if o.Addr == "" || o.DSN == "" {
			usage()
		}
		os.Exit(runHostile(o))
	case "protocol":
		var o ProtoOptions
		fs.StringVar(&o.Addr, "addr", "", "daemon address HOST:PORT (numeric host)")
		fs.StringVar(&o.CA, "ca", "", "PEM file of the CA that signed the server certificate")
		fs.StringVar(&o.OtherCA, "other-ca", "", "PEM file of a CA that did not")
		fs.StringVar(&o.Password, "password", "", "password of the SCRAM users grafana and scrammd5")
		fs.StringVar(&o.MD5Password, "md5-password", "", "password of the md5 users md5user and md5only")
		fs.IntVar(&o.PID, "pid", 0, "daemon pid (liveness check)")
		fs.BoolVar(&o.Reference, "reference", false, "target is a real PostgreSQL 15")
		_ = fs.Parse(os.Args[2:])
		if o.Addr == "" || o.CA == "" || o.OtherCA == "" || o.Password == "" || o.MD5Password == "" {
			usage()
		}
		os.Exit(runProtocol(o))
	case "service":
		var o ServiceOptions
		fs.StringVar(&o.Scenario, "scenario", "", "metrics, drain, drain-timeout, double-term, reload, admin, pause, limits or timeouts")
		fs.StringVar(&o.Addr, "addr", "", "daemon address HOST:PORT (numeric host)")
		fs.StringVar(&o.Metrics, "metrics", "", "metrics endpoint base URL, http://HOST:PORT")
		fs.IntVar(&o.PID, "pid", 0, "daemon pid (signals, exit)")
		fs.StringVar(&o.Database, "database", "grafana", "database name")
		fs.StringVar(&o.User, "user", "", "the password user of the scenario")
		fs.StringVar(&o.Password, "password", "", "its password")
		fs.StringVar(&o.Password2, "password2", "", "reload: its password after the reload")
		fs.StringVar(&o.AdminUser, "admin-user", "", "admin: the admin console user")
		fs.StringVar(&o.AdminPassword, "admin-password", "", "admin: its password")
		fs.StringVar(&o.DBPath, "db-path", "", "the SQLite file (metrics: deleted for the readiness check)")
		fs.StringVar(&o.Config, "config", "", "reload: the daemon's config file")
		fs.StringVar(&o.ConfigNext, "config-next", "", "reload: the config with --password2")
		fs.StringVar(&o.ConfigBad, "config-bad", "", "reload: an invalid config")
		fs.StringVar(&o.ScrapeOut, "scrape-out", "", "metrics: save the scrape after the traffic here")
		fs.StringVar(&o.Psql, "psql", "psql", "admin: the psql binary")
		_ = fs.Parse(os.Args[2:])
		if o.Scenario == "" || o.Addr == "" || o.Metrics == "" {
			usage()
		}
		os.Exit(runService(o))
	case "failover":
		var o FailoverOptions
		fs.StringVar(&o.DSN, "dsn", "", "lib/pq DSN (keyword=value)")
		fs.IntVar(&o.Clients, "clients", 8, "clients, one connection each")
		fs.DurationVar(&o.Interval, "interval", 10e6, "pause between a client's operations")
		fs.StringVar(&o.StopFile, "stop-file", "", "the run ends when this file exists")
		fs.StringVar(&o.Acked, "acked", "", "write the acknowledged writes here")
		fs.IntVar(&o.Failovers, "failovers", 1, "failovers during the run (errors allowed per client)")
		fs.DurationVar(&o.Max, "max", 120e9, "the run ends after this long at the latest")
		fs.StringVar(&o.Table, "table", "fo", "the table the clients write (created if missing)")
		_ = fs.Parse(os.Args[2:])
		if o.DSN == "" || o.StopFile == "" || o.Clients < 1 {
			usage()
		}
		os.Exit(runFailover(o))
	case "pooling":
		var o PoolOptions
		fs.StringVar(&o.DSN, "dsn", "", "DSN (keyword=value) of the target: metagate in transaction pooling mode, or PostgreSQL with --reference")
		fs.StringVar(&o.PgDSN, "pg-dsn", "", "superuser DSN straight to PostgreSQL (pg_stat_activity, pg_terminate_backend)")
		fs.IntVar(&o.PoolSize, "pool-size", 0, "metagate's server pool size for the database")
		fs.StringVar(&o.ServerUser, "server-user", "mg_scram", "PostgreSQL role of metagate's server connections")
		fs.BoolVar(&o.Reference, "reference", false, "target is PostgreSQL itself (no pool-size bound)")
		_ = fs.Parse(os.Args[2:])
		if o.DSN == "" || o.PgDSN == "" || o.ServerUser == "" || (o.PoolSize < 1 && !o.Reference) {
			usage()
		}
		os.Exit(runPooling(o))
	default:
		usage()
	}
}
