package main

// Comparison of what the reference (PostgreSQL, the oracle) and the target
// returned, and the report: one line per difference, then a summary that ends
// with the plain line "N passed, M failed".

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// Reporter counts checks and prints differences.
type Reporter struct {
	Passed, Failed int
	MaxDiffs       int // stop printing (not counting) after this many differences; 0 = unlimited
	Verbose        bool
	printed        int
	suppressed     int
	byWhat         map[string]int
	// Informational checks (types TSV) are counted apart and never fail the run.
	InfoMatched, InfoDiffer int
	// Runtime statistics: statement executions, and how many of them the
	// reference itself answered with an error.
	Executions, RefErrors int
	// Consecutive round trips in which the target failed at the client level
	// (connection refused/lost, timeout) while the reference answered.
	targetDown int
	Title      string
}

// maxTargetDown consecutive client-level failures of the target end the run:
// a dead or hung target would otherwise cost one timeout per remaining step.
const maxTargetDown = 8

// TargetHealth is told every compared pair of results.
func (r *Reporter) TargetHealth(ref, tgt *Result) {
	if tgt.Err != "" && !tgt.ServerEr && (ref.Err == "" || ref.ServerEr) {
		r.targetDown++
	} else {
		r.targetDown = 0
	}
	if r.targetDown >= maxTargetDown {
		r.Fail("abort", "-", "target unresponsive", fmt.Sprintf("%d consecutive client-level failures on the target (last: %s); giving up", r.targetDown, tgt.Err))
		r.Summary(r.Title)
		os.Exit(1)
	}
}

func NewReporter(maxDiffs int, verbose bool) *Reporter {
	return &Reporter{MaxDiffs: maxDiffs, Verbose: verbose, byWhat: map[string]int{}}
}

// Check records one compared aspect. what is a short word ("error", "columns",
// "rows", "tag", …); ref/target are the two observed values.
func (r *Reporter) Check(entry, client, what, ref, target string) bool {
	if ref == target {
		r.Passed++
		return true
	}
	r.Failed++
	r.byWhat[what]++
	r.Diff(entry, client, what, ref, target)
	return false
}

// Fail records a failed check that has no ref/target pair (e.g. setup trouble).
func (r *Reporter) Fail(entry, client, what, msg string) {
	r.Failed++
	r.byWhat[what]++
	r.line(fmt.Sprintf("DIFF %s [%s] %s: %s", entry, client, what, msg))
}

func (r *Reporter) Diff(entry, client, what, ref, target string) {
	r.line(fmt.Sprintf("DIFF %s [%s] %s: ref=%s target=%s", entry, client, what, clip(ref), clip(target)))
}

func (r *Reporter) line(s string) {
	if r.MaxDiffs > 0 && r.printed >= r.MaxDiffs {
		r.suppressed++
		return
	}
	r.printed++
	fmt.Println(s)
}

// Info prints an informational line (types TSV check); counted apart.
func (r *Reporter) Info(ok bool, s string) {
	if ok {
		r.InfoMatched++
		if r.Verbose {
			fmt.Println(s)
		}
		return
	}
	r.InfoDiffer++
	fmt.Println(s)
}

func (r *Reporter) Logf(format string, a ...interface{}) {
	if r.Verbose {
		fmt.Printf("# "+format+"\n", a...)
	}
}

// Summary prints the per-kind counts and the closing line.
func (r *Reporter) Summary(title string) {
	if r.suppressed > 0 {
		fmt.Printf("(%d further differences not shown, --max-diffs %d)\n", r.suppressed, r.MaxDiffs)
	}
	if len(r.byWhat) > 0 {
		var keys []string
		for k := range r.byWhat {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s=%d", k, r.byWhat[k]))
		}
		fmt.Printf("%s: differences by kind: %s\n", title, strings.Join(parts, " "))
	}
	if r.InfoMatched+r.InfoDiffer > 0 {
		fmt.Printf("%s: types TSV (informational): %d matched, %d differ\n", title, r.InfoMatched, r.InfoDiffer)
	}
	if r.Executions > 0 {
		fmt.Printf("%s: %d statement executions per side, %d of them errors on the reference (--verbose lists them)\n", title, r.Executions, r.RefErrors)
	}
	fmt.Printf("%s: %d checks\n", title, r.Passed+r.Failed)
	fmt.Printf("%d passed, %d failed\n", r.Passed, r.Failed)
}

func (r *Reporter) ExitCode() int {
	if r.Failed > 0 {
		return 1
	}
	return 0
}

func clip(s string) string {
	s = strings.ReplaceAll(s, "\n", `\n`)
	if len(s) > 300 {
		return s[:300] + fmt.Sprintf("…(%d bytes)", len(s))
	}
	if s == "" {
		return `""`
	}
	return s
}

// CompareOpts tunes the comparison of two results.
type CompareOpts struct {
	Unordered bool  // compare rows as a multiset (no top-level ORDER BY)
	Volatile  []int // column indexes whose values are not compared (server clock, …)
	// Database names of the two sides: a cell equal to its side's own database
	// name (current_database(), pg_indexes.schemaname …) compares as <dbname>.
	RefDB, TgtDB string
}

// CompareResults compares every aspect of two results and records one check per aspect.
func (r *Reporter) CompareResults(entry, client string, ref, tgt *Result, o CompareOpts) bool {
	r.TargetHealth(ref, tgt)
	ok := r.Check(entry, client, "error", ref.Err, tgt.Err)
	if ref.Err != "" || tgt.Err != "" {
		// Partial results next to an error are not compared further.
		return ok
	}
	if ref.HasRows || tgt.HasRows {
		ok = r.Check(entry, client, "column names", colNames(ref), colNames(tgt)) && ok
		ok = r.Check(entry, client, "column types", colTypes(ref), colTypes(tgt)) && ok
		ok = r.compareRows(entry, client, ref, tgt, o) && ok
	}
	ok = r.Check(entry, client, "tag", ref.Tag, tgt.Tag) && ok
	return ok
}

func colNames(r *Result) string {
	var s []string
	for _, c := range r.Columns {
		s = append(s, c.Name)
	}
	return strings.Join(s, ", ")
}

func colTypes(r *Result) string {
	var s []string
	for _, c := range r.Columns {
		s = append(s, c.Type)
	}
	return strings.Join(s, ", ")
}

func maskRows(rows []string, volatile []int) []string {
	if len(volatile) == 0 {
		return rows
	}
	out := make([]string, len(rows))
	for i, row := range rows {
		cells := strings.Split(row, " | ")
		for _, v := range volatile {
			if v < len(cells) {
				cells[v] = "<volatile>"
			}
		}
		out[i] = strings.Join(cells, " | ")
	}
	return out
}

func maskDB(rows []string, db string) []string {
	if db == "" {
		return rows
	}
	out := make([]string, len(rows))
	for i, row := range rows {
		cells := strings.Split(row, " | ")
		for j, c := range cells {
			if c == db {
				cells[j] = "<dbname>"
			}
		}
		out[i] = strings.Join(cells, " | ")
	}
	return out
}

func (r *Reporter) compareRows(entry, client string, ref, tgt *Result, o CompareOpts) bool {
	a, b := maskRows(ref.Rows, o.Volatile), maskRows(tgt.Rows, o.Volatile)
	if o.RefDB != o.TgtDB {
		a, b = maskDB(a, o.RefDB), maskDB(b, o.TgtDB)
	}
	if o.Unordered {
		a = sortedCopy(a)
		b = sortedCopy(b)
	}
	if len(a) != len(b) {
		r.Failed++
		r.byWhat["rows"]++
		r.Diff(entry, client, "row count", fmt.Sprint(len(a)), fmt.Sprint(len(b)))
		if r.Verbose {
			r.showRowDiff(entry, client, a, b)
		}
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			r.Failed++
			r.byWhat["rows"]++
			r.Diff(entry, client, fmt.Sprintf("row %d", i+1), a[i], b[i])
			return false
		}
	}
	r.Passed++
	return true
}

func (r *Reporter) showRowDiff(entry, client string, a, b []string) {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			fmt.Printf("   %s [%s] row %d: ref=%s target=%s\n", entry, client, i+1, clip(x), clip(y))
		}
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// hasTopLevelOrderBy reports whether the statement's outermost query has an
// ORDER BY (outside parentheses), i.e. whether row order is defined.
func hasTopLevelOrderBy(sql string) bool {
	u := strings.ToUpper(sql)
	depth := 0
	inStr, inIdent := false, false
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case inStr:
			if c == '\'' {
				inStr = false
			}
		case inIdent:
			if c == '"' {
				inIdent = false
			}
		case c == '\'':
			inStr = true
		case c == '"':
			inIdent = true
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && strings.HasPrefix(u[i:], "ORDER") && (i == 0 || !isIdentByte(u[i-1])):
			rest := strings.TrimLeft(u[i+5:], " \t\n\r")
			if strings.HasPrefix(rest, "BY") {
				return true
			}
		}
	}
	return false
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

func fatalf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "mgdiff: "+format+"\n", a...)
	os.Exit(2)
}
