"""Handles, public profiles, mail preferences and one-click unsubscribe."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum.accounts import services as accounts
from forum.community import services as forums
from forum.extensions import db
from forum.members import services
from forum.members.models import MemberProfile, NotificationPreference
from forum.models import OutboxMessage
from moderation import services as moderation
from tests.conftest import STRONG_PASSWORD


def handle(user) -> str:
    return db.session.get(MemberProfile, user.id).handle


def test_handles_derive_from_display_names_and_stay_unique(make_user):
    first = make_user(display_name="Zoë  O'Brien")
    second = make_user(display_name="Zoe O Brien")
    odd = make_user(display_name="12345")
    assert handle(first) == "Zoe_O_Brien" and handle(second) == "Zoe_O_Brien2"
    assert handle(odd) == "member"


def test_change_handle_in_my_account(client, member, make_user, login_as):
    other = make_user(display_name="Taken Name")
    login_as(member)
    assert client.get("/account").status_code == 200 and "@Mia_Member" in client.get("/account").text
    response = client.post("/account/profile", data={"handle": "taken_name"})
    assert response.status_code == 422 and "This handle is taken" in response.text
    for bad in ("a", "has space", "123", "x" * 31, "émile", "admin"):
        assert client.post("/account/profile", data={"handle": bad}).status_code == 422, bad
    assert client.post("/account/profile", data={"handle": "mia-2"}).status_code == 302
    assert handle(member) == "mia-2"
    assert client.get("/members/MIA-2").status_code == 200
    assert handle(other) == "Taken_Name"


def test_profile_shows_public_facts_only(client, alice, bob, make_user, moderator, category):
    forums.create_topic(alice, category, "Published topic ibis", "Published words")
    newbie = make_user(display_name="Nina New")
    forums.create_topic(newbie, category, "Pending topic heron", "Pending words")
    rejected = forums.create_topic(newbie, category, "Rejected topic egret", "Rejected words")
    moderation.reject_submission("forum_post", rejected.opening.id, moderator, reason="spam")
    from datetime import date, timedelta

    from forum.accounts import suspensions

    suspensions.suspend_member(
        moderator, newbie.id, "Secret suspension reason", date.today() + timedelta(days=2)
    )
    page = client.get(f"/members/{alice.id}").text
    assert "Alice Archer" in page and "Published topic ibis" in page and f"@{handle(alice)}" in page
    assert alice.email not in page
    assert client.get(f"/members/{handle(alice)}").status_code == 200
    newbie_page = client.get(f"/members/{newbie.id}").text
    for private in ("heron", "egret", "Secret suspension", newbie.email, "suspended"):
        assert private not in newbie_page
    assert client.get("/members/999999").status_code == 404
    assert client.get("/members/no-such-handle").status_code == 404


def test_hidden_activity_is_hidden_from_the_public_but_not_moderators(
    client_for, client, alice, moderator, category, bob
):
    forums.create_topic(alice, category, "Activity topic ibis", "words")
    services.update_profile(alice, handle(alice), True)
    public = client.get(f"/members/{alice.id}").text
    assert "ibis" not in public and "keeps their list of reviews and posts private" in public
    assert "ibis" not in client_for(bob).get(f"/members/{alice.id}").text
    assert "ibis" in client_for(moderator).get(f"/members/{alice.id}").text
    assert "ibis" in client_for(alice).get(f"/members/{alice.id}").text


def test_author_names_link_to_profiles(client, alice, category):
    topic = forums.create_topic(alice, category, "Docks", "Opening")
    assert f'href="/members/{alice.id}"' in client.get(f"/forums/topics/{topic.id}").text
    assert f'href="/members/{alice.id}"' in client.get(f"/forums/{category.slug}").text


def test_deleted_member_profile_and_mentions_are_gone(client, alice, bob, category):
    gone_handle = handle(bob)
    accounts.delete_account(bob, STRONG_PASSWORD)
    assert client.get(f"/members/{gone_handle}").status_code == 404
    topic = forums.create_topic(alice, category, "Hi", f"Hello @{gone_handle}")
    assert f"/members/{gone_handle}" not in client.get(f"/forums/topics/{topic.id}").text


def test_preferences_page_changes_what_is_mailed(client, alice, bob, category, login_as):
    login_as(bob)
    page = client.get("/account/notifications").text
    assert (
        'value="immediate" checked'
        in page.replace("checked ", "checked").replace('checked="checked"', "checked")
        or "At once" in page
    )
    data = {
        "mention": "never",
        "reply": "digest",
        "quote": "immediate",
        "watched": "immediate",
        "like": "digest",
    }
    assert client.post("/account/notifications", data=data).status_code == 302
    assert services.preferences(bob) == data
    assert client.post("/account/notifications", data={**data, "like": "sometimes"}).status_code == 422
    forums.create_topic(alice, category, "T", f"@{handle(bob)}")
    assert [
        m
        for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == bob.email))
        if m.headers
    ] == []  # mentions: never


@pytest.mark.parametrize("csrf", [True])
def test_one_click_unsubscribe_without_login(app, csrf, alice, bob, category):
    app.config["WTF_CSRF_ENABLED"] = csrf
    forums.create_topic(alice, category, "T", f"@{handle(bob)}")
    mail = [
        m
        for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == bob.email))
        if m.headers
    ][0]
    link = mail.headers["List-Unsubscribe"].strip("<>")
    path = link.split("://", 1)[1].split("/", 1)[1]
    anonymous = app.test_client()
    page = anonymous.get("/" + path)
    assert page.status_code == 200 and "Unsubscribe" in page.text
    assert services.preferences(bob)["mention"] == "immediate"  # a GET (link scanner) changes nothing
    # What a mail program sends for List-Unsubscribe-Post: no cookie, no CSRF token.
    done = anonymous.post("/" + path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert services.preferences(bob)["mention"] == "never"
    assert db.session.get(NotificationPreference, (bob.id, "reply")) is None
    assert anonymous.get("/notifications/unsubscribe/forged-token").status_code == 404


def test_digest_unsubscribe_turns_off_every_digest_kind(app, bob):
    token = services.unsubscribe_token(bob.id, services.DIGEST)
    user, kinds = services.unsubscribe(token)
    assert sorted(kinds) == ["watched"] and services.preferences(bob)["watched"] == "never"


def test_review_decisions_are_listed_too(app, member, moderator):
    from forum.catalog import services as catalog
    from forum.catalog.models import Product

    product = Product(sku="SKU-1", name="Cable", description="")
    db.session.add(product)
    db.session.commit()
    review = catalog.submit_review(member, product, 5, "Fine cable", "Works")
    moderation.reject_submission("review", review.id, moderator, reason="off_topic")
    items = services.list_notifications(member)[1]
    assert [i["note"].kind for i in items] == ["moderation"]
    assert items[0]["sentence"].startswith("Your review was not published:")
    again = catalog.submit_review(member, product, 4, "Fine cable ibis", "Works well")
    moderation.approve_submission("review", again.id, moderator)
    assert services.list_notifications(member)[1][0]["sentence"] == "Your review is published."
    profile = services.profile_page(member, services.profile_of(member), None)
    assert profile["review_count"] == 1 and [r.title for r in profile["reviews"]] == ["Fine cable ibis"]


def test_handle_form_answers_naughty_strings_with_a_message(client, member, login_as):
    from tests.conftest import naughty_strings

    login_as(member)
    for value in naughty_strings("handle form"):
        response = client.post("/account/profile", data={"handle": value})
        assert response.status_code in (302, 422), value
    assert client.get("/account/profile").status_code == 200


def test_likes_send_no_mail_by_default_only_an_in_site_notification(
    client_for, alice, bob, make_trusted, category, sent_mail
):
    topic = forums.create_topic(alice, category, "Docks", "Opening")
    assert services.preferences(alice)["like"] == "never"  # DEFAULT_MODES
    sent_mail.clear()
    assert client_for(bob).post(f"/forums/posts/{topic.opening.id}/like").status_code == 302
    assert "Bob Baker liked your post" in client_for(alice).get("/notifications").text
    like_subject = services.MAIL_SUBJECTS["like"]
    assert [m for m in sent_mail if alice.email in m.to and m.subject == like_subject] == []
    outbox = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == alice.email)).all()
    assert [m for m in outbox if m.subject == like_subject] == []  # not even queued

    # The same like with mail asked for is mailed: the test above would see one.
    services.set_preferences(alice, {**services.preferences(alice), "like": "immediate"})
    carol = make_trusted(display_name="Carol Cook")
    sent_mail.clear()
    assert client_for(carol).post(f"/forums/posts/{topic.opening.id}/like").status_code == 302
    assert [m for m in sent_mail if alice.email in m.to and m.subject == like_subject] != []
