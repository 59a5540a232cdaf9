"""The forum's forms work with their CSRF token and refuse a post without it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from forum.community import services
from forum.community.models import ForumPost, ForumTopic
from forum.extensions import db
from tests.conftest import csrf_token_from


@pytest.fixture
def csrf_client(app_config):
    app_config["WTF_CSRF_ENABLED"] = True


def _token(html: str, action: str) -> str:
    form = html[html.index(f'action="{action}"') :]
    return csrf_token_from(form[: form.index("</form>")])


def test_forum_forms_need_their_token(csrf_client, app, client, moderator, category):
    topic = services.create_topic(moderator, category, "Tokens", "x")
    token = csrf_token_from(client.get("/login").text)
    assert (
        client.post(
            "/login",
            data={"email": moderator.email, "password": "correct horse battery staple", "csrf_token": token},
        ).status_code
        == 302
    )
    topic_page = client.get(f"/forums/topics/{topic.id}").text
    reply_action = f"/forums/topics/{topic.id}/reply"
    assert client.post(reply_action, data={"body": "no token"}).status_code == 400
    assert (
        client.post(
            reply_action, data={"body": "with token", "csrf_token": _token(topic_page, reply_action)}
        ).status_code
        == 302
    )
    tools = f"/forums/topics/{topic.id}/tools"
    assert client.post(tools, data={"action": "lock"}).status_code == 400
    assert (
        client.post(tools, data={"action": "lock", "csrf_token": _token(topic_page, tools)}).status_code
        == 302
    )
    move = f"/forums/topics/{topic.id}/move"
    other = services.add_category("Other", "")
    move_token = re.search(r'name="move-csrf_token" type="hidden" value="([^"]+)"', topic_page).group(1)
    assert client.post(move, data={"move-category": str(other.id)}).status_code == 400
    assert (
        client.post(move, data={"move-category": str(other.id), "move-csrf_token": move_token}).status_code
        == 302
    )
    db.session.expire_all()
    stored = db.session.get(ForumTopic, topic.id)
    assert stored.locked and stored.category_id == other.id
    assert db.session.scalar(select(ForumPost).where(ForumPost.body == "no token")) is None
