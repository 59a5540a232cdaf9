"""Tables that only exist for speed: stored HTML and the page-cache versions.

Neither is a record: the raw text stays in its own table, and every row here
can be dropped at any time (it is rebuilt on the next view).
"""

from __future__ import annotations

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from forum.extensions import db


class RenderedText(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """The sanitised HTML of one item's text, for one revision and one sanitiser policy.

    `source_sha256` is the SHA-256 of the text it was rendered from (and of the
    rendering mode), so an edited text never matches a row rendered from the
    earlier one; `policy` is `forum.sanitize.SANITIZER_POLICY_VERSION` at render
    time, so bumping it re-renders lazily.
    """

    __tablename__ = "rendered_text"

    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_sha256: Mapped[str] = mapped_column(String(64))
    policy: Mapped[int] = mapped_column(Integer)
    html: Mapped[str] = mapped_column(Text)


class PageVersion(db.Model):  # type: ignore[name-defined]  # db.Model is dynamic
    """One random token per area of public content ("catalog", "forum", "blog", ...).

    The transaction that changes what an area shows replaces its token; cached
    pages are keyed by the tokens they were rendered under, so a stale page is
    never served, even across workers or after a database restore.
    """

    __tablename__ = "page_version"

    scope: Mapped[str] = mapped_column(String(30), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
