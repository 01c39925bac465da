// mgdiff: differential tester for metagate.
//
// PostgreSQL 15 is the oracle. The same Grafana traffic goes, through real Go
// drivers (lib/pq — Grafana's driver — and pgx v4), to a reference PostgreSQL
// database and to the target (metagate), and every observable difference is
// reported: errors (SQLSTATE + message), column names, column types, rows,
// command tags / rows affected.
//
//	mgdiff migrations --ref DSN --target DSN --corpus FILE
//	mgdiff runtime    --ref DSN --target DSN --queries FILE [--params FILE] [--setup FILE] [--types FILE]
//
// Common options: --max-diffs N (print at most N difference lines), --verbose,
// --timeout SECONDS (per round trip). Output ends with "N passed, M failed";
// the exit status is 1 if anything differed, 2 on usage/setup errors.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	_ "github.com/lib/pq"
)

func usage() {
	fmt.Fprintf(os.Stderr, `usage:
  mgdiff migrations --ref DSN --target DSN --corpus FILE [options]
  mgdiff runtime    --ref DSN --target DSN --queries FILE [--params FILE] [--setup FILE] [--types FILE] [options]
  mgdiff list FILE  (print the runtime statements with their entry ids)
options: --max-diffs N  --verbose  --timeout SECONDS  --clients libpq,pgx,pgx-simple
`)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd := os.Args[1]
	if cmd == "list" && len(os.Args) == 3 {
		// mgdiff list FILE: the runtime statements with their entry ids.
		stmts, err := ParseRuntime(os.Args[2])
		if err != nil {
			fatalf("%v", err)
		}
		for _, st := range stmts {
			fmt.Printf("%-8s line %-4d %s\n", st.Entry, st.Line, clip(collapseWS(st.SQL)))
		}
		return
	}
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	ref := fs.String("ref", "", "reference DSN (PostgreSQL)")
	tgt := fs.String("target", "", "target DSN (metagate)")
	corpus := fs.String("corpus", "", "migrations corpus (migrations subcommand)")
	queries := fs.String("queries", "", "runtime-queries.sql (runtime subcommand)")
	params := fs.String("params", "", "runtime-params.json")
	setup := fs.String("setup", "", "setup script run on both sides before the runtime statements")
	types := fs.String("types", "", "runtime-queries.types.tsv (informational check of the target's descriptions)")
	clients := fs.String("clients", strings.Join(ClientNames, ","), "clients for the runtime subcommand")
	maxDiffs := fs.Int("max-diffs", 0, "print at most N difference lines (0 = all)")
	verbose := fs.Bool("verbose", false, "print progress and skipped entries")
	timeout := fs.Int("timeout", 60, "seconds allowed for one round trip")
	fs.Usage = usage
	fs.Parse(os.Args[2:])
	if *ref == "" || *tgt == "" {
		usage()
	}
	stepTimeout = time.Duration(*timeout) * time.Second
	rep := NewReporter(*maxDiffs, *verbose)

	var err error
	title := cmd
	switch cmd {
	case "migrations":
		if *corpus == "" {
			usage()
		}
		title = "migrations " + baseName(*corpus)
		rep.Title = title
		fmt.Printf("== mgdiff migrations %s\n", baseName(*corpus))
		err = RunMigrations(rep, *ref, *tgt, *corpus)
	case "runtime":
		if *queries == "" {
			usage()
		}
		var cl []string
		for _, c := range strings.Split(*clients, ",") {
			if c = strings.TrimSpace(c); c != "" {
				cl = append(cl, c)
			}
		}
		rep.Title = title
		fmt.Printf("== mgdiff runtime %s (clients %s)\n", baseName(*queries), strings.Join(cl, ", "))
		err = RunRuntime(rep, RuntimeConfig{
			RefDSN: *ref, TgtDSN: *tgt, Queries: *queries, Params: *params,
			Setup: *setup, Types: *types, Clients: cl,
		})
	default:
		usage()
	}
	if err != nil {
		fatalf("%v", err)
	}
	rep.Summary(title)
	os.Exit(rep.ExitCode())
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func readFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}
