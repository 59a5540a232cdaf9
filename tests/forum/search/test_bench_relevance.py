"""bench/relevance.py: the measures and the Cranfield-format loader (the benchmark itself is not a test)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from ...conftest import TEST_DATA

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def relevance():
    spec = importlib.util.spec_from_file_location("bench_relevance", ROOT / "bench" / "relevance.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_average_precision_and_ndcg(relevance):
    judgments = {"a": 2, "b": 1}
    assert relevance.average_precision(["a", "x", "b"], judgments) == pytest.approx((1 + 2 / 3) / 2)
    assert relevance.average_precision([], judgments) == 0
    assert relevance.ndcg_at_10(["a", "b"], judgments) == pytest.approx(1.0)
    assert relevance.ndcg_at_10(["b", "a"], judgments) < 1


def test_cranfield_format_loader(relevance):
    documents, queries = relevance.load_cranfield(TEST_DATA / "search" / "cranfield-format")
    assert documents[0] == ["D:1", "flow over a flat plate", "flow over a flat plate at high speed ."]
    assert [d[0] for d in documents] == ["D:1", "D:2", "D:3"]
    # Queries numbered in file order (not by their .I), unjudged ones dropped, -1 not relevant.
    assert [q["q"] for q in queries] == [
        "what is known about flow over a flat plate ?",
        "how do shells buckle under load ?",
    ]
    assert queries[0]["judgments"] == {"D:1": 3, "D:2": 1}
    assert queries[1]["judgments"] == {"D:3": 4}


def test_bare_bm25_anchor_ranks_by_the_words(relevance):
    documents, queries = relevance.load_cranfield(TEST_DATA / "search" / "cranfield-format")
    anchor = relevance.BareBM25(documents)
    assert anchor.search(queries[0]["q"])[0] == "D:1"
    assert anchor.search(queries[1]["q"]) == ["D:3"]


def test_the_judged_set_is_complete():
    data = json.loads((ROOT / "bench" / "data" / "relevance.json").read_text(encoding="utf-8"))
    keys = {d[0] for d in data["documents"]}
    assert len(data["queries"]) >= 60
    classes = {q["class"] for q in data["queries"]}
    assert {"keyword", "question", "typo", "accents", "code", "cjk"} <= classes
    for query in data["queries"]:
        assert query["judgments"] and set(query["judgments"]) <= keys, query["q"]
        assert set(query["judgments"].values()) <= {1, 2}
