package main

// concurrency: many Grafana-like clients reading and writing at once.
//
// Schema: a small copy of Grafana's ("user", dashboard, dashboard_version, star, api_key
// with SERIAL ids, unique indexes, booleans, timestamps) plus counters. Each client loops
// over a weighted mix of operations until the deadline and records, locally, every write
// whose COMMIT succeeded and every write that was rolled back. Afterwards the database is
// compared with the union of those records:
//
//   - counters equal the committed increments (transactional n = n + 1, SELECT … FOR
//     UPDATE read-modify-write, and advisory-lock-protected read-modify-write);
//   - every committed insert is present exactly once with its RETURNING id, rolled-back
//     inserts are absent, RETURNING ids are never handed out twice;
//   - optimistic-lock updates (UPDATE … WHERE id = $2 AND version = $3) never succeed twice
//     for the same version, the final version is 1 + the successes, the final data is the
//     data of the last success, and dashboard_version rows match the transactional ones;
//   - no error except the deliberate 23505s (and the 25P02s that follow one inside a
//     transaction), in particular no SQLITE_BUSY / "database is locked" / 55P03;
//   - the daemon is alive and answers afterwards.

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pgx "github.com/jackc/pgx/v4"
	_ "github.com/lib/pq"
)

type ConcOptions struct {
	DSN        string
	Clients    int
	PgxClients int
	Duration   time.Duration
	PID        int
	Seed       int64
}

const (
	sharedAuto   = 4  // dashboards 1..4: autocommit optimistic updates
	sharedTx     = 4  // dashboards 5..8: optimistic updates in a transaction + dashboard_version
	numCounters  = 10 // counters 1..10: transactional and FOR UPDATE increments
	advisoryBase = 100
	advisoryKeys = 2 // counters 100, 101 guarded by advisory locks 7100, 7101
	opTimeout    = 45 * time.Second
)

var schemaSQL = []string{
	`CREATE TABLE "user" (
		id SERIAL PRIMARY KEY NOT NULL,
		version INTEGER NOT NULL,
		login VARCHAR(190) NOT NULL,
		email VARCHAR(190) NOT NULL,
		name VARCHAR(255) NULL,
		org_id BIGINT NOT NULL,
		is_admin BOOLEAN NOT NULL DEFAULT false,
		is_disabled BOOLEAN NOT NULL DEFAULT false,
		created TIMESTAMP NOT NULL,
		updated TIMESTAMP NOT NULL,
		last_seen_at TIMESTAMP NULL)`,
	`CREATE UNIQUE INDEX "UQE_user_login" ON "user" ("login")`,
	`CREATE UNIQUE INDEX "UQE_user_email" ON "user" ("email")`,
	`CREATE TABLE "dashboard" (
		id SERIAL PRIMARY KEY NOT NULL,
		version INTEGER NOT NULL,
		slug VARCHAR(189) NOT NULL,
		title VARCHAR(189) NOT NULL,
		data TEXT NOT NULL,
		org_id BIGINT NOT NULL,
		created TIMESTAMP NOT NULL,
		updated TIMESTAMP NOT NULL,
		updated_by INTEGER NULL,
		created_by INTEGER NULL,
		is_folder BOOLEAN NOT NULL DEFAULT false,
		uid VARCHAR(40) NULL)`,
	`CREATE UNIQUE INDEX "UQE_dashboard_org_id_uid" ON "dashboard" ("org_id","uid")`,
	`CREATE INDEX "IDX_dashboard_org_id" ON "dashboard" ("org_id")`,
	`CREATE TABLE "dashboard_version" (
		id SERIAL PRIMARY KEY NOT NULL,
		dashboard_id BIGINT NOT NULL,
		parent_version INTEGER NOT NULL,
		restored_from INTEGER NOT NULL,
		version INTEGER NOT NULL,
		created TIMESTAMP NOT NULL,
		created_by BIGINT NOT NULL,
		message TEXT NOT NULL,
		data TEXT NOT NULL)`,
	`CREATE UNIQUE INDEX "UQE_dashboard_version_dashboard_id_version" ON "dashboard_version" ("dashboard_id","version")`,
	`CREATE TABLE "star" (
		id SERIAL PRIMARY KEY NOT NULL,
		user_id BIGINT NOT NULL,
		dashboard_id BIGINT NOT NULL)`,
	`CREATE UNIQUE INDEX "UQE_star_user_id_dashboard_id" ON "star" ("user_id","dashboard_id")`,
	`CREATE TABLE "api_key" (
		id SERIAL PRIMARY KEY NOT NULL,
		org_id BIGINT NOT NULL,
		name VARCHAR(190) NOT NULL,
		key VARCHAR(190) NOT NULL,
		role VARCHAR(255) NOT NULL,
		created TIMESTAMP NOT NULL,
		updated TIMESTAMP NOT NULL,
		expires BIGINT NULL,
		is_revoked BOOLEAN NULL DEFAULT false)`,
	`CREATE UNIQUE INDEX "UQE_api_key_key" ON "api_key" ("key")`,
	`CREATE UNIQUE INDEX "UQE_api_key_org_id_name" ON "api_key" ("org_id","name")`,
	`CREATE TABLE "counters" (id INTEGER PRIMARY KEY NOT NULL, n BIGINT NOT NULL)`,
}

// ---------------------------------------------------------------------------------------
// What one client recorded.

type tableRec struct {
	committed  map[int64]string // id -> key
	rolledBack map[int64]string
}

type record struct {
	tables   map[string]*tableRec
	incr     map[int64]int64            // counter id -> committed increments
	optim    map[int64]map[int64]string // dashboard id -> new version -> data
	returned map[string][]int64         // every id a RETURNING handed out, per table

	ops         map[string]int
	committedTx int
	rolledTx    int
	statements  int
	dups        int // deliberate 23505s seen
	aborted     int // 25P02s seen after a deliberate 23505 inside a transaction
	optRetries  int
	optGaveUp   int
	advGot      int
	advBusy     int
	staleReads  []string
	unexpected  []string
	lockErrors  int
	checkFails  []string // client-side assertion failures (wrong id echo, bad order…)
}

func newRecord() *record {
	r := &record{tables: map[string]*tableRec{}, incr: map[int64]int64{}, optim: map[int64]map[int64]string{},
		returned: map[string][]int64{}, ops: map[string]int{}}
	for _, t := range []string{"user", "dashboard", "star", "api_key", "dashboard_version"} {
		r.tables[t] = &tableRec{committed: map[int64]string{}, rolledBack: map[int64]string{}}
	}
	return r
}

// worker is one client goroutine.
type worker struct {
	n    int
	c    Client
	rng  *rand.Rand
	rec  *record
	seq  int
	mine []userRow // committed users of this client (for read-your-writes checks)
	stmt *int64    // global statement counter
}

type userRow struct {
	id    int64
	login string
}

type pending struct {
	table string
	id    int64
	key   string
}

func (w *worker) next() int { w.seq++; return w.seq }

func (w *worker) unexpected(op string, err error) {
	if isLockError(err) {
		w.rec.lockErrors++
	}
	w.rec.unexpected = append(w.rec.unexpected, fmt.Sprintf("client %d (%s) %s: %s", w.n, w.c.Kind(), op, errText(err)))
}

func (w *worker) failCheck(op string, format string, args ...interface{}) {
	w.rec.checkFails = append(w.rec.checkFails, fmt.Sprintf("client %d (%s) %s: %s", w.n, w.c.Kind(), op, fmt.Sprintf(format, args...)))
}

func (w *worker) st() { w.rec.statements++; atomic.AddInt64(w.stmt, 1) }

// commitPending records a transaction's writes once its COMMIT succeeded.
func (w *worker) commitPending(ps []pending, incr map[int64]int64, optim func()) {
	for _, p := range ps {
		w.rec.tables[p.table].committed[p.id] = p.key
		if p.table == "user" {
			w.mine = append(w.mine, userRow{p.id, p.key})
		}
	}
	for id, k := range incr {
		w.rec.incr[id] += k
	}
	if optim != nil {
		optim()
	}
	w.rec.committedTx++
}

func (w *worker) rollbackPending(ps []pending) {
	for _, p := range ps {
		w.rec.tables[p.table].rolledBack[p.id] = p.key
	}
	w.rec.rolledTx++
}

func (w *worker) returnedID(table string, id int64) {
	w.rec.returned[table] = append(w.rec.returned[table], id)
}

// insertUser inserts a user (RETURNING id) through q; the key is the login.
func (w *worker) insertUser(ctx context.Context, q Querier, login, email string) (int64, error) {
	var id int64
	now := time.Now().UTC().Truncate(time.Microsecond)
	w.st()
	err := q.QueryRow(ctx, []interface{}{&id},
		`INSERT INTO "user" ("version","login","email","name","org_id","is_admin","is_disabled","created","updated","last_seen_at") `+
			`VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) RETURNING "id"`,
		0, login, email, "User "+login, int64(1), w.rng.Intn(10) == 0, false, now, now, nil)
	if err == nil {
		if id <= 0 {
			w.failCheck("insert user", "RETURNING id = %d", id)
		}
		w.returnedID("user", id)
	}
	return id, err
}

func (w *worker) login() string { return fmt.Sprintf("c%03d-u%06d", w.n, w.next()) }

// --- operations ---------------------------------------------------------------------------

// opInsertUser: autocommit INSERT … RETURNING id, then read it back.
func (w *worker) opInsertUser(ctx context.Context) {
	login := w.login()
	id, err := w.insertUser(ctx, w.c, login, login+"@example.org")
	if err != nil {
		w.unexpected("insert user", err)
		return
	}
	w.rec.tables["user"].committed[id] = login
	w.mine = append(w.mine, userRow{id, login})
	w.rec.committedTx++
}

// opDuplicate: an autocommit insert that violates UQE_user_login must fail with 23505 and
// leave the session usable (checked on the same pinned session).
func (w *worker) opDuplicate(ctx context.Context) {
	q, release, err := w.c.Session(ctx)
	if err != nil {
		w.unexpected("duplicate: session", err)
		return
	}
	defer release()
	fresh := w.login()
	_, err = w.insertUser(ctx, q, "admin", fresh+"@example.org")
	if sqlState(err) != "23505" {
		if err == nil {
			w.failCheck("duplicate login", "insert of login 'admin' succeeded")
		} else {
			w.unexpected("duplicate login", err)
		}
		return
	}
	w.rec.dups++
	if cn := constraintName(err); cn != "UQE_user_login" {
		w.failCheck("duplicate login", "constraint %q, want UQE_user_login", cn)
	}
	var one int
	w.st()
	if err := q.QueryRow(ctx, []interface{}{&one}, `SELECT 1`); err != nil || one != 1 {
		w.unexpected("SELECT 1 after 23505", err)
	}
}

// opTxMixed: BEGIN; reads; insert user, star, api_key, dashboard (RETURNING ids); counter
// increments; read own writes; COMMIT or ROLLBACK at random.
func (w *worker) opTxMixed(ctx context.Context, dashIDs []int64) {
	tx, err := w.c.Begin(ctx)
	if err != nil {
		w.unexpected("tx mixed: begin", err)
		return
	}
	var ps []pending
	incr := map[int64]int64{}
	fail := func(what string, err error) {
		w.unexpected("tx mixed: "+what, err)
		_ = tx.Rollback(ctx)
	}
	var cnt int64
	w.st()
	if err := tx.QueryRow(ctx, []interface{}{&cnt}, `SELECT COUNT(*) FROM "dashboard" WHERE "org_id" = $1 AND "is_folder" = $2`, int64(1), false); err != nil {
		fail("count dashboards", err)
		return
	}
	if cnt < int64(sharedAuto+sharedTx) {
		w.failCheck("tx mixed", "count(dashboard) = %d < %d seeded", cnt, sharedAuto+sharedTx)
	}
	login := w.login()
	uid, err := w.insertUser(ctx, tx, login, login+"@example.org")
	if err != nil {
		fail("insert user", err)
		return
	}
	ps = append(ps, pending{"user", uid, login})
	// Own write visible inside the transaction.
	var got string
	w.st()
	if err := tx.QueryRow(ctx, []interface{}{&got}, `SELECT "login" FROM "user" WHERE "id" = $1`, uid); err != nil {
		fail("read own insert", err)
		return
	} else if got != login {
		w.failCheck("tx mixed", "own insert id %d reads login %q, want %q", uid, got, login)
	}
	dash := dashIDs[w.rng.Intn(len(dashIDs))]
	var sid int64
	w.st()
	if err := tx.QueryRow(ctx, []interface{}{&sid}, `INSERT INTO "star" ("user_id","dashboard_id") VALUES ($1,$2) RETURNING "id"`, uid, dash); err != nil {
		fail("insert star", err)
		return
	}
	w.returnedID("star", sid)
	ps = append(ps, pending{"star", sid, fmt.Sprintf("%d:%d", uid, dash)})
	if w.rng.Intn(2) == 0 {
		key := fmt.Sprintf("k-%s", login)
		now := time.Now().UTC().Truncate(time.Microsecond)
		var kid int64
		w.st()
		if err := tx.QueryRow(ctx, []interface{}{&kid},
			`INSERT INTO "api_key" ("org_id","name","key","role","created","updated","expires","is_revoked") VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING "id"`,
			int64(1), "name-"+login, key, "Viewer", now, now, nil, false); err != nil {
			fail("insert api_key", err)
			return
		}
		w.returnedID("api_key", kid)
		ps = append(ps, pending{"api_key", kid, key})
	}
	if w.rng.Intn(2) == 0 {
		duid := fmt.Sprintf("c%03d-d%06d", w.n, w.next())
		now := time.Now().UTC().Truncate(time.Microsecond)
		var did int64
		w.st()
		if err := tx.QueryRow(ctx, []interface{}{&did},
			`INSERT INTO "dashboard" ("version","slug","title","data","org_id","created","updated","updated_by","created_by","is_folder","uid") `+
				`VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) RETURNING "id"`,
			1, duid, "dash-"+duid, `{"title":"`+duid+`","panels":[]}`, int64(1), now, now, int(uid), int(uid), false, duid); err != nil {
			fail("insert dashboard", err)
			return
		}
		w.returnedID("dashboard", did)
		ps = append(ps, pending{"dashboard", did, duid})
	}
	// Counters in ascending id order, as a careful application does (on PostgreSQL, row
	// locks taken in random order would deadlock; metagate's single writer cannot).
	var cs []int64
	for k := 1 + w.rng.Intn(3); k > 0; k-- {
		cs = append(cs, int64(1+w.rng.Intn(numCounters)))
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i] < cs[j] })
	for _, c := range cs {
		w.st()
		n, err := tx.Exec(ctx, `UPDATE "counters" SET "n" = "n" + 1 WHERE "id" = $1`, c)
		if err != nil {
			fail("increment counter", err)
			return
		}
		if n != 1 {
			w.failCheck("tx mixed", "UPDATE counters id %d affected %d rows", c, n)
		}
		incr[c]++
	}
	if w.rng.Intn(10) < 6 {
		w.st()
		if err := tx.Commit(ctx); err != nil {
			w.unexpected("tx mixed: commit", err)
			return
		}
		w.commitPending(ps, incr, nil)
	} else {
		w.st()
		if err := tx.Rollback(ctx); err != nil {
			w.unexpected("tx mixed: rollback", err)
			return
		}
		w.rollbackPending(ps)
	}
}

// opTxDuplicate: a 23505 inside a transaction aborts it (25P02 afterwards); ROLLBACK
// must discard the earlier insert and increment.
func (w *worker) opTxDuplicate(ctx context.Context) {
	tx, err := w.c.Begin(ctx)
	if err != nil {
		w.unexpected("tx duplicate: begin", err)
		return
	}
	login := w.login()
	uid, err := w.insertUser(ctx, tx, login, login+"@example.org")
	if err != nil {
		w.unexpected("tx duplicate: insert user", err)
		_ = tx.Rollback(ctx)
		return
	}
	c := int64(1 + w.rng.Intn(numCounters))
	w.st()
	if _, err := tx.Exec(ctx, `UPDATE "counters" SET "n" = "n" + 1 WHERE "id" = $1`, c); err != nil {
		w.unexpected("tx duplicate: increment", err)
		_ = tx.Rollback(ctx)
		return
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	var kid int64
	w.st()
	err = tx.QueryRow(ctx, []interface{}{&kid},
		`INSERT INTO "api_key" ("org_id","name","key","role","created","updated","expires","is_revoked") VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING "id"`,
		int64(1), "dup-"+login, "seed-key", "Admin", now, now, nil, false)
	if sqlState(err) != "23505" {
		if err == nil {
			w.failCheck("tx duplicate", "duplicate api_key.key accepted (id %d)", kid)
		} else {
			w.unexpected("tx duplicate: duplicate insert", err)
		}
		_ = tx.Rollback(ctx)
		w.rollbackPending([]pending{{"user", uid, login}})
		return
	}
	w.rec.dups++
	if cn := constraintName(err); cn != "UQE_api_key_key" {
		w.failCheck("tx duplicate", "constraint %q, want UQE_api_key_key", cn)
	}
	var one int
	w.st()
	err = tx.QueryRow(ctx, []interface{}{&one}, `SELECT 1`)
	if sqlState(err) == "25P02" {
		w.rec.aborted++
	} else {
		w.failCheck("tx duplicate", "statement after 23505 in a transaction: %s, want 25P02", errText(err))
	}
	w.st()
	if err := tx.Rollback(ctx); err != nil {
		w.unexpected("tx duplicate: rollback", err)
		return
	}
	w.rollbackPending([]pending{{"user", uid, login}})
}

// opTxSavepoint: SAVEPOINT; 23505; ROLLBACK TO SAVEPOINT; the transaction goes on and
// commits what came before and after.
func (w *worker) opTxSavepoint(ctx context.Context) {
	tx, err := w.c.Begin(ctx)
	if err != nil {
		w.unexpected("tx savepoint: begin", err)
		return
	}
	abort := func(what string, err error) {
		w.unexpected("tx savepoint: "+what, err)
		_ = tx.Rollback(ctx)
	}
	login := w.login()
	uid, err := w.insertUser(ctx, tx, login, login+"@example.org")
	if err != nil {
		abort("insert user", err)
		return
	}
	w.st()
	if _, err := tx.Exec(ctx, `SAVEPOINT s1`); err != nil {
		abort("savepoint", err)
		return
	}
	// Duplicate e-mail of the seeded admin.
	_, err = w.insertUser(ctx, tx, w.login(), "admin@localhost")
	if sqlState(err) != "23505" {
		if err == nil {
			w.failCheck("tx savepoint", "duplicate e-mail accepted")
		}
		abort("duplicate email", err)
		w.rollbackPending([]pending{{"user", uid, login}})
		return
	}
	w.rec.dups++
	if cn := constraintName(err); cn != "UQE_user_email" {
		w.failCheck("tx savepoint", "constraint %q, want UQE_user_email", cn)
	}
	w.st()
	if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT s1`); err != nil {
		abort("rollback to savepoint", err)
		return
	}
	c := int64(1 + w.rng.Intn(numCounters))
	w.st()
	if _, err := tx.Exec(ctx, `UPDATE "counters" SET "n" = "n" + 1 WHERE "id" = $1`, c); err != nil {
		abort("increment", err)
		return
	}
	w.st()
	if err := tx.Commit(ctx); err != nil {
		w.unexpected("tx savepoint: commit", err)
		return
	}
	w.commitPending([]pending{{"user", uid, login}}, map[int64]int64{c: 1}, nil)
}

// opForUpdate: read-modify-write of a counter under SELECT … FOR UPDATE (lost updates
// would show in the final counts).
func (w *worker) opForUpdate(ctx context.Context) {
	tx, err := w.c.Begin(ctx)
	if err != nil {
		w.unexpected("for update: begin", err)
		return
	}
	c := int64(1 + w.rng.Intn(numCounters))
	var n int64
	w.st()
	if err := tx.QueryRow(ctx, []interface{}{&n}, `SELECT "n" FROM "counters" WHERE "id" = $1 FOR UPDATE`, c); err != nil {
		w.unexpected("for update: select", err)
		_ = tx.Rollback(ctx)
		return
	}
	w.st()
	if k, err := tx.Exec(ctx, `UPDATE "counters" SET "n" = $1 WHERE "id" = $2`, n+1, c); err != nil || k != 1 {
		if err == nil {
			w.failCheck("for update", "UPDATE affected %d rows", k)
		} else {
			w.unexpected("for update: update", err)
		}
		_ = tx.Rollback(ctx)
		return
	}
	w.st()
	if err := tx.Commit(ctx); err != nil {
		w.unexpected("for update: commit", err)
		return
	}
	w.commitPending(nil, map[int64]int64{c: 1}, nil)
}

// opOptimistic: Grafana's dashboard save — read the version, UPDATE … WHERE version = the
// one read, retry on 0 rows. In a transaction it also writes dashboard_version.
func (w *worker) opOptimistic(ctx context.Context, inTx bool) {
	var d int64
	if inTx {
		d = int64(sharedAuto + 1 + w.rng.Intn(sharedTx))
	} else {
		d = int64(1 + w.rng.Intn(sharedAuto))
	}
	data := fmt.Sprintf(`{"by":"c%03d","seq":%d}`, w.n, w.next())
	for attempt := 0; attempt < 50; attempt++ {
		if ctx.Err() != nil {
			return
		}
		var q Querier = w.c
		var tx Tx
		if inTx {
			var err error
			if tx, err = w.c.Begin(ctx); err != nil {
				w.unexpected("optimistic: begin", err)
				return
			}
			q = tx
		}
		var v int64
		w.st()
		if err := q.QueryRow(ctx, []interface{}{&v}, `SELECT "version" FROM "dashboard" WHERE "id" = $1`, d); err != nil {
			w.unexpected("optimistic: read version", err)
			if tx != nil {
				_ = tx.Rollback(ctx)
			}
			return
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		w.st()
		n, err := q.Exec(ctx, `UPDATE "dashboard" SET "version" = "version" + 1, "data" = $1, "updated" = $4 WHERE "id" = $2 AND "version" = $3`,
			data, d, v, now)
		if err != nil {
			w.unexpected("optimistic: update", err)
			if tx != nil {
				_ = tx.Rollback(ctx)
			}
			return
		}
		if n == 0 {
			w.rec.optRetries++
			if tx != nil {
				w.st()
				if err := tx.Rollback(ctx); err != nil {
					w.unexpected("optimistic: rollback", err)
					return
				}
				w.rec.rolledTx++
			}
			time.Sleep(time.Duration(w.rng.Intn(3)) * time.Millisecond)
			continue
		}
		if n != 1 {
			w.failCheck("optimistic", "UPDATE affected %d rows", n)
		}
		record := func() {
			if w.rec.optim[d] == nil {
				w.rec.optim[d] = map[int64]string{}
			}
			if _, dup := w.rec.optim[d][v+1]; dup {
				w.failCheck("optimistic", "dashboard %d version %d reached twice by this client", d, v+1)
			}
			w.rec.optim[d][v+1] = data
		}
		if tx == nil {
			record()
			w.rec.committedTx++
			return
		}
		var vid int64
		w.st()
		if err := tx.QueryRow(ctx, []interface{}{&vid},
			`INSERT INTO "dashboard_version" ("dashboard_id","parent_version","restored_from","version","created","created_by","message","data") `+
				`VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING "id"`,
			d, v, 0, v+1, now, int64(w.n), "save", data); err != nil {
			w.unexpected("optimistic: insert dashboard_version", err)
			_ = tx.Rollback(ctx)
			return
		}
		w.returnedID("dashboard_version", vid)
		w.st()
		if err := tx.Commit(ctx); err != nil {
			w.unexpected("optimistic: commit", err)
			return
		}
		w.commitPending([]pending{{"dashboard_version", vid, fmt.Sprintf("%d:%d", d, v+1)}}, nil, record)
		return
	}
	w.rec.optGaveUp++
}

// opReads: Grafana's list pages and lookups (ORDER BY / LIMIT), with light checks.
func (w *worker) opReads(ctx context.Context) {
	switch w.rng.Intn(5) {
	case 0:
		var titles []string
		w.st()
		err := w.c.QueryEach(ctx, func(scan func(...interface{}) error) error {
			var id int64
			var title, slug string
			var folder bool
			if err := scan(&id, &title, &slug, &folder); err != nil {
				return err
			}
			titles = append(titles, title)
			return nil
		}, `SELECT "id", "title", "slug", "is_folder" FROM "dashboard" WHERE "org_id" = $1 AND "is_folder" = $2 ORDER BY "title" ASC LIMIT 20`, int64(1), false)
		if err != nil {
			w.unexpected("list dashboards", err)
			return
		}
		if len(titles) > 20 || len(titles) < sharedAuto+sharedTx || !sort.StringsAreSorted(titles) {
			w.failCheck("list dashboards", "%d titles, sorted=%v", len(titles), sort.StringsAreSorted(titles))
		}
	case 1:
		var ids []int64
		w.st()
		err := w.c.QueryEach(ctx, func(scan func(...interface{}) error) error {
			var id int64
			var login string
			var admin bool
			var created time.Time
			if err := scan(&id, &login, &admin, &created); err != nil {
				return err
			}
			ids = append(ids, id)
			return nil
		}, `SELECT "id", "login", "is_admin", "created" FROM "user" WHERE "org_id" = $1 ORDER BY "id" DESC LIMIT 10`, int64(1))
		if err != nil {
			w.unexpected("list users", err)
			return
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] >= ids[i-1] {
				w.failCheck("list users", "ids not descending: %v", ids)
				break
			}
		}
		if len(ids) == 0 || len(ids) > 10 {
			w.failCheck("list users", "%d rows", len(ids))
		}
	case 2:
		if len(w.mine) == 0 {
			return
		}
		u := w.mine[w.rng.Intn(len(w.mine))]
		w.st()
		err := w.c.QueryEach(ctx, func(scan func(...interface{}) error) error {
			var id int64
			var title string
			return scan(&id, &title)
		}, `SELECT d."id", d."title" FROM "dashboard" AS d JOIN "star" AS s ON s."dashboard_id" = d."id" WHERE s."user_id" = $1 ORDER BY d."title" LIMIT 50`, u.id)
		if err != nil {
			w.unexpected("starred dashboards", err)
		}
	case 3:
		var prev int64 = -1
		w.st()
		err := w.c.QueryEach(ctx, func(scan func(...interface{}) error) error {
			var id, n int64
			if err := scan(&id, &n); err != nil {
				return err
			}
			if id <= prev || n < 0 {
				w.failCheck("read counters", "row (%d, %d) after id %d", id, n, prev)
			}
			prev = id
			return nil
		}, `SELECT "id", "n" FROM "counters" ORDER BY "id"`)
		if err != nil {
			w.unexpected("read counters", err)
		}
	case 4:
		var n int64
		w.st()
		if err := w.c.QueryRow(ctx, []interface{}{&n}, `SELECT COUNT(*) FROM "api_key" WHERE "org_id" = $1 AND ("expires" IS NULL OR "expires" > $2) AND "is_revoked" = $3`,
			int64(1), time.Now().Unix(), false); err != nil {
			w.unexpected("count api keys", err)
		} else if n < 1 {
			w.failCheck("count api keys", "count %d < 1 (seeded key)", n)
		}
	}
}

// opReadOwn: a committed write is visible to the next statement, whatever connection runs it.
func (w *worker) opReadOwn(ctx context.Context) {
	if len(w.mine) == 0 {
		return
	}
	u := w.mine[w.rng.Intn(len(w.mine))]
	var login string
	w.st()
	err := w.c.QueryRow(ctx, []interface{}{&login}, `SELECT "login" FROM "user" WHERE "id" = $1`, u.id)
	if err == sql.ErrNoRows || err == pgx.ErrNoRows {
		w.rec.staleReads = append(w.rec.staleReads, fmt.Sprintf("client %d: committed user id %d not visible", w.n, u.id))
		return
	}
	if err != nil {
		w.unexpected("read own user", err)
		return
	}
	if login != u.login {
		w.failCheck("read own user", "id %d login %q, want %q", u.id, login, u.login)
	}
}

// opAdvisory: pg_try_advisory_lock / pg_advisory_unlock on one session; while held, an
// unprotected read-modify-write of a counter (lost updates if the lock did not exclude).
func (w *worker) opAdvisory(ctx context.Context) {
	q, release, err := w.c.Session(ctx)
	if err != nil {
		w.unexpected("advisory: session", err)
		return
	}
	defer release()
	k := int64(w.rng.Intn(advisoryKeys))
	key := int64(7100) + k
	counter := int64(advisoryBase) + k
	var got bool
	w.st()
	if err := q.QueryRow(ctx, []interface{}{&got}, `SELECT pg_try_advisory_lock($1)`, key); err != nil {
		w.unexpected("pg_try_advisory_lock", err)
		return
	}
	if !got {
		w.rec.advBusy++
		return
	}
	w.rec.advGot++
	var n int64
	w.st()
	err = q.QueryRow(ctx, []interface{}{&n}, `SELECT "n" FROM "counters" WHERE "id" = $1`, counter)
	if err == nil {
		w.st()
		var aff int64
		aff, err = q.Exec(ctx, `UPDATE "counters" SET "n" = $1 WHERE "id" = $2`, n+1, counter)
		if err == nil && aff == 1 {
			w.rec.incr[counter]++
			w.rec.committedTx++
		} else if err == nil {
			w.failCheck("advisory", "UPDATE affected %d rows", aff)
		}
	}
	if err != nil {
		w.unexpected("advisory: read-modify-write", err)
	}
	var unlocked bool
	w.st()
	if err := q.QueryRow(ctx, []interface{}{&unlocked}, `SELECT pg_advisory_unlock($1)`, key); err != nil {
		w.unexpected("pg_advisory_unlock", err)
		return
	}
	if !unlocked {
		w.failCheck("advisory", "pg_advisory_unlock(%d) returned false for a held lock", key)
	}
}

type weighted struct {
	name   string
	weight int
}

var opMix = []weighted{
	{"insert_user", 8}, {"duplicate", 5}, {"tx_mixed", 16}, {"tx_duplicate", 5}, {"tx_savepoint", 3},
	{"for_update", 8}, {"optimistic", 8}, {"optimistic_tx", 8}, {"reads", 24}, {"read_own", 6}, {"advisory", 6},
}

func (w *worker) run(deadline time.Time, dashIDs []int64) {
	total := 0
	for _, o := range opMix {
		total += o.weight
	}
	for time.Now().Before(deadline) {
		r := w.rng.Intn(total)
		op := ""
		for _, o := range opMix {
			if r < o.weight {
				op = o.name
				break
			}
			r -= o.weight
		}
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		w.rec.ops[op]++
		switch op {
		case "insert_user":
			w.opInsertUser(ctx)
		case "duplicate":
			w.opDuplicate(ctx)
		case "tx_mixed":
			w.opTxMixed(ctx, dashIDs)
		case "tx_duplicate":
			w.opTxDuplicate(ctx)
		case "tx_savepoint":
			w.opTxSavepoint(ctx)
		case "for_update":
			w.opForUpdate(ctx)
		case "optimistic":
			w.opOptimistic(ctx, false)
		case "optimistic_tx":
			w.opOptimistic(ctx, true)
		case "reads":
			w.opReads(ctx)
		case "read_own":
			w.opReadOwn(ctx)
		case "advisory":
			w.opAdvisory(ctx)
		}
		cancel()
	}
}

// ---------------------------------------------------------------------------------------

func setupSchema(ctx context.Context, db *sql.DB) ([]int64, error) {
	for _, s := range schemaSQL {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("%s: %s", strings.Fields(s)[0:3], errText(err))
		}
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if _, err := db.ExecContext(ctx, `INSERT INTO "user" ("version","login","email","name","org_id","is_admin","created","updated") VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		0, "admin", "admin@localhost", "Admin", int64(1), true, now, now); err != nil {
		return nil, fmt.Errorf("seed user: %s", errText(err))
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO "api_key" ("org_id","name","key","role","created","updated","expires","is_revoked") VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		int64(1), "seed", "seed-key", "Admin", now, now, nil, false); err != nil {
		return nil, fmt.Errorf("seed api_key: %s", errText(err))
	}
	var ids []int64
	for i := 1; i <= sharedAuto+sharedTx; i++ {
		var id int64
		uid := fmt.Sprintf("shared-%02d", i)
		if err := db.QueryRowContext(ctx, `INSERT INTO "dashboard" ("version","slug","title","data","org_id","created","updated","is_folder","uid") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) RETURNING "id"`,
			1, uid, "dash-"+uid, `{"seed":true}`, int64(1), now, now, false, uid).Scan(&id); err != nil {
			return nil, fmt.Errorf("seed dashboard: %s", errText(err))
		}
		if id != int64(i) {
			return nil, fmt.Errorf("seed dashboard %d got id %d", i, id)
		}
		ids = append(ids, id)
	}
	var vals []string
	for i := 1; i <= numCounters; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 0)", i))
	}
	for k := 0; k < advisoryKeys; k++ {
		vals = append(vals, fmt.Sprintf("(%d, 0)", advisoryBase+k))
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO "counters" ("id","n") VALUES `+strings.Join(vals, ", ")); err != nil {
		return nil, fmt.Errorf("seed counters: %s", errText(err))
	}
	return ids, nil
}

// tableKeys reads (id, key) for the rows the clients inserted.
func tableKeys(ctx context.Context, db *sql.DB, table string) (map[int64]string, error) {
	var q string
	switch table {
	case "user":
		q = `SELECT "id", "login" FROM "user" WHERE "login" <> 'admin'`
	case "dashboard":
		q = `SELECT "id", "uid" FROM "dashboard" WHERE "uid" NOT LIKE 'shared-%'`
	case "api_key":
		q = `SELECT "id", "key" FROM "api_key" WHERE "key" <> 'seed-key'`
	case "star":
		q = `SELECT "id", CAST("user_id" AS TEXT) || ':' || CAST("dashboard_id" AS TEXT) FROM "star"`
	case "dashboard_version":
		q = `SELECT "id", CAST("dashboard_id" AS TEXT) || ':' || CAST("version" AS TEXT) FROM "dashboard_version"`
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var key string
		if err := rows.Scan(&id, &key); err != nil {
			return nil, err
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("id %d appears twice", id)
		}
		out[id] = key
	}
	return out, rows.Err()
}

func runConcurrency(o ConcOptions) int {
	checks := &Checks{}
	ctx := context.Background()
	db, err := sql.Open("postgres", o.DSN)
	if err != nil {
		fmt.Printf("open: %v\n", err)
		checks.Fail("setup", "%v", err)
		return checks.Summary()
	}
	defer db.Close()
	db.SetMaxOpenConns(o.Clients + 10)
	db.SetMaxIdleConns(o.Clients + 10)

	sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
	dashIDs, err := setupSchema(sctx, db)
	scancel()
	if err != nil {
		checks.Fail("schema and seed data", "%v", err)
		return checks.Summary()
	}
	checks.Pass("schema and seed data", "%d statements", len(schemaSQL))

	// Clients: the first PgxClients use pgx v4 (own connection each), the rest share the
	// database/sql pool (lib/pq).
	var stmts int64
	workers := make([]*worker, o.Clients)
	for i := range workers {
		w := &worker{n: i + 1, rng: rand.New(rand.NewSource(o.Seed*1000 + int64(i))), rec: newRecord(), stmt: &stmts}
		if i < o.PgxClients {
			cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
			conn, err := pgx.Connect(cctx, o.DSN)
			ccancel()
			if err != nil {
				checks.Fail("pgx connect", "client %d: %s", i+1, errText(err))
				return checks.Summary()
			}
			defer conn.Close(context.Background())
			w.c = newPgxClient(conn)
		} else {
			w.c = pqClient{sqlQ{db}, db}
		}
		workers[i] = w
	}
	// Warm the lib/pq pool so that connection setup is not part of the measured window.
	{
		var conns []*sql.Conn
		for i := 0; i < o.Clients-o.PgxClients; i++ {
			c, err := db.Conn(ctx)
			if err != nil {
				checks.Fail("lib/pq connect", "%s", errText(err))
				return checks.Summary()
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			_ = c.Close()
		}
	}

	fmt.Printf("running %d clients (%d lib/pq, %d pgx v4) for %s\n", o.Clients, o.Clients-o.PgxClients, o.PgxClients, o.Duration)
	start := time.Now()
	deadline := start.Add(o.Duration)
	var wg sync.WaitGroup
	done := make(chan struct{})
	for _, w := range workers {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			w.run(deadline, dashIDs)
		}(w)
	}
	go func() { wg.Wait(); close(done) }()
	// Progress every 5 s; a watchdog if the clients do not come back.
	ticker := time.NewTicker(5 * time.Second)
	hung := false
wait:
	for {
		select {
		case <-done:
			break wait
		case <-ticker.C:
			fmt.Printf("  %5.1fs: %d statements\n", time.Since(start).Seconds(), atomic.LoadInt64(&stmts))
		case <-time.After(time.Until(deadline.Add(opTimeout + 15*time.Second))):
			hung = true
			break wait
		}
	}
	ticker.Stop()
	elapsed := time.Since(start)
	if hung {
		checks.Fail("clients finish", "clients still busy %s after the deadline (daemon hang?)", opTimeout+15*time.Second)
		checks.Check("daemon alive", processAlive(o.PID), "pid %d", o.PID)
		return checks.Summary()
	}
	checks.Pass("clients finish", "all %d clients done %.1fs after start", o.Clients, elapsed.Seconds())

	// Merge the records.
	all := newRecord()
	for _, w := range workers {
		r := w.rec
		for t, tr := range r.tables {
			for id, k := range tr.committed {
				all.tables[t].committed[id] = k
			}
			for id, k := range tr.rolledBack {
				all.tables[t].rolledBack[id] = k
			}
		}
		for id, k := range r.incr {
			all.incr[id] += k
		}
		for d, m := range r.optim {
			if all.optim[d] == nil {
				all.optim[d] = map[int64]string{}
			}
			for v, data := range m {
				if prev, dup := all.optim[d][v]; dup {
					all.checkFails = append(all.checkFails, fmt.Sprintf("lost update: dashboard %d version %d reached by two clients (%s, %s)", d, v, prev, data))
				}
				all.optim[d][v] = data
			}
		}
		for t, ids := range r.returned {
			all.returned[t] = append(all.returned[t], ids...)
		}
		for k, v := range r.ops {
			all.ops[k] += v
		}
		all.committedTx += r.committedTx
		all.rolledTx += r.rolledTx
		all.statements += r.statements
		all.dups += r.dups
		all.aborted += r.aborted
		all.optRetries += r.optRetries
		all.optGaveUp += r.optGaveUp
		all.advGot += r.advGot
		all.advBusy += r.advBusy
		all.staleReads = append(all.staleReads, r.staleReads...)
		all.unexpected = append(all.unexpected, r.unexpected...)
		all.lockErrors += r.lockErrors
		all.checkFails = append(all.checkFails, r.checkFails...)
	}

	// Figures.
	secs := elapsed.Seconds()
	fmt.Printf("figures: %.1fs, %d statements (%.0f/s), %d transactions committed + %d rolled back (%.0f tx/s)\n",
		secs, all.statements, float64(all.statements)/secs, all.committedTx, all.rolledTx, float64(all.committedTx+all.rolledTx)/secs)
	var opNames []string
	for k := range all.ops {
		opNames = append(opNames, k)
	}
	sort.Strings(opNames)
	var parts []string
	for _, k := range opNames {
		parts = append(parts, fmt.Sprintf("%s=%d", k, all.ops[k]))
	}
	fmt.Printf("operations: %s\n", strings.Join(parts, " "))
	fmt.Printf("deliberate 23505: %d (then 25P02 in the transaction: %d); optimistic retries %d, gave up %d; advisory locks got %d, busy %d\n",
		all.dups, all.aborted, all.optRetries, all.optGaveUp, all.advGot, all.advBusy)
	fmt.Printf("committed rows: user %d, star %d, api_key %d, dashboard %d, dashboard_version %d; rolled back: user %d, star %d, api_key %d, dashboard %d\n",
		len(all.tables["user"].committed), len(all.tables["star"].committed), len(all.tables["api_key"].committed),
		len(all.tables["dashboard"].committed), len(all.tables["dashboard_version"].committed),
		len(all.tables["user"].rolledBack), len(all.tables["star"].rolledBack), len(all.tables["api_key"].rolledBack),
		len(all.tables["dashboard"].rolledBack))

	show := func(list []string, max int) string {
		if len(list) == 0 {
			return ""
		}
		counts := map[string]int{}
		var order []string
		for _, s := range list {
			if counts[s] == 0 {
				order = append(order, s)
			}
			counts[s]++
		}
		var b strings.Builder
		for i, s := range order {
			if i == max {
				fmt.Fprintf(&b, "\n      … %d more distinct", len(order)-max)
				break
			}
			fmt.Fprintf(&b, "\n      %s", s)
			if counts[s] > 1 {
				fmt.Fprintf(&b, " (×%d)", counts[s])
			}
		}
		return b.String()
	}
	checks.Check("zero unexpected errors", len(all.unexpected) == 0, "%d unexpected errors%s", len(all.unexpected), show(all.unexpected, 25))
	checks.Check("no SQLITE_BUSY / locked / 55P03", all.lockErrors == 0, "%d lock errors", all.lockErrors)
	checks.Check("deliberate 23505s seen", all.dups > 0 && all.aborted > 0, "%d unique violations, %d aborted transactions", all.dups, all.aborted)
	checks.Check("client-side assertions", len(all.checkFails) == 0, "%d failed%s", len(all.checkFails), show(all.checkFails, 25))
	checks.Check("read-your-writes after COMMIT", len(all.staleReads) == 0, "%d stale reads%s", len(all.staleReads), show(all.staleReads, 10))
	checks.Check("transactions committed", all.committedTx > 0 && all.rolledTx > 0, "%d committed, %d rolled back", all.committedTx, all.rolledTx)

	// RETURNING ids are never handed out twice (sequences are not rolled back).
	{
		var bad []string
		for t, ids := range all.returned {
			seen := map[int64]bool{}
			for _, id := range ids {
				if seen[id] {
					bad = append(bad, fmt.Sprintf("%s id %d returned twice", t, id))
				}
				seen[id] = true
			}
		}
		n := 0
		for _, ids := range all.returned {
			n += len(ids)
		}
		checks.Check("RETURNING ids unique", len(bad) == 0, "%d ids returned%s", n, show(bad, 10))
	}

	// The database against the records.
	vctx, vcancel := context.WithTimeout(ctx, 60*time.Second)
	defer vcancel()
	db.SetMaxOpenConns(2)
	// Counters.
	{
		got := map[int64]int64{}
		rows, err := db.QueryContext(vctx, `SELECT "id", "n" FROM "counters" ORDER BY "id"`)
		if err == nil {
			for rows.Next() {
				var id, n int64
				if err = rows.Scan(&id, &n); err != nil {
					break
				}
				got[id] = n
			}
			if err == nil {
				err = rows.Err()
			}
			rows.Close()
		}
		if err != nil {
			checks.Fail("counters = committed increments", "read: %s", errText(err))
		} else {
			var bad []string
			var total int64
			for id := int64(1); id <= numCounters; id++ {
				total += all.incr[id]
				if got[id] != all.incr[id] {
					bad = append(bad, fmt.Sprintf("counter %d = %d, committed increments %d", id, got[id], all.incr[id]))
				}
			}
			for k := int64(0); k < advisoryKeys; k++ {
				id := int64(advisoryBase) + k
				total += all.incr[id]
				if got[id] != all.incr[id] {
					bad = append(bad, fmt.Sprintf("advisory counter %d = %d, increments under the lock %d", id, got[id], all.incr[id]))
				}
			}
			checks.Check("counters = committed increments", len(bad) == 0, "%d increments in %d counters%s", total, numCounters+advisoryKeys, show(bad, 20))
		}
	}
	// Inserted rows.
	for _, t := range []string{"user", "star", "api_key", "dashboard", "dashboard_version"} {
		got, err := tableKeys(vctx, db, t)
		if err != nil {
			checks.Fail("rows of "+t, "read: %s", errText(err))
			continue
		}
		rec := all.tables[t]
		var bad []string
		byKey := map[string][]int64{}
		for id, k := range got {
			byKey[k] = append(byKey[k], id)
		}
		for id, k := range rec.committed {
			if g, ok := got[id]; !ok {
				bad = append(bad, fmt.Sprintf("committed id %d (%s) missing", id, k))
			} else if g != k {
				bad = append(bad, fmt.Sprintf("committed id %d is %q, want %q", id, g, k))
			}
			if len(byKey[k]) != 1 {
				bad = append(bad, fmt.Sprintf("key %q present %d times", k, len(byKey[k])))
			}
		}
		for id, k := range rec.rolledBack {
			if _, ok := got[id]; ok {
				bad = append(bad, fmt.Sprintf("rolled-back id %d (%s) present", id, k))
			}
			if len(byKey[k]) != 0 {
				bad = append(bad, fmt.Sprintf("rolled-back key %q present", k))
			}
		}
		for id, k := range got {
			if _, ok := rec.committed[id]; !ok {
				if _, rb := rec.rolledBack[id]; !rb {
					bad = append(bad, fmt.Sprintf("unrecorded row id %d (%s)", id, k))
				}
			}
		}
		checks.Check("rows of "+t, len(bad) == 0, "%d committed present once, %d rolled back absent, %d rows%s",
			len(rec.committed), len(rec.rolledBack), len(got), show(bad, 20))
	}
	// Optimistic versions.
	{
		var bad []string
		successes := 0
		for d := int64(1); d <= sharedAuto+sharedTx; d++ {
			var version int64
			var data string
			if err := db.QueryRowContext(vctx, `SELECT "version", "data" FROM "dashboard" WHERE "id" = $1`, d).Scan(&version, &data); err != nil {
				bad = append(bad, fmt.Sprintf("dashboard %d: %s", d, errText(err)))
				continue
			}
			m := all.optim[d]
			successes += len(m)
			if version != int64(1+len(m)) {
				bad = append(bad, fmt.Sprintf("dashboard %d version %d, want 1 + %d successful updates", d, version, len(m)))
			}
			for v := int64(2); v <= int64(1+len(m)); v++ {
				if _, ok := m[v]; !ok {
					bad = append(bad, fmt.Sprintf("dashboard %d: no client saw version %d", d, v))
				}
			}
			if len(m) > 0 && m[version] != data {
				bad = append(bad, fmt.Sprintf("dashboard %d data %s, want %s (the update to version %d)", d, data, m[version], version))
			}
			if d > sharedAuto {
				// Every transactional success wrote dashboard_version (d, v) with its data.
				rows, err := db.QueryContext(vctx, `SELECT "version", "parent_version", "data" FROM "dashboard_version" WHERE "dashboard_id" = $1 ORDER BY "version"`, d)
				if err != nil {
					bad = append(bad, fmt.Sprintf("dashboard_version %d: %s", d, errText(err)))
					continue
				}
				n := 0
				for rows.Next() {
					var v, pv int64
					var vd string
					if err := rows.Scan(&v, &pv, &vd); err != nil {
						bad = append(bad, err.Error())
						break
					}
					n++
					if pv != v-1 || m[v] != vd {
						bad = append(bad, fmt.Sprintf("dashboard_version (%d, %d): parent %d data %s, want %s", d, v, pv, vd, m[v]))
					}
				}
				rows.Close()
				if n != len(m) {
					bad = append(bad, fmt.Sprintf("dashboard %d: %d dashboard_version rows, %d successful updates", d, n, len(m)))
				}
			}
		}
		checks.Check("optimistic-lock versions", len(bad) == 0 && successes > 0, "%d successful updates on %d dashboards%s",
			successes, sharedAuto+sharedTx, show(bad, 20))
	}

	// The daemon is alive and answers new connections (lib/pq and pgx).
	alive := processAlive(o.PID)
	var one int
	errPQ := func() error {
		c, err := sql.Open("postgres", o.DSN)
		if err != nil {
			return err
		}
		defer c.Close()
		return c.QueryRowContext(vctx, `SELECT 1`).Scan(&one)
	}()
	errPgx := func() error {
		c, err := pgx.Connect(vctx, o.DSN)
		if err != nil {
			return err
		}
		defer c.Close(vctx)
		return c.QueryRow(vctx, `SELECT 1`).Scan(&one)
	}()
	checks.Check("daemon alive and answering", alive && errPQ == nil && errPgx == nil,
		"process alive=%v, lib/pq SELECT 1: %s, pgx SELECT 1: %s", alive, errText(errPQ), errText(errPgx))
	return checks.Summary()
}
