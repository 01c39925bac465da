package main

// Parsers for the two corpus formats in shared/grafana:
//
//   - migrations-*.sql: one entry per migration_log row, introduced by
//     "-- [id] migration_id | timestamp", followed by the exact text of the
//     migration_log.sql column, or by "-- (code migration ...)" for migrations
//     that ran Go code. "-- NOTE: ..." lines flag IfIndexExists-guarded
//     DROP INDEX entries that Grafana skipped on a fresh database.
//   - runtime-queries.sql: statements in numbered groups "-- [g.n] ...".
//     Statements that PostgreSQL can PREPARE (SELECT/INSERT/UPDATE/DELETE/WITH/
//     VALUES) are numbered "g.n#k" in file order, exactly like the `entry`
//     column of runtime-queries.types.tsv. The others (BEGIN, COMMIT, DROP
//     SCHEMA, the ";" ping ...) are numbered "g.n#xk".

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Migration is one migration_log row of a corpus.
type Migration struct {
	LogID       int    // migration_log.id in the source dump
	ID          string // migration_id
	Timestamp   string // migration_log.timestamp ("YYYY-MM-DD HH:MM:SS")
	SQL         string // logged text (backticks kept, as Grafana logs it)
	Code        bool   // code migration: no SQL is sent
	IfIndexNote bool   // NOTE entry: IfIndexExists-guarded DROP INDEX
}

var migHeader = regexp.MustCompile(`^-- \[(\d+)\] (.*) \| (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s*$`)

// ParseMigrations reads a migrations-*.sql corpus.
func ParseMigrations(path string) ([]*Migration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []*Migration
	var cur *Migration
	var body []string
	flush := func() {
		if cur == nil {
			return
		}
		cur.SQL = strings.TrimSpace(strings.Join(body, "\n"))
		if cur.SQL == "" {
			cur.Code = true
		}
		out = append(out, cur)
		cur, body = nil, nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := migHeader.FindStringSubmatch(line); m != nil {
			flush()
			id, _ := strconv.Atoi(m[1])
			cur = &Migration{LogID: id, ID: m[2], Timestamp: m[3]}
			continue
		}
		if cur == nil {
			continue // file header
		}
		if len(body) == 0 && strings.HasPrefix(line, "--") {
			// Annotation lines before the SQL of an entry.
			if strings.HasPrefix(line, "-- (code migration") {
				cur.Code = true
			}
			if strings.HasPrefix(line, "-- NOTE:") && strings.Contains(line, "IfIndexExists") {
				cur.IfIndexNote = true
			}
			continue
		}
		if len(body) == 0 && strings.TrimSpace(line) == "" {
			continue
		}
		body = append(body, line)
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, err
	}
	// Trailing blank lines between entries were kept in body; TrimSpace removed them.
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no migration entries found", path)
	}
	return out, nil
}

// WireSQL is the text xorm puts on the wire for a logged migration: QuoteFilter
// turns backtick-quoted identifiers into double-quoted ones (outside string literals).
func WireSQL(logged string) string {
	var b strings.Builder
	inStr := false
	for i := 0; i < len(logged); i++ {
		c := logged[i]
		switch {
		case c == '\'':
			inStr = !inStr
			b.WriteByte(c)
		case c == '`' && !inStr:
			b.WriteByte('"')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Statement is one runtime statement.
type Statement struct {
	Group      string // "3.2"
	Entry      string // "3.2#4" or "0.2#x1"
	Preparable bool   // counted in the types TSV
	SQL        string // text sent to the server (trimmed, without the final ';')
	Line       int    // line number of its first line in the file
}

var groupHeader = regexp.MustCompile(`^\s*-- \[(\d+\.\d+)\]`)

// ParseRuntime reads runtime-queries.sql.
func ParseRuntime(path string) ([]*Statement, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*Statement
	counts := map[string]int{}
	xcounts := map[string]int{}
	for _, rs := range SplitSQL(string(data)) {
		if rs.Group == "" {
			continue
		}
		st := &Statement{Group: rs.Group, Line: rs.Line, SQL: rs.SQL}
		switch strings.ToUpper(firstWord(rs.SQL)) {
		case "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES":
			st.Preparable = true
			counts[rs.Group]++
			st.Entry = fmt.Sprintf("%s#%d", rs.Group, counts[rs.Group])
		default:
			xcounts[rs.Group]++
			st.Entry = fmt.Sprintf("%s#x%d", rs.Group, xcounts[rs.Group])
		}
		out = append(out, st)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no statements found", path)
	}
	return out, nil
}

// RawStatement is one ';'-terminated statement of a SQL script.
type RawStatement struct {
	SQL   string // trimmed, without the final ';' (";" for an empty statement)
	Line  int    // first line (1-based)
	Group string // last "-- [g.n]" header seen before it ("" if none)
}

// SplitSQL splits a script into statements at ';' outside quotes; "--" comments
// are dropped (a "-- [g.n]" comment between statements sets the group).
func SplitSQL(data string) []RawStatement {
	var out []RawStatement
	group := ""
	var buf strings.Builder
	startLine := 0
	inStr, inIdent := false, false
	emit := func() {
		body := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(buf.String()), ";"))
		buf.Reset()
		if body == "" {
			body = ";" // the lib/pq Ping text
		}
		out = append(out, RawStatement{SQL: body, Line: startLine, Group: group})
	}
	for ln, line := range strings.Split(data, "\n") {
		if !inStr && !inIdent && strings.TrimSpace(buf.String()) == "" {
			t := strings.TrimSpace(line)
			if t == "" {
				continue
			}
			if strings.HasPrefix(t, "--") {
				if m := groupHeader.FindStringSubmatch(line); m != nil {
					group = m[1]
				}
				continue
			}
			buf.Reset()
			startLine = ln + 1
		}
		for i := 0; i < len(line); i++ {
			c := line[i]
			if inStr {
				buf.WriteByte(c)
				if c == '\'' {
					inStr = false
				}
				continue
			}
			if inIdent {
				buf.WriteByte(c)
				if c == '"' {
					inIdent = false
				}
				continue
			}
			if c == '-' && i+1 < len(line) && line[i+1] == '-' {
				break // comment to end of line
			}
			buf.WriteByte(c)
			if c == '\'' {
				inStr = true
			} else if c == '"' {
				inIdent = true
			} else if c == ';' {
				emit()
				break // the rest of the line is a comment or blank
			}
		}
		if buf.Len() > 0 {
			buf.WriteByte('\n')
		}
	}
	if strings.TrimSpace(buf.String()) != "" {
		emit()
	}
	return out
}

func firstWord(s string) string {
	s = strings.TrimSpace(s)
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_') {
			return s[:i]
		}
	}
	return s
}

// collapseWS squeezes runs of whitespace into one space (used to match TSV statement_start).
func collapseWS(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// TypesEntry is one row of runtime-queries.types.tsv.
type TypesEntry struct {
	Entry      string
	ParamTypes []string // PostgreSQL type names, e.g. "character varying"
	Columns    []TypedColumn
	Start      string // statement_start (whitespace-collapsed, truncated)
}

type TypedColumn struct {
	Name string
	Type string // format_type() text, e.g. "character varying(190)"
}

// ParseTypes reads runtime-queries.types.tsv.
func ParseTypes(path string) (map[string]*TypesEntry, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	out := map[string]*TypesEntry{}
	var order []string
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "entry\t") {
			continue
		}
		f := strings.Split(line, "\t")
		for len(f) < 4 {
			f = append(f, "")
		}
		te := &TypesEntry{Entry: f[0], Start: f[3]}
		if f[1] != "" {
			te.ParamTypes = strings.Split(f[1], ",")
		}
		if f[2] != "" {
			for _, c := range strings.Split(f[2], "; ") {
				// "name type words" — the column name is the first word.
				sp := strings.IndexByte(c, ' ')
				if sp < 0 {
					te.Columns = append(te.Columns, TypedColumn{Name: c})
					continue
				}
				te.Columns = append(te.Columns, TypedColumn{Name: c[:sp], Type: c[sp+1:]})
			}
		}
		out[te.Entry] = te
		order = append(order, te.Entry)
	}
	return out, order, nil
}
