"""Forum post text as readers see it: Markdown with @mentions linked to profiles and
quotes of posts that are no longer published replaced by "quoted post removed".

The stored text never changes (published as submitted); only what is shown does.
Everything a page needs is looked up once for all of its posts (`render_posts`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import current_app, has_request_context, url_for
from markdown_it.token import Token
from markupsafe import Markup
from sqlalchemy import and_, select
from sqlalchemy.orm import aliased

from forum.accounts.suspensions import MemberSuspension
from forum.community.models import ForumPost
from forum.extensions import db
from forum.sanitize import render_markdown_tokens
from forum.timeutil import utcnow

from .handles import MENTION_RE
from .models import MemberProfile

QUOTED_POST_REMOVED = "quoted post removed"
# The attribution line of a quote: its first link leads to the quoted post.
QUOTE_HREF_RE = re.compile(r"(?:https?://[^/\s]+)?/forums/posts/(\d+)(?:[#?].*)?")
QUOTE_LINE_RE = re.compile(
    r"^[ \t]*(?:>[ \t]*)+\[[^\]\n]*\]\(((?:https?://[^/\s)]+)?/forums/posts/(\d+))[^)]*\)", re.MULTILINE
)


def site_path(endpoint: str, **values) -> str:
    """A path of this site, in a request or not (CLI, worker, services called from tests)."""
    if has_request_context():
        return url_for(endpoint, **values)
    anchor = values.pop("_anchor", None)
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return f"{path}#{anchor}" if anchor else path


@dataclass
class RenderContext:
    # lower-cased handle -> handle as chosen, for members who can be mentioned now
    handles: dict[str, str] = field(default_factory=dict)
    # ids of quoted posts that are not public any more (or never were)
    gone_quotes: set[int] = field(default_factory=set)


def quoted_post_ids(body: str | None) -> set[int]:
    """Posts this text quotes (blockquotes whose attribution links to a post)."""
    return {int(m.group(2)) for m in QUOTE_LINE_RE.finditer(body or "")}


def mentioned_handles(body: str | None) -> list[str]:
    """Handles written as @handle, in order, without repeats (case-insensitive)."""
    seen: dict[str, None] = {}
    for match in MENTION_RE.finditer(body or ""):
        seen.setdefault(match.group(1).lower(), None)
    return list(seen)


def mentions_for_notifying(body: str | None) -> list[str]:
    """Handles written as @handle in the post's own words: not in code, links (a quote's
    attribution) or quoted text, so quoting someone does not mention everyone they mentioned."""
    found: dict[str, None] = {}
    if not body or "@" not in body:
        return []

    def collect(tokens):
        depth = 0
        for token in tokens:
            if token.type == "blockquote_open":
                depth += 1
            elif token.type == "blockquote_close":
                depth -= 1
            elif token.type == "inline" and not depth and token.children:
                in_link = 0
                for child in token.children:
                    in_link += 1 if child.type == "link_open" else -1 if child.type == "link_close" else 0
                    if child.type == "text" and not in_link:
                        for match in MENTION_RE.finditer(child.content):
                            found.setdefault(match.group(1).lower(), None)

    render_markdown_tokens(body, collect)
    return list(found)


def mentionable(handle_keys) -> dict[str, tuple[str, int]]:
    """handle key -> (handle, user id) for existing members who are not suspended."""
    keys = list(handle_keys)
    if not keys:
        return {}
    suspended = select(MemberSuspension.user_id).where(
        MemberSuspension.lifted_at.is_(None), MemberSuspension.ends_at > utcnow()
    )
    rows = db.session.execute(
        select(MemberProfile.handle_key, MemberProfile.handle, MemberProfile.user_id).where(
            MemberProfile.handle_key.in_(keys), MemberProfile.user_id.not_in(suspended)
        )
    )
    return {key: (handle, user_id) for key, handle, user_id in rows}


def public_post_ids(post_ids) -> set[int]:
    ids = list(post_ids)
    if not ids:
        return set()
    opening = aliased(ForumPost)
    return set(
        db.session.scalars(
            select(ForumPost.id)
            .join(opening, and_(opening.topic_id == ForumPost.topic_id, opening.is_opening.is_(True)))
            .where(ForumPost.id.in_(ids), ForumPost.status == "published", opening.status == "published")
        )
    )


def build_context(bodies) -> RenderContext:
    bodies = [b for b in bodies if b]
    keys: set[str] = set()
    quoted: set[int] = set()
    for body in bodies:
        keys.update(mentioned_handles(body))
        quoted |= quoted_post_ids(body)
    handles = {key: handle for key, (handle, _) in mentionable(keys).items()}
    return RenderContext(handles=handles, gone_quotes=quoted - public_post_ids(quoted))


def _quote_target(tokens, i) -> int | None:
    if i + 2 >= len(tokens) or tokens[i + 1].type != "paragraph_open" or tokens[i + 2].type != "inline":
        return None
    children = tokens[i + 2].children or []
    if not children or children[0].type != "link_open":
        return None
    match = QUOTE_HREF_RE.fullmatch(str(children[0].attrGet("href") or ""))
    return int(match.group(1)) if match else None


def _matching_close(tokens, i) -> int:
    level = tokens[i].level
    for k in range(i + 1, len(tokens)):
        if tokens[k].type == "blockquote_close" and tokens[k].level == level:
            return k
    return len(tokens)


def _removed_tokens(level: int) -> list[Token]:
    inline = Token(
        "inline",
        "",
        0,
        level=level + 1,
        content=QUOTED_POST_REMOVED,
        block=True,
        children=[
            Token("em_open", "em", 1, markup="*"),
            Token("text", "", 0, content=QUOTED_POST_REMOVED),
            Token("em_close", "em", -1, markup="*"),
        ],
    )
    return [
        Token("paragraph_open", "p", 1, level=level, block=True),
        inline,
        Token("paragraph_close", "p", -1, level=level, block=True),
    ]


def _link_mentions(children: list[Token], handles: dict[str, str]) -> list[Token]:
    out: list[Token] = []
    in_link = 0
    for child in children:
        if child.type == "link_open":
            in_link += 1
        elif child.type == "link_close":
            in_link -= 1
        if child.type != "text" or in_link or "@" not in child.content:
            out.append(child)
            continue
        text, pos = child.content, 0
        for match in MENTION_RE.finditer(text):
            handle = handles.get(match.group(1).lower())
            if handle is None:
                continue
            if match.start() > pos:
                out.append(Token("text", "", 0, content=text[pos : match.start()]))
            link = Token("link_open", "a", 1)
            link.attrSet("href", site_path("members.profile", ref=handle))
            link.attrSet("title", f"Profile of @{handle}")
            out.extend([link, Token("text", "", 0, content=match.group(0)), Token("link_close", "a", -1)])
            pos = match.end()
        if pos < len(text):
            out.append(Token("text", "", 0, content=text[pos:]))
    return out


def _transformer(ctx: RenderContext):
    def transform(tokens: list[Token]) -> None:
        i = 0
        while i < len(tokens):
            if tokens[i].type == "blockquote_open":
                target = _quote_target(tokens, i)
                if target is not None and target in ctx.gone_quotes:
                    tokens[i + 1 : _matching_close(tokens, i)] = _removed_tokens(tokens[i].level + 1)
            i += 1
        if ctx.handles:
            for token in tokens:
                if token.type == "inline" and token.children:
                    token.children = _link_mentions(token.children, ctx.handles)

    return transform


def render_body(body: str | None, ctx: RenderContext) -> Markup:
    return render_markdown_tokens(body, _transformer(ctx))


def _depends_on_state(body: str | None) -> bool:
    """Mentions and quotes render by who and what is public now; other text never changes."""
    return bool(body and ("@" in body or QUOTE_LINE_RE.search(body)))


def render_posts(posts) -> dict[int, Markup]:
    """Post id -> HTML for every post of a page, in a constant number of queries.

    Posts without mentions or quotes (most of them) use the HTML stored once per revision
    (forum.speed.rendered); the others are rendered against the current state.
    """
    from forum.speed import rendered

    posts = list(posts)
    live = [p for p in posts if _depends_on_state(p.body)]
    result = rendered.prefetch("forum_post", [p for p in posts if not _depends_on_state(p.body)])
    if live:
        ctx = build_context(p.body for p in live)
        result.update({p.id: render_body(p.body, ctx) for p in live})
    return result


def render_post(post) -> Markup:
    return render_posts([post])[post.id]


def plain_text(body: str | None) -> str:
    """What search indexes: the text as readers see it (removed quotes left out)."""
    return Markup(render_body(body, build_context([body]))).striptags()
