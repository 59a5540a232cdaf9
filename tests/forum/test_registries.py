"""Registries filled at start-up belong to the app: two apps in one process share nothing."""

from __future__ import annotations

import pytest

from forum import create_app
from forum.accounts import services as accounts
from forum.demo import loaders
from forum.registries import EXTENSION_KEY, AppList, resolve_app
from forum.search import SEARCHABLES
from forum.templating import NAV_AREAS, moderator_badges, register_nav_area
from moderation.kinds import KINDS, QUEUE_SECTIONS, ContentKind, register_kind
from moderation.transparency import TRANSPARENCY_SECTIONS

PROXIES = [
    KINDS,
    QUEUE_SECTIONS,
    SEARCHABLES,
    accounts.export_sections,
    accounts.deletion_handlers,
    accounts.deletion_explanations,
    TRANSPARENCY_SECTIONS,
    moderator_badges,
    loaders,
    NAV_AREAS,
]


def test_two_apps_have_equal_but_separate_registries(app, app_config):
    other = create_app(app_config)
    for proxy in PROXIES:
        mine, theirs = proxy.for_app(app), proxy.for_app(other)
        assert mine is not theirs, proxy
        assert len(mine) == len(theirs), proxy
    # Nothing is duplicated by building a second app (the old module globals grew each time).
    assert [name for name, _ in loaders] == [
        "accounts",
        "orders",
        "catalog",
        "review extras",
        "forums",
        "members",
        "blog",
        "removal requests",
    ]
    assert sorted(KINDS) == ["blog_comment", "forum_post", "review"]
    assert len(set(map(id, moderator_badges))) == len(moderator_badges)


def test_the_module_names_read_the_current_app(app, app_config):
    other = create_app(app_config)
    register_kind(ContentKind(name="poll", label="Poll", model=object, queue_template="x.html"), app=other)
    assert "poll" not in KINDS  # the test's app context is `app`
    with other.app_context():
        assert "poll" in KINDS and resolve_app() is other
    assert "poll" in other.extensions[EXTENSION_KEY]["moderation.kinds"]


def test_areas_register_into_the_app_being_built(app_config, monkeypatch):
    from forum import templating

    built = []
    real_init = templating.init_app

    def init_app(app):
        register_nav_area("Deals", "catalog.products")  # no app= and no app context: the app being built
        built.append(app)
        real_init(app)

    monkeypatch.setattr(templating, "init_app", init_app)
    new_app = create_app(app_config)
    assert ("Deals", "catalog.products") in NAV_AREAS.for_app(new_app)
    assert built == [new_app]


def test_outside_any_app_registering_says_what_to_do():
    lonely = AppList("test.lonely")
    with pytest.raises(RuntimeError, match="init_app"):
        lonely.append(1)


def test_create_app_reads_as_a_list_of_areas():
    from forum import _areas

    areas = _areas()
    assert all(callable(getattr(area, "init_app", None)) for area in areas)
    names = [area.__name__ for area in areas]
    assert names.index("forum.paging") == 0
    assert names.index("forum.search") > names.index("forum.blog") > names.index("forum.catalog")
    assert names.index("moderation.removal") > names.index("moderation")
