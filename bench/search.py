"""Search benchmark: index a synthetic corpus through the app's own code and time it.

    python bench/search.py --docs 100000
    python bench/search.py --docs 10000 --backend postgres --database-url postgresql://postgres@127.0.0.1/bench

It builds a throw-away instance (SQLite unless --database-url is given), inserts
published reviews (and forum posts, when the forum area is installed) of about
80 words drawn from a Zipf-distributed vocabulary (bench/corpus.py, nothing is
downloaded), then measures:

  - `flask search reindex`'s code path (indexing.reindex): documents per second;
  - p50/p95 latency of rare-term, common-term, two-term, phrase and 12-word question queries
    through forum.search.services.search, i.e. including the database re-check
    of the first page and its highlighted snippets;
  - p50/p95 of publishing one review (moderation service + commit + drain)
    until a search finds it;
  - the index size.

Not a test: figures depend on the machine (record them in docs/search.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import Corpus  # noqa: E402

PRODUCTS = 500
FORUM_SHARE = 0.2  # of the documents, when the forum area exists
POSTS_PER_TOPIC = 4


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def fingerprint(title, body):
    return hashlib.sha256(
        json.dumps([title, body], ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()


def build_app(instance: Path, database_url: str | None, backend: str):
    os.environ["FLASK_INSTANCE_PATH"] = str(instance)
    from forum import create_app

    config = {
        "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{instance / 'bench.sqlite3'}",
        "SECRET_KEY": "bench",
        "SEARCH_BACKEND": backend,
        "SEARCH_INDEX_DIR": str(instance / "search-index"),
        "RATELIMIT_ENABLED": False,
        "MAIL_BACKEND": "locmem",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }
    return create_app(config)


def reset_database(app, database_url):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from forum.extensions import db

    with app.app_context():
        if database_url:
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade(revision="heads")


def insert_corpus(app, docs: int, corpus: Corpus) -> dict:
    """Bulk inserts (no per-row services): the corpus is data, not what is measured."""
    from sqlalchemy import insert

    from forum.catalog.models import Product, Review
    from forum.extensions import db
    from forum.models import User

    try:
        from forum.community.models import ForumCategory, ForumPost, ForumTopic
    except ImportError:
        ForumPost = None

    forum_docs = int(docs * FORUM_SHARE) if ForumPost is not None else 0
    review_docs = docs - forum_docs
    users = max(50, -(-review_docs // PRODUCTS))
    now = datetime.now(UTC)
    rng = random.Random(5)

    def when():
        return now - timedelta(seconds=rng.randint(60, 2 * 365 * 86400))

    with app.app_context():
        password_hash = "pbkdf2:sha256:1000$bench$" + "0" * 64
        db.session.execute(
            insert(User),
            [
                dict(
                    email=f"member{n}@bench.example",
                    display_name=f"Member {n}",
                    password_hash=password_hash,
                    role="member",
                    created_at=now,
                    session_version=1,
                )
                for n in range(users)
            ],
        )
        db.session.execute(
            insert(User),
            [
                dict(
                    email="moderator@bench.example",
                    display_name="Moderator",
                    password_hash=password_hash,
                    role="moderator",
                    created_at=now,
                    session_version=1,
                )
            ],
        )
        db.session.execute(
            insert(Product),
            [
                dict(
                    sku=f"SKU-{n:05d}",
                    name=corpus.title()[:60] or f"Product {n}",
                    description="",
                    active=True,
                )
                for n in range(PRODUCTS)
            ],
        )
        db.session.commit()
        user_ids = list(db.session.scalars(db.select(User.id).where(User.role == "member").order_by(User.id)))
        product_ids = list(db.session.scalars(db.select(Product.id).order_by(Product.id)))
        batch = []
        for n in range(review_docs):
            title, body = corpus.title(), corpus.body()
            published = when()
            batch.append(
                dict(
                    product_id=product_ids[n % PRODUCTS],
                    author_id=user_ids[n // PRODUCTS],
                    rating=rng.randint(1, 5),
                    title=title,
                    body=body,
                    status="published",
                    version=2,
                    created_at=published,
                    published_at=published,
                    fingerprint=fingerprint(title, body),
                )
            )
            if len(batch) >= 5000:
                db.session.execute(insert(Review), batch)
                batch.clear()
        if batch:
            db.session.execute(insert(Review), batch)
        db.session.commit()

        if forum_docs:
            categories = []
            for n in range(10):
                categories.append(
                    dict(
                        name=f"Category {n}", slug=f"category-{n}", description="", position=n, created_at=now
                    )
                )
            db.session.execute(insert(ForumCategory), categories)
            db.session.commit()
            category_ids = list(db.session.scalars(db.select(ForumCategory.id)))
            topics = -(-forum_docs // POSTS_PER_TOPIC)
            db.session.execute(
                insert(ForumTopic),
                [
                    dict(
                        category_id=category_ids[n % len(category_ids)],
                        author_id=user_ids[n % len(user_ids)],
                        created_at=now,
                        pinned=False,
                        locked=False,
                    )
                    for n in range(topics)
                ],
            )
            db.session.commit()
            topic_ids = list(db.session.scalars(db.select(ForumTopic.id).order_by(ForumTopic.id)))
            batch = []
            for n in range(forum_docs):
                opening = n % POSTS_PER_TOPIC == 0
                title = corpus.title() if opening else None
                body = corpus.body()
                published = when()
                batch.append(
                    dict(
                        topic_id=topic_ids[n // POSTS_PER_TOPIC],
                        is_opening=opening,
                        title=title,
                        body=body,
                        author_id=user_ids[n % len(user_ids)],
                        status="published",
                        version=2,
                        created_at=published,
                        published_at=published,
                        fingerprint=fingerprint(title or "", body),
                    )
                )
                if len(batch) >= 5000:
                    db.session.execute(insert(ForumPost), batch)
                    batch.clear()
            if batch:
                db.session.execute(insert(ForumPost), batch)
            db.session.commit()
        return {"reviews": review_docs, "forum_posts": forum_docs, "users": users}


def pick_queries(app, corpus: Corpus, count: int, seed: int = 11) -> dict[str, list[str]]:
    """Query texts by class: words by their frequency rank, phrases as they occur in the documents."""
    from forum.catalog.models import Review
    from forum.extensions import db
    from forum.search.analysis import WORD_RE, terms_of

    rng = random.Random(seed)
    words = [w for w in corpus.words if terms_of(w)]  # no stop words
    common = words[20:120]  # each in a large share of all documents
    middle = words[150:2500]
    rare = words[8000:25000]  # each in a handful of documents
    phrases = []
    with app.app_context():
        last = db.session.scalar(db.select(db.func.max(Review.id)))
        while len(phrases) < count:
            body = db.session.scalar(db.select(Review.body).where(Review.id == rng.randint(1, last)))
            tokens = [m.group().lower() for m in WORD_RE.finditer(body or "")]
            pairs = [(a, b) for a, b in zip(tokens, tokens[1:]) if terms_of(a) and terms_of(b)]
            if pairs:
                phrases.append('"{} {}"'.format(*rng.choice(pairs)))
    stop = ["how", "do", "i", "the", "my", "with", "is", "a", "what", "for", "to", "it"]

    def question() -> str:
        # 12 words as people type a question: 5 stop words and 7 words of mixed frequency
        content = (
            [rng.choice(common) for _ in range(2)]
            + [rng.choice(middle) for _ in range(3)]
            + [rng.choice(rare) for _ in range(2)]
        )
        words = content + rng.sample(stop, 5)
        rng.shuffle(words)
        return " ".join(words)

    return {
        "rare term": [rng.choice(rare) for _ in range(count)],
        "common term": [rng.choice(common) for _ in range(count)],
        "two terms (both first)": [f"{rng.choice(middle)} {rng.choice(common)}" for _ in range(count)],
        "phrase": phrases,
        "12-word question": [question() for _ in range(count)],
    }


def time_queries(app, queries: dict[str, list[str]]) -> dict[str, dict]:
    from forum.search import services

    figures = {}
    with app.test_request_context("/search"):
        for q in [v[0] for v in queries.values()] * 3:  # warm up: open searchers, caches
            services.search(q)
        for name, texts in queries.items():
            times, cpu_times, totals = [], [], []
            for q in texts:
                start, cpu = time.perf_counter(), time.process_time()
                page = services.search(q)
                times.append((time.perf_counter() - start) * 1000)
                cpu_times.append((time.process_time() - cpu) * 1000)
                totals.append(page.total)
            figures[name] = {
                "p50": percentile(times, 0.5),
                "p95": percentile(times, 0.95),
                "cpu_p50": percentile(cpu_times, 0.5),
                "cpu_p95": percentile(cpu_times, 0.95),
                "median_hits": statistics.median(totals),
            }
    return figures


def time_publish_to_findable(app, corpus: Corpus, count: int) -> dict:
    """Moderator approves (service, commit), the drain applies it, a search finds it."""
    from flask import g  # noqa: F401

    from forum.catalog import services as catalog
    from forum.catalog.models import Product
    from forum.extensions import db
    from forum.models import User
    from forum.search import indexing, services
    from moderation import services as moderation

    rng = random.Random(3)
    times = []
    with app.test_request_context("/"):
        moderator = db.session.scalar(db.select(User).where(User.role == "moderator"))
        product = db.session.scalar(db.select(Product).order_by(Product.id.desc()))
        pending = []
        for n in range(count):
            author = User(
                email=f"late{n}@bench.example", display_name=f"Late {n}", password_hash="x", role="member"
            )
            db.session.add(author)
            db.session.flush()
            marker = "zq" + "".join(rng.choice("bcdfghjklmnpstvw") for _ in range(8))
            review = catalog.submit_review(author, product, 4, corpus.title(), corpus.body() + f" {marker}.")
            pending.append((review.id, marker))
        db.session.commit()
        for review_id, marker in pending:
            start = time.perf_counter()
            moderation.approve_submission("review", review_id, moderator)
            db.session.info.pop("search_outbox_committed", None)
            indexing.drain()  # what the end of the moderator's request does
            page = services.search(marker)
            elapsed = (time.perf_counter() - start) * 1000
            assert [r.doc_id for r in page.results] == [f"review:{review_id}"], marker
            times.append(elapsed)
    return {"p50": percentile(times, 0.5), "p95": percentile(times, 0.95)}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200, help="queries per class")
    parser.add_argument("--publishes", type=int, default=100)
    parser.add_argument("--backend", choices=("whoosh", "postgres"), default="whoosh")
    parser.add_argument("--database-url", help="PostgreSQL database to use (it is emptied!)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance folder")
    parser.add_argument(
        "--reuse",
        metavar="DIR",
        help="build the instance in DIR and keep it; when DIR already holds one built with the same "
        "--docs, --backend and --database-url, time the queries on it without inserting or reindexing "
        "(publications add documents to it: use --publishes 0 for runs meant to be compared)",
    )
    args = parser.parse_args(argv)

    if args.reuse:
        instance = Path(args.reuse).resolve()
        instance.mkdir(parents=True, exist_ok=True)
    else:
        instance = Path(tempfile.mkdtemp(prefix="search-bench-"))
    built_marker = instance / "bench-built.json"
    build_key = {"docs": args.docs, "backend": args.backend, "database_url": args.database_url}
    try:
        app = build_app(instance, args.database_url, args.backend)
        corpus = Corpus()
        from forum.search import indexing

        reused = (
            args.reuse and built_marker.exists() and json.loads(built_marker.read_text())["key"] == build_key
        )
        if reused:
            built = json.loads(built_marker.read_text())
            indexed, seconds = built["indexed"], built["seconds"]
            with app.app_context():
                size = indexing.get_backend().size_bytes()
            print(f"reusing the instance in {instance} ({indexed} documents)", flush=True)
        else:
            built_marker.unlink(missing_ok=True)
            reset_database(app, args.database_url)
            start = time.perf_counter()
            counts = insert_corpus(app, args.docs, corpus)
            print(
                f"corpus: {counts['reviews']} reviews + {counts['forum_posts']} forum posts inserted "
                f"in {time.perf_counter() - start:.1f} s",
                flush=True,
            )

            with app.app_context():
                start, cpu = time.perf_counter(), time.process_time()
                indexed = indexing.reindex()
                seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
                size = indexing.get_backend().size_bytes()
            print(
                f"reindex: {indexed} docs in {seconds:.1f} s = {indexed / seconds:,.0f} docs/s "
                f"(process CPU {cpu:.1f} s)",
                flush=True,
            )
            if args.reuse:
                built_marker.write_text(
                    json.dumps({"key": build_key, "indexed": indexed, "seconds": seconds})
                )

        queries = pick_queries(app, corpus, args.queries)  # (only its vocabulary: same when reused)
        figures = time_queries(app, queries)
        publish = time_publish_to_findable(app, corpus, args.publishes) if args.publishes else None

        print(f"\nbackend {args.backend}, {indexed} documents, index size {size / 1e6:.1f} MB")
        # Process CPU time beside the wall clock: on a shared, loaded machine the wall clock
        # mostly measures the wait for a core (the database server's time is not in it).
        print(f"{'measure':<42}{'p50 ms':>9}{'p95 ms':>9}{'CPU p50':>9}{'CPU p95':>9}{'median hits':>13}")
        for name, f in figures.items():
            print(
                f"{name + ' (incl. highlights)':<42}{f['p50']:>9.1f}{f['p95']:>9.1f}{f['cpu_p50']:>9.1f}"
                f"{f['cpu_p95']:>9.1f}{f['median_hits']:>13,.0f}"
            )
        if publish:
            print(f"{'publish until findable':<34}{publish['p50']:>9.1f}{publish['p95']:>9.1f}")
        print(f"{'reindex docs/s':<34}{indexed / seconds:>9,.0f}{' (when built)' if reused else ''}")
        with app.app_context():
            from forum.extensions import db

            db.engine.dispose()
    finally:
        if args.reuse:
            pass
        elif args.keep:
            print(f"instance kept in {instance}")
        else:
            shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
