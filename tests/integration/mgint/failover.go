// failover: a client load through metagate while the PostgreSQL cluster behind it fails
// over (issue 7). Each client is one lib/pq connection (database/sql, one connection) that
// every interval runs, in turn, an autocommit INSERT or a short transaction (BEGIN, INSERT,
// SELECT, COMMIT), then a read. The run ends when the stop file appears.
//
// What a failover may cost a client is the operation that was in flight when the primary
// went: a transaction fails with 40001 (rolled back) or 08007 (COMMIT outcome unknown), an
// autocommit statement with 08006. Anything else is a failure: another SQLSTATE, a driver
// error (a broken connection), a client connection opened again, more errors per client
// than --failovers allows. Every acknowledged write is written to --acked ("client seq" per
// line) for the caller to look for on the new primary.
package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
)

type FailoverOptions struct {
	DSN       string
	Clients   int
	Interval  time.Duration
	StopFile  string
	Acked     string
	Max       time.Duration
	Failovers int
	Table     string
}

// countingConnector counts the connections database/sql opens (one per client unless one
// broke and was replaced).
type countingConnector struct {
	inner driver.Connector
	n     *int64
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	atomic.AddInt64(c.n, 1)
	return c.inner.Connect(ctx)
}
func (c countingConnector) Driver() driver.Driver { return c.inner.Driver() }

type foEvent struct {
	at     time.Time
	client int
	op     string // write-auto, write-tx, commit, read
	err    error
}

type foClient struct {
	table    string
	id       int
	db       *sql.DB
	events   []foEvent
	acked    []int
	lastOK   map[string]time.Time
	gaps     map[string]time.Duration
	gapStart map[string]time.Time
	lastSeq  int // the newest acknowledged write
	stale    int // reads that did not see the client's own newest acknowledged write
}

func (c *foClient) ok(op string, at time.Time) {
	kind := "write"
	if op == "read" {
		kind = "read"
	}
	if prev, seen := c.lastOK[kind]; seen {
		if d := at.Sub(prev); d > c.gaps[kind] {
			c.gaps[kind] = d
			c.gapStart[kind] = prev
		}
	}
	c.lastOK[kind] = at
}

func (c *foClient) fail(op string, err error) {
	c.events = append(c.events, foEvent{at: time.Now(), client: c.id, op: op, err: err})
}

// expected: what a failover may give the operation that was in flight.
func foExpected(op string, err error) bool {
	switch sqlState(err) {
	case "40001":
		return op == "write-tx" || op == "commit"
	case "08007":
		return op == "commit"
	case "08006":
		return op == "write-auto" || op == "read" || op == "write-tx" // write-tx: its BEGIN in flight
	}
	return false
}

func (c *foClient) step(ctx context.Context, seq int) {
	if seq%2 == 0 {
		_, err := c.db.ExecContext(ctx, "INSERT INTO "+c.table+" (client, seq, kind, at) VALUES ($1, $2, 'auto', clock_timestamp())", c.id, seq)
		if err != nil {
			c.fail("write-auto", err)
		} else {
			c.acked = append(c.acked, seq)
			c.lastSeq = seq
			c.ok("write-auto", time.Now())
		}
	} else {
		tx, err := c.db.BeginTx(ctx, nil)
		if err != nil {
			c.fail("write-tx", err)
		} else {
			var n int
			if _, err = tx.ExecContext(ctx, "INSERT INTO "+c.table+" (client, seq, kind, at) VALUES ($1, $2, 'tx', clock_timestamp())", c.id, seq); err == nil {
				err = tx.QueryRowContext(ctx, "SELECT count(*) FROM "+c.table+" WHERE client = $1", c.id).Scan(&n)
			}
			if err != nil {
				c.fail("write-tx", err)
				_ = tx.Rollback()
			} else if err = tx.Commit(); err != nil {
				c.fail("commit", err)
			} else {
				c.acked = append(c.acked, seq)
				c.lastSeq = seq
				c.ok("commit", time.Now())
			}
		}
	}
	var m sql.NullInt64
	if err := c.db.QueryRowContext(ctx, "SELECT max(seq) FROM "+c.table+" WHERE client = $1", c.id).Scan(&m); err != nil {
		c.fail("read", err)
	} else {
		if len(c.acked) > 0 && (!m.Valid || int(m.Int64) < c.lastSeq) {
			c.stale++
		}
		c.ok("read", time.Now())
	}
}

func runFailover(o FailoverOptions) int {
	var checks Checks
	var connects int64
	base, err := pq.NewConnector(o.DSN + " connect_timeout=60")
	if err != nil {
		fmt.Printf("FAIL %-40s %s\n", "failover dsn", err)
		return 1
	}
	setup := sql.OpenDB(countingConnector{base, new(int64)})
	if _, err := setup.Exec("CREATE TABLE IF NOT EXISTS " + o.Table + " (client int, seq int, kind text, at timestamptz, PRIMARY KEY (client, seq))"); err != nil {
		fmt.Printf("FAIL %-40s %s\n", "failover setup", errText(err))
		return 1
	}
	setup.Close()
	ctx, cancel := context.WithTimeout(context.Background(), o.Max)
	defer cancel()
	clients := make([]*foClient, o.Clients)
	var wg sync.WaitGroup
	var stop int32
	t0 := time.Now()
	for i := range clients {
		db := sql.OpenDB(countingConnector{base, &connects})
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		c := &foClient{table: o.Table, id: i + 1, db: db, lastOK: map[string]time.Time{}, gaps: map[string]time.Duration{},
			gapStart: map[string]time.Time{}}
		clients[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; atomic.LoadInt32(&stop) == 0 && ctx.Err() == nil; seq++ {
				c.step(ctx, seq)
				time.Sleep(o.Interval)
			}
		}()
	}
	for ctx.Err() == nil {
		if _, err := os.Stat(o.StopFile); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	elapsed := time.Since(t0)

	// Figures.
	var all []foEvent
	acked, perClientMax, stale := 0, 0, 0
	byState := map[string]int{}
	var unexpected []foEvent
	var out strings.Builder
	var gaps = map[string]time.Duration{}
	var gapAt = map[string]time.Time{}
	lastWrite := time.Time{}
	for _, c := range clients {
		for _, s := range c.acked {
			fmt.Fprintf(&out, "%d %d\n", c.id, s)
		}
		acked += len(c.acked)
		stale += c.stale
		if len(c.events) > perClientMax {
			perClientMax = len(c.events)
		}
		for _, e := range c.events {
			all = append(all, e)
			st := sqlState(e.err)
			if st == "" {
				st = "driver"
			}
			byState[e.op+" "+st]++
			if !foExpected(e.op, e.err) {
				unexpected = append(unexpected, e)
			}
		}
		for k, d := range c.gaps {
			if d > gaps[k] {
				gaps[k] = d
				gapAt[k] = c.gapStart[k]
			}
		}
		if c.lastOK["write"].After(lastWrite) {
			lastWrite = c.lastOK["write"]
		}
		c.db.Close()
	}
	if o.Acked != "" {
		if err := os.WriteFile(o.Acked, []byte(out.String()), 0o644); err != nil {
			fmt.Printf("FAIL %-40s %s\n", "failover acked file", err)
			return 1
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	for _, e := range all {
		fmt.Printf("  error at +%.3fs client %d %s: %s\n", e.at.Sub(t0).Seconds(), e.client, e.op, errText(e.err))
	}
	var kinds []string
	for k, n := range byState {
		kinds = append(kinds, fmt.Sprintf("%s×%d", k, n))
	}
	sort.Strings(kinds)
	fmt.Printf("failover: %d clients for %.1fs: %d acknowledged writes, %d errors [%s]\n", o.Clients, elapsed.Seconds(),
		acked, len(all), strings.Join(kinds, ", "))
	for _, k := range []string{"write", "read"} {
		fmt.Printf("failover: longest %s gap of one client %d ms (from +%.3fs)\n", k, gaps[k].Milliseconds(),
			gapAt[k].Sub(t0).Seconds())
	}
	checks.Check("failover errors are in-flight ones", len(unexpected) == 0,
		"%d of %d errors are not what a failover may cost the operation in flight (40001/08007 for a transaction, 08006 for an autocommit statement)",
		len(unexpected), len(all))
	checks.Check("failover errors per client", perClientMax <= o.Failovers,
		"at most %d per client (allowed: %d, one per failover)", perClientMax, o.Failovers)
	checks.Check("failover client connections kept", atomic.LoadInt64(&connects) == int64(o.Clients),
		"%d connections opened by %d clients (a broken connection is replaced by database/sql)", connects, o.Clients)
	checks.Check("failover read-your-writes", stale == 0,
		"%d reads missed the client's own newest acknowledged write", stale)
	checks.Check("failover writes at the end", time.Since(lastWrite) < 2*time.Second+o.Interval,
		"the last acknowledged write %.1fs before the end", time.Since(lastWrite).Seconds())
	return checks.Summary()
}
