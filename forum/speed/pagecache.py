"""Whole public pages for anonymous visitors, and conditional requests on every public page.

Versions. Each area of public content has a random token in `page_version`
("catalog", "forum", "blog", "people", "search"). SQLAlchemy session events
replace the token of every area whose rows a transaction writes (ORM inserts,
updates and deletes, and UPDATE/DELETE statements on mapped models), in that
same transaction, at its first write. So once a removal is committed, its
area's token has changed with it, and no page rendered before can match.

Pages. A cacheable endpoint (`cacheable(endpoint, scopes)`) requested with
GET or HEAD by a visitor who sends no session or remember-me cookie is looked
up under (scheme, host, path, query string, the tokens of its scopes): one
small query per request. A hit skips the view; a miss renders and keeps the
page if it is a plain 200 that sets no cookie. The cache lives in each
worker's memory (`PAGE_CACHE_MAX_BYTES`, least recently used out first).

Validators. Every cacheable response gets an `ETag` (hash of the body),
`Vary: Cookie` and `Cache-Control: public, no-cache` for anonymous visitors
(shared caches must revalidate: gone stays gone) or `private, no-cache` when
the request carries a session cookie; a matching `If-None-Match` gets 304.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, g, request, session
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from .models import PageVersion

ALL = "*"
SCOPES = ("catalog", "forum", "blog", "people", "search", "log")

# model class -> (scopes, columns that matter or None for every change)
WATCHED: dict[type, tuple[tuple[str, ...], tuple[str, ...] | None]] = {}
# endpoint -> scopes whose tokens key its pages
CACHEABLE: dict[str, tuple[str, ...]] = {}


def watch(model, *scopes: str, columns: tuple[str, ...] | None = None) -> None:
    """Writing rows of `model` changes the pages of these scopes (only these columns, if given)."""
    WATCHED[model] = (tuple(scopes), columns)


def cacheable(endpoint: str, *scopes: str) -> None:
    """Pages of `endpoint` depend only on the URL and on the content of these scopes (ALL: every scope)."""
    CACHEABLE[endpoint] = SCOPES if ALL in scopes else tuple(scopes)


# --- bumping versions, in the writing transaction -------------------------------


def _scopes_of_object(obj, is_new: bool, is_deleted: bool) -> tuple[str, ...]:
    entry = WATCHED.get(type(obj))
    if entry is None:
        return ()
    scopes, columns = entry
    if columns is None or is_deleted:
        return scopes
    if is_new:
        return ()
    state = inspect(obj)
    if any(state.attrs[name].history.has_changes() for name in columns):
        return scopes
    return ()


def _bump(session, scopes) -> None:
    done = session.info.setdefault("page_versions_bumped", set())
    todo = [scope for scope in scopes if scope not in done]
    if not todo:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    for scope in sorted(todo):  # one order everywhere: no lock cycles between writers
        statement = insert(PageVersion).values(scope=scope, token=uuid.uuid4().hex)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["scope"], set_={"token": statement.excluded.token}
            )
        )
        done.add(scope)


@event.listens_for(Session, "before_flush")
def _before_flush(session, flush_context, instances):
    scopes: set[str] = set()
    for obj in session.new:
        scopes.update(_scopes_of_object(obj, True, False))
    for obj in session.deleted:
        scopes.update(_scopes_of_object(obj, False, True))
    for obj in session.dirty:
        if type(obj) in WATCHED and session.is_modified(obj):
            scopes.update(_scopes_of_object(obj, False, False))
    if scopes:
        session.info.setdefault("page_versions_pending", set()).update(scopes)


@event.listens_for(Session, "after_flush")
def _after_flush(session, flush_context):
    pending = session.info.pop("page_versions_pending", None)
    if pending:
        _bump(session, pending)


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state):
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    mapper = state.bind_mapper
    entry = WATCHED.get(mapper.class_) if mapper is not None else None
    if entry is not None:
        _bump(state.session, entry[0])


def _reset(session, *args):
    session.info.pop("page_versions_bumped", None)
    session.info.pop("page_versions_pending", None)


event.listen(Session, "after_commit", _reset)
event.listen(Session, "after_rollback", _reset)
event.listen(Session, "after_soft_rollback", _reset)


def bump(*scopes: str) -> None:
    """For a change the events cannot see (raw SQL): replace these tokens in the current transaction."""
    from forum.extensions import db

    _bump(db.session(), scopes or SCOPES)


def current_tokens() -> dict[str, str]:
    """The committed token of every scope, through the request's session (services, tests)."""
    from forum.extensions import db

    rows = db.session.connection().exec_driver_sql("SELECT scope, token FROM page_version").fetchall()
    return dict(rows)


_readers: dict[tuple[int, int], Any] = {}
_readers_lock = threading.Lock()
# How many times the tokens were read on the reader connections (tests and bench/pages.py
# count these with the engine's statements: they are not seen by engine events).
token_reads = 0


def _close_readers(engine) -> None:
    with _readers_lock:
        keys = [key for key in _readers if key[0] == id(engine)]
        raws = [_readers.pop(key) for key in keys]
    for raw in raws:
        try:
            raw.invalidate()
        except Exception:
            pass


def _read_tokens(engine=None) -> dict[str, str]:
    """The committed tokens, read on a connection this worker thread keeps for nothing else.

    A page-cache hit then costs one tiny query and no session, pool checkout or
    rollback. The connection reads outside any transaction (autocommit), so it
    always sees the latest commit; on any error it is dropped and reopened, and
    `engine.dispose()` closes it."""
    global token_reads
    if engine is None:
        from forum.extensions import db

        engine = db.engine
    key = (id(engine), threading.get_ident())
    raw = _readers.get(key)
    try:
        if raw is None:
            raw = engine.raw_connection()
            if engine.dialect.name == "postgresql":
                raw.driver_connection.autocommit = True
            with _readers_lock:
                if not any(k[0] == id(engine) for k in _readers):
                    event.listen(engine, "engine_disposed", _close_readers)
                _readers[key] = raw
        cursor = raw.cursor()
        try:
            cursor.execute("SELECT scope, token FROM page_version")
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if engine.dialect.name == "sqlite":
            raw.driver_connection.rollback()  # end the implicit read, if the driver began one
        token_reads += 1
        return dict(rows)
    except Exception:
        with _readers_lock:
            _readers.pop(key, None)
        if raw is not None:
            try:
                raw.invalidate()
            except Exception:
                pass
        raise


# --- the cache ---------------------------------------------------------------------


@dataclass
class CachedPage:
    scopes: tuple[str, ...]
    tokens: tuple  # the scopes' tokens it was rendered under
    etag: str
    body: bytes
    headers: list  # the final response headers (no cookie, no rate-limit counters)
    direct: bool  # may be answered before the app runs (no per-request limits on it)


class PageStore:
    """A byte-bounded LRU of rendered pages, per worker process: one entry per URL."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self.entries: OrderedDict = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key, tokens_of) -> CachedPage | None:
        """The page kept for this URL if it was rendered under the current tokens (`tokens_of(scopes)`)."""
        with self.lock:
            entry = self.entries.get(key)
        if entry is None or entry.tokens != tokens_of(entry.scopes):
            self.misses += 1
            return None
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
            self.hits += 1
        return entry

    @staticmethod
    def _cost(entry: CachedPage) -> int:
        return len(entry.body) + 1024

    def put(self, key, entry: CachedPage) -> None:
        cost = self._cost(entry)
        if cost > self.max_bytes:
            return
        with self.lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.size -= self._cost(old)
            self.entries[key] = entry
            self.size += cost
            while self.size > self.max_bytes and self.entries:
                _, dropped = self.entries.popitem(last=False)
                self.size -= self._cost(dropped)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.size = 0


def _store():
    return current_app.extensions["page_cache"]


def _identity_cookie_names(app) -> tuple[str, str]:
    return (
        app.config.get("SESSION_COOKIE_NAME", "session"),
        app.config.get("REMEMBER_COOKIE_NAME", "remember_token"),
    )


def _has_identity_cookie() -> bool:
    cookies = request.cookies
    if not cookies:
        return False
    return any(name in cookies for name in _identity_cookie_names(current_app))


def etag_of(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=12).hexdigest()


def _validators(response: Response, etag: str, private: bool) -> None:
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache" if private else "public, no-cache"
    response.vary.add("Cookie")


def _not_modified(etag: str) -> bool:
    return etag in request.if_none_match


def _url_key(scheme, host, path, query_string):
    from forum.sanitize import SANITIZER_POLICY_VERSION

    return (scheme, host, path, query_string, SANITIZER_POLICY_VERSION)


def _tokens_for(tokens: dict):
    return lambda scopes: tuple(tokens.get(scope) for scope in scopes)


def _serve_cached():
    """In the app (pages with per-request limits, e.g. search): after the rate limiter, before the view."""
    if request.method not in ("GET", "HEAD"):
        return None
    scopes = CACHEABLE.get(request.endpoint)
    if scopes is None or _has_identity_cookie() or not current_app.config.get("PAGE_CACHE_ENABLED", True):
        return None
    try:
        tokens = _read_tokens()
    except Exception:  # the database is unreachable: render normally (and report errors there)
        return None
    key = _url_key(request.scheme, request.host, request.path, request.query_string)
    g._page_cache = (key, scopes, tuple(tokens.get(scope) for scope in scopes))
    entry = _store().get(key, _tokens_for(tokens))
    if entry is None:
        return None
    if request.endpoint in LIMITED and not _count_against_route_limit():
        return None  # cannot count this answer against the view's rate limit: let the view answer
    g._page_cache_hit = True
    if _not_modified(entry.etag):
        response = Response(status=304)
    else:
        response = Response(entry.body, 200, entry.headers)
    _validators(response, entry.etag, private=False)
    return response


def _count_against_route_limit() -> bool:
    """Count a kept answer against the rate limit of the view it stands for, exactly as the view's
    `@limiter.limit` would (same limit, same counter); RateLimitExceeded becomes the usual 429.
    False if this Flask-Limiter cannot do that, in which case the view answers itself."""
    from forum.extensions import limiter

    if not limiter.enabled:
        return True
    view = current_app.view_functions.get(request.endpoint)  # type: ignore[arg-type]
    inner = getattr(view, "__wrapped__", None)
    check = getattr(limiter, "_check_request_limit", None)
    if inner is None or check is None:
        return False
    from flask_limiter.util import get_qualified_name

    check(in_middleware=False, callable_name=get_qualified_name(inner))
    return True


UNSHARED_HEADERS = ("set-cookie", "retry-after")


def _after(response: Response) -> Response:
    """Registered to run after every other after_request handler: it sees the final headers."""
    if g.get("_page_cache_hit") or request.method not in ("GET", "HEAD") or request.endpoint not in CACHEABLE:
        return response
    if response.status_code != 200 or response.direct_passthrough or response.is_streamed:
        return response
    # The session cookie is written after this hook: a modified session means a personal answer.
    private = _has_identity_cookie() or "Set-Cookie" in response.headers or session.modified
    body = response.get_data()
    etag = etag_of(body)
    _validators(response, etag, private)
    pending = g.get("_page_cache")
    if pending is not None and not private:
        key, scopes, tokens = pending
        headers = [
            (name, value)
            for name, value in response.headers.items()
            if name.lower() not in UNSHARED_HEADERS and not name.lower().startswith("x-ratelimit")
        ]
        direct = request.endpoint not in LIMITED
        _store().put(key, CachedPage(scopes, tokens, etag, body, headers, direct))
    if _not_modified(etag):
        response.status_code = 304
        response.set_data(b"")
        for name in ("Content-Type", "Content-Length"):
            response.headers.pop(name, None)
    return response


# Endpoints with per-request limits (rate limits): their hits are served inside the app.
LIMITED = {"search.search"}


class CachedPages:
    """WSGI middleware: answers a kept page before Flask builds a request, when nothing can differ.

    Only GET/HEAD without a session or remember-me cookie, for a URL whose kept
    page is `direct` and was rendered under the current tokens (read on this
    thread's reader connection). Everything else goes to the app unchanged."""

    def __init__(self, flask_app, wsgi_app):
        self.flask_app = flask_app
        self.wsgi_app = wsgi_app
        self.cookie_names = None
        self.engine = None

    def _anonymous(self, environ) -> bool:
        raw = environ.get("HTTP_COOKIE")
        if not raw:
            return True
        if self.cookie_names is None:
            self.cookie_names = _identity_cookie_names(self.flask_app)
        from werkzeug.http import parse_cookie

        cookies = parse_cookie(raw)
        return not any(name in cookies for name in self.cookie_names)

    def __call__(self, environ, start_response):
        app = self.flask_app
        if (
            environ.get("REQUEST_METHOD") in ("GET", "HEAD")
            and app.config.get("PAGE_CACHE_ENABLED", True)
            and self._anonymous(environ)
        ):
            store = app.extensions["page_cache"]
            host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
            path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
            query = environ.get("QUERY_STRING", "").encode("latin-1")
            key = _url_key(environ.get("wsgi.url_scheme", "http"), host, path, query)
            with store.lock:
                known = store.entries.get(key)
            if known is not None and known.direct:
                try:
                    if self.engine is None:
                        from forum.extensions import db

                        with app.app_context():
                            self.engine = db.engine
                    tokens = _read_tokens(self.engine)
                except Exception:
                    tokens = None
                entry = store.get(key, _tokens_for(tokens)) if tokens is not None else None
                if entry is not None:
                    return self._answer(environ, start_response, entry)
        return self.wsgi_app(environ, start_response)

    @staticmethod
    def _answer(environ, start_response, entry: CachedPage):
        from werkzeug.http import parse_etags

        if entry.etag in parse_etags(environ.get("HTTP_IF_NONE_MATCH")):
            headers = [
                (n, v) for n, v in entry.headers if n.lower() not in ("content-type", "content-length")
            ]
            start_response("304 NOT MODIFIED", headers)
            return []
        start_response("200 OK", entry.headers)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [entry.body]


DEFAULT_PAGES = {
    "main.index": (ALL,),
    "catalog.products": ("catalog",),
    "catalog.product_page": ("catalog", "people"),
    "catalog.review_page": ("catalog", "people"),
    # It shows the review's inclusion proof against the latest signed checkpoint.
    "catalog.verify_review": ("catalog", "people", "log"),
    "catalog.review_payload": ("catalog",),
    "api.product_reviews": ("catalog", "people"),
    "api.review": ("catalog", "people"),
    "community.forums": ("forum", "people"),
    "community.category": ("forum", "people"),
    "community.topic": ("forum", "people"),
    "blog.index": ("blog", "people"),
    "blog.post": ("blog", "people"),
    "blog.feed": ("blog", "people"),
    "search.search": (ALL,),
}


def _watch_defaults() -> None:
    from forum.models import User

    watch(User, "people", columns=("display_name", "role"))
    try:
        from forum.catalog.models import Product, Review

        watch(Product, "catalog")
        watch(Review, "catalog")
        from forum.catalog.trust_models import CompanyReply, CompanyReplyRevision, ReviewFacts, ReviewPhoto

        # Shown with each review: verified badge and helpful count, photos, the company's reply.
        for model in (ReviewFacts, ReviewPhoto, CompanyReply, CompanyReplyRevision):
            watch(model, "catalog")
    except ImportError:  # pragma: no cover
        pass
    try:
        from moderation.tlog import LogCheckpoint, LogCosignature, LogLeaf

        for model in (LogLeaf, LogCheckpoint, LogCosignature):
            watch(model, "log")
    except ImportError:  # pragma: no cover
        pass
    try:
        from forum.members.models import MemberProfile, PostLike, PostQuote

        # Handles in author links and mentions; like counts and quotes on topic pages.
        watch(MemberProfile, "people")
        watch(PostLike, "forum")
        watch(PostQuote, "forum")
    except ImportError:  # pragma: no cover
        pass
    try:
        from forum.community.models import ForumCategory, ForumPost, ForumPostRevision, ForumTopic

        for model in (ForumCategory, ForumTopic, ForumPost, ForumPostRevision):
            watch(model, "forum")
    except ImportError:  # pragma: no cover
        pass
    try:
        from forum.blog.models import BlogComment, BlogPost

        watch(BlogPost, "blog")
        watch(BlogComment, "blog")
    except ImportError:  # pragma: no cover
        pass
    try:
        from forum.search.models import SearchOutbox

        watch(SearchOutbox, "search")
    except ImportError:  # pragma: no cover
        pass


def init_app(app) -> None:
    app.config.setdefault("PAGE_CACHE_ENABLED", True)
    app.config.setdefault("PAGE_CACHE_MAX_BYTES", 64 * 1024 * 1024)
    app.extensions["page_cache"] = PageStore(int(app.config["PAGE_CACHE_MAX_BYTES"]))
    _watch_defaults()
    for endpoint, scopes in DEFAULT_PAGES.items():
        if endpoint in app.view_functions:
            cacheable(endpoint, *scopes)
    app.before_request(_serve_cached)
    # after_request handlers run last-registered first: put ours first so that it runs last.
    app.after_request_funcs.setdefault(None, []).insert(0, _after)
    # Kept pages are answered before the app when possible (inside ProxyFix, so the
    # client's scheme and host are the ones in the key).
    from werkzeug.middleware.proxy_fix import ProxyFix

    if isinstance(app.wsgi_app, ProxyFix):
        app.wsgi_app.app = CachedPages(app, app.wsgi_app.app)
    else:
        app.wsgi_app = CachedPages(app, app.wsgi_app)
