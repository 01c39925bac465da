package main

// `mgdiff runtime`: run Grafana's runtime statements (runtime-queries.sql) with
// sample parameters through lib/pq, pgx (extended protocol, statement cache) and
// pgx (simple protocol) against the reference and the target, comparing column
// names, column types, rows, command tags and errors.
//
// Order: group by group; inside a group each client runs all its statements in
// file order (inside one transaction when the params file says the sequence
// needs it), and every statement goes to the reference first, then to the
// target, so both databases see the same sequence of changes. Sample
// parameters use "{client}" in unique values, so each client inserts its own
// rows and no insert fails on a duplicate key by accident.

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

var reReturning = regexp.MustCompile(`(?i)\bRETURNING\b`)

// returnsRows says whether Grafana would run the statement as a query (rows)
// or with Exec: xorm uses Query for SELECTs and for inserts with RETURNING.
func returnsRows(sql string) bool {
	switch strings.ToUpper(firstWord(sql)) {
	case "SELECT", "WITH", "VALUES":
		return true
	}
	return reReturning.MatchString(sql)
}

// readOnly: a plain SELECT (no row locks, no writes, no sequence or lock
// functions): safe to run a second time.
func readOnly(sql string) bool {
	switch strings.ToUpper(firstWord(sql)) {
	case "SELECT", "WITH", "VALUES":
	default:
		return false
	}
	return !reWrites.MatchString(sql)
}

var reWrites = regexp.MustCompile(`(?i)\b(INSERT|UPDATE|DELETE|SETVAL|NEXTVAL|PG_TRY_ADVISORY_LOCK|PG_ADVISORY_UNLOCK|PG_ADVISORY_LOCK)\b`)

// pair holds one client's session on each side.
type pair struct {
	client   string
	ref, tgt Session
	refDSN   string
	tgtDSN   string
}

func (p *pair) ensure(rep *Reporter) bool {
	ok := true
	ctx, cancel := stepCtx()
	defer cancel()
	if p.ref == nil {
		s, err := Open(ctx, p.client, withConnectTimeout(p.refDSN))
		if err != nil {
			rep.Fail("connect", p.client, "connect", "ref: "+err.Error())
			ok = false
		} else {
			p.ref = s
		}
	}
	if p.tgt == nil {
		s, err := Open(ctx, p.client, withConnectTimeout(p.tgtDSN))
		if err != nil {
			rep.Fail("connect", p.client, "connect", "target: "+err.Error())
			rep.TargetHealth(&Result{}, &Result{Err: "client: " + err.Error()})
			ok = false
		} else {
			p.tgt = s
		}
	}
	return ok
}

// drop closes a broken session so that the next statement reconnects.
func (p *pair) drop(refBroken, tgtBroken bool) {
	if refBroken && p.ref != nil {
		p.ref.Close()
		p.ref = nil
	}
	if tgtBroken && p.tgt != nil {
		p.tgt.Close()
		p.tgt = nil
	}
}

func (p *pair) close() { p.drop(true, true) }

// RuntimeConfig holds the inputs of the runtime subcommand.
type RuntimeConfig struct {
	RefDSN, TgtDSN string
	Queries        string
	Params         string
	Setup          string
	Types          string
	Clients        []string
}

func RunRuntime(rep *Reporter, cfg RuntimeConfig) error {
	stmts, err := ParseRuntime(cfg.Queries)
	if err != nil {
		return err
	}
	pf := &ParamsFile{Groups: map[string]*GroupOpts{}, Statements: map[string]*StmtOpts{}}
	if cfg.Params != "" {
		if pf, err = LoadParams(cfg.Params); err != nil {
			return err
		}
	}
	known := map[string]bool{}
	for _, st := range stmts {
		known[st.Entry] = true
	}
	for e := range pf.Statements {
		if !known[e] {
			fmt.Printf("WARNING params entry %s matches no statement in %s\n", e, cfg.Queries)
		}
	}

	// --- setup: later-version DDL + sample data, plain statements on both sides.
	if cfg.Setup != "" {
		if err := runSetup(rep, cfg); err != nil {
			return err
		}
	}

	// --- the statements, group by group, client by client.
	var groups []string
	byGroup := map[string][]*Statement{}
	for _, st := range stmts {
		if _, ok := byGroup[st.Group]; !ok {
			groups = append(groups, st.Group)
		}
		byGroup[st.Group] = append(byGroup[st.Group], st)
	}
	pairs := map[string]*pair{}
	for _, c := range cfg.Clients {
		pairs[c] = &pair{client: c, refDSN: cfg.RefDSN, tgtDSN: cfg.TgtDSN}
	}
	defer func() {
		for _, p := range pairs {
			p.close()
		}
	}()
	skipped := 0
	for _, g := range groups {
		gopt := pf.Groups[g]
		for _, c := range cfg.Clients {
			p := pairs[c]
			if !p.ensure(rep) {
				p.close()
				continue
			}
			inTx := gopt != nil && gopt.Tx
			if inTx {
				runBoth(rep, p, g+":begin", CompareOpts{}, func(ctx context.Context, s Session) *Result { return s.Begin(ctx) })
			}
			for _, st := range byGroup[g] {
				o := pf.Statements[st.Entry]
				if o != nil && o.Skip != "" {
					if c == cfg.Clients[0] {
						skipped++
						rep.Logf("skip %s: %s", st.Entry, o.Skip)
					}
					continue
				}
				if o != nil && len(o.Clients) > 0 && !contains(o.Clients, c) {
					continue
				}
				runStatement(rep, p, st, o)
			}
			if inTx {
				runBoth(rep, p, g+":commit", CompareOpts{}, func(ctx context.Context, s Session) *Result { return s.Commit(ctx) })
			}
		}
	}
	rep.Logf("%d statements skipped (see the params file for the reasons)", skipped)

	if cfg.Types != "" {
		if err := checkTypes(rep, cfg, stmts); err != nil {
			return err
		}
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// runBoth runs f on the reference, then on the target, and compares.
func runBoth(rep *Reporter, p *pair, entry string, o CompareOpts, f func(ctx context.Context, s Session) *Result) {
	if !p.ensure(rep) {
		return
	}
	var res [2]*Result
	for i, s := range []Session{p.ref, p.tgt} {
		s := s
		res[i] = watchdog(rep, entry, []string{"ref", "target"}[i], func() *Result {
			ctx, cancel := stepCtx()
			defer cancel()
			return f(ctx, s)
		})
	}
	o.RefDB, o.TgtDB = dbNameOf(p.refDSN), dbNameOf(p.tgtDSN)
	noteRef(rep, entry, p.client, res[0])
	rep.CompareResults(entry, p.client, res[0], res[1], o)
	p.drop(res[0].Broken, res[1].Broken)
}

func runStatement(rep *Reporter, p *pair, st *Statement, o *StmtOpts) {
	sets, err := o.ArgSets(ClientTag(p.client))
	if err != nil {
		rep.Fail(st.Entry, p.client, "params", err.Error())
		return
	}
	co := CompareOpts{Unordered: !hasTopLevelOrderBy(st.SQL)}
	if o != nil {
		if o.Unordered {
			co.Unordered = true
		}
		if o.Ordered {
			co.Unordered = false
		}
		co.Volatile = o.Volatile
	}
	isQuery := returnsRows(st.SQL)
	up := strings.ToUpper(strings.TrimSpace(st.SQL))

	if o != nil && o.Prepare {
		if !p.ensure(rep) {
			return
		}
		var res [2][]*Result
		for i, s := range []Session{p.ref, p.tgt} {
			ch := make(chan []*Result, 1)
			s := s
			go func() {
				ctx, cancel := stepCtx()
				defer cancel()
				ch <- s.PreparedExec(ctx, st.SQL, sets)
			}()
			select {
			case res[i] = <-ch:
			case <-time.After(time.Duration(len(sets))*stepTimeout + 10*time.Second):
				watchdog(rep, st.Entry, []string{"ref", "target"}[i], func() *Result { select {} })
			}
		}
		broken := [2]bool{}
		for k := range sets {
			entry := st.Entry
			if len(sets) > 1 {
				entry = fmt.Sprintf("%s/%d", st.Entry, k+1)
			}
			co.RefDB, co.TgtDB = dbNameOf(p.refDSN), dbNameOf(p.tgtDSN)
			noteRef(rep, entry, p.client+"(prepared)", res[0][k])
			rep.CompareResults(entry, p.client+"(prepared)", res[0][k], res[1][k], co)
			broken[0] = broken[0] || res[0][k].Broken
			broken[1] = broken[1] || res[1][k].Broken
		}
		p.drop(broken[0], broken[1])
		return
	}

	for k, args := range sets {
		entry := st.Entry
		if len(sets) > 1 {
			entry = fmt.Sprintf("%s/%d", st.Entry, k+1)
		}
		if len(args) == 0 && strings.Count(st.SQL, "$1") > 0 {
			rep.Logf("note %s has placeholders but no parameters", st.Entry)
		}
		run := func(ctx context.Context, s Session) *Result {
			if isQuery {
				return s.Query(ctx, st.SQL, args)
			}
			return s.Exec(ctx, st.SQL, args)
		}
		runBoth(rep, p, entry, co, run)
		// pgx: a second run of a read-only statement hits the statement cache
		// (Bind/Execute on the named statement, no Parse/Describe).
		if p.client == "pgx" && isQuery && readOnly(st.SQL) && up != ";" {
			runBoth(rep, &pair{client: "pgx(cached)", ref: p.ref, tgt: p.tgt, refDSN: p.refDSN, tgtDSN: p.tgtDSN}, entry, co, run)
		}
	}
}

// runSetup executes the setup script (DDL for later Grafana versions + sample
// data) statement by statement through lib/pq without arguments (simple Query).
func runSetup(rep *Reporter, cfg RuntimeConfig) error {
	data, err := readFile(cfg.Setup)
	if err != nil {
		return err
	}
	p := &pair{client: "libpq", refDSN: cfg.RefDSN, tgtDSN: cfg.TgtDSN}
	defer p.close()
	for i, rs := range SplitSQL(data) {
		entry := fmt.Sprintf("setup#%d(line %d)", i+1, rs.Line)
		q := rs.SQL
		runBoth(rep, p, entry, CompareOpts{Unordered: !hasTopLevelOrderBy(q)}, func(ctx context.Context, s Session) *Result {
			if returnsRows(q) {
				return s.Query(ctx, q, nil)
			}
			return s.Exec(ctx, q, nil)
		})
	}
	return nil
}

// noteRef keeps track of what the reference answered: errors on the reference
// are legitimate test vectors (unique violations, pgx encoding limits) but are
// listed so that a sample parameter that stopped fitting the data is noticed.
func noteRef(rep *Reporter, entry, client string, r *Result) {
	rep.Executions++
	if r.Err != "" {
		rep.RefErrors++
		rep.Logf("ref %s [%s] error %s", entry, client, r.Err)
		return
	}
	rep.Logf("ref %s [%s] %s, %d rows", entry, client, r.Tag, len(r.Rows))
}
