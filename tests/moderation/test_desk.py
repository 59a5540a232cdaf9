"""The moderation desk: one list for everything, the same counts everywhere, the next item
after a decision, claims, keyboard hooks and /moderation/stats."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, update

from forum.extensions import db
from forum.timeutil import utcnow
from moderation import flags
from moderation import services as moderation
from moderation.removal import services as removal
from moderation.removal.models import RemovalRequest
from tests.moderation.removal.conftest import confirm_token_in, outbox


def _removal_request(email="jane@example.com", overdue=False) -> RemovalRequest:
    removal.submit_request(email, "everything", "", "whole", "")
    token = confirm_token_in(outbox(email)[-1].body_text)
    rr, _ = removal.confirm_request(token)
    if overdue:
        db.session.execute(
            update(RemovalRequest)
            .where(RemovalRequest.id == rr.id)
            .values(due_at=utcnow() - timedelta(days=1))
        )
        db.session.commit()
    return db.session.get(RemovalRequest, rr.id)


@pytest.fixture
def flagged_post(make_user):
    from forum.community import services as forums

    author = make_user("moderator", display_name="Poster")
    category = forums.add_category("General", "")
    post = forums.create_topic(author, category, "Flag me", "A post someone flags").opening
    flags.flag_item("forum_post", post.id, make_user("member"), "spam", note="Looks like an advert")
    return post


def _tab_count(page: str, label: str) -> int:
    match = re.search(rf'>{re.escape(label)} <span class="badge">(\d+)</span>', page)
    assert match, label
    return int(match.group(1))


def test_badge_and_every_tab_show_the_same_counts_removal_requests_included(
    mod_client, submit, flagged_post, sent_mail
):
    submit(title="One")
    submit(title="Two")
    _removal_request("late@example.com", overdue=True)
    _removal_request("early@example.com")
    page = mod_client.get("/moderation").get_data(as_text=True)
    badge = int(re.search(r'<span class="badge">(\d+)<span class="visually-hidden"> waiting', page).group(1))
    assert badge == _tab_count(page, "Everything") == 5
    assert _tab_count(page, "Product reviews") == 2
    assert _tab_count(page, "Flagged content") == 1
    assert _tab_count(page, "Removal requests") == 2
    assert '<span class="badge badge-overdue">1<span class="visually-hidden"> overdue' in page
    # The list has exactly as many rows as the badge counts.
    assert page.count('class="desk-row') == 5
    assert "Flag me" in page and "Flagged: Spam or advertising ×1" in page
    assert page.count('<strong class="overdue-tag">overdue</strong>') == 1
    # Every other page shows the same badge.
    home = mod_client.get("/").get_data(as_text=True)
    assert '<span class="badge">5<span class="visually-hidden"> waiting' in home


def test_the_list_filters_by_kind_and_reason(mod_client, submit, flagged_post, sent_mail):
    submit(title="A review")
    rr = _removal_request(overdue=True)
    flagged = mod_client.get("/moderation?kind=flags").get_data(as_text=True)
    assert "Flag me" in flagged and "A review" not in flagged and rr.reference not in flagged
    overdue = mod_client.get("/moderation?reason=overdue").get_data(as_text=True)
    assert rr.reference in overdue and "A review" not in overdue and "Flag me" not in overdue
    assert "A review" in mod_client.get("/moderation?reason=submitted").get_data(as_text=True)


def _follow(client, response):
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    return client.get(response.headers["Location"])


def _next_field(page: str, prefix: str) -> str:
    import html

    return html.unescape(re.search(rf'name="{prefix}-next" type="hidden" value="([^"]*)"', page).group(1))


def test_after_a_decision_the_moderator_lands_on_the_next_item(mod_client, submit):
    reviews = [submit(title=f"Item {i}") for i in range(3)]
    page = mod_client.get(f"/moderation/items/review/{reviews[0].id}").get_data(as_text=True)
    prefix = f"review-{reviews[0].id}"
    approve = mod_client.post(
        f"/moderation/items/review/{reviews[0].id}/approve",
        data={f"{prefix}-version": "1", f"{prefix}-next": _next_field(page, prefix)},
    )
    landed = _follow(mod_client, approve)
    assert landed.status_code == 303 and landed.headers["Location"].endswith(
        f"/moderation/items/review/{reviews[1].id}"
    )
    page = _follow(mod_client, landed).get_data(as_text=True)
    assert "Item 1" in page and "is published exactly as submitted" in page

    prefix = f"review-{reviews[1].id}"
    reject = mod_client.post(
        f"/moderation/items/review/{reviews[1].id}/reject",
        data={
            f"{prefix}-version": "1",
            f"{prefix}-reason": "spam",
            f"{prefix}-next": _next_field(page, prefix),
        },
    )
    landed = _follow(mod_client, reject)
    assert landed.headers["Location"].endswith(f"/moderation/items/review/{reviews[2].id}")
    page = _follow(mod_client, landed).get_data(as_text=True)
    prefix = f"review-{reviews[2].id}"
    last = mod_client.post(
        f"/moderation/items/review/{reviews[2].id}/approve",
        data={f"{prefix}-version": "1", f"{prefix}-next": _next_field(page, prefix)},
    )
    done = _follow(mod_client, last)
    assert done.headers["Location"].endswith("/moderation")
    assert "Nothing else is waiting in this list." in _follow(mod_client, done).get_data(as_text=True)


def test_the_next_item_keeps_the_list_filter_and_order(mod_client, submit):
    reviews = [submit(title=f"Item {i}") for i in range(3)]
    page = mod_client.get(f"/moderation/items/review/{reviews[2].id}?order=newest").get_data(as_text=True)
    assert 'href="/moderation?order=newest" data-desk="back"' in page
    prefix = f"review-{reviews[2].id}"
    response = mod_client.post(
        f"/moderation/items/review/{reviews[2].id}/approve",
        data={f"{prefix}-version": "1", f"{prefix}-next": _next_field(page, prefix)},
    )
    landed = _follow(mod_client, response)
    assert landed.headers["Location"].endswith(f"/moderation/items/review/{reviews[1].id}?order=newest")


def test_flagged_item_page_offers_keep_and_remove_and_moves_on(mod_client, flagged_post, submit):
    later = submit(title="After the flags")
    page = mod_client.get(f"/moderation/items/forum_post/{flagged_post.id}").get_data(as_text=True)
    assert "Keep it published" in page and "Looks like an advert" in page and "Spam or advertising: 1" in page
    token_next = re.search(r'name="next" value="([^"]*)"', page).group(1).replace("&amp;", "&")
    response = mod_client.post(
        f"/moderation/flags/forum_post/{flagged_post.id}/keep",
        data={"version": flagged_post.version, "next": token_next},
    )
    landed = _follow(mod_client, response)
    assert landed.headers["Location"].endswith(f"/moderation/items/review/{later.id}")


def test_claims_show_who_is_reviewing_and_never_block(client_for, moderator, make_user, submit, app):
    other = make_user("moderator", display_name="Other Mod")
    first, second = submit(title="Being looked at"), submit(title="Free one")
    mine, theirs = client_for(moderator), client_for(other)
    assert mine.get(f"/moderation/items/review/{first.id}").status_code == 200
    listing = theirs.get("/moderation").get_data(as_text=True)
    row = listing[
        listing.index(f'id="row-review-{first.id}"') : listing.index(f'id="row-review-{second.id}"')
    ]
    assert "being reviewed by Mo Derator" in row
    assert "being reviewed by" not in mine.get("/moderation").get_data(as_text=True)  # not about yourself
    # The next item skips what someone else has open (when something else is free).
    landed = theirs.get("/moderation/next")
    assert landed.headers["Location"].endswith(f"/moderation/items/review/{second.id}")
    # It never blocks: the other moderator decides anyway.
    prefix = f"review-{first.id}"
    response = theirs.post(f"/moderation/items/review/{first.id}/approve", data={f"{prefix}-version": "1"})
    assert response.status_code == 303
    # Claims expire.
    app.config["MODERATION_CLAIM_MINUTES"] = 0
    try:
        assert "being reviewed by" not in theirs.get("/moderation").get_data(as_text=True)
    finally:
        app.config.pop("MODERATION_CLAIM_MINUTES")


def test_opening_a_removal_request_claims_it(client_for, moderator, make_user, sent_mail):
    rr = _removal_request()
    other = client_for(make_user("moderator", display_name="Other Mod"))
    assert client_for(moderator).get(f"/moderation/removal-requests/{rr.id}").status_code == 200
    assert "being reviewed by Mo Derator" in other.get("/moderation").get_data(as_text=True)


def test_the_list_and_item_pages_carry_the_keyboard_hooks(mod_client, submit):
    review = submit()
    listing = mod_client.get("/moderation").get_data(as_text=True)
    assert '<script src="/static/desk.js" defer></script>' in listing
    assert 'id="keys-help"' in listing and "<kbd>j</kbd>" in listing
    assert f'data-approve="/moderation/items/review/{review.id}/approve"' in listing
    page = mod_client.get(f"/moderation/items/review/{review.id}").get_data(as_text=True)
    assert 'data-desk="approve"' in page and 'data-desk="reason"' in page and 'data-desk="back"' in page
    script = mod_client.get("/static/desk.js")
    assert script.status_code == 200 and b'"?"' in script.data


def test_the_list_takes_the_same_number_of_queries_for_5_or_50_items(app, mod_client, submit, make_user):
    from forum.catalog.models import Product

    def queries_for_list() -> int:
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert mod_client.get("/moderation").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    for i in range(5):
        submit(title=f"R{i}")
    few = queries_for_list()
    for i in range(45):
        product = Product(sku=f"Q-{i}", name=f"Q {i}", description="")
        db.session.add(product)
        db.session.flush()
        submit(title=f"S{i}", author=make_user(), on_product=product)
    assert queries_for_list() == few


def test_stats_page(client_for, mod_client, moderator, make_user, submit, member):
    other = make_user("moderator", display_name="Other Mod")
    a, b, c = submit(), submit(), submit()
    moderation.approve_submission("review", a.id, moderator)
    moderation.reject_submission("review", b.id, moderator, reason="spam")
    moderation.reject_submission("review", c.id, other, reason="off_topic")
    _removal_request(overdue=True)
    page = mod_client.get("/moderation/stats").get_data(as_text=True)
    assert "Moderation statistics" in page
    assert re.search(r"<dt>Approved</dt><dd>1 <span class=\"muted\">\(you: 1\)", page)
    assert re.search(r"<dt>Rejected</dt><dd>2 <span class=\"muted\">\(you: 1\)", page)
    assert "<td>Spam or advertising</td><td>1</td><td>1</td>" in page
    assert "<td>Not about the product or topic</td><td>1</td><td>0</td>" in page
    assert "under a minute" in page  # median time to decision
    assert "RR-" in page and "Overdue removal requests</dt><dd>1" in page
    today = utcnow().date().isoformat()
    row = page[page.index(f'datetime="{today}"') :]
    row = row[: row.index("</tr>")]
    assert re.findall(r"<td>(\d+)</td>", row) == ["1", "2", "0", "0", "3"]
    assert mod_client.get("/moderation/stats?days=abc").status_code == 200
    assert mod_client.get("/moderation/stats?days=7").status_code == 200
    assert client_for(member).get("/moderation/stats").status_code == 403


def test_format_wait():
    from moderation.stats import format_wait

    assert format_wait(None) == "—"
    assert format_wait(timedelta(minutes=90)) == "1 h 30 min"
    assert format_wait(timedelta(days=3, hours=2)) == "3 days 2 h"


def test_bulk_errors_are_in_the_shared_summary(mod_client, submit):
    submit()
    response = mod_client.post("/moderation/bulk", data={"bulk-next": "/moderation", "bulk-approve": "x"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    summary = page[page.index('<div class="error-summary" id="bulk-bulkform-errors"') :]
    assert "Select at least one item." in summary[: summary.index("</div>")]


def test_author_names_link_to_profiles_on_the_list_and_item_pages(
    mod_client, submit, flagged_post, make_user
):
    author = make_user("member", display_name="Rita Reviewer")
    review = submit(title="Linked", author=author)
    link = f'<a href="/members/{author.id}" class="member-link">Rita Reviewer</a>'
    assert link in mod_client.get("/moderation").get_data(as_text=True)
    assert link in mod_client.get(f"/moderation/items/review/{review.id}").get_data(as_text=True)
    poster = f'<a href="/members/{flagged_post.author_id}" class="member-link">Poster</a>'
    assert poster in mod_client.get("/moderation?kind=flags").get_data(as_text=True)
    item = mod_client.get(f"/moderation/items/forum_post/{flagged_post.id}").get_data(as_text=True)
    assert poster in item
    assert author.email not in mod_client.get("/moderation").get_data(as_text=True)
