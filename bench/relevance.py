"""Relevance of /search measured, not assumed: MAP, nDCG@10 and "no result" share per backend.

    python bench/relevance.py                         # whoosh (SQLite), the constants in forum/search/ranking.py
    python bench/relevance.py --title-weights 1,1.5,2,2.5,3,4
    python bench/relevance.py --backend postgres --database-url postgresql+psycopg://postgres@127.0.0.1/bench

The judged set is bench/data/relevance.json: documents built on the demo catalogue
and forum content, and 64 queries (keywords, whole questions, typos, accents,
product codes, CJK) with graded judgments (2 = what the query asks for, 1 =
related) written before any constant was tuned. The documents are inserted as
published reviews into a throw-away instance, indexed by `indexing.reindex()`, and
every query goes through `forum.search.services.search` as typed, first 100 results.

`--collection DIR` measures a public test collection in the Cranfield format instead
(DIR/cran.all.1400, DIR/cran.qry, DIR/cranqrel; the questions are searched as typed).
The collection is not shipped (its licence is unclear): docs/search.md says where the
measured copy came from. Give it the files and it prints the same table.

The anchor is a bare BM25 engine written here (k1 1.2, b 0.75, title and body as one
text, any word matches, the same analysis as the index): the service should be at
least as good. MAP counts grade >= 1 as relevant; nDCG@10 uses the grades.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DATA = Path(__file__).resolve().parent / "data" / "relevance.json"
DEPTH = 100


def average_precision(ranked: list[str], judgments: dict[str, int]) -> float:
    relevant = {k for k, g in judgments.items() if g >= 1}
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for rank, key in enumerate(ranked[:DEPTH], 1):
        if key in relevant:
            hits += 1
            total += hits / rank
    return total / len(relevant)


def ndcg_at_10(ranked: list[str], judgments: dict[str, int]) -> float:
    def dcg(grades):
        return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(grades))

    ideal = dcg(sorted(judgments.values(), reverse=True)[:10])
    return dcg([judgments.get(k, 0) for k in ranked[:10]]) / ideal if ideal else 0.0


class BareBM25:
    """The anchor: Okapi BM25 over title + body, any query word matches."""

    def __init__(self, documents, k1=1.2, b=0.75):
        from forum.search.analysis import analyze

        self.k1, self.b = k1, b
        self.tf = {}
        self.length = {}
        df = Counter()
        for key, title, body in documents:
            terms = Counter(t for t, _, _, _ in analyze(f"{title}\n{body}"))
            self.tf[key] = terms
            self.length[key] = sum(terms.values())
            df.update(terms.keys())
        self.n = len(documents)
        self.mean = sum(self.length.values()) / max(self.n, 1)
        self.idf = {t: math.log(1 + (self.n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    def search(self, q: str) -> list[str]:
        from forum.search.analysis import terms_of

        terms = [t for t in dict.fromkeys(terms_of(q)) if t in self.idf]
        scores = defaultdict(float)
        for key, tf in self.tf.items():
            norm = self.k1 * (1 - self.b + self.b * self.length[key] / self.mean)
            for t in terms:
                f = tf.get(t)
                if f:
                    scores[key] += self.idf[t] * f * (self.k1 + 1) / (f + norm)
        return [k for k, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))][:DEPTH]


def _cranfield_records(text: str) -> list[dict[str, str]]:
    """Records of the SMART/Cranfield format: ".I n" then fields ".T", ".A", ".B", ".W"."""
    import re

    records = []
    for chunk in re.split(r"^\.I\s+", text, flags=re.M)[1:]:
        number, _, rest = chunk.partition("\n")
        fields = {"I": number.strip()}
        for name, value in re.findall(r"^\.([A-Z])\s*\n(.*?)(?=^\.[A-Z]\s*$|\Z)", rest, flags=re.M | re.S):
            fields[name] = " ".join(value.split())
        records.append(fields)
    return records


def load_cranfield(folder: Path) -> tuple[list, list]:
    """(documents, queries) in this script's format from a Cranfield-format collection.

    Queries are numbered 1..n in file order (the ".I" numbers of cran.qry are not the ones
    cranqrel uses); relevance codes 1 (most) .. 4 become grades 4 .. 1, and -1 is not
    relevant: one pair per question, it names what looks like the paper the question was
    drawn from ("of no interest" in ir_datasets; trec_eval's default counts only codes >= 1).
    """
    documents = [
        [f"D:{r['I']}", r.get("T", ""), r.get("W", "")]
        for r in _cranfield_records((folder / "cran.all.1400").read_text(encoding="latin-1"))
    ]
    questions = [
        r.get("W", "") for r in _cranfield_records((folder / "cran.qry").read_text(encoding="latin-1"))
    ]
    judgments: dict[int, dict[str, int]] = defaultdict(dict)
    for line in (folder / "cranqrel").read_text(encoding="latin-1").splitlines():
        parts = line.split()
        if len(parts) >= 3 and int(parts[2]) > 0:
            judgments[int(parts[0])][f"D:{int(parts[1])}"] = 5 - min(4, int(parts[2]))
    queries = [
        {"class": "question", "q": q, "judgments": judgments[n]}
        for n, q in enumerate(questions, 1)
        if judgments.get(n)
    ]
    return documents, queries


def load_documents(app, documents) -> dict[int, str]:
    """Published reviews, one per document; {review id: document key}."""
    import hashlib

    from sqlalchemy import insert

    from forum.catalog.models import Product, Review
    from forum.extensions import db
    from forum.models import User

    now = datetime.now(UTC)
    with app.app_context():
        db.session.execute(
            insert(User),
            [  # one review per member and product
                dict(
                    email=f"judge{n}@bench.example",
                    display_name=f"Judge {n}",
                    password_hash="x",
                    role="member",
                    created_at=now,
                    session_version=1,
                )
                for n in range(len(documents))
            ],
        )
        db.session.add(Product(sku="BENCH", name="Bench", description="", active=True))
        db.session.commit()
        user_ids = list(db.session.scalars(db.select(User.id).order_by(User.id)))
        product_id = db.session.scalar(db.select(Product.id))
        rows = []
        for n, (_key, title, body) in enumerate(documents):
            user_id = user_ids[n]
            published = now - timedelta(minutes=n)
            rows.append(
                dict(
                    product_id=product_id,
                    author_id=user_id,
                    rating=3,
                    title=title,
                    body=body,
                    status="published",
                    version=2,
                    created_at=published,
                    published_at=published,
                    fingerprint=hashlib.sha256(f"{title}\n{body}".encode()).hexdigest(),
                )
            )
        db.session.execute(insert(Review), rows)
        db.session.commit()
        ids = list(db.session.scalars(db.select(Review.id).order_by(Review.id)))
    return {review_id: key for review_id, (key, _, _) in zip(ids, documents)}


def set_title_weight(weight: float) -> None:
    from forum.search import pg_backend, ranking, whoosh_backend

    ranking.TITLE_WEIGHT = pg_backend.TITLE_WEIGHT = whoosh_backend.TITLE_BOOST = weight


def set_all_words_bonus(bonus: float) -> None:
    from forum.search import pg_backend, ranking, whoosh_backend

    ranking.ALL_WORDS_BONUS = pg_backend.ALL_WORDS_BONUS = whoosh_backend.ALL_WORDS_BONUS = bonus


def evaluate(run, queries) -> dict:
    by_class = defaultdict(list)
    for item in queries:
        ranked = run(item["q"])
        by_class[item["class"]].append(
            (average_precision(ranked, item["judgments"]), ndcg_at_10(ranked, item["judgments"]), not ranked)
        )
    every = [m for ms in by_class.values() for m in ms]

    def summary(ms):
        return {
            "map": sum(m[0] for m in ms) / len(ms),
            "ndcg10": sum(m[1] for m in ms) / len(ms),
            "empty": sum(m[2] for m in ms) / len(ms),
            "n": len(ms),
        }

    return {"all": summary(every), **{c: summary(ms) for c, ms in by_class.items()}}


def print_table(title: str, results: dict[str, dict]) -> None:
    print(f"\n{title}")
    print(f"{'system':<30}{'queries':>8}{'MAP':>8}{'nDCG@10':>9}{'no result':>11}")
    for name, r in results.items():
        print(f"{name:<30}{r['n']:>8}{r['map']:>8.3f}{r['ndcg10']:>9.3f}{r['empty']:>10.0%}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("whoosh", "postgres"), default="whoosh")
    parser.add_argument("--database-url", help="PostgreSQL database to use (it is emptied!)")
    parser.add_argument("--collection", type=Path, help="a Cranfield-format collection folder (see above)")
    parser.add_argument(
        "--title-weights", help="comma-separated title weights to compare (default: the configured one)"
    )
    args = parser.parse_args(argv)

    from search import build_app, reset_database  # bench/search.py

    if args.collection:
        documents, queries = load_cranfield(args.collection)
    else:
        data = json.loads(DATA.read_text(encoding="utf-8"))
        documents, queries = data["documents"], data["queries"]
    instance = Path(tempfile.mkdtemp(prefix="search-relevance-"))
    try:
        os.environ.setdefault("FLASK_SEARCH_DRAIN_ON_SEARCH", "true")
        app = build_app(instance, args.database_url, args.backend)
        app.config["SEARCH_MAX_PAGES"] = 1
        reset_database(app, args.database_url)
        keys = load_documents(app, documents)
        from forum.search import indexing, ranking, services

        with app.app_context():
            indexing.reindex()

        def service_run(q: str) -> list[str]:
            with app.test_request_context("/search"):
                page = services.search(q, per_page=DEPTH)
                return [keys[int(r.doc_id.split(":")[1])] for r in page.results]

        configured = ranking.TITLE_WEIGHT
        weights = [float(w) for w in args.title_weights.split(",")] if args.title_weights else [configured]
        print(
            f"{len(documents)} documents, {len(queries)} judged queries; backend {args.backend}; "
            f"BM25 k1={ranking.BM25_K1} b={ranking.BM25_B}, all-words bonus {ranking.ALL_WORDS_BONUS:g}"
        )
        anchor = BareBM25(documents)
        results = {"bare BM25 (anchor)": evaluate(anchor.search, queries)["all"]}
        per_class = None
        for weight in weights:
            set_title_weight(weight)
            measured = evaluate(service_run, queries)
            results[f"/search, title weight {weight:g}"] = measured["all"]
            if weight == configured or per_class is None:
                per_class = (weight, measured)
        set_title_weight(configured)
        # What the all-words-first rule costs or buys (same title weight, plain BM25 order).
        bonus = ranking.ALL_WORDS_BONUS
        set_all_words_bonus(0.0)
        results[f"/search, {configured:g}, no all-words bonus"] = evaluate(service_run, queries)["all"]
        set_all_words_bonus(bonus)
        print_table("All queries", results)
        weight, measured = per_class
        print_table(
            f"By query class (/search, {args.backend}, title weight {weight:g})",
            {c: r for c, r in measured.items() if c != "all"},
        )
        anchor_classes = evaluate(anchor.search, queries)
        print_table(
            "By query class (bare BM25 anchor)", {c: r for c, r in anchor_classes.items() if c != "all"}
        )
        with app.app_context():
            from forum.extensions import db

            db.engine.dispose()
    finally:
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
