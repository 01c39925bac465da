#!/usr/bin/env python3
"""Rows of the disk-full test (tests/integration/diskfull/run.sh): 64 KiB bodies, one per id
(ids from 100000 on: small ones), the same on the client and in what the server must return.

  rows.py insert ID...      one INSERT statement per id (a psql script)
  rows.py expect FILE       "id|md5(body)" for every id listed in FILE (one per line), sorted:
                            what `SELECT id, md5(body) FROM big ORDER BY id` must print (psql -At)
  rows.py dump DBFILE       the same lines read from a SQLite file directly (read-only)
"""
import hashlib
import sys

BODY_BYTES = 64 * 1024


SMALL_FROM = 100000  # ids from here on get a small body (a commit of one or two pages)


def body(i: int) -> str:
    # Unique per row (the id and its hash lead), compressible (snapshots stay small) but never
    # shared between rows, so that every row takes its own WAL and segment pages.
    seed = hashlib.sha256(str(i).encode()).hexdigest()
    if i >= SMALL_FROM:
        return "%08d:" % i + seed
    text = "%08d:" % i + seed * (BODY_BYTES // len(seed) + 1)
    return text[:BODY_BYTES]


def main() -> int:
    if len(sys.argv) >= 3 and sys.argv[1] == "insert":
        out = []
        for a in sys.argv[2:]:
            i = int(a)
            out.append("INSERT INTO big (id, body) VALUES (%d, '%s');" % (i, body(i)))
        sys.stdout.write("\n".join(out) + "\n")
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "expect":
        with open(sys.argv[2]) as f:
            ids = sorted({int(line) for line in f if line.strip()})
        for i in ids:
            print("%d|%s" % (i, hashlib.md5(body(i).encode()).hexdigest()))
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "dump":
        import sqlite3
        db = sqlite3.connect("file:%s?mode=ro" % sys.argv[2], uri=True)
        for i, b in db.execute("SELECT id, body FROM big ORDER BY id"):
            print("%d|%s" % (i, hashlib.md5(b.encode()).hexdigest()))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
