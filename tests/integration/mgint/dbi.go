package main

// A thin common interface over lib/pq (database/sql) and pgx v4, so that the same
// Grafana-like operations run through both drivers.

import (
	"context"
	"database/sql"

	pgx "github.com/jackc/pgx/v4"
)

// Querier runs statements on a connection, a pool or inside a transaction.
type Querier interface {
	// Exec returns the rows affected.
	Exec(ctx context.Context, sql string, args ...interface{}) (int64, error)
	// QueryRow scans the single row of a query (an error if there is none).
	QueryRow(ctx context.Context, dest []interface{}, sql string, args ...interface{}) error
	// QueryEach calls fn once per row with a scanner for that row.
	QueryEach(ctx context.Context, fn func(scan func(dest ...interface{}) error) error, sql string, args ...interface{}) error
}

// Tx is an open transaction.
type Tx interface {
	Querier
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Client is one simulated Grafana instance's database handle.
type Client interface {
	Querier
	Begin(ctx context.Context) (Tx, error)
	// Session returns a Querier pinned to one server session (advisory locks are
	// per session) and its release function.
	Session(ctx context.Context) (Querier, func(), error)
	Kind() string
}

// --- lib/pq through database/sql --------------------------------------------------------

type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...interface{}) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...interface{}) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...interface{}) *sql.Row
}

type sqlQ struct{ r sqlRunner }

func (q sqlQ) Exec(ctx context.Context, query string, args ...interface{}) (int64, error) {
	res, err := q.r.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqlQ) QueryRow(ctx context.Context, dest []interface{}, query string, args ...interface{}) error {
	return q.r.QueryRowContext(ctx, query, args...).Scan(dest...)
}

func (q sqlQ) QueryEach(ctx context.Context, fn func(scan func(dest ...interface{}) error) error, query string, args ...interface{}) error {
	rows, err := q.r.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

type sqlTx struct {
	sqlQ
	tx *sql.Tx
}

func (t sqlTx) Commit(context.Context) error   { return t.tx.Commit() }
func (t sqlTx) Rollback(context.Context) error { return t.tx.Rollback() }

type pqClient struct {
	sqlQ
	db *sql.DB
}

func (c pqClient) Kind() string { return "libpq" }

func (c pqClient) Begin(ctx context.Context) (Tx, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return sqlTx{sqlQ{tx}, tx}, nil
}

func (c pqClient) Session(ctx context.Context) (Querier, func(), error) {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	return sqlQ{conn}, func() { _ = conn.Close() }, nil
}

// --- pgx v4 (one native connection per client, prepared-statement cache) ----------------

type pgxQ struct {
	exec     func(ctx context.Context, sql string, args ...interface{}) (int64, error)
	query    func(ctx context.Context, sql string, args ...interface{}) (pgx.Rows, error)
	queryRow func(ctx context.Context, sql string, args ...interface{}) pgx.Row
}

func (q pgxQ) Exec(ctx context.Context, query string, args ...interface{}) (int64, error) {
	return q.exec(ctx, query, args...)
}

func (q pgxQ) QueryRow(ctx context.Context, dest []interface{}, query string, args ...interface{}) error {
	return q.queryRow(ctx, query, args...).Scan(dest...)
}

func (q pgxQ) QueryEach(ctx context.Context, fn func(scan func(dest ...interface{}) error) error, query string, args ...interface{}) error {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

func pgxQuerierForConn(c *pgx.Conn) pgxQ {
	return pgxQ{
		exec: func(ctx context.Context, s string, a ...interface{}) (int64, error) {
			tag, err := c.Exec(ctx, s, a...)
			return tag.RowsAffected(), err
		},
		query:    c.Query,
		queryRow: c.QueryRow,
	}
}

func pgxQuerierForTx(t pgx.Tx) pgxQ {
	return pgxQ{
		exec: func(ctx context.Context, s string, a ...interface{}) (int64, error) {
			tag, err := t.Exec(ctx, s, a...)
			return tag.RowsAffected(), err
		},
		query:    t.Query,
		queryRow: t.QueryRow,
	}
}

type pgxTx struct {
	pgxQ
	tx pgx.Tx
}

func (t pgxTx) Commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t pgxTx) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }

type pgxClient struct {
	pgxQ
	conn *pgx.Conn
}

func newPgxClient(conn *pgx.Conn) pgxClient { return pgxClient{pgxQuerierForConn(conn), conn} }

func (c pgxClient) Kind() string { return "pgx" }

func (c pgxClient) Begin(ctx context.Context) (Tx, error) {
	tx, err := c.conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return pgxTx{pgxQuerierForTx(tx), tx}, nil
}

func (c pgxClient) Session(context.Context) (Querier, func(), error) {
	return c.pgxQ, func() {}, nil
}
