"""Text analysis shared by both backends: words, accents folded, CJK bigrams, stop words, porter2 stems.

One function (`analyze`) decides what the terms of a text are. The whoosh
`SearchAnalyzer` (queries, highlighting), the `FastPositions` format (indexing)
and the PostgreSQL backend (which is handed ready-made terms, not raw text)
all use it, so a word is always found under the term it was indexed with, and
both backends find the same documents for the same query.

- Words: runs of letters and digits (dots inside, as in "2.1", are kept).
  A hyphen separates words, so "usb-c" and "USB-C" give the same terms.
- Accents are folded (café = cafe, Müller = muller); results and snippets
  show the text as written, because they are made from the database text.
- Chinese, Japanese and Korean have no spaces between words: a run of such
  characters is indexed as overlapping character bigrams, plus each single
  character at the same position (so a one-character query finds it too).
  A query searches a run by its bigrams, as a phrase.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter, defaultdict

from whoosh.analysis import Token, Tokenizer
from whoosh.formats import Existence, Positions
from whoosh.lang.porter2 import stem as porter2_stem

# Letters/digits plus combining marks (text stored decomposed, NFD, still makes one word).
WORD_RE = re.compile(r"[\w\u0300-\u036f]+(?:\.\w+)*", re.UNICODE)
# Han, Hiragana, Katakana, Hangul (syllables and jamo), CJK compatibility ideographs,
# halfwidth katakana: scripts written without spaces between words.
CJK_RE = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff\uf900-\ufaff"
    "\uff66-\uff9f\U00020000-\U0003134f]+"
)
# PostgreSQL's english.stop (also NLTK's list): a third of English words; they are never
# indexed, never required and never count toward the query's word limit.
STOP_WORDS = frozenset(
    """
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers
herself it its itself they them their theirs themselves what which who whom this that these those am is
are was were be been being have has had having do does did doing a an the and but if or because as until
while of at by for with about against between into through during before after above below to from up down
in out on off over under again further then once here there when where why how all any both each few more
most other some such no nor not only own same so than too very s t can will just don should now
""".split()
)
MIN_WORD = 2  # single letters say nothing (CJK characters excepted)
MAX_WORD = 40  # longer "words" are noise (hashes, runs of letters)
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


def fold(word: str) -> str:
    """Lower case without accents: "Café" -> "cafe", "naïve" -> "naive", "ﬁ" -> "fi"."""
    word = word.lower()
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def _word_terms(word: str, start: int, query: bool):
    """(term, position offset, start, end) of one matched word (offsets relative to the text).

    A plain word gives one term at offset 0; a word with CJK characters gives its parts.
    """
    if word.isascii() or not CJK_RE.search(word):
        folded = fold(word)
        if MIN_WORD <= len(folded) <= MAX_WORD and folded not in STOP_WORDS:
            yield stem(folded), 0, start, start + len(word)
        return
    offset = 0
    cursor = 0
    for run in CJK_RE.finditer(word):
        before = word[cursor : run.start()]
        for part in WORD_RE.finditer(before):  # letters before the run ("usb数据线")
            for term, _, s, e in _word_terms(part.group(), start + cursor + part.start(), query):
                yield term, offset, s, e
                offset += 1
        chars = run.group()
        base = start + run.start()
        if len(chars) == 1:
            yield chars, offset, base, base + 1
            offset += 1
        else:
            for i in range(len(chars) - 1):
                yield chars[i : i + 2], offset, base + i, base + i + 2
                if not query:
                    yield chars[i], offset, base + i, base + i + 1
                offset += 1
            if not query:  # the last character, at the position of the last bigram
                yield chars[-1], offset - 1, base + len(chars) - 1, base + len(chars)
        cursor = run.end()
    for part in WORD_RE.finditer(word[cursor:]):
        for term, _, s, e in _word_terms(part.group(), start + cursor + part.start(), query):
            yield term, offset, s, e
            offset += 1


def analyze(text: str, query: bool = False):
    """Yield (term, position, startchar, endchar) for every indexed term of `text`.

    Positions count kept words only, so a phrase matches across removed stop words.
    query=True: what a query searches (a CJK run by its bigrams only, so that they
    make a phrase of consecutive positions); otherwise what a document is indexed under.
    """
    pos = 0
    for match in WORD_RE.finditer(text):
        word = match.group()
        last = -1
        for term, offset, start, end in _word_terms(word, match.start(), query):
            yield term, pos + offset, start, end
            last = max(last, offset)
        pos += last + 1


def terms_of(text: str) -> list[str]:
    """The terms a query word is searched by (in order)."""
    return [term for term, _, _, _ in analyze(text, query=True)]


def words_of(text: str) -> list[str]:
    """Lower-case surface words, accents kept (no stems): what a spelling suggestion is made of."""
    return [
        w
        for w in (m.group().lower() for m in WORD_RE.finditer(text))
        if MIN_WORD <= len(w) <= MAX_WORD and fold(w) not in STOP_WORDS and not CJK_RE.search(w)
    ]


class SearchAnalyzer(Tokenizer):
    """A whoosh analyzer (tokenizer that needs no filters) built on `analyze`."""

    def __eq__(self, other):
        return other is not None and other.__class__ is self.__class__

    def has_morph(self):
        return True

    def __call__(
        self,
        value,
        positions=False,
        chars=False,
        keeporiginal=False,
        removestops=True,
        start_pos=0,
        start_char=0,
        tokenize=True,
        mode="",
        **kwargs,
    ):
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


_last = threading.local()  # the last text analysed: a body's positions and pairs share one analysis


def term_sequence(text: str) -> list[str]:
    """The terms of `text` by position: `analyze` minus offsets, faster.

    Most words are plain ASCII and give one term at the next position; other words go
    through `analyze`'s word rules. Terms sharing a position with another (a CJK run's
    single characters) are kept aside in `_last.extra` for `term_positions`.
    """
    if getattr(_last, "text", None) is text:
        return _last.terms
    terms: list[str] = []
    extra: list[tuple[str, int]] = []
    append = terms.append
    stems, stops = _STEMS, STOP_WORDS
    for match in WORD_RE.finditer(text):
        word = match.group()
        if word.isascii():
            word = word.lower()
            if len(word) < MIN_WORD or len(word) > MAX_WORD or word in stops:
                continue
            term = stems.get(word)
            append(term if term is not None else stem(word))
            continue
        base = len(terms)
        for term, offset, _, _ in _word_terms(word, 0, False):
            if base + offset < len(terms):
                extra.append((term, base + offset))
            else:
                append(term)
    _last.text, _last.terms, _last.extra = text, terms, extra
    return terms


def term_positions(text: str) -> dict[str, list[int]]:
    """{term: [positions]} of `text`."""
    poses: dict[str, list[int]] = defaultdict(list)
    for pos, term in enumerate(term_sequence(text)):
        poses[term].append(pos)
    for term, pos in _last.extra:
        poses[term].append(pos)
    if _last.extra:
        for positions in poses.values():
            positions.sort()
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
