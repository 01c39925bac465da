#!/usr/bin/env python3
"""Checks the Grafana dashboard and Prometheus alert rules against a real /metrics scrape.

usage: check_dashboard.py --dashboard DASHBOARD.json --scrape SCRAPE.txt [--alerts ALERTS.yml]
       check_dashboard.py --self-test

Checks:
  * the dashboard JSON loads and has a title, a uid and panels; panel ids are unique;
  * every panel (rows excepted, panels nested in collapsed rows included) has a datasource
    and at least one target with a non-empty `expr`;
  * every metric selector in a dashboard expr carries the matcher instance=~"$instance";
  * every metric referenced by a dashboard expr, a template variable query or an alert
    rule expr is in the scrape (Prometheus text format 0.0.4, `# TYPE name type` lines and
    sample lines); X_bucket / X_sum / X_count are satisfied by a histogram X; `up` is
    exempt (Prometheus makes it);
  * histogram_quantile()'s series argument is the _bucket series of a histogram;
  * rate() / irate() / increase() are applied only to counters or histogram series;
  * alert rules have a name, an expr, a severity label and summary/description
    annotations.

One line per problem, exit status 1 if there is any; on success prints
"N panels, M metric references, all present".
"""

import argparse
import json
import re
import sys

METRIC_PREFIX = "metagate_"
EXEMPT = {"up"}
RATE_FUNCS = {"rate", "irate", "increase"}
# Keywords followed by a parenthesised list of label names, not an expression.
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
INSTANCE_MATCHER = re.compile(r'(?:^|,)\s*instance\s*=~\s*"\$(?:instance|\{instance\})"\s*(?:,|$)')

_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?:[a-zA-Z]+\d*)*")


# ----------------------------------------------------------------------------- scrape

def parse_scrape(text):
    """Returns {name: type} from `# TYPE` lines plus sample names (type 'untyped' unless a
    TYPE line, or a histogram/summary family, covers them)."""
    types = {}
    samples = set()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3].strip()
            continue
        m = _IDENT.match(line)
        if m:
            samples.add(m.group(0))
    for name in samples:
        if name in types:
            continue
        base = family_of(name, types)
        if base is None:
            types[name] = "untyped"
    return types


def family_of(name, types):
    """The histogram/summary family a _bucket/_sum/_count series belongs to, or None."""
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            t = types.get(base)
            if t == "histogram" or (t == "summary" and suffix != "_bucket"):
                return base
    return None


def classify(name, types):
    """(kind, detail): kind is one of counter, gauge, untyped, histogram_series,
    summary_series, bare_histogram, missing."""
    if name in types:
        t = types[name]
        if t in ("histogram", "summary"):
            return "bare_" + t, t
        return t, t
    base = family_of(name, types)
    if base is not None:
        return types[base] + "_series", base
    # OpenMetrics style: `# TYPE foo counter` exposes foo_total.
    if name.endswith("_total") and types.get(name[: -len("_total")]) == "counter":
        return "counter", "counter"
    return "missing", None


# ----------------------------------------------------------------------------- PromQL

def tokenize(expr):
    """Tokens (kind, value) of a PromQL expression with Grafana variables. Kinds: ident,
    number, string, selector (content of {...}), range ([...] skipped), '(', ')', ',', op.
    Comments, string literals and Grafana variables ($x, ${x}, [[x]]) never yield idents."""
    toks = []
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c.isspace():
            i += 1
        elif c == "#":
            j = expr.find("\n", i)
            i = n if j < 0 else j + 1
        elif c in "\"'`":
            j = i + 1
            while j < n and expr[j] != c:
                j += 2 if (expr[j] == "\\" and c != "`") else 1
            toks.append(("string", expr[i + 1 : j]))
            i = j + 1
        elif c == "{":
            j = i + 1
            while j < n and expr[j] != "}":
                if expr[j] in "\"'`":
                    q = expr[j]
                    j += 1
                    while j < n and expr[j] != q:
                        j += 2 if (expr[j] == "\\" and q != "`") else 1
                j += 1
            toks.append(("selector", expr[i + 1 : j]))
            i = j + 1
        elif c == "[":
            depth, j = 0, i
            while j < n:
                if expr[j] == "[":
                    depth += 1
                elif expr[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            toks.append(("range", expr[i + 1 : j]))
            i = j + 1
        elif c == "$":
            if i + 1 < n and expr[i + 1] == "{":
                j = expr.find("}", i)
                i = n if j < 0 else j + 1
            else:
                m = _IDENT.match(expr, i + 1)
                i = m.end() if m else i + 1
            toks.append(("number", "$var"))
        elif c in "(),":
            toks.append((c, c))
            i += 1
        elif c.isdigit() or (c == "." and i + 1 < n and expr[i + 1].isdigit()):
            m = _NUMBER.match(expr, i)
            toks.append(("number", m.group(0)))
            i = m.end()
        else:
            m = _IDENT.match(expr, i)
            if m:
                toks.append(("ident", m.group(0)))
                i = m.end()
            else:
                toks.append(("op", c))
                i += 1
    return toks


_NAME_MATCHER = re.compile(r'__name__\s*=\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"')


def metric_refs(expr):
    """[(name, selector or None, calls)]: calls lists the enclosing function calls
    innermost first, each as (function name, index of the argument holding the ref)."""
    toks = tokenize(expr)
    refs = []
    # stack of frames: [function name or None, arg index]
    stack = []
    i = 0
    while i < len(toks):
        kind, val = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else (None, None)
        if kind == "ident" and val in LABEL_LIST_KEYWORDS and nxt[0] == "(":
            # skip the label list
            depth, j = 0, i + 1
            while j < len(toks):
                if toks[j][0] == "(":
                    depth += 1
                elif toks[j][0] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            i = j + 1
            continue
        if kind == "ident" and nxt[0] == "(":
            stack.append([val, 0])
            i += 2
            continue
        if kind == "(":
            stack.append([None, 0])
        elif kind == ")":
            if stack:
                stack.pop()
        elif kind == ",":
            if stack:
                stack[-1][1] += 1
        elif kind == "ident" or kind == "selector":
            name = None
            selector = None
            if kind == "ident" and (val.startswith(METRIC_PREFIX) or val in EXEMPT):
                name = val
                if nxt[0] == "selector":
                    selector = nxt[1]
                    i += 1
            elif kind == "selector":
                m = _NAME_MATCHER.search(val)
                if m:
                    name, selector = m.group(1), val
            if name is not None:
                calls = [(f, a) for f, a in reversed(stack) if f is not None]
                refs.append((name, selector, calls))
        i += 1
    return refs


def check_expr(expr, where, types, problems, require_instance=False):
    refs = metric_refs(expr)
    for name, selector, calls in refs:
        func = calls[0][0] if calls else None
        if name in EXEMPT:
            continue
        kind, detail = classify(name, types)
        if kind == "missing":
            problems.append(f"{where}: metric {name} is not in the scrape")
        elif kind.startswith("bare_"):
            problems.append(f"{where}: {name} is a {detail}; select {name}_bucket, "
                            f"{name}_sum or {name}_count")
        if require_instance and not (selector and INSTANCE_MATCHER.search(selector)):
            problems.append(f'{where}: {name} lacks the selector {{instance=~"$instance"}}')
        if func in RATE_FUNCS and kind != "missing":
            if kind not in ("counter", "histogram_series", "summary_series"):
                problems.append(f"{where}: {func}() applied to {name}, a {kind} "
                                f"(only counters and histogram series)")
        if ("histogram_quantile", 1) in calls:
            if not (kind == "histogram_series" and name.endswith("_bucket")):
                problems.append(f"{where}: histogram_quantile() over {name}, which is not "
                                f"the _bucket series of a histogram")
    toks = tokenize(expr)
    calls_hq = any(toks[k] == ("ident", "histogram_quantile") and toks[k + 1][0] == "("
                   for k in range(len(toks) - 1))
    if calls_hq and not any(("histogram_quantile", 1) in c for _, _, c in refs):
        problems.append(f"{where}: histogram_quantile() without a _bucket series argument")
    return len(refs)


# ----------------------------------------------------------------------------- dashboard

def iter_panels(panels):
    for p in panels or []:
        yield p
        if p.get("type") == "row":
            yield from iter_panels(p.get("panels"))


def check_dashboard(dash, types, problems, require_instance=True):
    """Returns (panel count, metric reference count)."""
    if not isinstance(dash, dict):
        problems.append("dashboard: top level is not a JSON object")
        return 0, 0
    # An export wrapped as {"dashboard": {...}} (API format) is accepted too.
    if "dashboard" in dash and "panels" not in dash:
        dash = dash["dashboard"]
    for key in ("title", "uid"):
        if not dash.get(key):
            problems.append(f"dashboard: no {key}")
    if not dash.get("panels"):
        problems.append("dashboard: no panels")
    nrefs = 0
    npanels = 0
    ids = {}
    for p in iter_panels(dash.get("panels")):
        pid = p.get("id")
        title = p.get("title") or f"<untitled id={pid}>"
        if pid is not None:
            if pid in ids:
                problems.append(f'panel "{title}": id {pid} also used by "{ids[pid]}"')
            ids[pid] = title
        if p.get("type") in ("row", "text", "news", "dashlist"):
            continue
        npanels += 1
        where = f'panel "{title}"'
        if "gridPos" not in p:
            problems.append(f"{where}: no gridPos")
        targets = p.get("targets") or []
        if not p.get("datasource") and not (targets and all(t.get("datasource") for t in targets)):
            problems.append(f"{where}: no datasource")
        exprs = [t for t in targets if isinstance(t.get("expr"), str) and t["expr"].strip()]
        if not exprs:
            problems.append(f"{where}: no target with an expr")
        refids = [t.get("refId") for t in targets]
        if len(set(refids)) != len(refids):
            problems.append(f"{where}: duplicate refId in {refids}")
        for t in exprs:
            nrefs += check_expr(t["expr"], f'{where} target {t.get("refId", "?")}', types,
                                problems, require_instance)
    for var in (dash.get("templating") or {}).get("list") or []:
        if var.get("type") != "query":
            continue
        q = var.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if isinstance(q, str) and q.strip():
            nrefs += check_expr(q, f'variable "{var.get("name")}"', types, problems)
    return npanels, nrefs


# ----------------------------------------------------------------------------- alerts

def check_alerts(doc, types, problems):
    """Returns (rule count, metric reference count)."""
    nrules = nrefs = 0
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        problems.append("alerts: no `groups` list")
        return 0, 0
    for g in doc["groups"]:
        gname = g.get("name") or "<unnamed group>"
        for r in g.get("rules") or []:
            nrules += 1
            name = r.get("alert") or r.get("record")
            where = f'alert "{name}"' if r.get("alert") else f'rule "{name}"'
            if not name:
                problems.append(f"group {gname}: rule #{nrules} has neither alert nor record")
            expr = r.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                problems.append(f"{where}: no expr")
                continue
            nrefs += check_expr(expr, where, types, problems)
            if r.get("alert"):
                if not (r.get("labels") or {}).get("severity"):
                    problems.append(f"{where}: no severity label")
                ann = r.get("annotations") or {}
                for key in ("summary", "description"):
                    if not ann.get(key):
                        problems.append(f"{where}: no {key} annotation")
    return nrules, nrefs


# ----------------------------------------------------------------------------- self-test

SELF_TEST_SCRAPE = """\
# HELP metagate_statements_total Statements executed.
# TYPE metagate_statements_total counter
metagate_statements_total{backend="sqlite",kind="select"} 12
# HELP metagate_client_connections Open client connections.
# TYPE metagate_client_connections gauge
metagate_client_connections{state="idle"} 3
# TYPE metagate_statement_duration_seconds histogram
metagate_statement_duration_seconds_bucket{backend="sqlite",le="0.001"} 5
metagate_statement_duration_seconds_bucket{backend="sqlite",le="+Inf"} 12
metagate_statement_duration_seconds_sum{backend="sqlite"} 0.5
metagate_statement_duration_seconds_count{backend="sqlite"} 12
"""

SELF_TEST_OK = [
    'sum by (kind) (rate(metagate_statements_total{instance=~"$instance"}[$__rate_interval]))',
    'histogram_quantile(0.99, sum by (backend, le) (rate(metagate_statement_duration_seconds_bucket'
    '{instance=~"$instance"}[$__rate_interval])))',
    'sum(metagate_client_connections{instance=~"$instance", state="metagate_not_a_metric"}) '
    'without (metagate_label) # metagate_in_a_comment',
    'sum(rate(metagate_statement_duration_seconds_sum{instance=~"${instance}"}[5m])) / '
    'sum(rate(metagate_statement_duration_seconds_count{instance=~"$instance"}[5m])) > 1e-3',
    'label_replace(up{instance=~"$instance"}, "metagate_dst", "$1", "instance", "(.*)")',
]

SELF_TEST_BAD = [
    # (expr, fragment the problem line must contain)
    ('sum(metagate_no_such_metric_total{instance=~"$instance"})',
     "metagate_no_such_metric_total is not in the scrape"),
    ('rate(metagate_client_connections{instance=~"$instance"}[5m])',
     "rate() applied to metagate_client_connections, a gauge"),
    ('sum(increase(metagate_client_connections{instance=~"$instance"}[1h]))',
     "increase() applied to metagate_client_connections, a gauge"),
    ('histogram_quantile(0.9, rate(metagate_statements_total{instance=~"$instance"}[5m]))',
     "histogram_quantile() over metagate_statements_total"),
    ('metagate_statement_duration_seconds{instance=~"$instance"}',
     "metagate_statement_duration_seconds is a histogram"),
    ('sum(metagate_client_connections)', 'lacks the selector {instance=~"$instance"}'),
]


def self_test():
    types = parse_scrape(SELF_TEST_SCRAPE)
    failures = []

    def panel(pid, expr):
        return {"id": pid, "type": "timeseries", "title": f"p{pid}",
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0},
                "targets": [{"refId": "A", "expr": expr}]}

    good = {"title": "t", "uid": "u",
            "panels": [{"id": 100, "type": "row", "title": "r", "panels": []}]
            + [panel(i, e) for i, e in enumerate(SELF_TEST_OK, 1)]}
    problems = []
    npanels, nrefs = check_dashboard(good, types, problems)
    if problems:
        failures.append("clean sample dashboard reported problems: " + "; ".join(problems))
    if npanels != len(SELF_TEST_OK):
        failures.append(f"counted {npanels} panels, expected {len(SELF_TEST_OK)}")
    if nrefs != 6:
        failures.append(f"counted {nrefs} metric references in the clean sample, expected 6")

    for expr, want in SELF_TEST_BAD:
        problems = []
        check_dashboard({"title": "t", "uid": "u", "panels": [panel(1, expr)]}, types, problems)
        if not any(want in p for p in problems):
            failures.append(f"not detected: {want!r} in {expr!r} (got {problems})")
        else:
            print(f"self-test: detected: {want}")

    problems = []
    check_dashboard({"title": "", "panels": [{"id": 1, "type": "stat", "title": "x",
                                              "gridPos": {}, "targets": [{"refId": "A"}]}]},
                    types, problems)
    for want in ("dashboard: no title", "dashboard: no uid", "no datasource",
                 "no target with an expr"):
        if not any(want in p for p in problems):
            failures.append(f"structure problem not detected: {want!r} (got {problems})")

    problems = []
    check_alerts({"groups": [{"name": "g", "rules": [
        {"alert": "A", "expr": "rate(metagate_client_connections[5m]) > 0"},
        {"alert": "B", "expr": "up == 0", "labels": {"severity": "critical"},
         "annotations": {"summary": "s", "description": "d"}}]}]}, types, problems)
    for want in ('alert "A": rate() applied to metagate_client_connections',
                 'alert "A": no severity label', 'alert "A": no summary annotation'):
        if not any(want in p for p in problems):
            failures.append(f"alert problem not detected: {want!r} (got {problems})")
    if any(p.startswith('alert "B"') for p in problems):
        failures.append(f"clean alert B reported: {problems}")

    for f in failures:
        print(f"self-test FAILED: {f}")
    if failures:
        return 1
    print("self-test: all detections work")
    return 0


# ----------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(
        usage="%(prog)s --dashboard DASHBOARD.json --scrape SCRAPE.txt [--alerts ALERTS.yml]"
              "\n       %(prog)s --self-test",
        description="Check the metagate Grafana dashboard and alert rules against a scrape.")
    ap.add_argument("--dashboard", help="Grafana dashboard JSON")
    ap.add_argument("--scrape", help="a /metrics scrape (Prometheus text format 0.0.4)")
    ap.add_argument("--alerts", help="Prometheus alerting rules YAML")
    ap.add_argument("--self-test", action="store_true",
                    help="prove the checks detect problems, using built-in samples")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    if not args.dashboard or not args.scrape:
        ap.error("--dashboard and --scrape are required (or --self-test)")

    problems = []
    try:
        with open(args.scrape, encoding="utf-8") as f:
            types = parse_scrape(f.read())
    except OSError as e:
        print(f"scrape: {e}")
        return 1
    if not any(n.startswith(METRIC_PREFIX) for n in types):
        problems.append(f"scrape: {args.scrape} has no {METRIC_PREFIX}* metrics")

    npanels = nrefs = 0
    try:
        with open(args.dashboard, encoding="utf-8") as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        problems.append(f"dashboard: {e}")
    else:
        npanels, nrefs = check_dashboard(dash, types, problems)

    if args.alerts:
        try:
            import yaml
        except ImportError:
            print("alerts: python3 yaml module not installed")
            return 1
        try:
            with open(args.alerts, encoding="utf-8") as f:
                doc = yaml.safe_load(f)
        except (OSError, yaml.YAMLError) as e:
            problems.append(f"alerts: {e}")
        else:
            _, arefs = check_alerts(doc, types, problems)
            nrefs += arefs

    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{npanels} panels, {nrefs} metric references, all present")
    return 0


if __name__ == "__main__":
    sys.exit(main())
