package main

// The steady Grafana-like load: open loop at a fixed rate. Operations are scheduled at fixed
// intervals (1/(rate+read_rate) apart) whatever the server does; a pool of pinned lib/pq
// connections (like Grafana's engine) takes them from a queue, and every latency is measured
// from the operation's *scheduled* time to the moment its COMMIT (or autocommit statement) was
// acknowledged — so a stall of the server shows in the latencies of every operation that was
// due during it (no coordinated omission). The service time (start of execution to the
// answer) is recorded too.
//
// Writes (shares of --rate), each with the statements Grafana sends (runtime-queries.sql):
//   save          10%  dashboard save, one transaction: SELECT the row [3.2], UPDATE "dashboard"
//                      with the edited JSON (description rewritten, so the size changes; version+1),
//                      INSERT "dashboard_version" RETURNING id, DELETE + 2 INSERT dashboard_tag
//   annotation    30%  INSERT "annotation" ... RETURNING "id" [5.1] (autocommit)
//   last_seen     30%  UPDATE "user" SET "last_seen_at" [2.5] (autocommit)
//   alert_state   20%  one transaction, a prepared upsert into alert_instance run for the 4
//                      instances of one rule [6.2]
//   token_rotate  10%  UPDATE "user_auth_token" rotation [2.9] (autocommit)
// Reads (shares of --read-rate): read_dashboard 40% (dashboard by uid with its data [3.1]),
// read_annotations 40% (a dashboard's annotations in a time range), read_token 20% [2.8].

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"time"
)

type kind int

const (
	kSave kind = iota
	kAnnotation
	kLastSeen
	kAlertState
	kTokenRotate
	kReadDashboard
	kReadAnnotations
	kReadToken
	nKinds
)

var kindNames = [nKinds]string{"save", "annotation", "last_seen", "alert_state", "token_rotate", "read_dashboard", "read_annotations", "read_token"}

func (k kind) write() bool { return k < kReadDashboard }

var writeShares = []struct {
	k kind
	p float64
}{{kSave, 0.10}, {kAnnotation, 0.30}, {kLastSeen, 0.30}, {kAlertState, 0.20}, {kTokenRotate, 0.10}}
var readShares = []struct {
	k kind
	p float64
}{{kReadDashboard, 0.4}, {kReadAnnotations, 0.4}, {kReadToken, 0.2}}

// Rec is one executed operation. Times are nanoseconds; Sched is relative to the load's t0.
type Rec struct {
	Kind  kind
	Sched int64
	Lat   int64 // scheduled time -> acknowledged
	Svc   int64 // start of execution -> acknowledged
	Err   bool
}

// world: the ids the load picks from, read from the database once.
type world struct {
	dashIDs  []int64
	dashUIDs []string
	userMin  int64
	userMax  int64
	tokens   []tokenRow
	rules    []ruleInstances
}

type tokenRow struct {
	id   int64
	hash string
}

type ruleInstances struct {
	uid    string
	labels []string
	hashes []string
}

func loadWorld(ctx context.Context, db *sql.DB) (*world, error) {
	w := &world{}
	rows, err := db.QueryContext(ctx, `SELECT id, uid FROM dashboard WHERE is_folder = false AND org_id = 1`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var uid string
		if err := rows.Scan(&id, &uid); err != nil {
			return nil, err
		}
		w.dashIDs = append(w.dashIDs, id)
		w.dashUIDs = append(w.dashUIDs, uid)
	}
	rows.Close()
	if err := db.QueryRowContext(ctx, `SELECT min(id), max(id) FROM "user"`).Scan(&w.userMin, &w.userMax); err != nil {
		return nil, err
	}
	rows, err = db.QueryContext(ctx, `SELECT id, auth_token FROM user_auth_token`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var t tokenRow
		if err := rows.Scan(&t.id, &t.hash); err != nil {
			return nil, err
		}
		w.tokens = append(w.tokens, t)
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, `SELECT rule_uid, labels, labels_hash FROM alert_instance WHERE rule_org_id = 1 ORDER BY rule_uid`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var uid, l, h string
		if err := rows.Scan(&uid, &l, &h); err != nil {
			return nil, err
		}
		if n := len(w.rules); n == 0 || w.rules[n-1].uid != uid {
			w.rules = append(w.rules, ruleInstances{uid: uid})
		}
		ri := &w.rules[len(w.rules)-1]
		ri.labels = append(ri.labels, l)
		ri.hashes = append(ri.hashes, h)
	}
	rows.Close()
	if len(w.dashIDs) == 0 || len(w.tokens) == 0 || len(w.rules) == 0 {
		return nil, fmt.Errorf("the database has no seed data (dashboards %d, tokens %d, alert rules %d)", len(w.dashIDs), len(w.tokens), len(w.rules))
	}
	return w, nil
}

type op struct {
	kind kind
	at   time.Time
	dash int // index into world.dashIDs (save, reads)
	seed int64
}

type Load struct {
	dsn       string
	rate      float64 // writes/s
	readRate  float64 // reads/s
	workers   int
	db        *sql.DB
	w         *world
	t0        time.Time
	queue     chan op
	stop      chan struct{}
	dispDone  chan struct{}
	wg        sync.WaitGroup
	mu        sync.Mutex
	inflight  map[int]bool
	recs      [][]Rec
	errCount  [nKinds]int
	errFirst  []string
	scheduled int64
}

func NewLoad(ctx context.Context, dsn string, rate, readRate float64, workers int) (*Load, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(workers + 1)
	db.SetMaxIdleConns(workers + 1)
	w, err := loadWorld(ctx, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Load{dsn: dsn, rate: rate, readRate: readRate, workers: workers, db: db, w: w,
		queue: make(chan op, 1<<16), stop: make(chan struct{}), dispDone: make(chan struct{}),
		inflight: map[int]bool{}, recs: make([][]Rec, workers)}, nil
}

// Start opens the connections, then starts the schedule at t0 = now.
func (l *Load) Start(ctx context.Context, seed int64) error {
	conns := make([]*sql.Conn, l.workers)
	for i := range conns {
		c, err := l.db.Conn(ctx)
		if err != nil {
			return err
		}
		conns[i] = c
	}
	l.t0 = time.Now()
	for i := 0; i < l.workers; i++ {
		l.wg.Add(1)
		go l.worker(i, conns[i])
	}
	go l.dispatch(seed)
	return nil
}

func pick(r *rand.Rand, shares []struct {
	k kind
	p float64
}) kind {
	x := r.Float64()
	for _, s := range shares {
		if x < s.p {
			return s.k
		}
		x -= s.p
	}
	return shares[len(shares)-1].k
}

func (l *Load) dispatch(seed int64) {
	defer close(l.dispDone)
	r := rand.New(rand.NewSource(seed))
	total := l.rate + l.readRate
	period := time.Duration(float64(time.Second) / total)
	timer := time.NewTimer(0)
	<-timer.C
	for i := int64(0); ; i++ {
		at := l.t0.Add(time.Duration(i) * period)
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-l.stop:
				return
			}
		} else {
			select {
			case <-l.stop:
				return
			default:
			}
		}
		o := op{at: at, seed: r.Int63()}
		if r.Float64()*total < l.rate {
			o.kind = pick(r, writeShares)
		} else {
			o.kind = pick(r, readShares)
		}
		o.dash = r.Intn(len(l.w.dashIDs))
		if o.kind == kSave {
			// Never two saves of one dashboard at once (Grafana would answer the second one
			// with a version conflict).
			l.mu.Lock()
			for t := 0; t < 50 && l.inflight[o.dash]; t++ {
				o.dash = r.Intn(len(l.w.dashIDs))
			}
			l.inflight[o.dash] = true
			l.mu.Unlock()
		}
		l.scheduled++
		l.queue <- o
	}
}

// Stop ends the schedule; operations already due still run (bounded by their timeouts).
func (l *Load) Stop() []Rec {
	close(l.stop)
	<-l.dispDone
	close(l.queue)
	l.wg.Wait()
	l.db.Close()
	var all []Rec
	for _, rs := range l.recs {
		all = append(all, rs...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a].Sched < all[b].Sched })
	return all
}

func (l *Load) worker(i int, c *sql.Conn) {
	defer l.wg.Done()
	defer func() { c.Close() }()
	for o := range l.queue {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := l.run(ctx, c, o)
		cancel()
		end := time.Now()
		if o.kind == kSave {
			l.mu.Lock()
			delete(l.inflight, o.dash)
			l.mu.Unlock()
		}
		if err != nil {
			l.mu.Lock()
			l.errCount[o.kind]++
			if len(l.errFirst) < 10 {
				l.errFirst = append(l.errFirst, fmt.Sprintf("%s: %v", kindNames[o.kind], err))
			}
			l.mu.Unlock()
			// A broken connection is replaced.
			if c.PingContext(context.Background()) != nil {
				c.Close()
				nc, cerr := l.db.Conn(context.Background())
				if cerr == nil {
					c = nc
				}
			}
		}
		l.recs[i] = append(l.recs[i], Rec{Kind: o.kind, Sched: o.at.Sub(l.t0).Nanoseconds(),
			Lat: end.Sub(o.at).Nanoseconds(), Svc: end.Sub(start).Nanoseconds(), Err: err != nil})
	}
}

func (l *Load) Errors() (int, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.errCount {
		n += c
	}
	return n, append([]string(nil), l.errFirst...)
}

const sqlDashByID = `SELECT "id", "uid", "slug", "org_id", "gnet_id", "version", "plugin_id", "created", "updated", "updated_by", "created_by", "folder_id", "folder_uid", "is_folder", "has_acl", "is_public", "title", "data" FROM "dashboard" WHERE (id=$1 AND org_id=$2) LIMIT 1`
const sqlDashByUID = `SELECT "id", "uid", "slug", "org_id", "gnet_id", "version", "plugin_id", "created", "updated", "updated_by", "created_by", "folder_id", "folder_uid", "is_folder", "has_acl", "is_public", "title", "data" FROM "dashboard" WHERE "org_id"=$1 AND "uid"=$2 LIMIT 1`
const sqlUpsertInstance = `INSERT INTO alert_instance ("rule_org_id", "rule_uid", "labels", "labels_hash", "current_state", "current_reason", "current_state_since", "current_state_end", "last_eval_time") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT ("rule_org_id", "rule_uid", "labels_hash") DO UPDATE SET "rule_org_id"=EXCLUDED."rule_org_id", "rule_uid"=EXCLUDED."rule_uid", "labels"=EXCLUDED."labels", "labels_hash"=EXCLUDED."labels_hash", "current_state"=EXCLUDED."current_state", "current_reason"=EXCLUDED."current_reason", "current_state_since"=EXCLUDED."current_state_since", "current_state_end"=EXCLUDED."current_state_end", "last_eval_time"=EXCLUDED."last_eval_time"`

func (l *Load) run(ctx context.Context, c *sql.Conn, o op) error {
	r := rand.New(rand.NewSource(o.seed))
	now := time.Now().UTC()
	nowTS := now.Format(tsLayout)
	switch o.kind {
	case kSave:
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		id := l.w.dashIDs[o.dash]
		var (
			rid, orgID, version, createdBy, folderID             int64
			uid, slug, title, data                               string
			gnet, plugin, created, updated, updatedBy, folderUID interface{}
			isFolder, hasACL, isPublic                           interface{}
		)
		if err := tx.QueryRowContext(ctx, sqlDashByID, id, 1).Scan(&rid, &uid, &slug, &orgID, &gnet, &version, &plugin, &created, &updated,
			&updatedBy, &createdBy, &folderID, &folderUID, &isFolder, &hasACL, &isPublic, &title, &data); err != nil {
			return fmt.Errorf("select: %w", err)
		}
		data = editDashboard(r, data, version+1)
		user := l.w.userMin + r.Int63n(l.w.userMax-l.w.userMin+1)
		if _, err := tx.ExecContext(ctx, `UPDATE "dashboard" SET "uid" = $1, "slug" = $2, "org_id" = $3, "version" = $4, "updated" = $5, "updated_by" = $6, "created_by" = $7, "folder_id" = $8, "title" = $9, "data" = $10 WHERE "id"=$11`,
			uid, slug, orgID, version+1, nowTS, user, createdBy, folderID, title, data, id); err != nil {
			return fmt.Errorf("update: %w", err)
		}
		var vid int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO "dashboard_version" ("dashboard_id","parent_version","restored_from","version","created","created_by","message","data") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING "id"`,
			id, version, 0, version+1, nowTS, user, "", data).Scan(&vid); err != nil {
			return fmt.Errorf("version: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM dashboard_tag WHERE dashboard_id=$1`, id); err != nil {
			return err
		}
		for t := 0; t < 2; t++ {
			var tid int64
			if err := tx.QueryRowContext(ctx, `INSERT INTO "dashboard_tag" ("dashboard_id","term") VALUES ($1, $2) RETURNING "id"`, id, tagTerms[r.Intn(len(tagTerms))]).Scan(&tid); err != nil {
				return err
			}
		}
		return tx.Commit()
	case kAnnotation:
		ep := now.UnixMilli()
		var id int64
		return c.QueryRowContext(ctx, `INSERT INTO "annotation" ("org_id","alert_id","user_id","dashboard_id","panel_id","type","title","text","metric","prev_state","new_state","data","epoch","region_id","tags","created","updated","epoch_end") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING "id"`,
			1, 1+r.Intn(500), 0, l.w.dashIDs[o.dash], 1+r.Intn(20), "alert", "", strings.Title(phrase(r, 3))+": "+phrase(r, 8), "", "Normal", "Alerting",
			fmt.Sprintf(`{"values":{"B":%d.%d,"C":1}}`, r.Intn(1000), r.Intn(100)), ep, 0, "", ep, ep, ep).Scan(&id)
	case kLastSeen:
		_, err := c.ExecContext(ctx, `UPDATE "user" SET "last_seen_at" = $1 WHERE "id"=$2`, nowTS, l.w.userMin+r.Int63n(l.w.userMax-l.w.userMin+1))
		return err
	case kAlertState:
		ri := l.w.rules[r.Intn(len(l.w.rules))]
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		st, err := tx.PrepareContext(ctx, sqlUpsertInstance)
		if err != nil {
			return err
		}
		defer st.Close()
		state := []string{"Normal", "Normal", "Normal", "Alerting", "Pending"}[r.Intn(5)]
		for i := range ri.hashes {
			if _, err := st.ExecContext(ctx, 1, ri.uid, ri.labels[i], ri.hashes[i], state, "", now.Unix()-int64(r.Intn(3600)), 0, now.Unix()); err != nil {
				return err
			}
		}
		return tx.Commit()
	case kTokenRotate:
		t := l.w.tokens[r.Intn(len(l.w.tokens))]
		_, err := c.ExecContext(ctx, `UPDATE "user_auth_token" SET "seen_at" = $1, "user_agent" = $2, "client_ip" = $3, "prev_auth_token" = "auth_token", "auth_token" = $4, "auth_token_seen" = $5, "rotated_at" = $6 WHERE "id" = $7`,
			0, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0 Safari/537.36", "10.1.2.3", randHex(r, 64), false, now.Unix(), t.id)
		return err
	case kReadDashboard:
		rows, err := c.QueryContext(ctx, sqlDashByUID, 1, l.w.dashUIDs[o.dash])
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
		return err
	case kReadAnnotations:
		to := now.UnixMilli()
		rows, err := c.QueryContext(ctx, `SELECT annotation.id, annotation.epoch, annotation.epoch_end, annotation.dashboard_id, annotation.panel_id, annotation.new_state, annotation.prev_state, annotation.alert_id, annotation.text, annotation.tags, annotation.data FROM annotation WHERE annotation.org_id = $1 AND annotation.dashboard_id = $2 AND annotation.epoch <= $3 AND annotation.epoch_end >= $4 ORDER BY annotation.epoch * 1000 + annotation.epoch_end DESC LIMIT 100`,
			1, l.w.dashIDs[o.dash], to, to-6*3600*1000)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
		return err
	case kReadToken:
		t := l.w.tokens[r.Intn(len(l.w.tokens))]
		rows, err := c.QueryContext(ctx, `SELECT "id", "user_id", "auth_token", "prev_auth_token", "user_agent", "client_ip", "auth_token_seen", "seen_at", "rotated_at", "created_at", "updated_at", "revoked_at" FROM "user_auth_token" WHERE ((auth_token = $1 OR prev_auth_token = $2)) LIMIT 1`, t.hash, t.hash)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
		return err
	}
	return nil
}

// editDashboard: the top-level description rewritten (another length) and the version bumped.
func editDashboard(r *rand.Rand, data string, version int64) string {
	const key = `"description":"`
	if i := strings.Index(data, key); i >= 0 {
		j := strings.IndexByte(data[i+len(key):], '"')
		if j >= 0 {
			data = data[:i+len(key)] + phrase(r, 3+r.Intn(40)) + data[i+len(key)+j:]
		}
	}
	if i := strings.LastIndex(data, `"version":`); i >= 0 {
		j := i + len(`"version":`)
		k := j
		for k < len(data) && data[k] >= '0' && data[k] <= '9' {
			k++
		}
		data = fmt.Sprintf("%s%d%s", data[:j], version, data[k:])
	}
	return data
}

// ---- statistics ---------------------------------------------------------------------------

type Summary struct {
	N, Errs        int
	P50, P99, Max  float64 // ms
	Mean           float64
	SvcP50, SvcP99 float64
}

func pctl(s []int64, p float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p*float64(len(s)))) - 1 // nearest rank
	if i < 0 {
		i = 0
	}
	return float64(s[i]) / 1e6
}

func summarize(recs []Rec, keep func(Rec) bool) Summary {
	var lat, svc []int64
	var s Summary
	var sum float64
	for _, r := range recs {
		if !keep(r) {
			continue
		}
		if r.Err {
			s.Errs++
			continue
		}
		lat = append(lat, r.Lat)
		svc = append(svc, r.Svc)
		sum += float64(r.Lat)
	}
	s.N = len(lat)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	sort.Slice(svc, func(a, b int) bool { return svc[a] < svc[b] })
	s.P50, s.P99 = pctl(lat, 0.50), pctl(lat, 0.99)
	s.SvcP50, s.SvcP99 = pctl(svc, 0.50), pctl(svc, 0.99)
	if len(lat) > 0 {
		s.Max = float64(lat[len(lat)-1]) / 1e6
		s.Mean = sum / float64(len(lat)) / 1e6
	}
	return s
}
