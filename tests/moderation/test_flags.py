"""Flags: one per member per item, hidden at the threshold, kept or removed by a moderator, all logged."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from forum.community import services as forums
from forum.community.models import ForumPost
from forum.errors import NotFound, PermissionDenied, ValidationFailed
from forum.extensions import db
from moderation import flags
from moderation.audit import verify_chain
from moderation.flags import Flag
from moderation.models import ModerationLog
from moderation.services import AlreadyDecided, approve_submission
from tests.conftest import login


@pytest.fixture
def post(app, make_user):
    """A published forum post by a moderator (publishes at once)."""
    author = make_user("moderator", display_name="Poster")
    category = forums.add_category("General", "")
    return forums.create_topic(author, category, "Hello", "A post that will be flagged").opening


@pytest.fixture
def members(make_user):
    return [make_user("member", display_name=f"Flagger {n}") for n in range(4)]


def _client(app, user):
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    return client


def _actions(post_id):
    return [
        r.action
        for r in db.session.scalars(
            select(ModerationLog)
            .where(ModerationLog.subject_kind == "forum_post", ModerationLog.subject_id == post_id)
            .order_by(ModerationLog.seq)
        )
    ]


def test_three_flags_from_different_members_hide_the_post(client, post, members):
    flags.flag_item("forum_post", post.id, members[0], "spam")
    flags.flag_item("forum_post", post.id, members[1], "abusive", "rude to everyone")
    assert db.session.get(ForumPost, post.id).status == "published"
    assert client.get(f"/forums/topics/{post.topic_id}").status_code == 200
    flags.flag_item("forum_post", post.id, members[2], "spam")
    db.session.expire_all()
    hidden = db.session.get(ForumPost, post.id)
    assert (hidden.status, hidden.decision_reason) == ("hidden", "flagged")
    assert client.get(f"/forums/topics/{post.topic_id}").status_code == 404
    assert _actions(post.id) == ["submitted", "auto_publish", "flag", "flag", "flag", "hide"]
    hide = db.session.scalar(select(ModerationLog).where(ModerationLog.action == "hide"))
    assert (hide.actor_role, hide.reason) == ("system", "flagged")
    assert verify_chain().ok


def test_threshold_is_configurable(app, post, members):
    app.config["FLAG_HIDE_THRESHOLD"] = 1
    flags.flag_item("forum_post", post.id, members[0], "off_topic")
    assert db.session.get(ForumPost, post.id).status == "hidden"


def test_one_flag_per_member_per_item(post, members):
    flags.flag_item("forum_post", post.id, members[0], "spam")
    with pytest.raises(ValidationFailed, match="already flagged"):
        flags.flag_item("forum_post", post.id, members[0], "abusive")
    flags.flag_item("forum_post", post.id, members[1], "spam")
    assert db.session.get(ForumPost, post.id).status == "published"  # two members, not three
    assert db.session.scalar(select(func.count()).select_from(Flag)) == 2


def test_refused_flags(post, members, make_user):
    with pytest.raises(ValidationFailed):
        flags.flag_item("forum_post", post.id, members[0], "i-dont-like-it")
    with pytest.raises(ValidationFailed):
        flags.flag_item("forum_post", post.id, post.author, "spam")  # your own post
    with pytest.raises(NotFound):
        flags.flag_item("forum_post", 9999, members[0], "spam")
    with pytest.raises(NotFound):
        flags.flag_item("no_such_kind", post.id, members[0], "spam")
    with pytest.raises(PermissionDenied):
        flags.flag_item("forum_post", post.id, None, "spam")
    pending = forums.create_topic(make_user(), post.topic.category, "Pending", "not public").opening
    with pytest.raises(NotFound):
        flags.flag_item("forum_post", pending.id, members[0], "spam")
    with pytest.raises(ValidationFailed):
        flags.flag_item("forum_post", post.id, members[0], "spam", "bad\x00note")
    assert db.session.scalar(select(func.count()).select_from(Flag)) == 0


def _hide(post, members):
    for member, reason in zip(members, ("spam", "spam", "abusive")):
        flags.flag_item("forum_post", post.id, member, reason)
    assert db.session.get(ForumPost, post.id).status == "hidden"


def test_moderator_keeps_a_hidden_post(client, post, members, moderator):
    _hide(post, members)
    section = flags.flags_queue_section(moderator)
    assert section.key == "flags" and section.count == 1
    [entry] = section.items
    assert entry.count == 3 and entry.reason_counts[0] == ("Spam or advertising", 2)
    flags.keep_item("forum_post", post.id, moderator, expected_version=entry.item.version)
    db.session.expire_all()
    assert db.session.get(ForumPost, post.id).status == "published"
    assert db.session.scalar(select(func.count()).select_from(Flag).where(Flag.resolved_at.is_(None))) == 0
    assert {f.resolution for f in db.session.scalars(select(Flag))} == {"kept"}
    assert flags.flags_queue_section(moderator).count == 0
    assert client.get(f"/forums/topics/{post.topic_id}").status_code == 200
    assert _actions(post.id)[-2:] == ["hide", "approve"]
    # Members who flagged once cannot flag it again; others can start a new count.
    with pytest.raises(ValidationFailed):
        flags.flag_item("forum_post", post.id, members[0], "spam")
    flags.flag_item("forum_post", post.id, members[3], "spam")
    assert db.session.get(ForumPost, post.id).status == "published"


def test_keep_a_published_flagged_post_is_logged(post, members, moderator):
    flags.flag_item("forum_post", post.id, members[0], "spam")
    flags.keep_item("forum_post", post.id, moderator)
    assert _actions(post.id)[-1] == "keep"
    assert flags.flags_queue_section(moderator).count == 0


def test_moderator_removes_a_flagged_post_with_a_reason(client, post, members, moderator, sent_mail):
    _hide(post, members)
    with pytest.raises(ValidationFailed):
        flags.remove_item("forum_post", post.id, moderator, reason="")
    flags.remove_item("forum_post", post.id, moderator, reason="abusive", note="Please be kind.")
    db.session.expire_all()
    removed = db.session.get(ForumPost, post.id)
    assert (removed.status, removed.decision_reason, removed.body) == ("removed", "abusive", None)
    assert {f.resolution for f in db.session.scalars(select(Flag))} == {"removed"}
    assert _actions(post.id)[-1] == "remove"
    assert client.get(f"/forums/topics/{post.topic_id}").status_code == 404
    assert verify_chain().ok


def test_approving_a_hidden_post_from_the_queue_resolves_its_flags(post, members, moderator):
    _hide(post, members)
    approve_submission("forum_post", post.id, moderator)
    assert db.session.scalar(select(func.count()).select_from(Flag).where(Flag.resolved_at.is_(None))) == 0


def test_two_moderators_deciding_flags_at_once(post, members, moderator, make_user):
    other = make_user("moderator")
    _hide(post, members)
    version = db.session.get(ForumPost, post.id).version
    flags.keep_item("forum_post", post.id, moderator, expected_version=version)
    with pytest.raises(AlreadyDecided):
        flags.remove_item("forum_post", post.id, other, reason="spam", expected_version=version)
    assert db.session.get(ForumPost, post.id).status == "published"


def test_flag_pages(app, post, members, moderator):
    client = _client(app, members[0])
    form = client.get(f"/flag/forum_post/{post.id}")
    assert form.status_code == 200 and "Spam or advertising" in form.text and "Off-topic" in form.text
    bad = client.post(f"/flag/forum_post/{post.id}", data={"reason": "not-a-reason"})
    assert bad.status_code == 422
    sent = client.post(f"/flag/forum_post/{post.id}", data={"reason": "spam", "note": "buy now <script>"})
    assert sent.status_code == 302 and f"/forums/posts/{post.id}" in sent.headers["Location"]
    assert "already flagged" in client.get(f"/flag/forum_post/{post.id}").text
    assert client.post(f"/flag/forum_post/{post.id}", data={"reason": "spam"}).status_code in (200, 422)
    assert db.session.scalar(select(func.count()).select_from(Flag)) == 1
    # The flag link is on the topic page for other members, not for the author.
    assert f"/flag/forum_post/{post.id}" in client.get(f"/forums/topics/{post.topic_id}").text
    # Anonymous visitors are sent to log in; members cannot see or decide flags.
    assert app.test_client().get(f"/flag/forum_post/{post.id}").status_code == 302
    assert client.get("/moderation/flags").status_code == 403
    assert client.post(f"/moderation/flags/forum_post/{post.id}/keep").status_code == 403
    assert (
        client.post(f"/moderation/flags/forum_post/{post.id}/remove", data={"reason": "spam"}).status_code
        == 403
    )
    assert db.session.get(ForumPost, post.id).status == "published"


def test_moderators_see_and_decide_flags_in_the_queue(app, post, members, moderator):
    _hide(post, members[:3])
    mod = _client(app, moderator)
    queue = mod.get("/moderation?kind=flags")
    assert queue.status_code == 200
    assert "Flagged content" in queue.text and ">Hello</a>" in queue.text
    assert "Spam or advertising ×2" in queue.text and "Hidden after flags" in queue.text
    item = mod.get(f"/moderation/items/forum_post/{post.id}")
    assert (
        "A post that will be flagged" in item.text
        and "Spam or advertising: 2" in item.text
        and "Restore (publish again)" in item.text
    )
    own = mod.get("/moderation/flags")
    assert own.status_code == 200 and "Abusive, harassing or obscene: 1" in own.text
    version = db.session.get(ForumPost, post.id).version
    missing = mod.post(
        f"/moderation/flags/forum_post/{post.id}/remove", data={"reason": "", "version": version}
    )
    assert missing.status_code == 422 and "Choose a reason" in missing.text
    done = mod.post(
        f"/moderation/flags/forum_post/{post.id}/remove",
        data={"reason": "spam", "version": version, "next": "/moderation?kind=flags"},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/moderation?kind=flags")
    db.session.expire_all()
    assert db.session.get(ForumPost, post.id).status == "removed"
    assert "No flagged content waiting." in mod.get("/moderation/flags").text


def test_keep_through_the_page(app, post, members, moderator):
    _hide(post, members[:3])
    mod = _client(app, moderator)
    version = db.session.get(ForumPost, post.id).version
    response = mod.post(
        f"/moderation/flags/forum_post/{post.id}/keep",
        data={"version": version, "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and "evil" not in response.headers["Location"]
    db.session.expire_all()
    assert db.session.get(ForumPost, post.id).status == "published"
    stale = mod.post(f"/moderation/flags/forum_post/{post.id}/keep", data={"version": version})
    assert stale.status_code == 409


def test_flagging_is_rate_limited(app_config, make_user):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_POSTING="1 per hour")
    from forum import create_app

    app = create_app(app_config)
    with app.app_context():
        author = make_user("moderator")
        category = forums.add_category("Rate", "")
        first = forums.create_topic(author, category, "One", "one").opening.id
        second = forums.create_topic(author, category, "Two", "two").opening.id
        flagger_email = make_user().email
    client = app.test_client()
    assert login(client, flagger_email).status_code == 302
    assert client.post(f"/flag/forum_post/{first}", data={"reason": "spam"}).status_code == 302
    assert client.post(f"/flag/forum_post/{second}", data={"reason": "spam"}).status_code == 429


def test_account_export_lists_my_flags_and_deletion_forgets_their_notes(post, members):
    from forum.accounts import services as accounts

    flags.flag_item("forum_post", post.id, members[0], "personal_information", "my phone number is in it")
    exported = accounts.export_account_data(members[0])["flags"]
    assert exported[0]["note"] == "my phone number is in it"
    from tests.conftest import STRONG_PASSWORD

    accounts.delete_account(members[0], STRONG_PASSWORD)
    flag = db.session.scalar(select(Flag))
    assert flag.user_id is None and flag.note is None


def test_hidden_item_is_listed_once_in_the_queue(post, members):
    """A flag-hidden post shows in the flags section only, not a second time as content."""
    from moderation import services as moderation_services

    _hide(post, members)
    listed = [(kind.name, item.id) for kind, item in moderation_services.queue_items()]
    assert ("forum_post", post.id) not in listed
    assert moderation_services.queue_counts().get("forum_post", 0) == 0
