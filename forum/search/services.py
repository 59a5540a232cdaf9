"""Searching: from the text in the search box to a page of public results.

The index only proposes candidates. Every result is read again from the
database and dropped unless its kind's `is_public` holds, so something removed
a moment ago is never shown even if the index has not caught up yet. What is
shown (title, author, date, product, snippet) comes from the database too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from markupsafe import Markup

from .backend import SORTS, SearchHits, SearchRequest
from .indexing import get_backend, public_documents
from .query import ParsedQuery, parse
from .registry import GROUP_LABELS, GROUPS, SEARCHABLES, kinds_in_group
from .snippets import excerpt

MAX_FILTER_CHARS = 100
MAX_SUGGESTED_WORDS = 3
KIND_LABELS = {
    "review": "Review",
    "forum_post": "Forum post",
    "blog_post": "Blog post",
    "blog_comment": "Blog comment",
}


@dataclass
class Result:
    doc_id: str
    kind: str
    kind_label: str
    group: str
    title: str
    title_html: Markup  # escaped title, matches marked
    snippet: Markup  # escaped excerpt, matches marked
    author: str | None
    published_at: datetime
    url: str
    author_id: int | None = None  # links the name to /members/<id>; None for a former member
    product_sku: str | None = None
    product_name: str | None = None
    rating: int | None = None
    category: str | None = None
    category_name: str | None = None


@dataclass
class SearchPage:
    q: str
    query: ParsedQuery
    group: str | None
    product: str | None
    category: str | None
    sort: str
    page: int
    per_page: int
    total: int = 0
    total_exact: bool = True
    results: list[Result] = field(default_factory=list)
    suggestion: str | None = None
    message: str | None = None
    notices: list[str] = field(default_factory=list)

    @property
    def searched(self) -> bool:
        return bool(self.q.strip()) or bool(self.product or self.category)

    @property
    def pages(self) -> int:
        max_pages = current_app.config["SEARCH_MAX_PAGES"]
        return min(max_pages, max(1, math.ceil(self.total / self.per_page)))

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.results) - 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _clean_filter(value: str | None) -> str | None:
    value = (value or "").strip()
    if not value or len(value) > MAX_FILTER_CHARS or any(ord(ch) < 32 for ch in value):
        return None
    return value


def search(
    q: str | None,
    *,
    group: str | None = None,
    product: str | None = None,
    category: str | None = None,
    sort: str = "relevance",
    page: int = 1,
    per_page: int | None = None,
) -> SearchPage:
    per_page = per_page or current_app.config["SEARCH_PER_PAGE"]
    max_pages = current_app.config["SEARCH_MAX_PAGES"]
    query = parse(q)
    result = SearchPage(
        q=(q or "")[:1000],
        query=query,
        group=group if group in GROUPS else None,
        product=_clean_filter(product),
        category=_clean_filter(category),
        sort=sort if sort in SORTS else "relevance",
        page=min(max(page, 1), max_pages),
        per_page=per_page,
        notices=list(query.notices),
    )
    if query.is_empty:
        if (q or "").strip():
            result.message = (
                "Your search has no words we can look for (very common words such as "
                "“the” or “and” and punctuation are ignored). Try more specific words."
            )
        return result

    # Searching never applies queued changes (`flask worker` does): results are re-checked
    # against the database below, so nothing removed is shown meanwhile.
    backend = get_backend()
    request = SearchRequest(
        query=query,
        kinds=kinds_in_group(result.group) if result.group else None,
        product_sku=result.product,
        category=result.category,
        sort=result.sort,
        offset=(result.page - 1) * per_page,
        limit=per_page,
        time_budget=current_app.config["SEARCH_TIME_BUDGET"],
    )
    if request.kinds == []:  # a part of the site that has nothing searchable here
        hits = SearchHits(0, [])
    else:
        hits = backend.search(request)
    found = public_documents([doc_id for doc_id, _ in hits.hits])
    # The index may still list something removed a moment ago: it is dropped, and not counted.
    dropped = sum(1 for doc_id, _ in hits.hits if doc_id not in found)
    result.total = max(0, hits.total - dropped)
    result.total_exact = hits.exact
    if not hits.exact:
        result.notices.append(
            "Your search matches a great many items, so only part of them were ranked. "
            'Add words (or use "quotes") to narrow it down.'
        )
    documents = [found[doc_id][1] for doc_id, _ in hits.hits if doc_id in found]
    # The author's account, read with the item (every searchable kind has `author_id`).
    author_ids = {
        doc_id: getattr(found[doc_id][0], "author_id", None) if found[doc_id][1].author else None
        for doc_id, _ in hits.hits
        if doc_id in found
    }
    if documents:
        titles = backend.highlight(query, [d.title for d in documents], whole=True)
        snippets = backend.highlight(query, [d.body for d in documents])
        for document, title_html, snippet in zip(documents, titles, snippets):
            searchable = SEARCHABLES.get(document.kind)
            result.results.append(
                Result(
                    doc_id=document.doc_id,
                    kind=document.kind,
                    kind_label=(
                        searchable.label
                        if searchable and searchable.label
                        else KIND_LABELS.get(document.kind, document.kind.replace("_", " ").capitalize())
                    ),
                    group=document.group,
                    title=document.title,
                    title_html=title_html or Markup.escape(document.title),
                    snippet=snippet or excerpt(document.body),
                    author=document.author,
                    author_id=author_ids.get(document.doc_id),
                    published_at=document.published_at,
                    url=document.url,
                    product_sku=document.product_sku,
                    product_name=document.product_name,
                    rating=document.rating,
                    category=document.category,
                    category_name=document.category_name or document.category,
                )
            )
    if not result.results:
        if result.page > 1 and result.total:
            result.message = "There are no more results."
        else:
            result.total = 0
            result.suggestion = suggest(query, request)
            result.message = _no_results_message(result)
    elif result.page == 1:
        # Any-word matching finds something for "cabel for my laptop"; the misspelled word
        # still deserves a correction (only words the index does not know are corrected).
        result.suggestion = suggest(query, request)
    return result


def _no_results_message(result: SearchPage) -> str:
    where = ""
    if result.group:
        where = f" in {GROUP_LABELS[result.group].lower()}"
    if result.product or result.category:
        where += " with the chosen filter"
    return f"Nothing published{where} matches your search."


def suggest(query: ParsedQuery, request: SearchRequest) -> str | None:
    """A corrected query that finds public results, or None."""
    backend = get_backend()
    cache: dict[str, str | None] = {}

    def public_text(doc_id: str) -> str | None:
        if doc_id not in cache:
            found = public_documents([doc_id]).get(doc_id)
            cache[doc_id] = f"{found[1].title}\n{found[1].body}" if found else None
        return cache[doc_id]

    replacements: dict[str, str] = {}
    unknown = [
        c.words[0]
        for c in query.clauses()
        if c.kind == "word" and len(c.words) == 1 and not backend.has_term(c.words[0])
    ]
    for word in unknown[:MAX_SUGGESTED_WORDS]:  # known words: the combination is what fails
        candidates = backend.suggest(word, public_text, limit=3)
        if candidates:
            replacements[word] = candidates[0]
    if not replacements:
        return None
    suggestion = query.replace_words(replacements)
    check = SearchRequest(
        query=parse(suggestion),
        kinds=request.kinds,
        product_sku=request.product_sku,
        category=request.category,
        limit=10,
    )
    hits = backend.search(check)
    if not public_documents([d for d, _ in hits.hits]):
        return None
    return suggestion
