package main

// Client sessions. Each one drives one server through a real Go driver, the way
// Grafana's store does:
//
//   libpq      lib/pq through database/sql on one pinned connection (*sql.Conn).
//              Statements with arguments: unnamed Parse+Describe(S)+Sync, then
//              Bind(text params, binary results for int2/4/8, bytea, uuid)+Execute+Sync.
//              Statements without arguments: one simple Query message.
//              Grafana's xorm runs INSERT … RETURNING "id" with Query, not Exec.
//   pgx        pgx v4 native connection, default config: prepared-statement cache
//              (named statements "lrupsc_…", binary params/results by type OID).
//              Exec without arguments goes out as a simple Query, like pgx v5.
//   pgx-simple pgx v4 with PreferSimpleProtocol: arguments interpolated client-side,
//              one simple Query per statement, text results (Grafana under pgx with
//              default_query_exec_mode=simple_protocol, PgBouncer setups).
//   libpq-binparams  lib/pq with binary_parameters=yes (Grafana's [database] url with
//              binary_parameters=yes, used with PgBouncer): one round trip of
//              Parse("")+Bind+Describe(P)+Execute+Sync, no statement Describe, so the
//              server must infer parameter types itself; []byte arguments go binary.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgtype"
	pgx "github.com/jackc/pgx/v4"
	"github.com/lib/pq"
)

// Column is one RowDescription field as the client saw it.
type Column struct {
	Name   string
	Type   string // lib/pq: DatabaseTypeName (+ length); pgx: OID/typmod/size
	OID    uint32 // pgx only
	TypMod int32  // pgx only
}

// Result is everything a client observed for one statement execution.
type Result struct {
	Err      string // "" or "SQLSTATE: message" (or a client-side error text)
	ServerEr bool   // Err came from an ErrorResponse
	Columns  []Column
	HasRows  bool     // statement was run as a query (row description expected)
	Rows     []string // each row rendered as text, columns joined by " | "
	Tag      string   // pgx command tag; lib/pq "rows affected N" (Exec) or "rows N" (Query)
	Broken   bool     // the connection must be reopened
}

// Session is one connection to one server through one client.
type Session interface {
	Name() string
	Query(ctx context.Context, sql string, args []interface{}) *Result
	Exec(ctx context.Context, sql string, args []interface{}) *Result
	Begin(ctx context.Context) *Result
	Commit(ctx context.Context) *Result
	Rollback(ctx context.Context) *Result
	// PreparedExec prepares sql once (a named statement for lib/pq) and runs it
	// once per argument set, like Grafana's SaveAlertInstances.
	PreparedExec(ctx context.Context, sql string, argSets [][]interface{}) []*Result
	Close()
}

// ClientNames in the order they are run.
var ClientNames = []string{"libpq", "pgx", "pgx-simple", "libpq-binparams"}

// ClientTag is the short tag substituted for "{client}" in sample parameters,
// so that every client inserts its own rows and unique keys never collide.
func ClientTag(name string) string {
	switch name {
	case "libpq":
		return "pq"
	case "pgx":
		return "px"
	case "pgx-simple":
		return "ps"
	case "libpq-binparams":
		return "pb"
	}
	return name
}

// Open opens a session of the named client against dsn.
func Open(ctx context.Context, client, dsn string) (Session, error) {
	switch client {
	case "libpq":
		return openLibpq(ctx, dsn, "libpq")
	case "libpq-binparams":
		return openLibpq(ctx, addDSNParam(dsn, "binary_parameters", "yes"), client)
	case "pgx", "pgx-simple":
		return openPgx(ctx, dsn, client == "pgx-simple")
	}
	return nil, fmt.Errorf("unknown client %q", client)
}

// ---------------------------------------------------------------- lib/pq

type libpqSession struct {
	name string
	db   *sql.DB
	conn *sql.Conn
	tx   *sql.Tx
}

func openLibpq(ctx context.Context, dsn, name string) (*libpqSession, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &libpqSession{name: name, db: db, conn: conn}, nil
}

func (s *libpqSession) Name() string { return s.name }

// addDSNParam adds key=value to a key/value or URL DSN.
func addDSNParam(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if strings.Contains(dsn, "?") {
			return dsn + "&" + key + "=" + value
		}
		return dsn + "?" + key + "=" + value
	}
	return dsn + " " + key + "=" + value
}

func (s *libpqSession) Close() {
	if s.tx != nil {
		s.tx.Rollback()
	}
	s.conn.Close()
	s.db.Close()
}

type sqlQueryer interface {
	QueryContext(ctx context.Context, query string, args ...interface{}) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...interface{}) (sql.Result, error)
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

func (s *libpqSession) q() sqlQueryer {
	if s.tx != nil {
		return s.tx
	}
	return s.conn
}

func (s *libpqSession) Query(ctx context.Context, query string, args []interface{}) *Result {
	rows, err := s.q().QueryContext(ctx, query, args...)
	if err != nil {
		return errResult(err)
	}
	return readSQLRows(rows)
}

// readSQLRows renders database/sql rows the way lib/pq decoded them.
func readSQLRows(rows *sql.Rows) *Result {
	defer rows.Close()
	r := &Result{HasRows: true}
	cts, err := rows.ColumnTypes()
	if err != nil {
		return errResult(err)
	}
	dbTypes := make([]string, len(cts))
	for i, ct := range cts {
		t := ct.DatabaseTypeName()
		if l, ok := ct.Length(); ok && l != math.MaxInt64 {
			t += fmt.Sprintf("(%d)", l)
		}
		if p, sc, ok := ct.DecimalSize(); ok {
			t += fmt.Sprintf("(%d,%d)", p, sc)
		}
		dbTypes[i] = ct.DatabaseTypeName()
		r.Columns = append(r.Columns, Column{Name: ct.Name(), Type: t})
	}
	vals := make([]interface{}, len(cts))
	ptrs := make([]interface{}, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return errResultKeep(r, err)
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i] = renderValue(v, dbTypes[i] == "BYTEA")
		}
		r.Rows = append(r.Rows, strings.Join(cells, " | "))
	}
	if err := rows.Err(); err != nil {
		return errResultKeep(r, err)
	}
	r.Tag = fmt.Sprintf("rows %d", len(r.Rows))
	return r
}

func (s *libpqSession) Exec(ctx context.Context, query string, args []interface{}) *Result {
	res, err := s.q().ExecContext(ctx, query, args...)
	if err != nil {
		return errResult(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return &Result{Tag: "rows affected: " + err.Error()}
	}
	return &Result{Tag: fmt.Sprintf("rows affected %d", n)}
}

func (s *libpqSession) PreparedExec(ctx context.Context, query string, argSets [][]interface{}) []*Result {
	stmt, err := s.q().PrepareContext(ctx, query)
	if err != nil {
		r := errResult(err)
		out := make([]*Result, len(argSets))
		for i := range out {
			out[i] = r
		}
		return out
	}
	defer stmt.Close()
	var out []*Result
	for _, args := range argSets {
		res, err := stmt.ExecContext(ctx, args...)
		if err != nil {
			out = append(out, errResult(err))
			continue
		}
		n, _ := res.RowsAffected()
		out = append(out, &Result{Tag: fmt.Sprintf("rows affected %d", n)})
	}
	return out
}

func (s *libpqSession) Begin(ctx context.Context) *Result {
	tx, err := s.conn.BeginTx(context.Background(), nil) // not ctx: database/sql rolls a tx back when its context ends
	if err != nil {
		return errResult(err)
	}
	s.tx = tx
	return &Result{Tag: "BEGIN"}
}

func (s *libpqSession) Commit(ctx context.Context) *Result {
	if s.tx == nil {
		return &Result{Err: "no transaction"}
	}
	err := s.tx.Commit()
	s.tx = nil
	if err != nil {
		return errResult(err)
	}
	return &Result{Tag: "COMMIT"}
}

func (s *libpqSession) Rollback(ctx context.Context) *Result {
	if s.tx == nil {
		return &Result{Err: "no transaction"}
	}
	err := s.tx.Rollback()
	s.tx = nil
	if err != nil {
		return errResult(err)
	}
	return &Result{Tag: "ROLLBACK"}
}

// ---------------------------------------------------------------- pgx v4

type pgxSession struct {
	conn   *pgx.Conn
	tx     pgx.Tx
	simple bool
}

func openPgx(ctx context.Context, dsn string, simple bool) (*pgxSession, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.PreferSimpleProtocol = simple
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &pgxSession{conn: conn, simple: simple}, nil
}

func (s *pgxSession) Name() string {
	if s.simple {
		return "pgx-simple"
	}
	return "pgx"
}

func (s *pgxSession) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.conn.Close(ctx)
}

type pgxQueryer interface {
	Query(ctx context.Context, sql string, args ...interface{}) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...interface{}) (pgconn.CommandTag, error)
}

func (s *pgxSession) q() pgxQueryer {
	if s.tx != nil {
		return s.tx
	}
	return s.conn
}

func (s *pgxSession) Query(ctx context.Context, query string, args []interface{}) *Result {
	rows, err := s.q().Query(ctx, query, args...)
	if err != nil {
		if rows != nil {
			rows.Close()
		}
		return errResult(err)
	}
	defer rows.Close()
	r := &Result{HasRows: true}
	fds := rows.FieldDescriptions()
	for _, fd := range fds {
		r.Columns = append(r.Columns, Column{
			Name:   string(fd.Name),
			OID:    fd.DataTypeOID,
			TypMod: fd.TypeModifier,
			Type:   fmt.Sprintf("oid=%d typmod=%d size=%d", fd.DataTypeOID, fd.TypeModifier, fd.DataTypeSize),
		})
	}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return errResultKeep(r, err)
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i] = renderValue(v, i < len(fds) && fds[i].DataTypeOID == pgtype.ByteaOID)
		}
		r.Rows = append(r.Rows, strings.Join(cells, " | "))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return errResultKeep(r, err)
	}
	r.Tag = rows.CommandTag().String()
	return r
}

func (s *pgxSession) Exec(ctx context.Context, query string, args []interface{}) *Result {
	tag, err := s.q().Exec(ctx, query, args...)
	if err != nil {
		return errResult(err)
	}
	return &Result{Tag: tag.String()}
}

func (s *pgxSession) PreparedExec(ctx context.Context, query string, argSets [][]interface{}) []*Result {
	// pgx already keeps a named prepared statement per SQL text in its cache.
	var out []*Result
	for _, a := range argSets {
		out = append(out, s.Exec(ctx, query, a))
	}
	return out
}

func (s *pgxSession) Begin(ctx context.Context) *Result {
	tx, err := s.conn.Begin(ctx)
	if err != nil {
		return errResult(err)
	}
	s.tx = tx
	return &Result{Tag: "BEGIN"}
}

func (s *pgxSession) Commit(ctx context.Context) *Result {
	if s.tx == nil {
		return &Result{Err: "no transaction"}
	}
	err := s.tx.Commit(ctx)
	s.tx = nil
	if err != nil {
		return errResult(err)
	}
	return &Result{Tag: "COMMIT"}
}

func (s *pgxSession) Rollback(ctx context.Context) *Result {
	if s.tx == nil {
		return &Result{Err: "no transaction"}
	}
	err := s.tx.Rollback(ctx)
	s.tx = nil
	if err != nil {
		return errResult(err)
	}
	return &Result{Tag: "ROLLBACK"}
}

// ---------------------------------------------------------------- helpers

// errText renders an error as "SQLSTATE: message" for server errors.
func errText(err error) (string, bool) {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return string(pe.Code) + ": " + pe.Message, true
	}
	var ge *pgconn.PgError
	if errors.As(err, &ge) {
		return ge.Code + ": " + ge.Message, true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "client: timeout", false
	}
	return "client: " + err.Error(), false
}

func errResult(err error) *Result {
	return errResultKeep(&Result{}, err)
}

func errResultKeep(r *Result, err error) *Result {
	r.Err, r.ServerEr = errText(err)
	if !r.ServerEr {
		// Client-side errors (I/O, protocol violations, timeouts, bad conn)
		// may leave the connection unusable: the caller reopens it.
		if errors.Is(err, driver.ErrBadConn) || errors.Is(err, context.DeadlineExceeded) ||
			strings.Contains(err.Error(), "conn") || strings.Contains(err.Error(), "EOF") ||
			strings.Contains(err.Error(), "timeout") || strings.Contains(err.Error(), "unexpected") {
			r.Broken = true
		}
	}
	return r
}

// renderValue renders a decoded driver value as stable text.
func renderValue(v interface{}, bytea bool) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		if bytea {
			return `\x` + hex.EncodeToString(x)
		}
		return string(x)
	case string:
		return x
	case bool:
		if x {
			return "t"
		}
		return "f"
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case time.Time:
		return x.Format("2006-01-02 15:04:05.999999999 -0700 MST")
	case [16]byte:
		return hex.EncodeToString(x[:])
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprintf("%v", v)
}
