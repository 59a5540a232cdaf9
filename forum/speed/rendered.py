"""Stored HTML: user text rendered once per item, revision and sanitiser policy version.

Rendering Markdown through bleach (or linkifying plain text) is the costliest
part of a page. The raw text stays the record; this module keeps the result in
`rendered_text`, keyed by (kind, item id), with the SHA-256 of the exact source
it came from and `forum.sanitize.SANITIZER_POLICY_VERSION`:

- a row whose source hash or policy differs from the item's current text is
  never used: an edit, or a policy bump, re-renders on the next view;
- publication stores the HTML in the publishing transaction; a view that finds
  no usable row renders and stores it (a short transaction of its own, only
  while the item is still published or hidden);
- leaving public view for good (rejected, removed, withdrawn, superseded, a blog
  post unpublished) deletes the row in the same transaction.

Areas describe their kinds once with `register_rendered(...)`; pages batch the
lookups with `prefetch(kind, items)` (one query per list) and templates show an
item with the `stored_html` filter.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import g, has_app_context
from markupsafe import Markup
from sqlalchemy import delete, exists, literal, select
from sqlalchemy.exc import SQLAlchemyError

from forum import sanitize
from forum.extensions import db

from .models import RenderedText

log = logging.getLogger(__name__)

MARKDOWN = "markdown"
PLAIN = "plain"
KEEP_STATES = ("published", "hidden")


@dataclass
class RenderedKind:
    name: str
    model: type
    mode: str  # MARKDOWN or PLAIN
    source: Callable = lambda item: item.body  # the text to render
    public_states: tuple[str, ...] = KEEP_STATES


RENDERED: dict[str, RenderedKind] = {}
BY_MODEL: dict[type, RenderedKind] = {}


def register_rendered(kind: RenderedKind, content_kind=None) -> RenderedKind:
    """Describe a kind; given its moderation ContentKind, keep rows in step with its transitions."""
    RENDERED[kind.name] = kind
    BY_MODEL[kind.model] = kind
    if content_kind is not None:

        def follow_transition(item, action, actor, from_state, _kind=kind):
            if item.status == "published":
                store(_kind.name, [item])
            elif item.status not in _kind.public_states:
                forget(_kind.name, [item.id])

        content_kind.on_transition.append(follow_transition)
    return kind


def render(mode: str, text: str | None) -> Markup:
    if mode == MARKDOWN:
        return sanitize.render_markdown(text)
    return sanitize.linkify_plain_text(text)


def source_hash(mode: str, text: str | None) -> str:
    return hashlib.sha256(f"{mode}\x00{text or ''}".encode("utf-8", "surrogatepass")).hexdigest()


def _policy() -> int:
    return sanitize.SANITIZER_POLICY_VERSION


def _memo() -> dict:
    if not has_app_context():
        return {}
    memo = g.get("_stored_html")
    if memo is None:
        memo = g._stored_html = {}
    return memo


def prefetch(kind_name: str, items) -> dict[int, Markup]:
    """The HTML of these items, in one query; missing or stale rows are rendered and stored."""
    kind = RENDERED[kind_name]
    items = [item for item in items if item is not None and item.id is not None]
    memo = _memo()
    result: dict[int, Markup] = {}
    wanted = {}
    for item in items:
        text = kind.source(item)
        if text is None:  # erased or withdrawn: nothing to show
            result[item.id] = Markup("")
            continue
        key = (kind_name, item.id, source_hash(kind.mode, text))
        if key in memo:
            result[item.id] = memo[key]
        else:
            wanted[item.id] = (item, text, key)
    if not wanted:
        return result
    rows = db.session.execute(
        select(
            RenderedText.item_id, RenderedText.source_sha256, RenderedText.policy, RenderedText.html
        ).where(RenderedText.kind == kind_name, RenderedText.item_id.in_(list(wanted)))
    )
    policy = _policy()
    for item_id, sha, row_policy, html in rows:
        item, text, key = wanted[item_id]
        if sha == key[2] and row_policy == policy:
            result[item_id] = memo[key] = Markup(html)
            del wanted[item_id]
    fresh = []
    for item_id, (item, text, key) in wanted.items():
        html = render(kind.mode, text)
        result[item_id] = memo[key] = html
        fresh.append((item, key[2], html))
    if fresh:
        _store_on_view(kind, fresh)
    return result


def html_of(item) -> Markup:
    """One item's HTML (the batch of `prefetch` if the page made one)."""
    kind = BY_MODEL[type(item)]
    return prefetch(kind.name, [item])[item.id]


def _upsert(conn, kind: RenderedKind, item_id: int, sha: str, html: str, *, guarded: bool) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    values = select(
        literal(kind.name), literal(item_id), literal(sha), literal(_policy()), literal(str(html))
    )
    if guarded:
        model = kind.model
        values = values.where(exists().where(model.id == item_id, model.status.in_(kind.public_states)))  # type: ignore[attr-defined]
    else:
        values = values.where(literal(True))
    statement = insert(RenderedText).from_select(
        ["kind", "item_id", "source_sha256", "policy", "html"], values
    )
    statement = statement.on_conflict_do_update(
        index_elements=["kind", "item_id"],
        set_={
            "source_sha256": statement.excluded.source_sha256,
            "policy": statement.excluded.policy,
            "html": statement.excluded.html,
        },
    )
    conn.execute(statement)


def _store_on_view(kind: RenderedKind, fresh) -> None:
    """Keep what a view rendered, in a short transaction of its own (never the page's).

    Only while the item is still public: a removal committed in between wins.
    Best effort: if the database is busy, the next view tries again."""
    try:
        with db.engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            try:
                with conn.begin():
                    if sqlite:  # never keep a reader waiting for long: this is only a cache fill
                        conn.exec_driver_sql("PRAGMA busy_timeout=100")
                    for item, sha, html in fresh:
                        _upsert(conn, kind, item.id, sha, html, guarded=True)
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA busy_timeout=10000")
                    conn.commit()
    except SQLAlchemyError as error:
        log.info("stored HTML not saved this time (%s): %s", kind.name, error)


def store(kind_name: str, items) -> None:
    """Render and keep these items' HTML in the current transaction (at publication). No commit."""
    kind = RENDERED[kind_name]
    conn = db.session.connection()
    for item in items:
        text = kind.source(item)
        if text is None:
            continue
        sha = source_hash(kind.mode, text)
        _upsert(conn, kind, item.id, sha, render(kind.mode, text), guarded=False)


def forget(kind_name: str, item_ids) -> None:
    """Delete stored HTML in the current transaction (the item left public view). No commit."""
    ids = [i for i in item_ids if i is not None]
    if ids:
        db.session.execute(
            delete(RenderedText).where(RenderedText.kind == kind_name, RenderedText.item_id.in_(ids))
        )


def stale_count() -> int:
    """Rows rendered under an older sanitiser policy (they are re-rendered on first view)."""
    from sqlalchemy import func

    return (
        db.session.scalar(
            select(func.count()).select_from(RenderedText).where(RenderedText.policy != _policy())
        )
        or 0
    )


def stored_html_filter(item) -> Markup:
    return html_of(item)
