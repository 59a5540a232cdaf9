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
from collections import defaultdict

from whoosh.analysis import Token, Tokenizer
from whoosh.analysis.filters import STOP_WORDS
from whoosh.formats import Positions
from whoosh.lang.porter2 import stem as porter2_stem

WORD_RE = re.compile(r"\w+(?:\.\w+)*", re.UNICODE)
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


def term_positions(text: str) -> dict[str, list[int]]:
    """{term: [positions]} of `text`: exactly `analyze`, minus the character offsets, faster."""
    poses: dict[str, list[int]] = defaultdict(list)
    stems, stops = _STEMS, STOP_WORDS
    pos = 0
    for word in WORD_RE.findall(text):
        word = word.lower()
        if len(word) < MIN_WORD or len(word) > MAX_WORD or word in stops:
            continue
        term = stems.get(word)
        if term is None:
            term = stem(word)
        poses[term].append(pos)
        pos += 1
    return poses


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
