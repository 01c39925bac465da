#!/usr/bin/python3
"""bench/ha's report: Markdown from WORK/meta.txt and WORK/results.jsonl (one JSON object a run,
written by run.sh). Usage: report.py META RESULTS > OUT.md"""
import json
import statistics
import sys
from collections import defaultdict


def secs(v):
    return "–" if v is None else f"{v / 1000:.1f}"


def rel(t, ev):
    return None if not t or ev is None else t - ev


def med_range(vals, fmt):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "–"
    m = statistics.median(vals)
    if len(vals) == 1:
        return fmt(m)
    return f"{fmt(m)} [{fmt(min(vals))}–{fmt(max(vals))}]"


def main():
    meta_path, results_path = sys.argv[1], sys.argv[2]
    meta = [l.rstrip("\n") for l in open(meta_path) if l.strip()]
    runs = [json.loads(l) for l in open(results_path) if l.strip()]
    out = []
    p = out.append
    p("# Client-visible failover: Patroni + etcd + HAProxy vs metagate")
    p("")
    p("```")
    out.extend(meta)
    p("```")
    p("")
    p("Times in seconds. \"event\" = the `patronictl switchover` call, the kill -9 of the primary's "
      "Patroni and postmaster (kill), or of its Patroni alone (patroni-kill: PostgreSQL keeps running). Outage = from the start of the first failed or stalled (> 1 s) operation to "
      "the end of the next successful one (the longest such span in the run); gap = the longest interval "
      "between the completions of two consecutive successful operations (a 10 ms pace makes ~0.01 s normal). "
      "Leader = Patroni's /cluster names the other node leader; writable = that node answers "
      "pg_is_in_recovery() = false. Missing = acknowledged writes absent on the leader after the run "
      "(with when they were acknowledged, relative to the event).")
    p("")

    # Summary per scenario x path.
    groups = defaultdict(list)
    order = []
    for r in runs:
        k = (r["scenario"], r["path"])
        if k not in groups:
            order.append(k)
        groups[k].append(r)
    p("## Summary (median [min–max] over the runs)")
    p("")
    p("| scenario | path | runs done | failed writes | failed reads | write outage | read outage | "
      "longest write gap | event → leader | event → writable | missing acked writes (sum) |")
    p("|---|---|---|---|---|---|---|---|---|---|---|")
    for k in order:
        rs = groups[k]
        done = [r for r in rs if r.get("probe")]
        pr = [r["probe"] for r in done]
        nfmt = lambda v: f"{v:g}"
        p("| {} | {} | {}/{} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            k[0], k[1], sum(1 for r in done if r.get("result") == "ok"), len(rs),
            med_range([x.get("write", {}).get("failed") for x in pr], nfmt),
            med_range([x.get("read", {}).get("failed") for x in pr], nfmt),
            med_range([x.get("write", {}).get("longest_outage_ms") for x in pr], secs),
            med_range([x.get("read", {}).get("longest_outage_ms") for x in pr], secs),
            med_range([x.get("write", {}).get("longest_gap_ms") for x in pr], secs),
            med_range([rel(r.get("leader_ms"), r.get("event_ms")) for r in done], secs),
            med_range([rel(r.get("writable_ms"), r.get("event_ms")) for r in done], secs),
            sum(r.get("verify", {}).get("missing", 0) or 0 for r in done) if done else "–"))
    p("")

    p("## Runs")
    p("")
    p("| scenario | path | run | result | leader | event → leader | event → writable | "
      "writes ok/failed | reads ok/failed | write outage | write gap | read outage | read gap | "
      "writes disturbed (s after event) | missing acked |")
    p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        pr = r.get("probe")
        if not pr:
            p(f"| {r['scenario']} | {r['path']} | {r['run']} | {r.get('result', '?')} |" + " |" * 11)
            continue
        ev = r.get("event_ms")
        w, rd = pr.get("write", {}), pr.get("read", {})
        if w.get("first_bad_ms"):
            a = w["first_bad_ms"] - ev
            b = w["first_bad_ms"] + w.get("disruption_ms", 0) - ev
            dist = f"{a / 1000:+.1f} … {b / 1000:+.1f}" + (" (unrecovered)" if w.get("unrecovered") else "")
            if w.get("outages", 0) > 1:
                dist += f", {w['outages']} outages"
        else:
            dist = "none"
        ver = r.get("verify") or {}
        missing = ver.get("missing")
        if missing is None:
            missing = "?"
        else:
            acked_at = ""
            if missing and ver.get("missing_first_ack_ms") and ev is not None:
                a = (ver["missing_first_ack_ms"] - ev) / 1000
                b = (ver["missing_last_ack_ms"] - ev) / 1000
                acked_at = f" (acked {a:+.3f} s)" if a == b else f" (acked {a:+.3f} … {b:+.3f} s)"
            missing = f"{missing} of {ver.get('acked')}{acked_at}"
        p("| {} | {} | {} | {} | {} → {} | {} | {} | {}/{} | {}/{} | {} | {} | {} | {} | {} | {} |".format(
            r["scenario"], r["path"], r["run"], r.get("result"), r.get("old_leader"), r.get("new_leader") or "?",
            secs(rel(r.get("leader_ms"), ev)), secs(rel(r.get("writable_ms"), ev)),
            w.get("ok"), w.get("failed"), rd.get("ok"), rd.get("failed"),
            secs(w.get("longest_outage_ms")), secs(w.get("longest_gap_ms")),
            secs(rd.get("longest_outage_ms")), secs(rd.get("longest_gap_ms")), dist, missing))
    p("")

    p("## Errors the client saw (summed over the runs)")
    p("")
    p("| scenario | path | op | SQLSTATE / class | message | count |")
    p("|---|---|---|---|---|---|")
    any_err = False
    for k in order:
        agg = defaultdict(int)
        for r in groups[k]:
            for e in (r.get("probe") or {}).get("errors", []) or []:
                agg[(e["kind"], e["sqlstate"], e["message"])] += e["count"]
        for (kind, state, msg), c in sorted(agg.items(), key=lambda x: -x[1]):
            any_err = True
            msg = msg.replace("|", "\\|")
            if len(msg) > 140:
                msg = msg[:140] + "…"
            p(f"| {k[0]} | {k[1]} | {kind} | {state} | {msg} | {c} |")
    if not any_err:
        p("| – | – | – | – | none | 0 |")
    p("")
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
