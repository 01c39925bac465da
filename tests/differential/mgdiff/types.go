package main

// --types: compare the statement description (ParameterDescription +
// RowDescription) the target gives for each runtime statement with
// runtime-queries.types.tsv, which was produced with PREPARE / \gdesc on
// PostgreSQL 15. Informational: PostgreSQL is the oracle of the real
// comparison; this line tells which inferred types the target gets wrong even
// when no sample execution happened to show it.

import (
	"fmt"
	"os"
	"strings"

	pgx "github.com/jackc/pgx/v4"
)

// formatType renders an OID + typmod the way PostgreSQL's format_type() does
// for the types that occur in Grafana's schema.
func formatType(oid uint32, typmod int32) string {
	mod := func(base string) string {
		if typmod >= 4 {
			return fmt.Sprintf("%s(%d)", base, typmod-4)
		}
		return base
	}
	switch oid {
	case 16:
		return "boolean"
	case 17:
		return "bytea"
	case 18:
		return `"char"`
	case 19:
		return "name"
	case 20:
		return "bigint"
	case 21:
		return "smallint"
	case 23:
		return "integer"
	case 25:
		return "text"
	case 26:
		return "oid"
	case 114:
		return "json"
	case 700:
		return "real"
	case 701:
		return "double precision"
	case 705:
		return "unknown"
	case 1042:
		return mod("character")
	case 1043:
		return mod("character varying")
	case 1082:
		return "date"
	case 1114:
		return "timestamp without time zone"
	case 1184:
		return "timestamp with time zone"
	case 1700:
		if typmod >= 4 {
			p := (typmod - 4) >> 16
			s := (typmod - 4) & 0xffff
			return fmt.Sprintf("numeric(%d,%d)", p, s)
		}
		return "numeric"
	case 2950:
		return "uuid"
	case 3802:
		return "jsonb"
	}
	return fmt.Sprintf("oid %d", oid)
}

func checkTypes(rep *Reporter, cfg RuntimeConfig, stmts []*Statement) error {
	tsv, order, err := ParseTypes(cfg.Types)
	if err != nil {
		return err
	}
	byEntry := map[string]*Statement{}
	for _, st := range stmts {
		byEntry[st.Entry] = st
	}
	for _, side := range []struct{ name, dsn string }{{"ref", cfg.RefDSN}, {"target", cfg.TgtDSN}} {
		ctx, cancel := stepCtx()
		conn, err := pgx.Connect(ctx, side.dsn)
		cancel()
		if err != nil {
			rep.Info(false, fmt.Sprintf("TYPES [%s] connect: %v", side.name, err))
			continue
		}
		for _, e := range order {
			te := tsv[e]
			st := byEntry[e]
			if st == nil {
				rep.Info(false, fmt.Sprintf("TYPES %s: entry not found in %s", e, cfg.Queries))
				continue
			}
			if te.Start != "" && !strings.HasPrefix(collapseWS(st.SQL), te.Start) {
				fmt.Fprintf(os.Stderr, "mgdiff: warning: %s statement text does not match the TSV (%q)\n", e, te.Start)
			}
			ctx, cancel := stepCtx()
			// Unnamed Parse + Describe(S) + Sync: the description without executing.
			sd, err := conn.PgConn().Prepare(ctx, "", st.SQL, nil)
			cancel()
			want := describeTSV(te)
			got := ""
			if err != nil {
				t, _ := errText(err)
				got = "error " + t
				if conn.IsClosed() {
					ctx, cancel := stepCtx()
					conn, _ = pgx.Connect(ctx, side.dsn)
					cancel()
					if conn == nil {
						break
					}
				}
			} else {
				var ps, cs []string
				for _, o := range sd.ParamOIDs {
					ps = append(ps, formatType(o, -1))
				}
				for _, f := range sd.Fields {
					cs = append(cs, string(f.Name)+" "+formatType(f.DataTypeOID, f.TypeModifier))
				}
				got = "params(" + strings.Join(ps, ",") + ") columns(" + strings.Join(cs, "; ") + ")"
			}
			if side.name == "ref" {
				// The reference should reproduce the TSV; a mismatch points at the
				// schema setup or the TSV, not at the target.
				if got != want && rep.Verbose {
					fmt.Printf("# TYPES %s [ref] tsv=%s ref=%s\n", e, want, got)
				}
				continue
			}
			rep.Info(got == want, fmt.Sprintf("TYPES %s [target] tsv=%s target=%s", e, clip(want), clip(got)))
		}
		if conn != nil {
			ctx, cancel := stepCtx()
			conn.Close(ctx)
			cancel()
		}
	}
	return nil
}

func describeTSV(te *TypesEntry) string {
	var cs []string
	for _, c := range te.Columns {
		cs = append(cs, c.Name+" "+c.Type)
	}
	return "params(" + strings.Join(te.ParamTypes, ",") + ") columns(" + strings.Join(cs, "; ") + ")"
}
