package main

// hostile: malformed protocol input on raw TCP connections, each on its own connection,
// while a healthy lib/pq client keeps querying.
//
// metagate's contract (docs/ARCHITECTURE.md): malformed input ends that one connection with
// an ErrorResponse FATAL 08P01 (0A000 for an unsupported protocol version) and nothing
// else is affected; invalid UTF-8 in SQL is ERROR 22021 and the connection goes on. Where
// PostgreSQL 15 itself differs, the case says so:
//   - framing errors (bad startup or message lengths, EOF mid-message): PostgreSQL logs a
//     COMMERROR and closes without sending anything; metagate sends FATAL 08P01 first.
//     --reference (a real PostgreSQL) accepts the silent close for these cases only.
//   - malformed bodies of extended-protocol messages (Bind parameter lengths past the end,
//     Parse with a negative parameter count, bad Describe subtype, trailing bytes):
//     PostgreSQL answers ERROR 08P01, skips to Sync and keeps the connection; a FATAL 08P01
//     followed by the close is accepted too (metagate drops such connections). Which one
//     happened is printed.
// Never acceptable: a hang (every read has a deadline), XX000, a different SQLSTATE, a
// connection left open after FATAL, the healthy client seeing any error, the daemon dying
// or leaking descriptors.

import (
	"context"
	"encoding/binary"
	"database/sql"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type HostileOptions struct {
	Addr      string
	DSN       string
	User      string
	Database  string
	Seeds     int
	PID       int
	Burst     int
	Reference bool
}

const ioTimeout = 10 * time.Second

type hostile struct {
	o      HostileOptions
	checks *Checks
}

func (h *hostile) dialStartup() (*raw, int32, int32, error) {
	r, err := dialRaw(h.o.Addr)
	if err != nil {
		return nil, 0, 0, err
	}
	pid, secret, err := r.startup(h.o.User, h.o.Database, ioTimeout)
	if err != nil {
		r.close()
		return nil, 0, 0, err
	}
	return r, pid, secret, nil
}

// --- verdicts ---------------------------------------------------------------------------

// fatal: an ErrorResponse FATAL with one of codes, nothing after it, then the close.
// silentOK: PostgreSQL closes without a message here (accepted with --reference only).
func (h *hostile) fatal(name string, o outcome, silentOK bool, codes ...string) {
	if o.hang || o.err != nil {
		h.checks.Fail(name, "%s", o.types())
		return
	}
	f := o.firstError()
	if f == nil {
		if silentOK && h.o.Reference && o.closed && len(o.msgs) == 0 {
			h.checks.Pass(name, "closed without a message (PostgreSQL's COMMERROR behaviour)")
			return
		}
		h.checks.Fail(name, "want FATAL %s then close; got %s", strings.Join(codes, "/"), o.types())
		return
	}
	okCode := false
	for _, c := range codes {
		okCode = okCode || f['C'] == c
	}
	last := o.msgs[len(o.msgs)-1]
	ok := severity(f) == "FATAL" && okCode && last.t == 'E' && o.closed
	h.checks.Check(name, ok, "%s (want FATAL %s then close)", o.types(), strings.Join(codes, "/"))
}

// silentClose: the server closes the connection; it may say FATAL 08P01 first.
func (h *hostile) silentClose(name string, o outcome) {
	if o.hang || o.err != nil || !o.closed {
		h.checks.Fail(name, "%s (want the close)", o.types())
		return
	}
	if f := o.firstError(); f != nil && (severity(f) != "FATAL" || f['C'] != "08P01") {
		h.checks.Fail(name, "%s (want the close, at most a FATAL 08P01)", o.types())
		return
	}
	if o.has('Z') {
		h.checks.Fail(name, "%s (want the close, no ReadyForQuery)", o.types())
		return
	}
	h.checks.Pass(name, "%s", o.types())
}

// protocolError: the malformed extended-protocol message is refused with 08P01: either
// ERROR, ReadyForQuery after Sync and the connection still usable (PostgreSQL), or FATAL
// and the close.
// With a code other than 08P01 only the ERROR form is accepted.
func (h *hostile) protocolError(name string, r *raw, o outcome, code string) {
	if o.hang || o.err != nil {
		h.checks.Fail(name, "%s", o.types())
		return
	}
	f := o.firstError()
	if f == nil || f['C'] != code {
		h.checks.Fail(name, "%s (want %s)", o.types(), code)
		return
	}
	switch severity(f) {
	case "FATAL":
		if code != "08P01" {
			h.checks.Fail(name, "%s (want ERROR %s, connection kept)", o.types(), code)
			return
		}
		h.checks.Check(name, o.closed && o.msgs[len(o.msgs)-1].t == 'E', "%s [FATAL and close; PostgreSQL: ERROR, connection kept]", o.types())
	case "ERROR":
		if o.lastZ() == 0 {
			h.checks.Fail(name, "%s (ERROR but no ReadyForQuery after Sync)", o.types())
			return
		}
		ok, detail := h.selectOne(r)
		h.checks.Check(name, ok, "%s, then SELECT 1: %s [ERROR, connection kept, as PostgreSQL]", o.types(), detail)
	default:
		h.checks.Fail(name, "%s (severity %q)", o.types(), severity(f))
	}
}

// anyEnd: after random input and our half-close, the server ends the connection in a
// bounded time; what it said must be well-formed errors (never XX000).
func (h *hostile) anyEnd(o outcome) (bool, string) {
	if o.hang {
		return false, "hang: " + o.types()
	}
	if o.err != nil {
		return false, o.types()
	}
	if !o.closed {
		return false, "not closed: " + o.types()
	}
	for _, m := range o.msgs {
		if m.t != 'E' {
			continue
		}
		f := errorFields(m.body)
		sev, code := severity(f), f['C']
		// XX000 is metagate's "internal error" (its own bug); PostgreSQL uses it for
		// elog() without an errcode, which some malformed input reaches (--reference).
		internal := code == "XX000" && !h.o.Reference
		if (sev != "ERROR" && sev != "FATAL") || len(code) != 5 || internal || strings.HasPrefix(code, "58") {
			return false, "bad error: " + o.types()
		}
	}
	return true, ""
}

// selectOne: SELECT 1 on a raw connection answers 1 and ReadyForQuery idle.
func (h *hostile) selectOne(r *raw) (bool, string) {
	if err := r.send(queryMsg("SELECT 1")); err != nil {
		return false, err.Error()
	}
	o := r.collect(ioTimeout, true)
	ok := false
	for _, m := range o.msgs {
		if m.t == 'D' && len(m.body) == 7 && string(m.body[6:]) == "1" {
			ok = true
		}
	}
	if !ok || o.lastZ() != 'I' {
		return false, o.types()
	}
	return true, "1"
}

// --- the healthy client -----------------------------------------------------------------

type healthy struct {
	queries  int64
	inserted int64
	errs     []string
	maxLat   time.Duration
	mu       sync.Mutex
}

func (hc *healthy) run(db *sql.DB, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t0 := time.Now()
		var err error
		switch i % 3 {
		case 0:
			var one int
			err = db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
			if err == nil && one != 1 {
				err = fmt.Errorf("SELECT 1 returned %d", one)
			}
		case 1:
			var id int64
			err = db.QueryRowContext(ctx, `INSERT INTO hostile_probe (v, at) VALUES ($1, $2) RETURNING id`,
				fmt.Sprintf("probe-%d", i), time.Now().UTC()).Scan(&id)
			if err == nil {
				atomic.AddInt64(&hc.inserted, 1)
			}
		case 2:
			var n int64
			err = db.QueryRowContext(ctx, `SELECT count(*) FROM hostile_probe WHERE v LIKE $1`, "probe-%").Scan(&n)
			if err == nil && n < atomic.LoadInt64(&hc.inserted) {
				err = fmt.Errorf("count %d < %d inserted", n, atomic.LoadInt64(&hc.inserted))
			}
		}
		lat := time.Since(t0)
		cancel()
		hc.mu.Lock()
		if lat > hc.maxLat {
			hc.maxLat = lat
		}
		if err != nil {
			hc.errs = append(hc.errs, fmt.Sprintf("%s after %s", errText(err), lat.Round(time.Millisecond)))
		}
		hc.mu.Unlock()
		atomic.AddInt64(&hc.queries, 1)
		time.Sleep(5 * time.Millisecond)
	}
}

// --- cases ------------------------------------------------------------------------------

func (h *hostile) caseRandomAtStart(seeds int) {
	var bad []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	summary := map[string]int{}
	for s := 1; s <= seeds; s++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(seed int) {
			defer wg.Done()
			defer func() { <-sem }()
			rng := rand.New(rand.NewSource(int64(seed)))
			n := 1 + rng.Intn(4096)
			b := make([]byte, n)
			rng.Read(b)
			if seed%3 == 0 && n >= 8 {
				// A plausible length word, so the server reads a whole "packet" and parses it.
				copy(b, be32(nil, n))
				if seed%2 == 0 {
					copy(b[4:], be32(nil, protocol3))
				}
			}
			r, err := dialRaw(h.o.Addr)
			if err != nil {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("seed %d: dial %v", seed, err))
				mu.Unlock()
				return
			}
			defer r.close()
			r.sendAsync(b)
			time.Sleep(20 * time.Millisecond)
			r.closeWrite()
			o := r.collect(ioTimeout, false)
			ok, why := h.anyEnd(o)
			key := "closed"
			if f := o.firstError(); f != nil {
				key = severity(f) + " " + f['C']
			}
			mu.Lock()
			summary[key]++
			if !ok {
				bad = append(bad, fmt.Sprintf("seed %d (%d bytes): %s", seed, n, why))
			}
			mu.Unlock()
		}(s)
	}
	wg.Wait()
	h.checks.Check("random bytes instead of a startup packet", len(bad) == 0, "%d seeds, outcomes %v%s", seeds, summary, list(bad, 10))
}

var frontendTypes = []byte("QPBDECSHdcfpF")

func (h *hostile) caseRandomAfterStartup(seeds int) {
	var bad []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	summary := map[string]int{}
	for s := 1; s <= seeds; s++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(seed int) {
			defer wg.Done()
			defer func() { <-sem }()
			rng := rand.New(rand.NewSource(int64(1000 + seed)))
			var b []byte
			kind := "raw"
			if seed%2 == 1 {
				// Well-framed messages of real types with random bodies: the body decoders.
				kind = "framed"
				for k := 1 + rng.Intn(8); k > 0; k-- {
					body := make([]byte, rng.Intn(64))
					rng.Read(body)
					b = append(b, frame(frontendTypes[rng.Intn(len(frontendTypes))], body)...)
				}
				b = append(b, syncMsg()...)
			} else {
				b = make([]byte, 1+rng.Intn(4096))
				rng.Read(b)
			}
			r, _, _, err := h.dialStartup()
			if err != nil {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("seed %d: startup %v", seed, err))
				mu.Unlock()
				return
			}
			defer r.close()
			r.sendAsync(b)
			time.Sleep(20 * time.Millisecond)
			r.closeWrite()
			o := r.collect(ioTimeout, false)
			ok, why := h.anyEnd(o)
			key := kind + " closed"
			if f := o.firstError(); f != nil {
				key = kind + " " + severity(f) + " " + f['C']
			}
			mu.Lock()
			summary[key]++
			if !ok {
				bad = append(bad, fmt.Sprintf("seed %d (%s, %d bytes): %s", seed, kind, len(b), why))
			}
			mu.Unlock()
		}(s)
	}
	wg.Wait()
	var keys []string
	for k, v := range summary {
		keys = append(keys, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(keys)
	h.checks.Check("random bytes after startup", len(bad) == 0, "%d seeds, outcomes [%s]%s", seeds, strings.Join(keys, ", "), list(bad, 10))
}

// validTraffic: an extended-protocol exchange with binary parameters and results, a
// portal fetched in two steps, then a simple query and an INSERT … RETURNING.
func validTraffic() []byte {
	var b []byte
	b = append(b, parseMsg("s1", "SELECT $1::int4 + 1, $2::text, $3::bool, $4::timestamp, $5::bytea, $6::int8 FROM (VALUES (1), (2), (3)) AS t (x)",
		23, 25, 16, 1114, 17, 20)...)
	b = append(b, frame('D', cstr([]byte{'S'}, "s1"))...)
	bind := cstr(cstr(nil, "p1"), "s1")
	bind = be16(bind, 6)
	for i := 0; i < 6; i++ {
		bind = be16(bind, 1)
	}
	bind = be16(bind, 6)
	params := [][]byte{be32(nil, 41), []byte("abc"), {1}, binary8(789_000_000), {0xde, 0xad}, binary8(1 << 40)}
	for _, p := range params {
		bind = be32(bind, len(p))
		bind = append(bind, p...)
	}
	bind = be16(be16(bind, 1), 1)
	b = append(b, frame('B', bind)...)
	b = append(b, frame('D', cstr([]byte{'P'}, "p1"))...)
	b = append(b, executeMsg("p1", 2)...)
	b = append(b, executeMsg("p1", 0)...)
	b = append(b, frame('C', cstr([]byte{'P'}, "p1"))...)
	b = append(b, syncMsg()...)
	b = append(b, queryMsg("SELECT count(*) FROM hostile_probe; SELECT 'x' || 'y'")...)
	b = append(b, parseMsg("", "INSERT INTO hostile_probe (v, at) VALUES ($1, $2) RETURNING id", 25, 1114)...)
	b = append(b, bindMsg("", "", []byte("mutated"), []byte("2024-01-01 00:00:00"))...)
	b = append(b, executeMsg("", 0)...)
	b = append(b, syncMsg()...)
	return b
}

func binary8(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

// caseMutated: valid traffic with random byte-level mutations, after a valid startup.
func (h *hostile) caseMutated(seeds int) {
	base := validTraffic()
	// The unmutated traffic works.
	{
		r, _, _, err := h.dialStartup()
		if err != nil {
			h.checks.Fail("valid extended-protocol traffic", "startup: %v", err)
			return
		}
		_ = r.send(base)
		o1 := r.collect(ioTimeout, true)
		o2 := r.collect(ioTimeout, true)
		o3 := r.collect(ioTimeout, true)
		r.close()
		ok := o1.firstError() == nil && o2.firstError() == nil && o3.firstError() == nil &&
			o1.lastZ() == 'I' && o2.lastZ() == 'I' && o3.lastZ() == 'I'
		h.checks.Check("valid extended-protocol traffic", ok, "%s | %s | %s", o1.types(), o2.types(), o3.types())
		if !ok {
			return
		}
	}
	var bad []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	summary := map[string]int{}
	for s := 1; s <= seeds; s++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(seed int) {
			defer wg.Done()
			defer func() { <-sem }()
			rng := rand.New(rand.NewSource(int64(5000 + seed)))
			b := append([]byte{}, base...)
			for k := 1 + rng.Intn(4); k > 0; k-- {
				i := rng.Intn(len(b))
				switch rng.Intn(5) {
				case 0, 1: // overwrite a byte
					b[i] = byte(rng.Intn(256))
				case 2: // boundary values in a 16/32-bit field
					vals := []uint32{0, 0xffffffff, 0x7fffffff, 0x80000000, 0xffff, 0x8000, 1}
					v := vals[rng.Intn(len(vals))]
					for j := 0; j < 4 && i+j < len(b); j++ {
						b[i+j] = byte(v >> (24 - 8*j))
					}
				case 3: // delete a few bytes
					n := 1 + rng.Intn(8)
					if i+n > len(b) {
						n = len(b) - i
					}
					b = append(b[:i], b[i+n:]...)
				case 4: // insert random bytes
					ins := make([]byte, 1+rng.Intn(8))
					rng.Read(ins)
					b = append(b[:i], append(ins, b[i:]...)...)
				}
			}
			r, _, _, err := h.dialStartup()
			if err != nil {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("seed %d: startup %v", seed, err))
				mu.Unlock()
				return
			}
			defer r.close()
			r.sendAsync(b)
			time.Sleep(20 * time.Millisecond)
			r.closeWrite()
			o := r.collect(ioTimeout, false)
			ok, why := h.anyEnd(o)
			key := "no error"
			if f := o.firstError(); f != nil {
				key = severity(f) + " " + f['C']
				if f['C'] == "XX000" {
					key += " (" + f['M'] + ")"
				}
			}
			mu.Lock()
			summary[key]++
			if !ok {
				bad = append(bad, fmt.Sprintf("seed %d: %s", seed, why))
			}
			mu.Unlock()
		}(s)
	}
	wg.Wait()
	var keys []string
	for k, v := range summary {
		keys = append(keys, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(keys)
	h.checks.Check("mutated extended-protocol traffic", len(bad) == 0, "%d seeds, first errors [%s]%s", seeds, strings.Join(keys, ", "), list(bad, 10))
}

func (h *hostile) caseTruncated() {
	// Startup packet cut short, then EOF.
	{
		r, err := dialRaw(h.o.Addr)
		if err == nil {
			full := startupPacket(protocol3, "user", h.o.User, "database", h.o.Database)
			_ = r.send(full[:len(full)/2])
			r.closeWrite()
			h.silentClose("truncated startup packet, EOF", r.collect(ioTimeout, false))
			r.close()
		} else {
			h.checks.Fail("truncated startup packet, EOF", "dial: %v", err)
		}
	}
	// Length word cut short.
	{
		r, err := dialRaw(h.o.Addr)
		if err == nil {
			_ = r.send([]byte{0, 0})
			r.closeWrite()
			h.silentClose("2 bytes of a length word, EOF", r.collect(ioTimeout, false))
			r.close()
		} else {
			h.checks.Fail("2 bytes of a length word, EOF", "dial: %v", err)
		}
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"truncated Query, EOF", queryMsg("SELECT 'truncated'")[:10]},
		{"Query type byte and half a length, EOF", []byte{'Q', 0, 0}},
		{"truncated Bind, EOF", append(parseMsg("", "SELECT $1::text"), bindMsg("", "", []byte("abcdef"))[:12]...)},
	}
	for _, c := range cases {
		r, _, _, err := h.dialStartup()
		if err != nil {
			h.checks.Fail(c.name, "startup: %v", err)
			continue
		}
		_ = r.send(c.data)
		r.closeWrite()
		h.silentClose(c.name, r.collect(ioTimeout, false))
		r.close()
	}
	// Abrupt close mid-message (no half-close): nothing to observe but the daemon's health,
	// checked by the healthy client and at the end.
	for i := 0; i < 20; i++ {
		r, _, _, err := h.dialStartup()
		if err != nil {
			h.checks.Fail("abrupt close mid-message", "startup: %v", err)
			return
		}
		msg := queryMsg(strings.Repeat("x", 100))
		_ = r.send(msg[:5+i])
		if tc, ok := r.c.(interface{ SetLinger(int) error }); ok && i%2 == 0 {
			_ = tc.SetLinger(0) // RST instead of FIN
		}
		r.close()
	}
	h.checks.Pass("abrupt close mid-message", "20 connections (half with RST)")
}

func (h *hostile) caseStartupLengths() {
	// PostgreSQL's limit is 10000 bytes after the length word (10004 in all); metagate
	// counts the length word (10000 in all). 10005 is over both.
	for _, l := range []int{10005, 65536, 1 << 20, 0x7fffffff, -1, -0x80000000, 7, 4, 0} {
		name := fmt.Sprintf("startup packet length %d", l)
		r, err := dialRaw(h.o.Addr)
		if err != nil {
			h.checks.Fail(name, "dial: %v", err)
			continue
		}
		b := be32(nil, l)
		b = be32(b, protocol3)
		_ = r.send(b)
		h.fatal(name, r.collect(ioTimeout, false), true, "08P01")
		r.close()
	}
	// Exactly 10000 bytes (PostgreSQL's limit) is a valid startup packet.
	{
		name := "startup packet of exactly 10000 bytes"
		pad := 10000 - len(startupPacket(protocol3, "user", h.o.User, "database", h.o.Database, "application_name", ""))
		p := startupPacket(protocol3, "user", h.o.User, "database", h.o.Database, "application_name", strings.Repeat("a", pad))
		r, err := dialRaw(h.o.Addr)
		if err != nil {
			h.checks.Fail(name, "dial: %v", err)
		} else {
			_ = r.send(p)
			o := r.collect(ioTimeout, true)
			ok := len(p) == 10000 && o.lastZ() == 'I' && o.firstError() == nil
			if ok {
				ok, _ = h.selectOne(r)
			}
			h.checks.Check(name, ok, "%d bytes: %s", len(p), o.types())
			r.close()
		}
	}
}

func (h *hostile) caseMessageLengths() {
	cases := []struct {
		t byte
		l int
	}{{'Q', 0x7fffffff}, {'Q', -0x80000000}, {'Q', -1}, {'Q', 3}, {'Q', 0}, {'P', 0x7fffffff}, {'B', -4}, {'S', 2}}
	for _, c := range cases {
		name := fmt.Sprintf("%c message length %d", c.t, c.l)
		r, _, _, err := h.dialStartup()
		if err != nil {
			h.checks.Fail(name, "startup: %v", err)
			continue
		}
		b := be32([]byte{c.t}, c.l)
		b = append(b, "SELECT 1"...)
		_ = r.send(b)
		h.fatal(name, r.collect(ioTimeout, false), true, "08P01")
		r.close()
	}
	// PostgreSQL checks the message type before reading the body, and allows short message
	// types at most 10000 bytes: neither waits for a body that is never going to come.
	for _, c := range []struct {
		name     string
		t        byte
		l        int
		silentOK bool
	}{
		{"unknown type 0xfe announcing 1 MB, body not sent", 0xfe, 1 << 20, false},
		{"Sync announcing 1 MB, body not sent", 'S', 1 << 20, true},
		{"Terminate announcing 100000 bytes, body not sent", 'X', 100000, true},
	} {
		r, _, _, err := h.dialStartup()
		if err != nil {
			h.checks.Fail(c.name, "startup: %v", err)
			continue
		}
		_ = r.send(append(be32([]byte{c.t}, c.l), "0123456789"...))
		h.fatal(c.name, r.collect(5*time.Second, false), c.silentOK, "08P01")
		r.close()
	}
}

func (h *hostile) caseUnknownTypes() {
	for _, t := range []byte{'Z', 'A', 'a', 'Y', 'G', 'v', 'p', 0, 0xff} {
		name := fmt.Sprintf("unknown message type 0x%02x after startup", t)
		if t >= 32 && t < 127 {
			name = fmt.Sprintf("unknown message type %q after startup", t)
		}
		if t == 'p' {
			name = "PasswordMessage after authentication"
		}
		r, _, _, err := h.dialStartup()
		if err != nil {
			h.checks.Fail(name, "startup: %v", err)
			continue
		}
		_ = r.send(frame(t, []byte("junk\x00")))
		h.fatal(name, r.collect(ioTimeout, false), false, "08P01")
		r.close()
	}
	// CopyData/CopyDone outside COPY are ignored, as PostgreSQL does.
	name := "CopyData/CopyDone outside COPY ignored"
	r, _, _, err := h.dialStartup()
	if err != nil {
		h.checks.Fail(name, "startup: %v", err)
		return
	}
	_ = r.send(append(frame('d', []byte("stray copy data")), frame('c', nil)...))
	ok, detail := h.selectOne(r)
	h.checks.Check(name, ok, "then SELECT 1: %s", detail)
	r.close()
}

func (h *hostile) caseExtendedBodies() {
	bindBody := func(f func(b []byte) []byte) []byte {
		b := cstr(cstr(nil, ""), "")
		b = be16(b, 0)
		return frame('B', f(b))
	}
	cases := []struct {
		name string
		msgs [][]byte
		code string // default 08P01
	}{
		{"Bind parameter length past the end", [][]byte{parseMsg("", "SELECT $1::text"), bindBody(func(b []byte) []byte {
			b = be16(b, 1)
			b = be32(b, 1000)
			return append(append(b, "abc"...), 0, 0)
		}), syncMsg()}, ""},
		{"Bind parameter length 0x7fffffff", [][]byte{parseMsg("", "SELECT $1::text"), bindBody(func(b []byte) []byte {
			b = be16(b, 1)
			b = be32(b, 0x7fffffff)
			return be16(b, 0)
		}), syncMsg()}, ""},
		{"Bind parameter length -2", [][]byte{parseMsg("", "SELECT $1::text"), bindBody(func(b []byte) []byte {
			b = be16(b, 1)
			b = be32(b, -2)
			return be16(b, 0)
		}), syncMsg()}, ""},
		{"Bind with a negative parameter count", [][]byte{parseMsg("", "SELECT $1::text"), bindBody(func(b []byte) []byte {
			b = be16(b, -1)
			return be16(b, 0)
		}), syncMsg()}, ""},
		{"Parse with a negative parameter count", [][]byte{frame('P', be16(cstr(cstr(nil, ""), "SELECT 1"), -1)), syncMsg()}, ""},
		{"Parse with more parameter types than bytes", [][]byte{frame('P', be32(be16(cstr(cstr(nil, ""), "SELECT 1"), 5), 25)), syncMsg()}, ""},
		// PostgreSQL: int4recv runs out of data -> 08P01 "insufficient data left in message".
		{"Bind binary int4 parameter of 3 bytes", [][]byte{parseMsg("", "SELECT $1::int4", 23), frame('B', func() []byte {
			b := cstr(cstr(nil, ""), "")
			b = be16(be16(b, 1), 1) // one format: binary
			b = be16(b, 1)
			b = be32(b, 3)
			b = append(b, 0, 0, 1)
			return be16(b, 0)
		}()), executeMsg("", 0), syncMsg()}, "08P01"},
		{"Bind binary int4 parameter of 5 bytes", [][]byte{parseMsg("", "SELECT $1::int4", 23), frame('B', func() []byte {
			b := cstr(cstr(nil, ""), "")
			b = be16(be16(b, 1), 1)
			b = be16(b, 1)
			b = be32(b, 5)
			b = append(b, 0, 0, 0, 1, 9)
			return be16(b, 0)
		}()), executeMsg("", 0), syncMsg()}, "22P03"},
		{"Describe with subtype 'Z'", [][]byte{frame('D', cstr([]byte{'Z'}, "")), syncMsg()}, ""},
		{"Sync with trailing bytes", [][]byte{frame('S', []byte("junk"))}, ""},
	}
	for _, c := range cases {
		r, _, _, err := h.dialStartup()
		if err != nil {
			h.checks.Fail(c.name, "startup: %v", err)
			continue
		}
		var b []byte
		for _, m := range c.msgs {
			b = append(b, m...)
		}
		_ = r.send(b)
		code := c.code
		if code == "" {
			code = "08P01"
		}
		h.protocolError(c.name, r, r.collect(ioTimeout, true), code)
		r.close()
	}
}

func (h *hostile) caseProtocolVersions() {
	// 1234.5679-5681 are SSLRequest, GSSENCRequest, and the next unused code; 1234.5678 is CancelRequest.
	for _, v := range [][2]int{{2, 0}, {1, 0}, {0, 0}, {4, 0}, {1234, 5681}} {
		name := fmt.Sprintf("protocol %d.%d startup", v[0], v[1])
		r, err := dialRaw(h.o.Addr)
		if err != nil {
			h.checks.Fail(name, "dial: %v", err)
			continue
		}
		_ = r.send(startupPacket(v[0]<<16|v[1], "user", h.o.User, "database", h.o.Database))
		b, closed := r.readAll(ioTimeout)
		r.close()
		// PostgreSQL 15 answers a protocol 1.x/2.x client in the old format ('E', text):
		// "FATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0".
		if len(b) > 6 && b[0] == 'E' && string(b[1:6]) == "FATAL" {
			text := strings.TrimRight(string(b[1:]), "\x00\n")
			h.checks.Check(name, closed && v[0] < 3 && strings.Contains(text, "unsupported frontend protocol"),
				"protocol-2 style error %q, closed=%v", text, closed)
			continue
		}
		o := outcome{closed: closed, hang: !closed}
		for len(b) >= 5 {
			n := int(int32(uint32(b[1])<<24 | uint32(b[2])<<16 | uint32(b[3])<<8 | uint32(b[4])))
			if n < 4 || n+1 > len(b) {
				o.err = fmt.Errorf("malformed answer % x", b[:5])
				break
			}
			o.msgs = append(o.msgs, beMsg{t: b[0], body: b[5 : n+1]})
			b = b[n+1:]
		}
		if len(b) > 0 && o.err == nil {
			o.err = fmt.Errorf("%d trailing bytes", len(b))
		}
		h.fatal(name, o, false, "0A000")
		if f := o.firstError(); f != nil && !strings.Contains(f['M'], "unsupported frontend protocol") {
			h.checks.Fail(name+" message", "%q", f['M'])
		}
	}
}

func (h *hostile) caseGarbage() {
	rng := rand.New(rand.NewSource(42))
	garbage := make([]byte, 1536*1024)
	rng.Read(garbage)
	{
		name := "1.5 MB of garbage after startup"
		r, _, _, err := h.dialStartup()
		if err != nil {
			h.checks.Fail(name, "startup: %v", err)
		} else {
			g := append([]byte{0xfe}, garbage...) // not a message type
			r.sendAsync(g)
			h.fatal(name, r.collect(ioTimeout, false), false, "08P01")
			r.close()
		}
	}
	{
		// A well-framed 1.5 MB Query: a valid statement, its NUL, then 1.5 MB of junk.
		name := "1.5 MB Query with junk after the string"
		r, _, _, err := h.dialStartup()
		if err != nil {
			h.checks.Fail(name, "startup: %v", err)
		} else {
			body := cstr(nil, "SELECT 1")
			body = append(append(body, garbage...), 0)
			r.sendAsync(frame('Q', body))
			h.protocolError(name, r, r.collect(ioTimeout, true), "08P01")
			r.close()
		}
	}
	{
		// 1.5 MB of invalid UTF-8 (no NUL inside): ERROR 22021, the connection goes on.
		name := "1.5 MB Query of invalid UTF-8"
		r, _, _, err := h.dialStartup()
		if err != nil {
			h.checks.Fail(name, "startup: %v", err)
		} else {
			body := make([]byte, 0, len(garbage)+16)
			body = append(body, "SELECT '"...)
			for _, c := range garbage {
				if c == 0 || c == '\'' {
					c = 0xff
				}
				body = append(body, c)
			}
			body = append(body, '\'', 0)
			r.sendAsync(frame('Q', body))
			o := r.collect(ioTimeout, true)
			f := o.firstError()
			ok := f != nil && severity(f) == "ERROR" && f['C'] == "22021" && o.lastZ() == 'I'
			detail := ""
			if ok {
				ok, detail = h.selectOne(r)
			}
			h.checks.Check(name, ok, "%s %s (want ERROR 22021, then usable)", o.types(), detail)
			r.close()
		}
	}
	{
		// The same size, valid: buffering a large message works.
		name := "1.5 MB valid Query"
		r, _, _, err := h.dialStartup()
		if err != nil {
			h.checks.Fail(name, "startup: %v", err)
		} else {
			r.sendAsync(queryMsg("SELECT length('" + strings.Repeat("x", 1536*1024) + "')"))
			o := r.collect(ioTimeout, true)
			ok := false
			for _, m := range o.msgs {
				if m.t == 'D' && strings.HasSuffix(string(m.body), "1572864") {
					ok = true
				}
			}
			h.checks.Check(name, ok && o.lastZ() == 'I', "%s", o.types())
			r.close()
		}
	}
	{
		name := "SSLRequest, then garbage"
		r, err := dialRaw(h.o.Addr)
		if err != nil {
			h.checks.Fail(name, "dial: %v", err)
		} else {
			_ = r.send(be32(be32(nil, 8), sslRequestCode))
			ans, err := r.readByte(ioTimeout)
			if err != nil || ans != 'N' {
				h.checks.Fail(name, "answer to SSLRequest %q, %v (want 'N': no TLS configured)", ans, err)
			} else {
				r.sendAsync(append([]byte{0xff, 0xff, 0xff, 0xf0}, garbage[:4096]...))
				h.fatal(name, r.collect(ioTimeout, false), true, "08P01")
			}
			r.close()
		}
	}
	{
		name := "SSLRequest with garbage in the same packet"
		r, err := dialRaw(h.o.Addr)
		if err != nil {
			h.checks.Fail(name, "dial: %v", err)
		} else {
			_ = r.send(append(be32(be32(nil, 8), sslRequestCode), append([]byte{0xff, 0xff, 0xff, 0xf0}, garbage[:4096]...)...))
			ans, err := r.readByte(ioTimeout)
			if err != nil || ans != 'N' {
				h.checks.Fail(name, "answer to SSLRequest %q, %v (want 'N')", ans, err)
			} else {
				// PostgreSQL: FATAL 08P01 "received unencrypted data after SSL request".
				h.fatal(name, r.collect(ioTimeout, false), true, "08P01")
			}
			r.close()
		}
	}
}

func (h *hostile) caseCancel() {
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 5; i++ {
		name := "CancelRequest with unknown keys"
		r, err := dialRaw(h.o.Addr)
		if err != nil {
			h.checks.Fail(name, "dial: %v", err)
			return
		}
		b := be32(be32(nil, 16), cancelCode)
		b = be32(b, int(rng.Int31()))
		b = be32(b, int(rng.Int31()))
		_ = r.send(b)
		o := r.collect(ioTimeout, false)
		r.close()
		if o.hang || o.err != nil || !o.closed || len(o.msgs) != 0 {
			h.checks.Fail(name, "%s (want the close without a message)", o.types())
			return
		}
	}
	h.checks.Pass("CancelRequest with unknown keys", "5 requests, each closed without a message")

	// Right pid, wrong secret; then the right key while idle: both no-ops, the session stays usable.
	name := "CancelRequest for an idle session (wrong, then right secret)"
	s, pid, secret, err := h.dialStartup()
	if err != nil {
		h.checks.Fail(name, "startup: %v", err)
		return
	}
	defer s.close()
	for _, sec := range []int32{secret ^ 0x5a5a5a5a, secret} {
		r, err := dialRaw(h.o.Addr)
		if err != nil {
			h.checks.Fail(name, "dial: %v", err)
			return
		}
		_ = r.send(be32(be32(be32(be32(nil, 16), cancelCode), int(pid)), int(sec)))
		o := r.collect(ioTimeout, false)
		r.close()
		if !o.closed || len(o.msgs) != 0 {
			h.checks.Fail(name, "cancel connection: %s", o.types())
			return
		}
	}
	time.Sleep(100 * time.Millisecond)
	ok, detail := h.selectOne(s)
	h.checks.Check(name, ok, "then SELECT 1 on the session: %s", detail)
	if ok {
		// And the next statement too (a cancel must not linger beyond one idle period).
		ok2, detail2 := h.selectOne(s)
		h.checks.Check(name+", second statement", ok2, "%s", detail2)
	}
}

func (h *hostile) caseInvalidUTF8() {
	name := "invalid UTF-8 in a Query"
	r, _, _, err := h.dialStartup()
	if err != nil {
		h.checks.Fail(name, "startup: %v", err)
		return
	}
	defer r.close()
	for _, q := range []string{"SELECT '\xff\xfe'", "SELECT 1 -- \xc3\x28", "SELECT '\xed\xa0\x80'" /* surrogate */, "SELECT '\xc0\xaf'" /* overlong */} {
		_ = r.send(queryMsg(q))
		o := r.collect(ioTimeout, true)
		f := o.firstError()
		ok := f != nil && severity(f) == "ERROR" && f['C'] == "22021" && o.lastZ() == 'I'
		h.checks.Check(fmt.Sprintf("%s %q", name, q), ok, "%s (want ERROR 22021, ReadyForQuery idle)", o.types())
	}
	ok, detail := h.selectOne(r)
	h.checks.Check(name+": connection usable", ok, "SELECT 1: %s", detail)

	// Inside a transaction: the block fails (25P02 until ROLLBACK).
	_ = r.send(queryMsg("BEGIN"))
	_ = r.collect(ioTimeout, true)
	_ = r.send(queryMsg("SELECT '\xff'"))
	o := r.collect(ioTimeout, true)
	f := o.firstError()
	h.checks.Check(name+" inside a transaction", f != nil && f['C'] == "22021" && o.lastZ() == 'E', "%s (want 22021, status E)", o.types())
	_ = r.send(queryMsg("ROLLBACK"))
	o = r.collect(ioTimeout, true)
	h.checks.Check(name+": ROLLBACK", o.lastZ() == 'I' && o.firstError() == nil, "%s", o.types())

	// Extended protocol: in Parse, and as a text parameter value.
	_ = r.send(append(parseMsg("", "SELECT '\xff'"), syncMsg()...))
	o = r.collect(ioTimeout, true)
	f = o.firstError()
	h.checks.Check("invalid UTF-8 in a Parse", f != nil && severity(f) == "ERROR" && f['C'] == "22021" && o.lastZ() == 'I', "%s (want ERROR 22021)", o.types())
	var b []byte
	b = append(b, parseMsg("", "SELECT $1::text", 25)...)
	b = append(b, bindMsg("", "", []byte("ok\xff"))...)
	b = append(b, executeMsg("", 0)...)
	b = append(b, syncMsg()...)
	_ = r.send(b)
	o = r.collect(ioTimeout, true)
	f = o.firstError()
	h.checks.Check("invalid UTF-8 in a text Bind parameter", f != nil && severity(f) == "ERROR" && f['C'] == "22021" && o.lastZ() == 'I',
		"%s (want ERROR 22021)", o.types())
	ok, detail = h.selectOne(r)
	h.checks.Check("invalid UTF-8: connection still usable", ok, "SELECT 1: %s", detail)
}

// caseStall: connections that send half a message and stall must not block anyone.
func (h *hostile) caseStall(db *sql.DB) {
	var stalled []*raw
	defer func() {
		for _, r := range stalled {
			r.close()
		}
	}()
	for i := 0; i < 10; i++ {
		r, err := dialRaw(h.o.Addr)
		if err != nil {
			h.checks.Fail("stalled clients", "dial: %v", err)
			return
		}
		p := startupPacket(protocol3, "user", h.o.User, "database", h.o.Database)
		_ = r.send(p[:len(p)-5])
		stalled = append(stalled, r)
	}
	for i := 0; i < 10; i++ {
		r, _, _, err := h.dialStartup()
		if err != nil {
			h.checks.Fail("stalled clients", "startup: %v", err)
			return
		}
		if i%2 == 0 {
			_ = r.send(queryMsg("SELECT 'stalled query'")[:9])
		} else {
			_ = r.send(append(parseMsg("s1", "SELECT 1"), parseMsg("", "SELECT 2")[:7]...))
		}
		stalled = append(stalled, r)
	}
	// While they stall (3 s): fresh connections answer quickly, reads and writes go on.
	var worst time.Duration
	var errs []string
	for i := 0; i < 6; i++ {
		t0 := time.Now()
		r, _, _, err := h.dialStartup()
		if err == nil {
			ok, detail := h.selectOne(r)
			if !ok {
				err = fmt.Errorf("SELECT 1: %s", detail)
			} else {
				_ = r.send(queryMsg("INSERT INTO hostile_probe (v, at) VALUES ('during-stall', now())"))
				if o := r.collect(ioTimeout, true); o.firstError() != nil || o.lastZ() != 'I' {
					err = fmt.Errorf("INSERT: %s", o.types())
				}
			}
			r.close()
		}
		if d := time.Since(t0); d > worst {
			worst = d
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
		time.Sleep(500 * time.Millisecond)
	}
	h.checks.Check("stalled clients do not block others", len(errs) == 0 && worst < 2*time.Second,
		"20 connections stalled mid-message for 3 s (10 in the startup packet, 10 after it); fresh connect+SELECT 1+INSERT worst %s%s",
		worst.Round(time.Millisecond), list(errs, 5))
	for _, r := range stalled {
		r.close()
	}
	stalled = nil

	// A client stalls mid-message inside a write transaction: with one SQLite writer,
	// other writes wait for it (by design); when the client goes away its transaction is
	// rolled back and the waiting write proceeds at once.
	name := "stalled write transaction released on close"
	holder, _, _, err := h.dialStartup()
	if err != nil {
		h.checks.Fail(name, "startup: %v", err)
		return
	}
	_ = holder.send(queryMsg("BEGIN; INSERT INTO hostile_probe (v, at) VALUES ('stalled', now())"))
	if o := holder.collect(ioTimeout, true); o.lastZ() != 'T' {
		h.checks.Fail(name, "BEGIN; INSERT: %s", o.types())
		holder.close()
		return
	}
	_ = holder.send(parseMsg("", "SELECT 1")[:7])
	waiter, _, _, err := h.dialStartup()
	if err != nil {
		h.checks.Fail(name, "startup: %v", err)
		holder.close()
		return
	}
	defer waiter.close()
	_ = waiter.send(queryMsg("INSERT INTO hostile_probe (v, at) VALUES ('waiter', now())"))
	t0 := time.Now()
	time.Sleep(1500 * time.Millisecond)
	closedAt := time.Now()
	holder.close()
	o := waiter.collect(ioTimeout, true)
	waited, after := time.Since(t0), time.Since(closedAt)
	ok := o.firstError() == nil && o.lastZ() == 'I' && after < 2*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int64
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM hostile_probe WHERE v = 'stalled'`).Scan(&n)
	h.checks.Check(name, ok && err == nil && n == 0,
		"waiting INSERT: %s after %s (%s after the holder closed); rows of the stalled transaction visible: %d %s",
		o.types(), waited.Round(time.Millisecond), after.Round(time.Millisecond), n, errText(err))
}

// caseBurst: many connections at once, each answers SELECT 1, then they all go away;
// descriptors return to where they were.
func (h *hostile) caseBurst(n int) {
	base := openFDs(h.o.PID)
	t0 := time.Now()
	conns := make([]*raw, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, _, _, err := h.dialStartup()
			if err == nil {
				if ok, detail := h.selectOne(r); !ok {
					err = fmt.Errorf("SELECT 1: %s", detail)
				}
			}
			conns[i], errs[i] = r, err
		}(i)
	}
	wg.Wait()
	var bad []string
	open := 0
	for i, err := range errs {
		if err != nil {
			bad = append(bad, fmt.Sprintf("connection %d: %v", i, err))
		} else {
			open++
		}
	}
	peak := openFDs(h.o.PID)
	h.checks.Check(fmt.Sprintf("%d connections at once", n), len(bad) == 0, "%d opened and answered SELECT 1 in %s (daemon fds %d -> %d)%s",
		open, time.Since(t0).Round(time.Millisecond), base, peak, list(bad, 5))
	for i, r := range conns {
		if r == nil {
			continue
		}
		if i%2 == 0 {
			_ = r.send(terminateMsg())
		}
		r.close()
	}
	// And as many that connect and leave before (or in the middle of) the startup packet.
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := dialRaw(h.o.Addr)
			if err != nil {
				return
			}
			if i%2 == 1 {
				_ = r.send(startupPacket(protocol3, "user", h.o.User)[:6])
			}
			r.close()
		}(i)
	}
	wg.Wait()
	if base < 0 {
		h.checks.Pass("descriptors released after the burst", "not measured (no /proc/PID/fd)")
		return
	}
	// Sessions notice the closes asynchronously; SQLite readers opened for the burst may stay.
	const slack = 16
	var now int
	deadline := time.Now().Add(10 * time.Second)
	for {
		now = openFDs(h.o.PID)
		if now <= base+slack || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.checks.Check("descriptors released after the burst", now >= 0 && now <= base+slack, "daemon fds before %d, peak %d, after %d (slack %d)", base, peak, now, slack)
}

func list(items []string, max int) string {
	if len(items) == 0 {
		return ""
	}
	var b strings.Builder
	for i, s := range items {
		if i == max {
			fmt.Fprintf(&b, "\n      … %d more", len(items)-max)
			break
		}
		fmt.Fprintf(&b, "\n      %s", s)
	}
	return b.String()
}

func runHostile(o HostileOptions) int {
	if o.User == "" {
		o.User = "grafana"
	}
	h := &hostile{o: o, checks: &Checks{}}
	start := time.Now()
	db, err := sql.Open("postgres", o.DSN)
	if err != nil {
		h.checks.Fail("healthy client", "open: %v", err)
		return h.checks.Summary()
	}
	defer db.Close()
	db.SetMaxOpenConns(2)
	{
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := db.ExecContext(ctx, `CREATE TABLE hostile_probe (id SERIAL PRIMARY KEY, v TEXT NOT NULL, at TIMESTAMP NOT NULL)`)
		cancel()
		if err != nil {
			h.checks.Fail("healthy client", "CREATE TABLE: %s", errText(err))
			return h.checks.Summary()
		}
	}
	hc := &healthy{}
	stop := make(chan struct{})
	var hwg sync.WaitGroup
	hwg.Add(1)
	go func() { defer hwg.Done(); hc.run(db, stop) }()

	step := func(name string, f func()) {
		t0 := time.Now()
		f()
		fmt.Printf("  -- %s: %.1fs\n", name, time.Since(t0).Seconds())
	}
	step("random bytes at start", func() { h.caseRandomAtStart(o.Seeds) })
	step("random bytes after startup", func() { h.caseRandomAfterStartup(o.Seeds) })
	step("mutated traffic", func() { h.caseMutated(o.Seeds) })
	step("truncated", h.caseTruncated)
	step("startup lengths", h.caseStartupLengths)
	step("message lengths", h.caseMessageLengths)
	step("unknown types", h.caseUnknownTypes)
	step("extended bodies", h.caseExtendedBodies)
	step("protocol versions", h.caseProtocolVersions)
	step("garbage", h.caseGarbage)
	step("cancel", h.caseCancel)
	step("invalid UTF-8", h.caseInvalidUTF8)
	step("stall", func() { h.caseStall(db) })
	step("burst", func() { h.caseBurst(o.Burst) })

	close(stop)
	hwg.Wait()
	hc.mu.Lock()
	h.checks.Check("healthy client saw no error", len(hc.errs) == 0 && hc.queries > 0,
		"%d queries (%d inserts), worst latency %s, %d errors%s", hc.queries, hc.inserted, hc.maxLat.Round(time.Millisecond), len(hc.errs), list(hc.errs, 10))
	hc.mu.Unlock()

	// At the end: the daemon is alive, accepts a new connection and answers.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	alive := processAlive(o.PID)
	var one int
	var probes int64
	err = func() error {
		fresh, err := sql.Open("postgres", o.DSN)
		if err != nil {
			return err
		}
		defer fresh.Close()
		if err := fresh.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
			return err
		}
		return fresh.QueryRowContext(ctx, `SELECT count(*) FROM hostile_probe WHERE v LIKE 'probe-%'`).Scan(&probes)
	}()
	h.checks.Check("daemon alive, new connection answers SELECT 1", alive && err == nil && one == 1 && probes == hc.inserted,
		"process alive=%v, SELECT 1 -> %d (%s), healthy inserts present %d/%d", alive, one, errText(err), probes, hc.inserted)
	fmt.Printf("hostile input took %.1fs\n", time.Since(start).Seconds())
	return h.checks.Summary()
}
