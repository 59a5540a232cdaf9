"""Transparency log benchmark: grow the moderation log through the app's own code and time it.

    python bench/tlog.py --entries 20000
    python bench/tlog.py --entries 20000 --database-url postgresql+psycopg://postgres@127.0.0.1/bench

It builds a throw-away instance (SQLite unless --database-url is given; the database is
emptied), appends log rows with `append_log` (each one also writes its public entry, leaf and
completed Merkle nodes), then measures:

  - the cost of one append with its tree update (p50/p95, committed one by one);
  - p50/p95 of an inclusion proof, a consistency proof and a root through the stored nodes;
  - an entries page of 1,000;
  - `flask audit verify`'s tree check (every entry recomputed, every checkpoint compared).

Not a test: figures depend on the machine (record them in docs/transparency-log.md).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _ms(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return f"p50 {statistics.median(samples) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--database-url")
    parser.add_argument(
        "--without-tree",
        action="store_true",
        help="baseline: append without the tree update (only the append figures mean anything)",
    )
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="tlog-bench-"))
    os.environ["FLASK_INSTANCE_PATH"] = str(instance)
    from flask_migrate import upgrade
    from sqlalchemy import text

    from forum import create_app
    from forum.extensions import db
    from moderation import audit, tlog
    from moderation.audit import append_log

    if args.without_tree:
        audit.extend_tree = lambda: 0

    url = args.database_url or f"sqlite:///{instance / 'bench.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_CHECKPOINT_MINUTES": 0})
    with app.app_context():
        if args.database_url:
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade(revision="heads")
        rng = random.Random(15)

        def append():
            append_log(
                actor=None,
                actor_role="system",
                subject_kind="review",
                subject_id=rng.randrange(10**6),
                action="submitted",
                to_state="pending",
                fingerprint=f"{rng.getrandbits(256):064x}",
            )

        bulk_start = time.perf_counter()
        for n in range(args.entries - 200):
            append()
            if n % 500 == 499:
                db.session.commit()
                if n % 20000 == 19999:
                    tlog.publish_checkpoint(respect_interval=False)
        db.session.commit()
        bulk = time.perf_counter() - bulk_start
        single = []
        for _ in range(200):
            start = time.perf_counter()
            append()
            db.session.commit()
            single.append(time.perf_counter() - start)
        if args.without_tree:
            print(
                f"baseline without tree: bulk {(args.entries - 200) / bulk:,.0f} entries/s, one append {_ms(single)}"
            )
            return
        tlog.publish_checkpoint(respect_interval=False)
        size = tlog.tree_size()

        def timed(fn, runs=200):
            samples = []
            for _ in range(runs):
                start = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - start)
                db.session.rollback()
            return samples

        inclusion = timed(lambda: tlog.inclusion(rng.randrange(size), size))
        consistency = timed(lambda: tlog.consistency(rng.randrange(1, size), size))
        root = timed(lambda: tlog.root_at(rng.randrange(1, size + 1)))
        page = timed(lambda: tlog.entries(rng.randrange(size - 1000), size), runs=20)
        start = time.perf_counter()
        result = tlog.verify_tree()
        verify = time.perf_counter() - start
        assert result.ok, result.problem

    print(f"database: {url.split(':')[0]}, entries: {size}")
    print(f"bulk append (commit every 500): {(args.entries - 200) / bulk:,.0f} entries/s")
    print(f"one append + tree update + commit: {_ms(single)}")
    print(f"inclusion proof: {_ms(inclusion)}")
    print(f"consistency proof: {_ms(consistency)}")
    print(f"root at any size: {_ms(root)}")
    print(f"entries page of 1,000: {_ms(page)}")
    print(f"audit verify tree check: {verify:.2f} s ({result.checkpoints} checkpoints)")


if __name__ == "__main__":
    main()
