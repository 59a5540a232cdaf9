"""Categories: admins manage them on a page and with `flask forums add-category` / `flask forums list`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum.community import services
from forum.community.models import ForumCategory
from forum.errors import PermissionDenied, ValidationFailed
from forum.extensions import db


def test_cli_adds_and_lists_categories(runner):
    result = runner.invoke(
        args=["forums", "add-category", "Monitors & displays", "--description", "4K, HDR, cables"]
    )
    assert result.exit_code == 0, result.output
    assert "/forums/monitors-displays" in result.output
    result = runner.invoke(args=["forums", "add-category", "Audio", "--order", "0"])
    assert result.exit_code == 0, result.output
    category = db.session.scalar(select(ForumCategory).where(ForumCategory.name == "Monitors & displays"))
    assert (category.slug, category.description) == ("monitors-displays", "4K, HDR, cables")
    listed = runner.invoke(args=["forums", "list"])
    assert listed.exit_code == 0
    assert listed.output.index("Audio") < listed.output.index("Monitors & displays")
    assert runner.invoke(args=["forums", "list-categories"]).exit_code == 0


def test_cli_refuses_bad_names_clearly(runner):
    assert runner.invoke(args=["forums", "add-category", "Audio"]).exit_code == 0
    duplicate = runner.invoke(args=["forums", "add-category", "audio"])
    assert duplicate.exit_code != 0 and "already a category" in duplicate.output
    empty = runner.invoke(args=["forums", "add-category", "   "])
    assert empty.exit_code != 0 and "Enter a name" in empty.output
    long = runner.invoke(args=["forums", "add-category", "x" * 81])
    assert long.exit_code != 0 and "limit is 80" in long.output
    assert runner.invoke(args=["forums", "list"]).output.count("/forums/") == 1


def test_slugs_are_unique_readable_and_avoid_the_forums_own_addresses(app):
    assert services.add_category("Topics").slug == "topics-2"
    assert services.add_category("Café & Crème").slug == "cafe-creme"
    assert services.add_category("Cafe Creme!").slug == "cafe-creme-2"
    assert services.add_category("日本語").slug == "category"
    assert services.add_category("한국어").slug == "category-2"


def test_categories_page_is_for_admins(client_for, admin, moderator, make_user):
    assert client_for(make_user()).get("/forums/admin/categories").status_code == 403
    assert client_for(moderator).get("/forums/admin/categories").status_code == 403
    assert client_for(moderator).post("/forums/admin/categories", data={"name": "Sneaky"}).status_code == 403
    with pytest.raises(PermissionDenied):
        services.add_category("Sneaky", admin=moderator)
    assert db.session.scalar(select(ForumCategory)) is None
    admin_client = client_for(admin)
    page = admin_client.get("/forums/admin/categories")
    assert page.status_code == 200 and 'for="name"' in page.text and 'for="position"' in page.text


def test_admin_adds_edits_orders_and_deletes_categories(client, client_for, admin, moderator):
    admin_client = client_for(admin)
    assert (
        admin_client.post(
            "/forums/admin/categories", data={"name": "Cables", "description": "All cables", "position": "2"}
        ).status_code
        == 302
    )
    assert (
        admin_client.post("/forums/admin/categories", data={"name": "Audio", "position": "1"}).status_code
        == 302
    )
    assert admin_client.post("/forums/admin/categories", data={"name": ""}).status_code == 422
    assert (
        admin_client.post("/forums/admin/categories", data={"name": "X", "position": "first"}).status_code
        == 422
    )
    public = client.get("/forums").text
    assert public.index("Audio") < public.index("Cables") and "All cables" in public
    cables = db.session.scalar(select(ForumCategory).where(ForumCategory.name == "Cables"))
    assert admin_client.get(f"/forums/admin/categories/{cables.id}").status_code == 200
    assert (
        admin_client.post(
            f"/forums/admin/categories/{cables.id}",
            data={"name": "Cables and adapters", "description": "", "position": "0"},
        ).status_code
        == 302
    )
    db.session.expire_all()
    cables = db.session.get(ForumCategory, cables.id)
    assert (cables.name, cables.slug, cables.position) == (
        "Cables and adapters",
        "cables",
        0,
    )  # the address stays
    services.create_topic(moderator, cables, "Keeps the category", "x")
    admin_client.post(f"/forums/admin/categories/{cables.id}/delete")
    assert db.session.get(ForumCategory, cables.id) is not None  # not empty
    audio_id = db.session.scalar(select(ForumCategory.id).where(ForumCategory.name == "Audio"))
    assert admin_client.post(f"/forums/admin/categories/{audio_id}/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(ForumCategory, audio_id) is None


def test_category_fields_are_checked(app):
    for name, description, position in (
        ("", "", None),
        ("x" * 81, "", None),
        ("a\nb", "", None),
        ("ok", "d" * 1001, None),
        ("ok", "nul\x00", None),
        ("ok", "", "x"),
        ("ok", "", 10**9),
    ):
        with pytest.raises(ValidationFailed):
            services.add_category(name, description, position)
    assert db.session.scalar(select(ForumCategory)) is None
