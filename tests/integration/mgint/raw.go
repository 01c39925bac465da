package main

// A minimal raw PostgreSQL v3 client over net.Conn: just enough framing to send
// well-formed and malformed frontend messages and to read what the server answers.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

const (
	protocol3      = 3 << 16
	sslRequestCode = 80877103
	cancelCode     = 80877102
)

func be16(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
func be32(b []byte, v int) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }
func cstr(b []byte, s string) []byte {
	return append(append(b, s...), 0)
}

// frame: a frontend message with its type and a correct length.
func frame(t byte, body []byte) []byte {
	b := []byte{t}
	b = be32(b, len(body)+4)
	return append(b, body...)
}

// startupPacket: a StartupMessage for protocol version proto with key/value pairs.
func startupPacket(proto int, kv ...string) []byte {
	var body []byte
	body = be32(body, proto)
	for _, s := range kv {
		body = cstr(body, s)
	}
	body = append(body, 0)
	return append(be32(nil, len(body)+4), body...)
}

func queryMsg(sql string) []byte { return frame('Q', cstr(nil, sql)) }

// parseMsg: Parse(name, sql, param type OIDs).
func parseMsg(name, sql string, oids ...int) []byte {
	b := cstr(cstr(nil, name), sql)
	b = be16(b, len(oids))
	for _, o := range oids {
		b = be32(b, o)
	}
	return frame('P', b)
}

// bindMsg: Bind(portal, statement) with text parameters (nil = NULL) and no result formats.
func bindMsg(portal, stmt string, params ...[]byte) []byte {
	b := cstr(cstr(nil, portal), stmt)
	b = be16(b, 0)
	b = be16(b, len(params))
	for _, p := range params {
		if p == nil {
			b = be32(b, -1)
			continue
		}
		b = be32(b, len(p))
		b = append(b, p...)
	}
	b = be16(b, 0)
	return frame('B', b)
}

func executeMsg(portal string, maxRows int) []byte { return frame('E', be32(cstr(nil, portal), maxRows)) }
func syncMsg() []byte                              { return frame('S', nil) }
func terminateMsg() []byte                         { return frame('X', nil) }

// beMsg is one backend message (or, for single-byte SSL answers, t with a nil body).
type beMsg struct {
	t    byte
	body []byte
}

func (m beMsg) String() string {
	if m.t == 'E' || m.t == 'N' {
		f := errorFields(m.body)
		msg := f['M']
		if len(msg) > 120 {
			msg = msg[:120] + "…"
		}
		return fmt.Sprintf("%c(%s %s %s)", m.t, severity(f), f['C'], msg)
	}
	if m.t >= 32 && m.t < 127 {
		return string(m.t)
	}
	return fmt.Sprintf("0x%02x", m.t)
}

func errorFields(body []byte) map[byte]string {
	f := map[byte]string{}
	for len(body) > 0 && body[0] != 0 {
		k := body[0]
		body = body[1:]
		i := 0
		for i < len(body) && body[i] != 0 {
			i++
		}
		f[k] = string(body[:i])
		if i < len(body) {
			i++
		}
		body = body[i:]
	}
	return f
}

// severity prefers the non-localized V field (PostgreSQL ≥ 9.6) over S.
func severity(f map[byte]string) string {
	if v, ok := f['V']; ok {
		return v
	}
	return f['S']
}

type raw struct {
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(addr string) (*raw, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	return &raw{c: c, br: bufio.NewReaderSize(c, 64*1024)}, nil
}

func (r *raw) close() { _ = r.c.Close() }

// closeWrite half-closes the connection: the server reads EOF, we can still read.
func (r *raw) closeWrite() {
	if tc, ok := r.c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

func (r *raw) send(b []byte) error {
	_ = r.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := r.c.Write(b)
	return err
}

// sendAsync writes b in the background and ignores failures: the server may close the
// connection (and reset it) before taking everything.
func (r *raw) sendAsync(b []byte) {
	go func() { _ = r.send(b) }()
}

// readByte reads one byte (the answer to SSLRequest).
func (r *raw) readByte(timeout time.Duration) (byte, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(timeout))
	return r.br.ReadByte()
}

// readMsg reads one backend message.
func (r *raw) readMsg(timeout time.Duration) (beMsg, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(timeout))
	var hdr [5]byte
	if _, err := io.ReadFull(r.br, hdr[:]); err != nil {
		return beMsg{}, err
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[1:])))
	if n < 4 || n > 64<<20 {
		return beMsg{}, fmt.Errorf("malformed backend message %q with length %d", hdr[0], n)
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(r.br, body); err != nil {
		return beMsg{}, err
	}
	return beMsg{t: hdr[0], body: body}, nil
}

// startup sends a protocol 3.0 StartupMessage and reads up to ReadyForQuery.
func (r *raw) startup(user, database string, timeout time.Duration) (pid, secret int32, err error) {
	if err := r.send(startupPacket(protocol3, "user", user, "database", database, "application_name", "mgint-hostile")); err != nil {
		return 0, 0, err
	}
	deadline := time.Now().Add(timeout)
	for {
		m, err := r.readMsg(time.Until(deadline))
		if err != nil {
			return 0, 0, err
		}
		switch m.t {
		case 'R':
			if len(m.body) < 4 || binary.BigEndian.Uint32(m.body) != 0 {
				return 0, 0, fmt.Errorf("authentication request %v (trust expected)", m.body)
			}
		case 'K':
			if len(m.body) == 8 {
				pid = int32(binary.BigEndian.Uint32(m.body))
				secret = int32(binary.BigEndian.Uint32(m.body[4:]))
			}
		case 'S', 'N':
		case 'E':
			f := errorFields(m.body)
			return 0, 0, fmt.Errorf("startup: %s %s %s", severity(f), f['C'], f['M'])
		case 'Z':
			return pid, secret, nil
		default:
			return 0, 0, fmt.Errorf("startup: unexpected message %s", m)
		}
	}
}

// readAll reads everything until the server closes (or the deadline).
func (r *raw) readAll(timeout time.Duration) ([]byte, bool) {
	_ = r.c.SetReadDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(r.br)
	return b, err == nil || isClosedErr(err)
}

// outcome is everything read from a connection until it closed, a ReadyForQuery (when
// asked to stop there) or the deadline.
type outcome struct {
	msgs   []beMsg
	closed bool  // EOF or reset by the server
	hang   bool  // still open, silent, at the deadline
	err    error // malformed server output or another read error
}

func isClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

func (r *raw) collect(timeout time.Duration, stopAtZ bool) outcome {
	var o outcome
	deadline := time.Now().Add(timeout)
	for {
		m, err := r.readMsg(time.Until(deadline))
		if err != nil {
			var ne net.Error
			switch {
			case isClosedErr(err):
				o.closed = true
			case errors.As(err, &ne) && ne.Timeout():
				o.hang = true
			default:
				o.err = err
			}
			return o
		}
		o.msgs = append(o.msgs, m)
		if stopAtZ && m.t == 'Z' {
			return o
		}
	}
}

func (o outcome) types() string {
	var s []string
	for _, m := range o.msgs {
		s = append(s, m.String())
	}
	end := "closed"
	switch {
	case o.hang:
		end = "HANG (still open)"
	case o.err != nil:
		end = "error " + o.err.Error()
	case !o.closed:
		end = "open"
	}
	if len(s) == 0 {
		return "no message, " + end
	}
	return strings.Join(s, " ") + ", " + end
}

// firstError returns the first ErrorResponse's fields, or nil.
func (o outcome) firstError() map[byte]string {
	for _, m := range o.msgs {
		if m.t == 'E' {
			return errorFields(m.body)
		}
	}
	return nil
}

func (o outcome) has(t byte) bool {
	for _, m := range o.msgs {
		if m.t == t {
			return true
		}
	}
	return false
}

// lastZ returns the transaction status of the last ReadyForQuery (0 if none).
func (o outcome) lastZ() byte {
	var st byte
	for _, m := range o.msgs {
		if m.t == 'Z' && len(m.body) == 1 {
			st = m.body[0]
		}
	}
	return st
}
