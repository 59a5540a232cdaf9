"""Author names link to the member's profile on every page that shows an author (issue 13): the
home page's latest reviews, the company-reply page, blog posts and the moderators' suspensions
list, besides the forum, review, search and desk pages tested elsewhere. Deleted accounts stay
plain text, cached pages show a new display name at once, and the queries per page stay constant."""

from __future__ import annotations

from datetime import date, timedelta

from forum.accounts import services as accounts
from forum.accounts import suspensions
from forum.extensions import db
from forum.members import services
from tests.conftest import STRONG_PASSWORD
from tests.forum.speed.conftest import add_reviews, blog_post, editor, product  # noqa: F401


def link(user) -> str:
    return f'<a href="/members/{user.id}" class="member-link">{user.display_name}</a>'


def test_home_page_byline_links_the_review_author_and_follows_a_rename(client, product, add_reviews):  # noqa: F811
    review = add_reviews(product, 1, prefix="Heron")[0]
    author = review.author
    for _ in range(2):  # the second answer comes from the page cache
        assert link(author) in client.get("/").text
    author.display_name = "Renamed Reviewer"
    db.session.commit()
    page = client.get("/").text
    assert link(author) in page and "Heron author 0" not in page


def test_company_reply_page_links_the_review_author(client, login_as, product, add_reviews, editor):  # noqa: F811
    review = add_reviews(product, 1)[0]
    login_as(editor)
    page = client.get(f"/reviews/{review.id}/reply")
    assert page.status_code == 200 and link(review.author) in page.text


def test_blog_post_authors_link_until_their_account_is_deleted(client, login_as, editor, blog_post):  # noqa: F811
    for path in ("/blog", f"/blog/{blog_post.slug}", "/", "/blog"):
        client.get(path)  # the anonymous pages are now in the page cache
    assert link(editor) in client.get("/blog").text
    assert link(editor) in client.get(f"/blog/{blog_post.slug}").text
    editor.display_name = "Edna Renamed"
    db.session.commit()
    assert link(editor) in client.get("/blog").text
    assert link(editor) in client.get(f"/blog/{blog_post.slug}").text

    editor_id = editor.id
    accounts.delete_account(editor, STRONG_PASSWORD)
    for path in ("/blog", f"/blog/{blog_post.slug}"):
        page = client.get(path).text
        assert f"/members/{editor_id}" not in page and "Edna Renamed" not in page
        assert "By Shop Community staff" in page


def test_blog_management_links_authors(client, login_as, editor, blog_post):  # noqa: F811
    login_as(editor)
    assert link(editor) in client.get("/blog/manage").text


def test_suspensions_list_links_members_and_moderators_in_constant_queries(
    client, login_as, make_user, moderator, count_queries
):
    def suspend(n):
        for i in range(n):
            member = make_user(display_name=f"Suspended {n}-{i}")
            suspensions.suspend_member(
                moderator, member.id, "Spamming links", date.today() + timedelta(days=3)
            )

    login_as(moderator)

    def queries() -> int:
        with count_queries() as n:
            assert client.get("/moderation/suspensions").status_code == 200
        return n[0]

    suspend(1)
    page = client.get("/moderation/suspensions").text
    member = db.session.scalar(db.select(suspensions.MemberSuspension)).user
    assert link(member) in page and f"by {link(moderator)}" in page
    few = queries()
    suspend(4)
    assert queries() == few
    assert client.get("/moderation/suspensions").text.count('class="member-link"') == 2 * 5


def test_profile_links_use_ids_so_a_handle_change_breaks_none(client, product, add_reviews):  # noqa: F811
    review = add_reviews(product, 1)[0]
    client.get("/")
    client.get("/")
    services.update_profile(review.author, "new-handle", False)
    page = client.get("/").text
    assert link(review.author) in page
    assert client.get(f"/members/{review.author.id}").status_code == 200
