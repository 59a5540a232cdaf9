"""Text analysis for the Whoosh backend: words, lower case, stop words, porter2 stems.

One function (`analyze`) decides what the terms of a text are. The whoosh
`SearchAnalyzer` (queries, highlighting) and the `FastPositions` format
(indexing) both use it, so a word is always found under the stem it was
indexed with. Indexing goes through `FastPositions.word_values`, which skips
Whoosh's per-token generator chain: about twice as fast as the stock
StemmingAnalyzer, with the same on-disk format.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, defaultdict

from whoosh.analysis import Token, Tokenizer
from whoosh.formats import Existence, Positions
from whoosh.lang.porter2 import stem as porter2_stem

WORD_RE = re.compile(r"\w+(?:\.\w+)*", re.UNICODE)
# PostgreSQL's english.stop (also NLTK's list): both backends ignore the same words. They are
# about a third of English text; dropping them keeps the index smaller and phrases cheaper.
STOP_WORDS = frozenset("""
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers
herself it its itself they them their theirs themselves what which who whom this that these those am is
are was were be been being have has had having do does did doing a an the and but if or because as until
while of at by for with about against between into through during before after above below to from up down
in out on off over under again further then once here there when where why how all any both each few more
most other some such no nor not only own same so than too very s t can will just don should now
""".split())
MIN_WORD = 2      # single letters say nothing
MAX_WORD = 40     # longer "words" are noise (hashes, runs of letters)
_STEMS: dict[str, str] = {}
_STEM_CACHE_MAX = 500_000


def stem(word: str) -> str:
    """porter2 stem of a lower-case word, memoised (vocabularies are Zipfian)."""
    try:
        return _STEMS[word]
    except KeyError:
        pass
    if len(_STEMS) >= _STEM_CACHE_MAX:
        _STEMS.clear()
    result = _STEMS[word] = porter2_stem(word)
    return result


def analyze(text: str):
    """Yield (term, position, startchar, endchar) for every indexed word of `text`.

    Positions count kept words only, so a phrase matches across removed stop words.
    """
    pos = 0
    stops = STOP_WORDS
    for match in WORD_RE.finditer(text):
        word = match.group().lower()
        if len(word) < MIN_WORD or len(word) > MAX_WORD or word in stops:
            continue
        yield stem(word), pos, match.start(), match.end()
        pos += 1


def terms_of(text: str) -> list[str]:
    return [term for term, _, _, _ in analyze(text)]


def words_of(text: str) -> list[str]:
    """Lower-case surface words (no stems): what a spelling suggestion is made of."""
    return [
        w for w in (m.group().lower() for m in WORD_RE.finditer(text))
        if MIN_WORD <= len(w) <= MAX_WORD and w not in STOP_WORDS
    ]


class SearchAnalyzer(Tokenizer):
    """A whoosh analyzer (tokenizer that needs no filters) built on `analyze`."""

    def __eq__(self, other):
        return other is not None and other.__class__ is self.__class__

    def has_morph(self):
        return True

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True,
                 mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for term, pos, start, end in analyze(value):
            token.text = term
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = value[start:end]
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


_last = threading.local()   # the last text analysed: a body's positions and pairs share one analysis


def term_sequence(text: str) -> list[str]:
    """The terms of `text` in order: exactly `analyze`, minus positions and offsets, faster."""
    if getattr(_last, "text", None) is text:
        return _last.terms
    terms = []
    append = terms.append
    stems, stops = _STEMS, STOP_WORDS
    for word in WORD_RE.findall(text):
        word = word.lower()
        if len(word) < MIN_WORD or len(word) > MAX_WORD or word in stops:
            continue
        term = stems.get(word)
        append(term if term is not None else stem(word))
    _last.text, _last.terms = text, terms
    return terms


def term_positions(text: str) -> dict[str, list[int]]:
    """{term: [positions]} of `text`."""
    poses: dict[str, list[int]] = defaultdict(list)
    for pos, term in enumerate(term_sequence(text)):
        poses[term].append(pos)
    return poses


def pair_term(first: str, second: str) -> str:
    return f"{first} {second}"


def common_pairs(text: str, common: frozenset) -> set[str]:
    """Adjacent term pairs of `text` whose two terms are both common (see CommonPairs)."""
    if not common:
        return set()
    terms = term_sequence(text)
    return {pair_term(a, b) for a, b in zip(terms, terms[1:]) if a in common and b in common}


class FastPositions(Positions):
    """Positions format whose indexing path skips whoosh's per-token generator chain.

    The bytes are those of whoosh's Positions format; most terms occur once in a
    document, and their encoding is memoised by position.
    """

    _single: dict[int, bytes] = {}

    def word_values(self, value, analyzer, **kwargs):
        fb = self.field_boost
        encode = self.encode
        single = self._single
        for term, poslist in term_positions(value).items():
            if len(poslist) == 1:
                pos = poslist[0]
                encoded = single.get(pos)
                if encoded is None:
                    encoded = single[pos] = encode(poslist)
                yield term, 1, fb, encoded
            else:
                yield term, len(poslist), len(poslist) * fb, encode(poslist)


class CommonPairs(Existence):
    """The "common grams" of a text: each adjacent pair of two *common* terms, as one term.

    A phrase of two very common words ("works great") would otherwise make Whoosh walk
    and decode the positions of thousands of documents containing both; with this field it
    is one short posting list. Which terms are common is decided from the corpus when the
    index is rebuilt and kept in the index's schema, so queries and later writes to the same
    index use the same set. Phrases with a less common word stay on positions: the list of
    documents containing that word is short anyway.
    """

    def __init__(self, common=frozenset(), field_boost=1.0, **options):
        super().__init__(field_boost=field_boost, **options)
        self.common = frozenset(common)

    def word_values(self, value, analyzer, **kwargs):
        fb = self.field_boost
        for pair in common_pairs(value, self.common):
            yield pair, 1, fb, b""


def choose_common_terms(texts, count: int, min_share: float = 0.01) -> frozenset:
    """The `count` terms found in the most texts (each in at least `min_share` of them)."""
    frequencies: Counter = Counter()
    total = 0
    for text in texts:
        frequencies.update(set(term_sequence(text)))
        total += 1
    floor = max(2, int(total * min_share))
    return frozenset(term for term, n in frequencies.most_common(count) if n >= floor)
