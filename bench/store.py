"""Build the large store for the page benchmark, repeatably (fixed seeds), in minutes.

    python bench/store.py --instance /tmp/bench-large            # SQLite in that instance folder
    python bench/store.py --instance DIR --database-url postgresql://postgres@127.0.0.1/bench

What it makes: 1,000 products with 100,000 published reviews (100 each), 10
forum categories with 1,000 topics each (10,000 topics; an opening post and
two replies each, and one topic of 45 posts: 30,043 posts), 300 published blog
posts with 3 published comments each, 1,000 members. Rows are bulk-inserted
(the volume is data, not what is measured); then the app's own services finish
the job: `flask recount` (kept aggregates) and `flask search reindex`.
Stored HTML is left empty on purpose: pages fill it on first view.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import secrets
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import Corpus  # noqa: E402

PRODUCTS = 1_000
REVIEWS_PER_PRODUCT = 100
CATEGORIES = 10
TOPICS_PER_CATEGORY = 1_000
REPLIES_PER_TOPIC = 2
LONG_TOPIC_POSTS = 45
BLOG_POSTS = 300
COMMENTS_PER_BLOG_POST = 3
MEMBERS = 1_000
BATCH = 5_000


def fingerprint(title, body):
    return hashlib.sha256(
        json.dumps([title, body], ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()


def bench_config(instance: Path, database_url: str | None) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{instance / 'forum.sqlite3'}",
        "SECRET_KEY": secrets.token_hex(32),
        "SEARCH_INDEX_DIR": str(instance / "search-index"),
        "RATELIMIT_ENABLED": False,
        "MAIL_BACKEND": "locmem",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }


def build_app(instance: Path, database_url: str | None):
    os.environ["FLASK_INSTANCE_PATH"] = str(instance)
    from forum import create_app

    return create_app(bench_config(instance, database_url))


def _bulk(model, rows):
    from sqlalchemy import insert

    from forum.extensions import db

    for start in range(0, len(rows), BATCH):
        db.session.execute(insert(model), rows[start : start + BATCH])


def build(instance: Path, database_url: str | None = None, search: bool = True) -> dict:
    from flask_migrate import upgrade
    from sqlalchemy import select, text

    if instance.exists() and not database_url:
        shutil.rmtree(instance)
    instance.mkdir(parents=True, exist_ok=True)
    app = build_app(instance, database_url)

    from forum.blog.models import BlogComment, BlogPost
    from forum.catalog.models import Product, Review
    from forum.community.models import ForumCategory, ForumPost, ForumTopic
    from forum.extensions import db
    from forum.models import User
    from forum.speed.cli import run_recount

    corpus = Corpus()
    rng = random.Random(20261130)
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    started = time.monotonic()

    def when(days=700):
        return now - timedelta(seconds=rng.randint(60, days * 86400))

    with app.app_context():
        if database_url:
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade(revision="heads")
        password_hash = "pbkdf2:sha256:1000$bench$" + "0" * 64
        _bulk(
            User,
            [
                dict(
                    email=f"member{n}@bench.example",
                    display_name=f"Member {n}",
                    password_hash=password_hash,
                    role="member",
                    created_at=now,
                    session_version=1,
                )
                for n in range(MEMBERS)
            ],
        )
        _bulk(
            User,
            [
                dict(
                    email="editor@bench.example",
                    display_name="Eddie Editor",
                    password_hash=password_hash,
                    role="editor",
                    created_at=now,
                    session_version=1,
                )
            ],
        )
        _bulk(
            Product,
            [
                dict(
                    sku=f"SKU-{n:05d}",
                    name=(corpus.title()[:60] or "Product").capitalize() + f" {n}",
                    description=corpus.body(30),
                    active=True,
                )
                for n in range(PRODUCTS)
            ],
        )
        db.session.commit()
        members = list(db.session.scalars(select(User.id).where(User.role == "member").order_by(User.id)))
        editor = db.session.scalar(select(User.id).where(User.role == "editor"))
        products = list(db.session.scalars(select(Product.id).order_by(Product.id)))

        rows = []
        for n in range(PRODUCTS * REVIEWS_PER_PRODUCT):
            title, body = corpus.title().capitalize(), corpus.body()
            published = when()
            rows.append(
                dict(
                    product_id=products[n % PRODUCTS],
                    author_id=members[n // PRODUCTS],
                    rating=rng.choices(range(1, 6), weights=(1, 1, 2, 4, 6))[0],
                    title=title,
                    body=body,
                    status="published",
                    version=2,
                    created_at=published,
                    published_at=published,
                    fingerprint=fingerprint(title, body),
                )
            )
        _bulk(Review, rows)
        db.session.commit()
        print(f"reviews: {len(rows):,} ({time.monotonic() - started:.0f} s)", flush=True)

        _bulk(
            ForumCategory,
            [
                dict(
                    name=f"Category {n}",
                    slug=f"category-{n}",
                    description=corpus.body(20),
                    position=n,
                    created_at=now,
                )
                for n in range(CATEGORIES)
            ],
        )
        db.session.commit()
        categories = list(db.session.scalars(select(ForumCategory.id).order_by(ForumCategory.id)))
        _bulk(
            ForumTopic,
            [
                dict(
                    category_id=categories[n // TOPICS_PER_CATEGORY],
                    author_id=members[n % MEMBERS],
                    created_at=now,
                    pinned=n % 250 == 0,
                    locked=False,
                )
                for n in range(CATEGORIES * TOPICS_PER_CATEGORY)
            ],
        )
        db.session.commit()
        topics = list(db.session.scalars(select(ForumTopic.id).order_by(ForumTopic.id)))
        rows = []
        for index, topic_id in enumerate(topics):
            count = LONG_TOPIC_POSTS if index == 0 else 1 + REPLIES_PER_TOPIC
            start = when(600)
            for k in range(count):
                opening = k == 0
                title = corpus.title().capitalize() if opening else None
                body = corpus.body()
                published = start + timedelta(minutes=17 * k)
                rows.append(
                    dict(
                        topic_id=topic_id,
                        is_opening=opening,
                        title=title,
                        body=body,
                        author_id=members[(index + k) % MEMBERS],
                        status="published",
                        version=2,
                        created_at=published,
                        published_at=published,
                        fingerprint=fingerprint(title or "", body),
                    )
                )
        _bulk(ForumPost, rows)
        db.session.commit()
        print(
            f"forum posts: {len(rows):,} in {len(topics):,} topics ({time.monotonic() - started:.0f} s)",
            flush=True,
        )

        posts = []
        for n in range(BLOG_POSTS):
            published = when(900)
            posts.append(
                dict(
                    slug=f"post-{n}",
                    title=corpus.title().capitalize(),
                    body=corpus.body(300),
                    status="published",
                    version=1,
                    author_id=editor,
                    created_at=published,
                    updated_at=published,
                    published_at=published,
                )
            )
        _bulk(BlogPost, posts)
        db.session.commit()
        post_ids = list(db.session.scalars(select(BlogPost.id).order_by(BlogPost.id)))
        rows = []
        for n, post_id in enumerate(post_ids):
            for k in range(COMMENTS_PER_BLOG_POST):
                body = corpus.body(40)
                published = now - timedelta(hours=n + k)
                rows.append(
                    dict(
                        post_id=post_id,
                        body=body,
                        author_id=members[(n * 3 + k) % MEMBERS],
                        status="published",
                        version=2,
                        created_at=published,
                        published_at=published,
                        fingerprint=fingerprint("", body),
                    )
                )
        _bulk(BlogComment, rows)
        db.session.commit()

        fixed = run_recount()
        print(f"flask recount: {fixed:,} rows set ({time.monotonic() - started:.0f} s)", flush=True)
        if search:
            from forum.search.indexing import reindex

            indexed = reindex(timeout=3600)
            print(f"search index: {indexed:,} documents ({time.monotonic() - started:.0f} s)", flush=True)
    return {"instance": str(instance), "seconds": round(time.monotonic() - started)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instance", type=Path, default=Path("/tmp/shop-bench-large"))
    parser.add_argument("--database-url", help="PostgreSQL URL (its public schema is emptied!)")
    parser.add_argument("--no-search", action="store_true", help="skip building the search index")
    args = parser.parse_args()
    print(build(args.instance.resolve(), args.database_url, search=not args.no_search))


if __name__ == "__main__":
    main()
