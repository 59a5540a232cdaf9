"""The demo blog reads like our shop's: real posts, no placeholder text, and the post on
how we moderate says what the code does."""

from __future__ import annotations

import re

from forum.blog.demo import COMMENTS_PUBLISHED, POSTS
from moderation.states import REJECTION_REASONS

PLACEHOLDER = re.compile(r"\b(lorem|ipsum|dolor sit|consectetur|adipiscing)\b", re.I)


def _moderation_post() -> str:
    return next(body for title, _, body in POSTS if title.startswith("How we moderate"))


def test_no_placeholder_text_anywhere():
    for title, _, body in POSTS:
        assert not PLACEHOLDER.search(title + body), title
        assert len(body) > 200, title
    for text in COMMENTS_PUBLISHED:
        assert not PLACEHOLDER.search(text)


def test_the_moderation_post_matches_the_code(app):
    from forum.community.services import DEFAULT_HOLD_LINKS_OVER, DEFAULT_TRUST_THRESHOLD
    from moderation.flags import DEFAULT_HIDE_THRESHOLD
    from moderation.removal import DEFAULTS

    body = _moderation_post()
    for label in REJECTION_REASONS.values():
        assert label in body  # the whole list of reasons, word for word
    words = {2: "two", 3: "three"}
    assert f"at least {words[DEFAULT_TRUST_THRESHOLD]} published forum posts" in body
    assert f"more than {words[DEFAULT_HOLD_LINKS_OVER]} links" in body
    assert f"When {words[DEFAULT_HIDE_THRESHOLD]} members have flagged" in body
    assert f"within {DEFAULTS['REMOVAL_RESPONSE_DAYS']} days" in body
    assert f"more than {DEFAULTS['REMOVAL_MAX_EXTENSION_DAYS']} extra days" in body
    assert "SHA-256" in body and "never edit" in body.lower()
    for link in ("/removal-request", "/transparency", "/forums"):
        assert f"]({link})" in body
        assert link in {rule.rule for rule in app.url_map.iter_rules()}
