"""Snippets made from the database text of the results on one page.

The text is split into words with the indexing analyzer, the best window of
matched words is chosen, and every piece is HTML-escaped before the matched
words are wrapped in <mark>: user text can never become markup.
"""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

from .analysis import analyze, fold, stem

SNIPPET_CHARS = 260


def query_matcher(query) -> Callable[[str, str], bool] | None:
    """is_match(term, word) for the words a parsed query searches (None: nothing to mark)."""
    terms = frozenset(t for c in query.clauses() for t in c.terms())
    prefixes = tuple(
        dict.fromkeys(
            p
            for c in query.clauses()
            if c.kind == "prefix"
            for p in (fold(c.words[0]), stem(fold(c.words[0])))
        )
    )
    if not terms and not prefixes:
        return None

    def is_match(term: str, word: str) -> bool:
        return term in terms or bool(prefixes and term.startswith(prefixes))

    return is_match


def _matches(text: str, is_match: Callable[[str, str], bool]) -> list[tuple[int, int]]:
    """Spans of matched words, in order; overlapping ones (CJK bigrams) joined."""
    spans: list[tuple[int, int]] = []
    for term, _, start, end in analyze(text):
        if is_match(term, text[start:end].lower()):
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], end))
            else:
                spans.append((start, end))
    return spans


def _marked(text: str, spans, start: int, end: int) -> str:
    out, cursor = [], start
    for s, e in spans:
        if s < start or e > end:
            continue
        out.append(str(escape(text[cursor:s])))
        out.append("<mark>" + str(escape(text[s:e])) + "</mark>")
        cursor = e
    out.append(str(escape(text[cursor:end])))
    return "".join(out)


def highlight_whole(text: str, is_match) -> Markup:
    """All of `text`, escaped, with matches marked; "" when nothing matches."""
    spans = _matches(text, is_match)
    if not spans:
        return Markup("")
    return Markup(_marked(text, spans, 0, len(text)))


def _word_start(text: str, index: int) -> int:
    """Move back to the start of the word `index` falls in (never split a word)."""
    while index > 0 and not text[index - 1].isspace():
        index -= 1
    return index


def _word_end(text: str, index: int) -> int:
    while index < len(text) and not text[index].isspace():
        index += 1
    return index


def snippet(text: str, is_match, max_chars: int = SNIPPET_CHARS) -> Markup:
    """The window of about `max_chars` with the most distinct matched words; "" when none match."""
    spans = _matches(text, is_match)
    if not spans:
        return Markup("")
    best, best_score = 0, -1
    for i, (s, _) in enumerate(spans):
        words = set()
        j = i
        while j < len(spans) and spans[j][1] - s <= max_chars * 0.8:
            words.add(text[spans[j][0] : spans[j][1]].lower())
            j += 1
        score = len(words) * 10 + (j - i)
        if score > best_score:
            best, best_score = i, score
    first = spans[best][0]
    # Some context before the first match, the rest after it.
    start = _word_start(text, max(0, first - max_chars // 4))
    end = _word_end(text, min(len(text), start + max_chars))
    if end - start > max_chars * 1.5:  # one enormous "word": cut it anyway
        end = start + max_chars
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) else ""
    body = _marked(text, spans, start, end).strip()
    return Markup(str(escape(prefix)) + body + str(escape(suffix)))


def excerpt(text: str, max_chars: int = SNIPPET_CHARS) -> Markup:
    """The beginning of `text`, escaped (when no word matched, e.g. a title-only match)."""
    flat = " ".join(text.split())
    if len(flat) <= max_chars:
        return Markup(escape(flat))
    cut = flat.rfind(" ", 0, max_chars)
    return Markup(escape(flat[: cut if cut > 0 else max_chars] + " …"))
