"""No input makes the site answer 5xx: a property-based walk over `app.url_map`.

For every rule and method of the running app (new routes are covered without
touching this file) and for each role (anonymous, member, moderator), Hypothesis
draws values for each path converter, for every query parameter the code reads
(found in the source: `args.get("...")`, `page_arg()`...), and for the fields of
every form (read from the page's own HTML, or from the form classes for POST-only
addresses), mixing real ids and slugs, odd numbers and the naughty strings.
The number of examples is bounded (FUZZ_EXAMPLES, default 2 rounds over every
route per role) so the test stays quick on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug.routing import IntegerConverter, PathConverter

from forum.extensions import db
from tests.conftest import naughty_strings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = [PROJECT_ROOT / "forum", PROJECT_ROOT / "moderation"]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2"))
SLOW_SECONDS = 10  # a request slower than this is reported as a warning (it would time out behind gunicorn)
SKIPPED_ENDPOINTS = {"static"}
ODD_NUMBERS = [
    "0",
    "-1",
    "²",
    "٣",
    "１",
    "",
    " 2",
    "1.5",
    "1e3",
    "2147483648",
    "99999999999999999999999",
    "0x1",
    "+1",
    "1,2",
]
ROLES = ["anonymous", "member", "moderator"]
NAUGHTY = naughty_strings()


def query_parameter_names() -> list[str]:
    """Every query parameter the code reads, found in the source."""
    names = {"page", "next"}
    patterns = [
        r"args\.get(?:list)?\(\s*[\"']([\w\-]+)[\"']",
        r"values\.get\(\s*[\"']([\w\-]+)[\"']",
        r"int_arg\(\s*[\"']([\w\-]+)[\"']",
    ]
    for folder in SOURCE_DIRS:
        for path in folder.rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern in patterns:
                names.update(re.findall(pattern, text))
    return sorted(names)


def form_class_field_names() -> set[str]:
    """Field names of every WTForms form class in the app (for POST-only addresses)."""
    from flask_wtf import FlaskForm
    from wtforms.fields.core import UnboundField

    names: set[str] = set()
    pending = list(FlaskForm.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        for attr in dir(cls):
            if isinstance(getattr(cls, attr, None), UnboundField):
                names.add(attr)
    return names


FIELD_NAME = re.compile(r"<(?:input|textarea|select)\b[^>]*\bname=\"([^\"]+)\"")
OPTION_VALUE = re.compile(r"<option\b[^>]*\bvalue=\"([^\"]*)\"")
FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.S | re.I)


@pytest.fixture
def world(app, make_user):
    """A little of everything, so that real ids and slugs lead into the views' code."""
    from forum.blog import services as blog
    from forum.catalog import services as catalog
    from forum.catalog.models import Product
    from forum.community import services as community
    from moderation import services as moderation
    from moderation.removal import services as removal

    member = make_user("member", email="fuzz-member@example.com")
    moderator = make_user("moderator", email="fuzz-mod@example.com")
    editor = make_user("editor", email="fuzz-editor@example.com")
    admin = make_user("admin", email="fuzz-admin@example.com")
    db.session.add(Product(sku="KETTLE-1", name="Kettle", description="Boils."))
    db.session.commit()
    product = db.session.scalar(db.select(Product))
    review = catalog.submit_review(member, product, 4, "Fine", "Boils fast.")
    moderation.approve_submission("review", review.id, moderator)
    catalog.submit_review(make_user("member"), product, 2, "Loud", "Too loud.")  # pending
    category = community.add_category("General", admin=admin)
    topic = community.create_topic(moderator, category, "Hello", "First post http://example.com")
    community.create_reply(member, topic.id, "A reply")
    post = blog.create_post(editor, "Spring news", "Body", publish=True)
    blog.create_post(editor, "Draft", "Not yet")
    comment = blog.add_comment(member, post.slug, "Nice")
    moderation.approve_submission("blog_comment", comment.id, moderator)
    removal.submit_request("jane@example.com", "everything", "", "whole", "")
    db.session.commit()
    return {
        "member": member,
        "moderator": moderator,
        "slugs": [post.slug, category.slug, "KETTLE-1", "general"],
        "kinds": ["review", "forum_post", "blog_comment"],
    }


def _routes(app):
    routes = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint in SKIPPED_ENDPOINTS or any(
            isinstance(c, PathConverter) for c in rule._converters.values()
        ):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule, method))
    return routes


def _path_value(draw, converter, world):
    if isinstance(converter, IntegerConverter):
        return draw(
            st.one_of(
                st.integers(1, 5).map(str), st.sampled_from(ODD_NUMBERS), st.integers(0, 2**64).map(str)
            )
        )
    return draw(
        st.one_of(
            st.sampled_from(world["slugs"] + world["kinds"]),
            st.sampled_from(NAUGHTY),
            st.text(min_size=1, max_size=20),
        )
    )


def _build_path(rule, values: dict[str, str]) -> str:
    def replace(match):
        return quote(values[match.group(2)], safe="")

    return re.sub(r"<(?:([a-zA-Z_]+)(?:\([^)]*\))?:)?([a-zA-Z_][a-zA-Z0-9_]*)>", replace, rule.rule)


def _value(draw):
    return draw(
        st.one_of(
            st.sampled_from(NAUGHTY),
            st.sampled_from(ODD_NUMBERS + ["1", "2", "on", "yes"]),
            st.text(max_size=30),
        )
    )


def _client(app, world, role):
    client = app.test_client()
    if role != "anonymous":
        user = world[role]
        db.session.refresh(user)
        with client.session_transaction() as session:
            session["_user_id"] = f"{user.id}:{user.session_version}"
            session["_fresh"] = True
    return client


@pytest.mark.parametrize("role", ROLES)
def test_no_route_answers_5xx_to_any_input(app, world, role):
    routes = _routes(app)
    assert len(routes) > 40  # the walk sees the whole app
    query_names = query_parameter_names()
    class_fields = sorted(form_class_field_names())
    page_fields: dict[str, list[str]] = {}
    page_options: dict[str, list[str]] = {}

    def fields_for(client, path: str) -> list[str]:
        """Names in the page's own POST forms (cached per path), else every form class's."""
        if path not in page_fields:
            html = client.get(path).get_data(as_text=True)
            forms = "".join(FORM.findall(html))
            page_fields[path] = sorted(set(FIELD_NAME.findall(forms)) - {"csrf_token"})
            page_options[path] = sorted(set(OPTION_VALUE.findall(forms)))
        return page_fields[path] or class_fields

    failures = []

    # One small property per route: a single example with thousands of draws makes
    # Hypothesis's own bookkeeping quadratic (minutes per example).
    def walk_route(rule, method):
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data())
        def walk(data):
            client = _client(app, world, role)
            values = {name: _path_value(data.draw, conv, world) for name, conv in rule._converters.items()}
            path = _build_path(rule, values)
            # Every parameter the code reads, each present two times in three (views ignore
            # the ones they do not read, so sending many costs nothing).
            chosen = [name for name in query_names if data.draw(st.integers(0, 2), label=f"send {name}") > 0]
            query = [(name, _value(data.draw)) for name in chosen]
            if data.draw(st.booleans(), label="repeat a parameter") and query:
                query.append((query[0][0], _value(data.draw)))
            form = None
            if method in ("POST", "PUT", "PATCH", "DELETE"):
                names = fields_for(client, path) if "GET" in rule.methods else class_fields
                picked = (
                    data.draw(
                        st.lists(st.sampled_from(names), max_size=len(names), unique=True),
                        label=f"fields of {rule.endpoint}",
                    )
                    if names
                    else []
                )
                options = page_options.get(path) or []
                form = {}
                for name in picked:
                    form[name] = (
                        data.draw(st.one_of(st.sampled_from(options), st.just("")), label=name)
                        if options and data.draw(st.booleans())
                        else _value(data.draw)
                    )
            started = time.monotonic()
            response = client.open(path, method=method, query_string=query, data=form)
            elapsed = time.monotonic() - started
            if elapsed > SLOW_SECONDS:
                warnings.warn(
                    f"slow: {elapsed:.0f} s for {role} {method} {path} {query!r} {form!r}"[:2000],
                    stacklevel=1,
                )
            # /healthz answers 503 by design when rows wait and no worker runs (tests apply them inline).
            if response.status_code >= 500 and not (
                rule.endpoint == "main.healthz" and response.status_code == 503
            ):
                failures.append((role, method, path, query, form, response.status_code))

        walk()

    for rule, method in routes:
        walk_route(rule, method)
    assert not failures, "5xx answers:\n" + "\n".join(repr(f) for f in failures[:10])
