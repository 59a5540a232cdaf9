"""/transparency and /transparency.json: numbers from a known dataset, periods, bad input, the registry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from forum.catalog import services as catalog
from forum.extensions import db
from moderation import audit, transparency
from moderation import services as moderation
from moderation.transparency import TRANSPARENCY_SECTIONS, parse_period, register_transparency_section


def at(day: str, hour: int) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


# (rating, submitted at, decision, reason, decided at)
DATASET = [
    (1, at("2026-03-02", 10), "approve", None, at("2026-03-02", 12)),
    (1, at("2026-03-03", 10), "approve", None, at("2026-03-03", 14)),
    (1, at("2026-03-04", 10), "approve", None, at("2026-03-04", 16)),
    (1, at("2026-03-05", 10), "reject", "abusive", at("2026-03-05", 11)),
    (2, at("2026-03-06", 10), "approve", None, at("2026-03-06", 13)),
    (2, at("2026-03-07", 10), "approve", None, at("2026-03-07", 15)),
    (3, at("2026-03-08", 10), "withdraw", None, at("2026-03-08", 11)),
    (4, at("2026-03-09", 10), "approve", None, at("2026-03-09", 11)),
    (4, at("2026-03-10", 10), "reject", "spam", at("2026-03-10", 20)),
    (5, at("2026-03-11", 10), "approve", None, at("2026-03-11", 12)),
    (5, at("2026-03-12", 10), "reject", "spam", at("2026-03-12", 14)),
    (5, at("2026-03-13", 10), "reject", "fake", at("2026-03-13", 18)),
    (5, at("2026-02-27", 10), "approve", None, at("2026-03-02", 10)),  # submitted before the period
    (2, at("2026-03-20", 10), None, None, None),  # still pending
    (3, at("2026-03-30", 10), "approve", None, at("2026-04-02", 10)),  # decided after the period
]
MARCH = "from=2026-03-01&to=2026-03-31"


@pytest.fixture
def clock(monkeypatch):
    now = {"value": datetime.now(UTC)}
    monkeypatch.setattr(audit, "utcnow", lambda: now["value"])
    monkeypatch.setattr(moderation, "utcnow", lambda: now["value"])
    return now


@pytest.fixture
def dataset(app, clock, submit, make_user, moderator):
    for rating, submitted_at, decision, reason, decided_at in DATASET:
        author = make_user()
        clock["value"] = submitted_at
        review = submit(rating=rating, author=author)
        db.session.execute(
            text("UPDATE review SET created_at = :t WHERE id = :id"),
            {"t": submitted_at.replace(tzinfo=None), "id": review.id},
        )
        db.session.commit()
        if decision is None:
            continue
        clock["value"] = decided_at
        if decision == "approve":
            moderation.approve_submission("review", review.id, moderator)
        elif decision == "reject":
            moderation.reject_submission("review", review.id, moderator, reason=reason)
        else:
            catalog.withdraw_review(author, review.id)


def test_numbers_match_the_known_dataset(client, dataset):
    data = client.get(f"/transparency.json?{MARCH}").get_json()
    assert data["period"] == {"from": "2026-03-01", "to": "2026-03-31", "days": 31, "timezone": "UTC"}
    reviews = data["sections"]["reviews"]
    rows = {row["rating"]: row for row in reviews["ratings"]}
    assert {r: rows[r]["submitted"] for r in rows} == {1: 4, 2: 3, 3: 2, 4: 2, 5: 3}
    assert {r: rows[r]["published"] for r in rows} == {1: 3, 2: 2, 3: 0, 4: 1, 5: 2}
    assert {r: rows[r]["rejected"] for r in rows} == {1: 1, 2: 0, 3: 0, 4: 1, 5: 2}
    assert {r: rows[r]["withdrawn_before_decision"] for r in rows} == {1: 0, 2: 0, 3: 1, 4: 0, 5: 0}
    assert {r: rows[r]["share_rejected_percent"] for r in rows} == {
        1: 25.0,
        2: 0.0,
        3: None,
        4: 50.0,
        5: 50.0,
    }
    assert {r: rows[r]["median_hours_to_decision"] for r in rows} == {1: 3.0, 2: 4.0, 3: None, 4: 5.5, 5: 6.0}
    assert reviews["totals"] == {
        "submitted": 14,
        "published": 8,
        "rejected": 4,
        "withdrawn_before_decision": 1,
        "share_rejected_percent": 33.3,
        "median_hours_to_decision": 4.0,
    }
    reasons = {row["reason"]: row for row in reviews["reasons"]}
    assert reasons["abusive"]["by_rating"] == {"1": 1, "2": 0, "3": 0, "4": 0, "5": 0}
    assert reasons["spam"]["by_rating"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    assert reasons["fake"]["total"] == 1 and reasons["off_topic"]["total"] == 0
    assert list(reasons)[:7] == [
        "spam",
        "off_topic",
        "personal_information",
        "abusive",
        "discriminatory",
        "fake",
        "illegal",
    ]
    kinds = {row["kind"]: row for row in data["sections"]["all_content"]}
    assert kinds["review"]["submitted"] == 14 and kinds["review"]["approve"] == 8


def test_the_page_shows_the_same_numbers(client, dataset):
    page = client.get(f"/transparency?{MARCH}").get_data(as_text=True)
    assert "From 2026-03-01 to 2026-03-31 inclusive (31 days, UTC)" in page
    one_star = page[page.index("1 star</th>") : page.index("2 stars</th>")]
    assert "<td>4</td><td>3</td><td>1</td>" in one_star  # low ratings are published
    assert "25.0 %" in one_star and "3.0 hours" in one_star
    assert "Abusive, harassing or obscene" in page
    assert "never edit" in page.lower() and "never about opinion" in page


def test_other_periods(client, dataset):
    april = client.get("/transparency.json?from=2026-04-01&to=2026-04-30").get_json()["sections"]["reviews"]
    assert april["totals"]["submitted"] == 0 and april["totals"]["published"] == 1
    assert april["totals"]["median_hours_to_decision"] == 72.0
    one_day = client.get("/transparency.json?from=2026-03-05&to=2026-03-05").get_json()["sections"]["reviews"]
    assert one_day["totals"]["submitted"] == 1 and one_day["totals"]["rejected"] == 1


def test_default_period_is_the_last_90_days(client, app):
    today = datetime.now(UTC).date()
    data = client.get("/transparency.json").get_json()
    assert data["period"]["to"] == today.isoformat()
    assert data["period"]["days"] == 90
    assert data["period"]["from"] == (today - timedelta(days=89)).isoformat()
    page = client.get("/transparency")
    assert page.status_code == 200 and "Our policy" in page.get_data(as_text=True)
    only_from = client.get("/transparency.json?from=2026-01-01").get_json()["period"]
    assert only_from["from"] == "2026-01-01" and only_from["to"] == today.isoformat()


@pytest.mark.parametrize(
    "query",
    [
        "from=yesterday",
        "from=2026-02-30",
        "to=2026-13-01",
        "from=20260101",
        "from=2026-1-1",
        "from=2026-03-10&to=2026-03-01",
        "from=%00",
        "to=<script>",
        "from=2026-03-01T00:00",
    ],
)
def test_bad_dates_are_422_not_500(client, app, query):
    page = client.get(f"/transparency?{query}")
    assert page.status_code == 422
    body = page.get_data(as_text=True)
    assert "Please choose a valid period." in body and "<script>" not in body
    data = client.get(f"/transparency.json?{query}")
    assert data.status_code == 422
    assert data.get_json()["fields"]


def test_extreme_dates_work(client, app):
    assert client.get("/transparency?from=0001-01-01&to=9999-12-31").status_code == 200


def test_parse_period():
    assert parse_period(None, None, today=date(2026, 5, 31)).first_day == date(2026, 3, 3)
    assert parse_period("2026-01-01", "2026-01-01").days == 1


def test_sections_registered_by_other_areas_appear(client, app, section_template):
    def removal_numbers(start, end):
        assert start.tzinfo is not None and end > start
        return "test/transparency_extra.html", {"removal_requests": {"received": 7, "since": start.date()}}

    register_transparency_section(removal_numbers)
    try:
        page = client.get(f"/transparency?{MARCH}").get_data(as_text=True)
        assert "Removal requests received: 7" in page
        data = client.get(f"/transparency.json?{MARCH}").get_json()
        assert data["sections"]["removal_requests"] == {"received": 7, "since": "2026-03-01"}
    finally:
        TRANSPARENCY_SECTIONS.remove(removal_numbers)


@pytest.fixture
def section_template(app):
    from jinja2 import ChoiceLoader, DictLoader

    original = app.jinja_loader
    app.jinja_loader = ChoiceLoader(
        [
            DictLoader(
                {
                    "test/transparency_extra.html": "<p>Removal requests received: {{ removal_requests.received }}</p>"
                }
            ),
            original,
        ]
    )
    app.jinja_env.cache = {}
    yield
    app.jinja_loader = original


def test_transparency_is_public_and_only_counts(client, dataset):
    page = client.get(f"/transparency?{MARCH}").get_data(as_text=True)
    assert "Does the job" not in page  # numbers only, never review text
    assert transparency.DEFAULT_DAYS == 90
