"""The queue page: who may see it, what it shows, filters, pagination, sections and the badge."""

from __future__ import annotations

import html
import re

import pytest

from forum.extensions import db
from moderation import services as moderation
from moderation.kinds import QUEUE_SECTIONS, QueueSection, register_queue_section
from tests.conftest import naughty_strings


def test_anonymous_is_sent_to_login(client):
    for path in ("/moderation", "/moderation/items/review/1"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
    assert client.post("/moderation/bulk").status_code == 302


def test_member_gets_403(client_for, member, submit):
    review = submit()
    client = client_for(member)
    assert client.get("/moderation").status_code == 403
    assert client.get(f"/moderation/items/review/{review.id}").status_code == 403
    response = client.post(
        f"/moderation/items/review/{review.id}/approve", data={f"review-{review.id}-version": "1"}
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert review.status == "pending"


@pytest.mark.parametrize("role", ["moderator", "admin"])
def test_moderators_and_admins_see_the_queue(client_for, make_user, submit, role):
    submit(title="Visible title")
    response = client_for(make_user(role)).get("/moderation")
    assert response.status_code == 200
    assert "Visible title" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_queue_is_a_compact_list_oldest_first_with_kind_author_and_age(mod_client, submit, make_user):
    first = submit(title="First in", author=make_user(display_name="Alice Early"))
    second = submit(title="Second in", author=make_user(display_name="Bob Later"))
    page = mod_client.get("/moderation").get_data(as_text=True)
    assert page.index("First in") < page.index("Second in")
    assert "Alice Early" in page and "Bob Later" in page
    assert "Product reviews" in page and "less than a minute" in page and "New submission" in page
    # One row per item, no decision forms or full text: each row opens the item's own page.
    assert page.count('class="desk-row') == 2
    assert first.fingerprint not in page and 'name="review-1-reason"' not in page
    assert f'href="/moderation/items/review/{first.id}"' in page
    assert f'href="/moderation/items/review/{second.id}"' in page


def test_newest_first_is_a_choice(mod_client, submit):
    submit(title="Older one")
    submit(title="Newer one")
    page = mod_client.get("/moderation?order=newest").get_data(as_text=True)
    assert page.index("Newer one") < page.index("Older one")
    # The choice travels to the item pages and the paging links.
    assert "/moderation/items/review/2?order=newest" in page
    default = mod_client.get("/moderation?order=nonsense").get_data(as_text=True)
    assert default.index("Older one") < default.index("Newer one")


def test_filter_by_reason(mod_client, submit, moderator):
    from forum.catalog.models import Review

    submit(title="Just submitted")
    hidden = submit(title="Flags hid me")
    moderation.approve_submission("review", hidden.id, moderator)
    moderation.transition(db.session.get(Review, hidden.id), "hide", None, system=True, reason="flagged")
    db.session.commit()
    page = mod_client.get("/moderation?reason=hidden").get_data(as_text=True)
    assert "Flags hid me" in page and "Just submitted" not in page
    page = mod_client.get("/moderation?reason=submitted&kind=review").get_data(as_text=True)
    assert "Just submitted" in page and "Flags hid me" not in page
    assert mod_client.get("/moderation?reason=%00nonsense").status_code == 200


def _texts_of(page: str, css_class: str) -> list[str]:
    return [
        html.unescape(m) for m in re.findall(rf'<dd class="user-text {css_class}">(.*?)</dd>', page, re.S)
    ]


def test_item_page_shows_exact_text_escaped(mod_client, submit):
    title, body = "<script>alert('x')</script>  ", '  <b>bold?</b>\n\n\tindented & "quoted"\r\nend '
    review = submit(title=title, body=body)
    listing = mod_client.get("/moderation").get_data(as_text=True)
    assert "<script>alert" not in listing and "&lt;script&gt;alert" in listing
    page = mod_client.get(f"/moderation/items/review/{review.id}").get_data(as_text=True)
    assert "<script>alert" not in page and "<b>bold?</b>" not in page
    assert _texts_of(page, "review-title") == [title]
    assert _texts_of(page, "review-body") == [body]


def test_queue_shows_every_naughty_string_escaped(mod_client, submit, make_user):
    from moderation.desk import excerpt

    strings = [
        s for s in naughty_strings("queue excerpts") if s.strip() and "\x00" not in s and len(s) <= 150
    ]
    author = make_user()
    from forum.catalog.models import Product

    reviews = []
    for i, text in enumerate(strings):
        product = Product(sku=f"N-{i}", name=f"Naughty {i}", description="")
        db.session.add(product)
        db.session.flush()
        reviews.append(submit(title=text, body=text, author=author, on_product=product))
    seen = []
    for page_number in range(1, len(strings) // 50 + 2):
        response = mod_client.get(f"/moderation?page={page_number}")
        assert response.status_code == 200
        seen += [
            html.unescape(m)
            for m in re.findall(
                r'<a href="[^"]*" class="desk-open user-text">(.*?)</a>',
                response.get_data(as_text=True),
                re.S,
            )
        ]
    assert seen == [excerpt(text) for text in strings]
    for review, text in list(zip(reviews, strings))[::7]:
        page = mod_client.get(f"/moderation/items/review/{review.id}").get_data(as_text=True)
        assert _texts_of(page, "review-title") == [text]
        assert _texts_of(page, "review-body") == [text]


def test_kind_filter_and_unknown_kind(mod_client, submit):
    submit(title="A review")
    assert "A review" in mod_client.get("/moderation?kind=review").get_data(as_text=True)
    assert mod_client.get("/moderation?kind=nonsense").status_code == 404


def test_pagination_50_per_page(mod_client, submit, make_user):
    from forum.catalog.models import Product

    author = make_user()
    for i in range(55):
        product = Product(sku=f"P-{i:02}", name=f"Product {i:02}", description="")
        db.session.add(product)
        db.session.flush()
        submit(title=f"Review number {i:02}", author=author, on_product=product)
    first = mod_client.get("/moderation").get_data(as_text=True)
    second = mod_client.get("/moderation?page=2").get_data(as_text=True)
    assert "Review number 00" in first and "Review number 49" in first and "Review number 50" not in first
    assert "Review number 50" in second and "Review number 54" in second and "Review number 00" not in second
    assert "Page 1 of 2" in first
    newest = mod_client.get("/moderation?order=newest&page=2").get_data(as_text=True)
    assert "Review number 04" in newest and "Review number 05" not in newest
    assert mod_client.get("/moderation?page=9").status_code == 200
    assert mod_client.get("/moderation?page=abc").status_code == 200


@pytest.fixture
def flag_section(app):
    def provider(moderator):
        return QueueSection(
            key="flag",
            label="Flagged posts",
            template="moderation/items/test_section.html",
            items=["flag one <i>"],
            count=1,
        )

    register_queue_section(provider)
    yield provider
    QUEUE_SECTIONS.remove(provider)


@pytest.fixture
def section_template(app):
    from jinja2 import ChoiceLoader, DictLoader

    original = app.jinja_loader
    app.jinja_loader = ChoiceLoader(
        [
            DictLoader(
                {
                    "moderation/items/test_section.html": '<section class="test-section"><h2>{{ section.label }}</h2>'
                    "{% for i in items %}<p>{{ i }}</p>{% endfor %}</section>"
                }
            ),
            original,
        ]
    )
    app.jinja_env.cache = {}
    yield
    app.jinja_loader = original


def test_registered_queue_sections_show_above_content(mod_client, submit, flag_section, section_template):
    submit(title="Content item")
    page = mod_client.get("/moderation").get_data(as_text=True)
    assert page.index("Flagged posts</h2>") < page.index("Content item")
    assert "flag one &lt;i&gt;" in page
    only = mod_client.get("/moderation?kind=flag").get_data(as_text=True)
    assert "flag one" in only and "Content item" not in only
    assert "Content item" in mod_client.get("/moderation?kind=review").get_data(as_text=True)


def test_badge_counts_waiting_items_for_moderators_only(client_for, mod_client, member, submit):
    submit()
    submit()
    assert re.search(
        r'<span class="badge">2<span class="visually-hidden"> waiting',
        mod_client.get("/").get_data(as_text=True),
    )
    assert "waiting<" not in client_for(member).get("/").get_data(as_text=True)


def test_badge_is_one_query(app, submit, moderator):
    from sqlalchemy import event

    submit()
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        counts = moderation.queue_counts()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert counts["review"] == 1
    assert len(statements) == 1


def test_item_history_page(mod_client, submit, moderator):
    review = submit(title="History <please>")
    moderation.reject_submission(
        "review", review.id, moderator, reason="off_topic", note="About another product"
    )
    page = mod_client.get(f"/moderation/items/review/{review.id}").get_data(as_text=True)
    assert "History &lt;please&gt;" in page
    assert "submitted" in page and "reject" in page
    assert "Not about the product or topic" in page
    assert "Mo Derator" in page
    assert page.count(review.fingerprint) >= 3  # the item and both log rows
    assert mod_client.get("/moderation/items/review/999999").status_code == 404
    assert mod_client.get("/moderation/items/nokind/1").status_code == 404


def test_naughty_query_strings_and_form_values_never_500(mod_client, submit):
    from urllib.parse import quote

    review = submit()
    # A spread sample of the list (every form field is checked the same way) plus number edge cases.
    strings = naughty_strings()[::10] + [
        "²",
        "9" * 40,
        "-1",
        "1e9",
        "review:²:1",
        "review:1:99999999999999999999",
    ]
    for value in strings:
        for url in (
            f"/moderation?kind={quote(value)}",
            f"/moderation?page={quote(value)}",
            f"/transparency?from={quote(value)}",
            f"/transparency.json?to={quote(value)}",
        ):
            assert mod_client.get(url).status_code in (200, 404, 422), url
        response = mod_client.post(
            "/moderation/bulk", data={"bulk-selected": [value], "bulk-approve": "x", "bulk-next": value}
        )
        assert response.status_code == 422, value
        response = mod_client.post(
            f"/moderation/items/review/{review.id}/reject",
            data={
                f"review-{review.id}-version": value,
                f"review-{review.id}-reason": value,
                f"review-{review.id}-next": value,
            },
        )
        assert response.status_code == 422, value
    huge = mod_client.post(
        f"/moderation/items/review/{review.id}/approve", data={f"review-{review.id}-version": "9" * 40}
    )
    assert huge.status_code == 409
    db.session.expire_all()
    assert review.status == "pending"


def test_a_kind_whose_hidden_items_a_section_shows_lists_only_pending_ones(mod_client, submit, moderator):
    from forum.catalog.models import Review
    from moderation.kinds import KINDS

    review = submit(title="Flagged and hidden")
    moderation.approve_submission("review", review.id, moderator)
    moderation.transition(db.session.get(Review, review.id), "hide", None, system=True, reason="flagged")
    db.session.commit()
    pending = submit(title="Still pending")
    assert "Flagged and hidden" in mod_client.get("/moderation").get_data(as_text=True)

    kind = KINDS["review"]
    saved = kind.queue_states
    kind.queue_states = ("pending",)  # what moderation.flags.enable_flags does for flaggable kinds
    try:
        page = mod_client.get("/moderation").get_data(as_text=True)
        assert "Flagged and hidden" not in page and "Still pending" in page
        assert moderation.queue_counts()["review"] == 1
    finally:
        kind.queue_states = saved
    assert pending.status == "pending"
