"""The search page: /search?q=...&group=...&product=...&category=...&sort=...&page=..."""

from __future__ import annotations

from flask import current_app, render_template, request, url_for

from forum.extensions import limiter
from forum.paging import page_arg

from . import bp, services
from .backend import SORTS
from .registry import GROUP_LABELS, GROUPS, kinds_in_group

SORT_LABELS = {"relevance": "Best match", "newest": "Newest first"}


def _search_limit():
    return current_app.config["RATELIMIT_SEARCH"]


MAX_SEARCH_PAGE = 10_000


@bp.route("/search")
@limiter.limit(_search_limit)
def search():
    args = request.args
    page = services.search(
        args.get("q", ""),
        group=args.get("group") or None,
        product=args.get("product"),
        category=args.get("category"),
        sort=args.get("sort", "relevance"),
        page=page_arg(maximum=MAX_SEARCH_PAGE),
    )
    groups = [(g, GROUP_LABELS[g]) for g in GROUPS if kinds_in_group(g)]

    def search_url(**overrides):
        """This search with some parameters changed (None drops one); page 1 unless given."""
        params = {
            "q": page.q,
            "group": page.group,
            "product": page.product,
            "category": page.category,
            "sort": page.sort if page.sort != "relevance" else None,
            "page": None,
        }
        params.update(overrides)
        if params.get("page") == 1:
            params["page"] = None
        return url_for("search.search", **{k: v for k, v in params.items() if v not in (None, "")})

    return render_template(
        "search/search.html",
        result=page,
        groups=groups,
        sorts=[(s, SORT_LABELS[s]) for s in SORTS],
        search_url=search_url,
    )
