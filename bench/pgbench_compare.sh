#!/usr/bin/env bash
# pgbench: metagate-on-SQLite vs PostgreSQL 15 directly, on the same machine, interleaved in
# one run (the 2 shared cores make absolute numbers noisy; compare the ratios).
#
#   bench/pgbench_compare.sh [METAGATE_BIN]      (default build/bin/metagate, the release build)
#
# env: SCALE=10 CLIENTS=8 THREADS=2 DURATION=20 ROUNDS=1 MODES="simple extended prepared"
#      WORKLOADS="select-only tpcb-like" WORK=/tmp/metagate-bench
#      VARIANTS="nogc"   extra metagate configurations, each its own daemon and SQLite file:
#                        nogc = sqlite.group_commit false (SQLite fsyncs every commit itself),
#                        mmap = sqlite.mmap_size_mib 512,
#                        baseline = another metagate binary (BASELINE_BIN) with the defaults,
#                        to measure a change side by side. Empty for none.
# Each side gets its own `pgbench -i -s SCALE` (through metagate this exercises COPY,
# ALTER TABLE ... ADD PRIMARY KEY and VACUUM). PostgreSQL runs with fsync=on, metagate with
# its defaults (synchronous=full + group commit): both acknowledge only durable commits.
# Every (workload, mode) cell runs each side back to back, ROUNDS times; the table reports the
# median tps and latency per side. Output: a table and $WORK/results.tsv (one line per run).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
bin=${1:-$repo/build/bin/metagate}
SCALE=${SCALE:-10}; C=${CLIENTS:-8}; J=${THREADS:-2}; T=${DURATION:-20}; ROUNDS=${ROUNDS:-1}
MODES=${MODES:-simple extended prepared}; WORKLOADS=${WORKLOADS:-select-only tpcb-like}
VARIANTS=${VARIANTS-nogc}
WORK=${WORK:-/tmp/metagate-bench}
PGB=/usr/lib/postgresql/15/bin/pgbench
. "$repo/tests/support/pg.sh"
rm -rf "$WORK"; mkdir -p "$WORK"
pgdir=$(mktemp -d /tmp/mgbench-pg.XXXXXX)
declare -A PORT PID
cleanup() {
  for s in "${!PID[@]}"; do kill "${PID[$s]}" 2>/dev/null; done
  for s in "${!PID[@]}"; do wait "${PID[$s]}" 2>/dev/null; done
  pg_stop "$pgdir" >/dev/null 2>&1; rm -rf "$pgdir"
}
trap cleanup EXIT
# Tests run PostgreSQL with fsync=off; the benchmark needs durable commits on both sides.
PG_FSYNC=on pg_start "$pgdir" >/dev/null || { echo "could not start PostgreSQL"; exit 1; }
pgfsync=$(psql -X -qAt -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "SHOW fsync")
[ "$pgfsync" = on ] || { echo "PostgreSQL runs with fsync=$pgfsync"; exit 1; }
PORT[postgres]=$PG_PORT
sides=(postgres metagate)
start_mg() {  # side sqlite-json [binary]
  local side=$1 conf=$WORK/$1.json b=${3:-$bin}
  printf '{"databases": {"*": {"backend": "sqlite", "path": "%s"}}, "sqlite": %s}\n' "$WORK/$side.db" "$2" > "$conf"
  MG_LOG=$WORK/$side.log metagate_start "$b" "$WORK/$side.db" --config "$conf" >/dev/null || { echo "could not start $side"; exit 1; }
  PORT[$side]=$MG_PORT; PID[$side]=$MG_PID; unset MG_PID
}
start_mg metagate '{}'
for v in $VARIANTS; do
  case $v in
    nogc) start_mg metagate-nogc '{"group_commit": false}' ;;
    mmap) start_mg metagate-mmap '{"mmap_size_mib": 512}' ;;
    baseline) [ -x "${BASELINE_BIN:-}" ] || { echo "baseline needs BASELINE_BIN"; exit 2; }
              MG_METRICS_FLAG=$("$BASELINE_BIN" serve --help 2>&1 | grep -q -- --metrics && echo 1 || echo 0) \
                start_mg metagate-baseline '{}' "$BASELINE_BIN" ;;
    *) echo "unknown variant $v"; exit 2 ;;
  esac
  sides+=("metagate-$v")
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "command: ${BASELINE_BIN:+BASELINE_BIN=$BASELINE_BIN }SCALE=$SCALE CLIENTS=$C THREADS=$J DURATION=$T ROUNDS=$ROUNDS MODES=\"$MODES\" WORKLOADS=\"$WORKLOADS\" VARIANTS=\"$VARIANTS\" bench/pgbench_compare.sh $bin"
echo "postgres $(psql -X -qAt -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "SHOW server_version") (fsync=$pgfsync)"
for s in "${sides[@]}"; do echo "  $s: 127.0.0.1:${PORT[$s]}"; done
for s in "${sides[@]}"; do
  start=$(date +%s.%N)
  $PGB -i -q -s "$SCALE" -h 127.0.0.1 -p "${PORT[$s]}" -U postgres postgres > "$WORK/init-$s.log" 2>&1 || { echo "init $s failed"; cat "$WORK/init-$s.log"; exit 1; }
  printf 'init %-16s pgbench -i -s %s in %.1f s\n' "$s" "$SCALE" "$(echo "$(date +%s.%N) - $start" | bc)"
done
R=$WORK/results.tsv; : > "$R"
run() {  # workload mode side round
  local flag=""; [ "$1" = select-only ] && flag="-S"
  local log=$WORK/$1-$2-$3-$4.log
  $PGB $flag -M "$2" -c "$C" -j "$J" -T "$T" -n -h 127.0.0.1 -p "${PORT[$3]}" -U postgres postgres > "$log" 2>&1
  local tps lat fail
  tps=$(grep -oP 'tps = \K[0-9.]+' "$log" | head -1); lat=$(grep -oP 'latency average = \K[0-9.]+' "$log")
  fail=$(grep -oP 'number of failed transactions: \K[0-9]+' "$log")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${tps:-0}" "${lat:-NaN}" "${fail:-ERR}" | tee -a "$R"
}
for wl in $WORKLOADS; do
  for mode in $MODES; do
    for r in $(seq 1 "$ROUNDS"); do
      for s in "${sides[@]}"; do run "$wl" "$mode" "$s" "$r"; done
    done
  done
done
echo
echo "medians; ratio = side / postgres (tps: higher is better; latency: lower is better):"
python3 - "$R" <<'PY'
import sys, statistics, collections
runs = collections.defaultdict(list)
order = []
for line in open(sys.argv[1]):
    wl, mode, side, rnd, tps, lat, fail = line.rstrip("\n").split("\t")
    key = (wl, mode)
    if key not in order: order.append(key)
    runs[key + (side,)].append((float(tps), float(lat), fail))
for key in order:
    sides = [k[2] for k in runs if k[:2] == key]
    pt = statistics.median(t for t, _, _ in runs[key + ("postgres",)])
    pl = statistics.median(l for _, l, _ in runs[key + ("postgres",)])
    for side in sides:
        r = runs[key + (side,)]
        t = statistics.median(x for x, _, _ in r); l = statistics.median(y for _, y, _ in r)
        fails = ",".join(f for _, _, f in r)
        print(f"  {key[0]+' '+key[1]:<24} {side:<16} tps {t:9.1f}  x{t/pt:.2f}   latency {l:7.3f} ms  x{l/pl:.2f}   failed {fails}")
PY
