package main

// protocol: TLS, password authentication and CancelRequest with real clients (lib/pq through
// database/sql and its driver interface, pgx v4), against a daemon started by run.sh with
// its own config file:
//
//	tls:   a server certificate for CN=localhost (SAN DNS:localhost, IP:127.0.0.1) signed by
//	       the test CA (--ca); --other-ca is a CA that did not sign it.
//	rules: hostssl all grafana  127.0.0.1/32 scram-sha-256
//	       host    all md5user  127.0.0.1/32 md5
//	       host    all scrammd5 127.0.0.1/32 md5
//	       hostssl all all      127.0.0.1/32 scram-sha-256
//	users: grafana (SCRAM verifier, --password), scrammd5 (SCRAM verifier, --password),
//	       md5user and md5only (md5 hashes of --md5-password); databases: only "grafana".
//
// PostgreSQL 15 is the oracle (--reference runs the same checks against it, set up the same
// way by run.sh). Every connection and statement has a deadline; lib/pq connections go
// through a recording dialer, which lets the test see the bytes on the wire (SSLRequest,
// the TLS handshake, the authentication request of plain connections) and cut a connection
// that would outlive its deadline.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgconn"
	pgx "github.com/jackc/pgx/v4"
	"github.com/lib/pq"
)

type ProtoOptions struct {
	Addr        string
	CA          string
	OtherCA     string
	Password    string // grafana and scrammd5 (SCRAM verifiers)
	MD5Password string // md5user and md5only (md5 hashes)
	PID         int
	Reference   bool
}

// longQuery runs for seconds unless cancelled (20M rows: about 5 s on metagate's release
// build, 15 s with ASan); a cancelled one ends within cancelBound.
const longQuery = `WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 20000000) SELECT count(*) FROM c`

// cancelBound: the client cancels after 300 ms; the answer must come before this.
const cancelBound = 3 * time.Second

// The step's hard limit: a lib/pq connection still open after it is cut (recording dialer).
const protoHardLimit = 20 * time.Second

type proto struct {
	o          ProtoOptions
	host, port string
	checks     *Checks
}

// --- a recording dialer for lib/pq ------------------------------------------------------

const sniffMax = 4096

type sniffConn struct {
	net.Conn
	mu    sync.Mutex
	wrote []byte // the first sniffMax bytes the client wrote
	read  []byte // the first sniffMax bytes the client read
}

func (c *sniffConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	if n := sniffMax - len(c.wrote); n > 0 {
		if n > len(b) {
			n = len(b)
		}
		c.wrote = append(c.wrote, b[:n]...)
	}
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *sniffConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	if m := sniffMax - len(c.read); m > 0 && n > 0 {
		if m > n {
			m = n
		}
		c.read = append(c.read, b[:m]...)
	}
	c.mu.Unlock()
	return n, err
}

func (c *sniffConn) bytes() (wrote, read []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.wrote...), append([]byte(nil), c.read...)
}

var sslRequest = []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}

// tlsOnWire: the client sent SSLRequest, the server answered 'S' and the client's next
// bytes are a TLS handshake record (content type 22, version 3.x).
func (c *sniffConn) tlsOnWire() (bool, string) {
	w, r := c.bytes()
	switch {
	case len(w) < 10 || !bytes.Equal(w[:8], sslRequest):
		return false, fmt.Sprintf("no SSLRequest first (client sent % x…)", head(w, 8))
	case len(r) < 1 || r[0] != 'S':
		return false, fmt.Sprintf("answer to SSLRequest %q", head(r, 1))
	case w[8] != 0x16 || w[9] != 3:
		return false, fmt.Sprintf("after 'S' the client sent % x (not a TLS handshake)", head(w[8:], 5))
	}
	return true, "SSLRequest, 'S', TLS handshake on the wire"
}

// authRequest: the code of the first AuthenticationRequest the server sent on a plain
// connection (5 = MD5Password, 10 = SASL), -1 if none was seen.
func (c *sniffConn) authRequest() int {
	_, r := c.bytes()
	if len(r) >= 9 && r[0] == 'R' {
		return int(binary.BigEndian.Uint32(r[5:9]))
	}
	return -1
}

func head(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

type sniffDialer struct {
	mu    sync.Mutex
	conns []*sniffConn
}

func (d *sniffDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d *sniffDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

func (d *sniffDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	sc := &sniffConn{Conn: c}
	d.mu.Lock()
	d.conns = append(d.conns, sc)
	d.mu.Unlock()
	return sc, nil
}

func (d *sniffDialer) conn(i int) *sniffConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i < len(d.conns) {
		return d.conns[i]
	}
	return nil
}

func (d *sniffDialer) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

// watchdog cuts every connection of this dialer (read/write deadline now) after limit,
// so that no lib/pq call can outlive it; the returned function disarms it.
func (d *sniffDialer) watchdog(limit time.Duration) func() {
	t := time.AfterFunc(limit, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, c := range d.conns {
			_ = c.SetDeadline(time.Now())
		}
	})
	return func() { t.Stop() }
}

// --- helpers ----------------------------------------------------------------------------

// dsn: keyword/value string for lib/pq and pgx; later keywords in extra override.
func (p *proto) dsn(user, password, sslmode string, extra ...string) string {
	s := fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=grafana sslmode=%s connect_timeout=10",
		p.host, p.port, user, password, sslmode)
	for _, e := range extra {
		s += " " + e
	}
	return s
}

func (p *proto) pqOpen(dsn string) (*sql.DB, *sniffDialer, error) {
	c, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, nil, err
	}
	d := &sniffDialer{}
	c.Dialer(d)
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(2)
	return db, d, nil
}

// pqQuery: one lib/pq connection runs `query` (one text column) and closes; bounded.
func (p *proto) pqQuery(dsn, query string) (string, *sniffDialer, error) {
	return p.pqQueryLimit(dsn, query, 15*time.Second)
}

func (p *proto) pqQueryLimit(dsn, query string, limit time.Duration) (string, *sniffDialer, error) {
	db, d, err := p.pqOpen(dsn)
	if err != nil {
		return "", nil, err
	}
	defer db.Close()
	defer d.watchdog(limit + 2*time.Second)()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var v string
	err = db.QueryRowContext(ctx, query).Scan(&v)
	return v, d, err
}

func (p *proto) pgxConnect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// pgxQuery: one pgx connection runs `query` (one text column); the connection is returned
// open (nil on error) for further checks, and must be closed by the caller.
func (p *proto) pgxQuery(dsn, query string) (string, *pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := p.pgxConnect(ctx, dsn)
	if err != nil {
		return "", nil, err
	}
	var v string
	if err := conn.QueryRow(ctx, query).Scan(&v); err != nil {
		conn.Close(context.Background())
		return "", nil, err
	}
	return v, conn, nil
}

func closePgx(conn *pgx.Conn) {
	if conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	}
}

// serverError: severity, SQLSTATE and message of a server error (lib/pq or pgx).
func serverError(err error) (sev, code, msg string, ok bool) {
	var pqe *pq.Error
	if errors.As(err, &pqe) {
		return pqe.Severity, string(pqe.Code), pqe.Message, true
	}
	var pge *pgconn.PgError
	if errors.As(err, &pge) {
		return pge.Severity, pge.Code, pge.Message, true
	}
	return "", "", "", false
}

// wantError: err is a server error with exactly this severity, SQLSTATE and message.
func (p *proto) wantError(name string, err error, sev, code, msg string) {
	gs, gc, gm, ok := serverError(err)
	if !ok {
		p.checks.Fail(name, "want %s %s %q; got %s", sev, code, msg, errText(err))
		return
	}
	p.checks.Check(name, gs == sev && gc == code && gm == msg, "got %s %s %q (want %s %s %q)", gs, gc, gm, sev, code, msg)
}

// unknownAuthority: the error is the client's own certificate verification failure.
func unknownAuthority(err error) bool {
	var ua x509.UnknownAuthorityError
	return err != nil && errors.As(err, &ua)
}

func tlsState(c net.Conn) (tls.ConnectionState, bool) {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return tls.ConnectionState{}, false
	}
	return tc.ConnectionState(), true
}

func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// --- TLS --------------------------------------------------------------------------------

func (p *proto) caseTLS() {
	pw := p.o.Password

	name := "lib/pq sslmode=require: TLS, SELECT 1"
	v, d, err := p.pqQuery(p.dsn("grafana", pw, "require"), `SELECT 1::text`)
	if err != nil {
		p.checks.Fail(name, "%s", errText(err))
	} else {
		ok, how := d.conn(0).tlsOnWire()
		p.checks.Check(name, ok && v == "1", "SELECT 1 -> %s; %s", v, how)
	}

	name = "lib/pq verify-full, host=localhost"
	v, _, err = p.pqQuery(p.dsn("grafana", pw, "verify-full", "host=localhost", "sslrootcert="+p.o.CA), `SELECT 1::text`)
	p.checks.Check(name, err == nil && v == "1", "SELECT 1 -> %q, %s", v, errText(err))

	name = "lib/pq verify-full, host=127.0.0.1 (IP SAN)"
	v, _, err = p.pqQuery(p.dsn("grafana", pw, "verify-full", "sslrootcert="+p.o.CA), `SELECT 1::text`)
	p.checks.Check(name, err == nil && v == "1", "SELECT 1 -> %q, %s", v, errText(err))

	name = "lib/pq verify-full with another CA: client refuses"
	_, _, err = p.pqQuery(p.dsn("grafana", pw, "verify-full", "host=localhost", "sslrootcert="+p.o.OtherCA), `SELECT 1::text`)
	p.checks.Check(name, unknownAuthority(err), "%s (want x509: certificate signed by unknown authority)", errText(err))

	name = "pgx verify-full: *tls.Conn, certificate CN=localhost"
	v, conn, err := p.pgxQuery(p.dsn("grafana", pw, "verify-full", "host=localhost", "sslrootcert="+p.o.CA), `SELECT 1::text`)
	if err != nil {
		p.checks.Fail(name, "%s", errText(err))
	} else {
		st, isTLS := tlsState(conn.PgConn().Conn())
		cn := ""
		if isTLS && len(st.PeerCertificates) > 0 {
			cn = st.PeerCertificates[0].Subject.CommonName
		}
		ok := isTLS && st.HandshakeComplete && st.Version >= tls.VersionTLS12 && cn == "localhost" && v == "1"
		p.checks.Check(name, ok, "net.Conn %T, %s, %s, server certificate CN=%q, SELECT 1 -> %s",
			conn.PgConn().Conn(), tlsVersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), cn, v)
		closePgx(conn)
	}

	name = "pgx verify-full with another CA: client refuses"
	_, conn, err = p.pgxQuery(p.dsn("grafana", pw, "verify-full", "host=localhost", "sslrootcert="+p.o.OtherCA), `SELECT 1::text`)
	closePgx(conn)
	p.checks.Check(name, unknownAuthority(err), "%s (want x509: certificate signed by unknown authority)", errText(err))

	// PostgreSQL 15 (auth.c): FATAL 28000 no pg_hba.conf entry for host "%s", user "%s",
	// database "%s", {no encryption | SSL encryption}.
	noEntry := fmt.Sprintf(`no pg_hba.conf entry for host "%s", user "grafana", database "grafana", no encryption`, p.host)
	name = "lib/pq sslmode=disable, hostssl-only user: refused"
	_, _, err = p.pqQuery(p.dsn("grafana", pw, "disable"), `SELECT 1::text`)
	p.wantError(name, err, "FATAL", "28000", noEntry)

	name = "pgx sslmode=disable, hostssl-only user: refused"
	_, conn, err = p.pgxQuery(p.dsn("grafana", pw, "disable"), `SELECT 1::text`)
	closePgx(conn)
	p.wantError(name, err, "FATAL", "28000", noEntry)
}

// --- authentication ---------------------------------------------------------------------

func (p *proto) caseAuth() {
	pw, md5pw := p.o.Password, p.o.MD5Password
	failed := func(user string) string { return fmt.Sprintf(`password authentication failed for user "%s"`, user) }

	name := "lib/pq SCRAM-SHA-256 over TLS, right password"
	v, d, err := p.pqQuery(p.dsn("grafana", pw, "require"), `SELECT current_user::text`)
	if err != nil {
		p.checks.Fail(name, "%s", errText(err))
	} else {
		ok, how := d.conn(0).tlsOnWire()
		p.checks.Check(name, ok && v == "grafana", "current_user -> %q; %s", v, how)
	}

	name = "pgx SCRAM-SHA-256 over TLS, right password"
	v, conn, err := p.pgxQuery(p.dsn("grafana", pw, "require"), `SELECT current_user::text`)
	if err != nil {
		p.checks.Fail(name, "%s", errText(err))
	} else {
		_, isTLS := tlsState(conn.PgConn().Conn())
		p.checks.Check(name, isTLS && v == "grafana", "current_user -> %q, net.Conn %T", v, conn.PgConn().Conn())
		closePgx(conn)
	}

	name = "lib/pq SCRAM, wrong password"
	_, _, err = p.pqQuery(p.dsn("grafana", pw+"x", "require"), `SELECT 1::text`)
	p.wantError(name, err, "FATAL", "28P01", failed("grafana"))

	name = "pgx SCRAM, wrong password"
	_, conn, err = p.pgxQuery(p.dsn("grafana", pw+"x", "require"), `SELECT 1::text`)
	closePgx(conn)
	p.wantError(name, err, "FATAL", "28P01", failed("grafana"))

	name = "lib/pq md5 user, md5 rule (plain TCP)"
	v, d, err = p.pqQuery(p.dsn("md5user", md5pw, "disable"), `SELECT current_user::text`)
	if err != nil {
		p.checks.Fail(name, "%s", errText(err))
	} else {
		code := d.conn(0).authRequest()
		p.checks.Check(name, code == 5 && v == "md5user", "current_user -> %q; server asked AuthenticationRequest %d (want 5, MD5Password)", v, code)
	}

	name = "pgx md5 user, md5 rule (plain TCP)"
	v, conn, err = p.pgxQuery(p.dsn("md5user", md5pw, "disable"), `SELECT current_user::text`)
	closePgx(conn)
	p.checks.Check(name, err == nil && v == "md5user", "current_user -> %q, %s", v, errText(err))

	name = "lib/pq md5 user, wrong password"
	_, _, err = p.pqQuery(p.dsn("md5user", md5pw+"x", "disable"), `SELECT 1::text`)
	p.wantError(name, err, "FATAL", "28P01", failed("md5user"))

	// docs/CONFIG.md: "A scram-sha-256 rule refuses a user who has an md5 hash, as
	// PostgreSQL does" (PostgreSQL runs a mock SCRAM exchange and fails it).
	name = "md5 hash under a scram-sha-256 rule, right password: refused"
	_, _, err = p.pqQuery(p.dsn("md5only", md5pw, "require"), `SELECT 1::text`)
	p.wantError(name, err, "FATAL", "28P01", failed("md5only"))

	// PostgreSQL: an md5 rule for a user with a SCRAM verifier authenticates with SCRAM.
	name = "SCRAM verifier under an md5 rule: SCRAM is used"
	v, d, err = p.pqQuery(p.dsn("scrammd5", pw, "disable"), `SELECT current_user::text`)
	if err != nil {
		p.checks.Fail(name, "%s", errText(err))
	} else {
		code := d.conn(0).authRequest()
		p.checks.Check(name, code == 10 && v == "scrammd5", "current_user -> %q; server asked AuthenticationRequest %d (want 10, SASL)", v, code)
	}

	name = "unknown user, scram-sha-256 rule (TLS)"
	_, _, err = p.pqQuery(p.dsn("nosuchuser", pw, "require"), `SELECT 1::text`)
	p.wantError(name, err, "FATAL", "28P01", failed("nosuchuser"))

	name = "pgx unknown user, scram-sha-256 rule (TLS)"
	_, conn, err = p.pgxQuery(p.dsn("nosuchuser", pw, "require"), `SELECT 1::text`)
	closePgx(conn)
	p.wantError(name, err, "FATAL", "28P01", failed("nosuchuser"))

	// PostgreSQL authenticates before it looks the database up: a wrong password for a
	// database that does not exist is 28P01, a right one 3D000.
	name = "unserved database, wrong password: 28P01 first"
	_, _, err = p.pqQuery(p.dsn("grafana", pw+"x", "require", "dbname=nosuchdb"), `SELECT 1::text`)
	p.wantError(name, err, "FATAL", "28P01", failed("grafana"))

	name = "unserved database, right password: 3D000"
	_, _, err = p.pqQuery(p.dsn("grafana", pw, "require", "dbname=nosuchdb"), `SELECT 1::text`)
	p.wantError(name, err, "FATAL", "3D000", `database "nosuchdb" does not exist`)
}

// --- CancelRequest ----------------------------------------------------------------------

const cancelMsg = "canceling statement due to user request"

// caseCancelPqDriver: lib/pq's own context cancellation, through its driver interface, so
// that database/sql does not replace the server's error with the context's. lib/pq sends
// the CancelRequest on a new connection, over TLS like the session (sslmode=require).
func (p *proto) caseCancelPqDriver() {
	name := "lib/pq context cancel (300 ms): 57014"
	c, err := pq.NewConnector(p.dsn("grafana", p.o.Password, "require"))
	if err != nil {
		p.checks.Fail(name, "%v", err)
		return
	}
	d := &sniffDialer{}
	c.Dialer(d)
	defer d.watchdog(protoHardLimit)()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	conn, err := c.Connect(ctx)
	cancel()
	if err != nil {
		p.checks.Fail(name, "connect: %s", errText(err))
		return
	}
	defer conn.Close()
	qc := conn.(driver.QueryerContext)
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	rows, err := qc.QueryContext(ctx, longQuery, nil)
	if err == nil {
		dest := make([]driver.Value, len(rows.Columns()))
		err = rows.Next(dest)
		if err == nil {
			err = fmt.Errorf("the statement completed: count %v", dest[0])
		}
		_ = rows.Close()
	}
	el := time.Since(t0)
	sev, code, msg, _ := serverError(err)
	p.checks.Check(name, sev == "ERROR" && code == "57014" && msg == cancelMsg && el < cancelBound,
		"%s after %s (want ERROR 57014 %q)", errText(err), el.Round(time.Millisecond), cancelMsg)

	name = "lib/pq CancelRequest sent over TLS"
	// Connection 0 is the session, connection 1 the one lib/pq opened for the CancelRequest.
	if cc := d.conn(1); cc == nil {
		p.checks.Fail(name, "lib/pq opened no second connection (%d)", d.count())
	} else {
		ok, how := cc.tlsOnWire()
		p.checks.Check(name, ok, "cancel connection: %s", how)
	}
}

// caseCancelPqPool: the same through database/sql, as applications write it; lib/pq marks
// the cancelled connection bad, and the pool must hand out a working one afterwards.
func (p *proto) caseCancelPqPool() {
	name := "lib/pq pool: QueryContext 300 ms cancelled, pool usable"
	db, d, err := p.pqOpen(p.dsn("grafana", p.o.Password, "require"))
	if err != nil {
		p.checks.Fail(name, "%v", err)
		return
	}
	defer db.Close()
	defer d.watchdog(protoHardLimit)()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = db.PingContext(ctx)
	cancel()
	if err != nil {
		p.checks.Fail(name, "ping: %s", errText(err))
		return
	}
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	t0 := time.Now()
	var n int64
	err = db.QueryRowContext(ctx, longQuery).Scan(&n)
	el := time.Since(t0)
	cancel()
	// database/sql reports the context's error once the context is done, even when the
	// driver returned the server's 57014; the elapsed time shows the statement stopped
	// (lib/pq reads until the server's answer before it lets go of the connection).
	_, code, _, _ := serverError(err)
	cancelled := code == "57014" || errors.Is(err, context.DeadlineExceeded)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	var one int
	err2 := db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
	cancel()
	p.checks.Check(name, cancelled && el < cancelBound && err2 == nil && one == 1,
		"long query -> %s after %s; then SELECT 1 on the pool -> %d (%s); %d connections dialed",
		errText(err), el.Round(time.Millisecond), one, errText(err2), d.count())
}

// caseCancelPgx: pgx's CancelRequest (PgConn.CancelRequest) while the same connection runs
// the long statement; the connection stays usable. Three rounds in a row on one session:
// each CancelRequest is a new connection, so the rounds also cover a cancel connection
// landing on the same metagate I/O thread as the session (io_threads is 2 in run.sh's config).
func (p *proto) caseCancelPgx() {
	name := "pgx CancelRequest: 57014, same conn usable"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	conn, err := p.pgxConnect(ctx, p.dsn("grafana", p.o.Password, "require"))
	cancel()
	if err != nil {
		p.checks.Fail(name, "connect: %s", errText(err))
		return
	}
	defer closePgx(conn)
	for round := 1; round <= 3; round++ {
		name := fmt.Sprintf("%s (round %d)", name, round)
		ctx, cancel := context.WithTimeout(context.Background(), protoHardLimit)
		cerr := make(chan error, 1)
		go func() {
			time.Sleep(300 * time.Millisecond)
			cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer ccancel()
			cerr <- conn.PgConn().CancelRequest(cctx)
		}()
		t0 := time.Now()
		var n int64
		err := conn.QueryRow(ctx, longQuery).Scan(&n)
		el := time.Since(t0)
		if err == nil {
			err = fmt.Errorf("the statement completed: count %d", n)
		}
		cancelErr := <-cerr
		var one int
		err2 := conn.QueryRow(ctx, `SELECT 1`).Scan(&one)
		cancel()
		sev, code, msg, _ := serverError(err)
		p.checks.Check(name, sev == "ERROR" && code == "57014" && msg == cancelMsg && el < cancelBound && cancelErr == nil && err2 == nil && one == 1,
			"%s after %s (CancelRequest: %s); then SELECT 1 on the same conn -> %d (%s)",
			errText(err), el.Round(time.Millisecond), errText(cancelErr), one, errText(err2))
		if conn.IsClosed() {
			return
		}
	}
}

// caseCancelPgxContext: pgx v4's context cancellation. pgx does not wait for the server:
// it sets a deadline on the socket, then closes the connection asynchronously, sending a
// CancelRequest (plain TCP) and Terminate. The caller gets the context's error at once and
// the connection is gone; new connections (two: both of metagate's I/O threads) must answer
// at once, which they cannot if the statement still runs.
func (p *proto) caseCancelPgxContext() {
	name := "pgx context cancel (300 ms): prompt, new conn usable"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	conn, err := p.pgxConnect(ctx, p.dsn("grafana", p.o.Password, "require"))
	cancel()
	if err != nil {
		p.checks.Fail(name, "connect: %s", errText(err))
		return
	}
	defer closePgx(conn)
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	t0 := time.Now()
	var n int64
	err = conn.QueryRow(ctx, longQuery).Scan(&n)
	el := time.Since(t0)
	cancel()
	ctxErr := errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err)
	// Let pgx's asynchronous CancelRequest and Terminate reach the server.
	time.Sleep(200 * time.Millisecond)
	var after []string
	fresh := true
	for i := 0; i < 2; i++ {
		t1 := time.Now()
		v, _, err2 := p.pqQueryLimit(p.dsn("grafana", p.o.Password, "require"), `SELECT 1::text`, 3*time.Second)
		fresh = fresh && err2 == nil && v == "1"
		after = append(after, fmt.Sprintf("%q in %s (%s)", v, time.Since(t1).Round(time.Millisecond), errText(err2)))
	}
	p.checks.Check(name, ctxErr && el < cancelBound && conn.IsClosed() && fresh,
		"long query -> %s after %s, conn closed by pgx: %v; new conns SELECT 1 -> %s",
		errText(err), el.Round(time.Millisecond), conn.IsClosed(), strings.Join(after, ", "))
}

// --- Grafana's connection string --------------------------------------------------------

// caseGrafana: the keyword/value string Grafana (pkg/services/sqlstore) builds for
// [database] type=postgres: empty certificate paths are written as a pair of single quotes,
// the password comes last.
func (p *proto) caseGrafana() {
	name := "Grafana's lib/pq connection string (sslmode=require)"
	cnnstr := fmt.Sprintf("user=%s host=%s port=%s dbname=%s sslmode=%s sslcert=%s sslkey=%s sslrootcert=%s password=%s",
		"grafana", p.host, p.port, "grafana", "require", "''", "''", "''", p.o.Password)
	db, d, err := p.pqOpen(cnnstr)
	if err != nil {
		p.checks.Fail(name, "%v", err)
		return
	}
	defer db.Close()
	defer d.watchdog(protoHardLimit)()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var got string
	err = func() error {
		if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS mgint_protocol_probe (id SERIAL PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
			return err
		}
		var id int64
		if err := db.QueryRowContext(ctx, `INSERT INTO mgint_protocol_probe (v) VALUES ($1) RETURNING id`, "grafana-dsn").Scan(&id); err != nil {
			return err
		}
		return db.QueryRowContext(ctx, `SELECT v FROM mgint_protocol_probe WHERE id = $1`, id).Scan(&got)
	}()
	if err != nil {
		p.checks.Fail(name, "%s", errText(err))
		return
	}
	ok, how := d.conn(0).tlsOnWire()
	p.checks.Check(name, ok && got == "grafana-dsn", "CREATE TABLE, INSERT … RETURNING, SELECT -> %q; %s", got, how)
}

// caseBusyWorker: while one session runs a long statement, other sessions (four new
// connections, one after the other) answer SELECT 1 at once, as with PostgreSQL's process
// per session. metagate runs SQLite statements inline on the session's I/O thread
// (docs/ARCHITECTURE.md), so this also shows whether a busy thread stalls its other sessions.
func (p *proto) caseBusyWorker() {
	name := "other sessions answer during a long statement"
	ctx, cancel := context.WithTimeout(context.Background(), protoHardLimit)
	defer cancel()
	conn, err := p.pgxConnect(ctx, p.dsn("grafana", p.o.Password, "require"))
	if err != nil {
		p.checks.Fail(name, "connect: %s", errText(err))
		return
	}
	defer closePgx(conn)
	done := make(chan error, 1)
	go func() {
		var n int64
		err := conn.QueryRow(ctx, longQuery).Scan(&n)
		if err == nil {
			err = fmt.Errorf("the statement completed: count %d", n)
		}
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	var lat []string
	ok := true
	for i := 0; i < 4; i++ {
		t0 := time.Now()
		v, _, err := p.pqQueryLimit(p.dsn("grafana", p.o.Password, "require"), `SELECT 1::text`, 3*time.Second)
		el := time.Since(t0)
		ok = ok && err == nil && v == "1" && el < 2*time.Second
		if err != nil {
			lat = append(lat, fmt.Sprintf("%s (%s)", el.Round(time.Millisecond), errText(err)))
		} else {
			lat = append(lat, el.Round(time.Millisecond).String())
		}
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	cerr := conn.PgConn().CancelRequest(cctx)
	ccancel()
	t0 := time.Now()
	err = <-done
	p.checks.Check(name, ok, "SELECT 1 on 4 new connections: %s; then the long statement, cancelled: %s, %s later (CancelRequest: %s)",
		strings.Join(lat, ", "), errText(err), time.Since(t0).Round(time.Millisecond), errText(cerr))
}

// settle: after a step, wait (bounded) until four new connections in a row answer, so that
// a statement a lost cancel left running does not fail the next steps too.
func (p *proto) settle(step string) {
	t0 := time.Now()
	for good := 0; good < 4; {
		if time.Since(t0) > 60*time.Second {
			p.checks.Fail("daemon answers again after "+step, "new connections still failing after %s", time.Since(t0).Round(time.Second))
			return
		}
		v, _, err := p.pqQueryLimit(p.dsn("grafana", p.o.Password, "require"), `SELECT 1::text`, 3*time.Second)
		if err == nil && v == "1" {
			good++
		} else {
			good = 0
		}
	}
	if el := time.Since(t0); el > 2*time.Second {
		fmt.Printf("  -- the daemon answered new connections again %.1fs after %s\n", el.Seconds(), step)
	}
}

func runProtocol(o ProtoOptions) int {
	host, port, err := net.SplitHostPort(o.Addr)
	p := &proto{o: o, host: host, port: port, checks: &Checks{}}
	if err != nil {
		p.checks.Fail("options", "--addr %q: %v", o.Addr, err)
		return p.checks.Summary()
	}
	start := time.Now()
	step := func(name string, f func()) {
		t0 := time.Now()
		f()
		fmt.Printf("  -- %s: %.1fs\n", name, time.Since(t0).Seconds())
		p.settle(name)
	}
	step("TLS", p.caseTLS)
	step("authentication", p.caseAuth)
	step("Grafana connection string", p.caseGrafana)
	step("cancel: lib/pq driver", p.caseCancelPqDriver)
	step("cancel: lib/pq pool", p.caseCancelPqPool)
	step("cancel: pgx context", p.caseCancelPgxContext)
	step("cancel: pgx CancelRequest", p.caseCancelPgx)
	step("long statement and other sessions", p.caseBusyWorker)
	step("every io thread busy", p.caseAllWorkersBusy)

	alive := processAlive(o.PID)
	v, _, err := p.pqQuery(p.dsn("grafana", o.Password, "require"), `SELECT 1::text`)
	p.checks.Check("daemon alive, new connection answers SELECT 1", alive && err == nil && v == "1",
		"process alive=%v, SELECT 1 -> %q (%s)", alive, v, errText(err))
	fmt.Printf("protocol checks took %.1fs\n", time.Since(start).Seconds())
	return p.checks.Summary()
}

// caseAllWorkersBusy: as many long statements as the daemon has io threads (the test config
// pins io_threads to 2), all started, then all cancelled through lib/pq's context deadline.
// Every cancel must land (57014 within the bound) although no io thread is free when the
// CancelRequests connect: PostgreSQL forks a backend per connection; metagate must add a thread.
func (p *proto) caseAllWorkersBusy() {
	name := "2 long statements on 2 io threads, both cancelled: 57014"
	db, _, err := p.pqOpen(p.dsn("grafana", p.o.Password, "require"))
	if err != nil {
		p.checks.Fail(name, "%v", err)
		return
	}
	defer db.Close()
	db.SetMaxOpenConns(4)
	type result struct {
		err error
		el  time.Duration
	}
	results := make(chan result, 2)
	for i := 0; i < 2; i++ {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
			defer cancel()
			t0 := time.Now()
			var n int64
			err := db.QueryRowContext(ctx, longQuery).Scan(&n)
			if err == nil {
				err = fmt.Errorf("the statement completed: count %d", n)
			}
			results <- result{err, time.Since(t0)}
		}()
	}
	ok := true
	var detail []string
	for i := 0; i < 2; i++ {
		r := <-results
		sev, code, msg, _ := serverError(r.err)
		good := sev == "ERROR" && code == "57014" && msg == cancelMsg && r.el < cancelBound+600*time.Millisecond
		ok = ok && good
		detail = append(detail, fmt.Sprintf("%s after %s", errText(r.err), r.el.Round(time.Millisecond)))
	}
	p.checks.Check(name, ok, "%s", strings.Join(detail, "; "))
	name = "fresh connection answers after both cancels"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var one int
	err = db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	p.checks.Check(name, err == nil && one == 1, "SELECT 1: %d %s", one, errText(err))
}
