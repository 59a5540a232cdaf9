"""`flask recount` rebuilds the kept aggregates and `--check` finds drift; stored HTML follows
the text's revision and the sanitiser policy version."""

from __future__ import annotations

from sqlalchemy import select, text

from forum import sanitize
from forum.community import services as forums
from forum.extensions import db
from forum.speed import rendered
from forum.speed.cli import run_recount
from forum.speed.models import RenderedText


def test_recount_check_finds_and_recount_fixes_drift(app, runner, product, add_reviews, add_topic):
    add_reviews(product, 3)
    add_topic(replies=2)
    assert runner.invoke(args=["recount", "--check"]).exit_code == 0

    db.session.execute(text("UPDATE product SET review_count = 99, stars_4 = 0"))
    db.session.execute(text("UPDATE forum_topic SET reply_count = 7"))
    db.session.execute(text("UPDATE forum_category SET post_count = 0"))
    db.session.commit()
    result = runner.invoke(args=["recount", "--check"])
    assert result.exit_code == 1
    assert "product" in result.output and "forum topic" in result.output and "forum category" in result.output

    result = runner.invoke(args=["recount"])
    assert result.exit_code == 0, result.output
    assert "products: 1 row corrected" in result.output
    assert runner.invoke(args=["recount", "--check"]).exit_code == 0
    assert run_recount() == 0  # the job form: nothing left to fix


def test_recount_after_raw_sql_invalidates_cached_pages(app, client, product, add_reviews):
    add_reviews(product, 1)
    client.get("/api/products/CAB-USB-C-2M/reviews")
    db.session.execute(text("UPDATE product SET review_count = 5"))
    db.session.commit()
    run_recount()
    assert client.get("/api/products/CAB-USB-C-2M/reviews").get_json()["review_count"] == 1


def _row(kind, item_id):
    db.session.expire_all()
    return db.session.scalar(
        select(RenderedText).where(RenderedText.kind == kind, RenderedText.item_id == item_id)
    )


def test_stored_html_is_per_revision(app, client, add_topic, staff_author):
    topic = add_topic()
    opening = topic.opening
    row = _row("forum_post", opening.id)
    assert row is not None and "<strong>post</strong>" in row.html
    first_hash = row.source_sha256
    forums.edit_post(staff_author, opening.id, "Which cable?", "Edited **text**")
    page = client.get(f"/forums/topics/{topic.id}").get_data(as_text=True)
    assert "Edited <strong>text</strong>" in page
    row = _row("forum_post", opening.id)
    assert row.source_sha256 != first_hash and "Edited <strong>text</strong>" in row.html


def test_policy_bump_rerenders_lazily(app, client, add_topic, monkeypatch):
    topic = add_topic()
    row = _row("forum_post", topic.opening.id)
    assert row.policy == sanitize.SANITIZER_POLICY_VERSION
    db.session.execute(text("UPDATE rendered_text SET html = '<p>old policy output</p>'"))
    db.session.commit()
    assert "old policy output" in client.get(f"/forums/topics/{topic.id}").get_data(as_text=True)
    monkeypatch.setattr(sanitize, "SANITIZER_POLICY_VERSION", sanitize.SANITIZER_POLICY_VERSION + 1)
    page = client.get(f"/forums/topics/{topic.id}").get_data(as_text=True)
    assert "old policy output" not in page and "Opening <strong>post</strong>" in page
    row = _row("forum_post", topic.opening.id)
    assert row.policy == sanitize.SANITIZER_POLICY_VERSION and "old policy output" not in row.html


def test_sanitised_output_is_the_same_as_rendering_directly(app, product, add_reviews):
    review = add_reviews(product, 1)[0]
    assert rendered.html_of(review) == sanitize.linkify_plain_text(review.body)
    assert 'rel="nofollow ugc noopener"' in str(rendered.html_of(review))
