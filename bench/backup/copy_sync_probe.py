#!/usr/bin/env python3
"""Does the fsync of a snapshot's temporary copy stall the live database's commits?

metagate's take_snapshot (src/backup/snapshot.cpp) copies the live file with SQLite's backup API
into `.tmp-<id>.db` opened with SQLite's defaults (synchronous=FULL, rollback journal): the copy's
commit fsyncs the whole ~1 GB file, although the copy is only read back (integrity_check, zstd)
and deleted. This probe reproduces that outside metagate, on the same file system:

  writer: a WAL-mode SQLite file, synchronous=FULL, one small commit every 20 ms (as a group
          commit's fdatasync of the WAL), each commit timed;
  copier: after 3 s, sqlite3 backup of SRC into a temporary file with the destination's
          synchronous=FULL (as metagate does) or OFF + journal_mode=OFF, then the file is
          read once (as the integrity check and zstd do) and deleted.

  python3 bench/backup/copy_sync_probe.py SRC.db WORKDIR [full|off ...]   (default: full off full off)

Prints, per mode, the commit latencies of the writer while the copier ran: p50, p99, max.
"""
import os, sqlite3, sys, time, multiprocessing as mp


def writer(path, stop, out):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
    lat = []
    nxt = time.monotonic()
    while not stop.is_set():
        nxt += 0.02
        t0 = time.monotonic()
        db.execute("BEGIN")
        db.execute("INSERT INTO t(v) VALUES (?)", ("x" * 200,))
        db.execute("COMMIT")
        lat.append((t0, time.monotonic() - t0))
        d = nxt - time.monotonic()
        if d > 0:
            time.sleep(d)
    out.put(lat)


def copy(src, dst, mode):
    for suf in ("", "-journal"):
        try:
            os.unlink(dst + suf)
        except FileNotFoundError:
            pass
    s = sqlite3.connect("file:%s?mode=ro&immutable=1" % src, uri=True)  # no -wal/-shm next to SRC
    d = sqlite3.connect(dst)
    if mode == "off":
        d.execute("PRAGMA synchronous=OFF")
        d.execute("PRAGMA journal_mode=OFF")
    t0 = time.monotonic()
    s.backup(d)
    t1 = time.monotonic()
    d.close()
    s.close()
    with open(dst, "rb") as f:  # read back once (integrity_check, zstd)
        while f.read(1 << 20):
            pass
    t2 = time.monotonic()
    os.unlink(dst)
    return t0, t1, t2, time.monotonic()


def pct(v, p):
    v = sorted(v)
    return v[max(0, int(-(-p * len(v) // 1)) - 1)] if v else float("nan")


def main():
    src, work = sys.argv[1], sys.argv[2]
    modes = sys.argv[3:] or ["full", "off", "full", "off"]
    os.makedirs(work, exist_ok=True)
    for mode in modes:
        os.system("sync")
        time.sleep(2)
        live = os.path.join(work, "live.db")
        stop, out = mp.Event(), mp.Queue()
        w = mp.Process(target=writer, args=(live, stop, out))
        w.start()
        time.sleep(3)
        c0, c1, c2, c3 = copy(src, os.path.join(work, "copy.db"), mode)
        time.sleep(2)
        stop.set()
        lat = out.get()
        w.join()
        during = [l * 1000 for (t, l) in lat if c0 <= t <= c3 + 1]
        before = [l * 1000 for (t, l) in lat if t < c0]
        print("synchronous=%-4s copy %.1f s, read back %.1f s | commits before: p50 %.1f p99 %.1f max %.1f ms"
              " | during copy+read+unlink: n=%d p50 %.1f p99 %.1f max %.1f ms"
              % (mode, c1 - c0, c2 - c1, pct(before, .5), pct(before, .99), max(before or [0]),
                 len(during), pct(during, .5), pct(during, .99), max(during or [0])), flush=True)


if __name__ == "__main__":
    main()
