"""Ranking constants shared by both backends, chosen by measurement (bench/relevance.py).

Both backends rank by BM25 (k1, b) over title and body, a title word counting
TITLE_WEIGHT times a body word. A document that matches every searched group of
the query gets ALL_WORDS_BONUS on top of its score, so documents containing all
the words rank first; the others follow by BM25, whose sum over the matched words
already favours documents matching more of them (coordination).

Measured on the judged demo set of bench/relevance.py (MAP; see docs/search.md):
TITLE_WEIGHT was chosen among 1, 1.5, 2, 2.5, 3 and 4.
"""

TITLE_WEIGHT = 2.5
BM25_K1 = 1.2
BM25_B = 0.75
ALL_WORDS_BONUS = 1_000_000.0  # larger than any BM25 sum of a 64-word query
