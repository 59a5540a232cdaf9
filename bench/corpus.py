"""A synthetic, reproducible English-like corpus for the search benchmark.

Words follow a Zipf distribution: a few hundred real English words (function
words first, then words people use about products and communities) head the
ranking, and a long tail of pronounceable made-up words stands in for the rest
of the vocabulary (names, models, rare words). Nothing is downloaded.
"""

from __future__ import annotations

import itertools
import random
from bisect import bisect
from itertools import accumulate

COMMON = """
the of and to a in is it you that he was for on are with as i his they be at one have this from
or had by not but what some we can out other were all there when up use your how said an each she
which do their time if will way about many then them would write like so these her long make thing
see him two has look more day could go come did my sound no most number who over know water than
call first people may down side been now find any new work part take get place made live where after
back little only round man year came show every good me give our under name very through just form
great think say help low line before turn cause same mean differ move right boy old too does tell
really well also much should still very quite bit lot few never always again because while better
""".split()

DOMAIN = """
battery cable charger quality price delivery product order screen sound fast easy cheap broken
works worked working recommend recommended love loved problem problems issue support return refund
size fits fit colour color light heavy strong solid build design comfortable noise quiet loud
phone laptop tablet headphones speaker keyboard mouse monitor camera lens printer router adapter
shipping package box manual setup install installed update firmware software app bluetooth wifi
warranty replacement customer service months weeks days hours minutes charge charging lasts
durable cheaply plastic metal glass leather fabric stitching button buttons port ports usb power
bright dim clear crisp bass treble volume battery life value money worth expensive bargain deal
forum thread post reply question answer topic help thanks thank advice opinion experience tried
bought purchased using used daily travel office home kitchen garden outdoor indoor kids family
""".split()

CONSONANTS = "b c d f g h j k l m n p r s t v w z br cr dr fr gr pr tr st sl sp ch sh th".split()
VOWELS = "a e i o u ai ea ee oo ou io".split()
ENDINGS = ["", "", "n", "r", "s", "t", "l", "ng", "ck", "x", "rd", "nt", "st"]


def vocabulary(size: int = 30_000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words: list[str] = []
    seen: set[str] = set()
    for word in itertools.chain(COMMON, DOMAIN):
        if word not in seen:
            seen.add(word)
            words.append(word)
    while len(words) < size:
        syllables = rng.choice((2, 2, 3, 3, 3, 4))
        word = "".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(syllables))
        word += rng.choice(ENDINGS)
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class Corpus:
    """Deterministic titles and bodies drawn from a Zipf(s=1.07) vocabulary."""

    def __init__(self, seed: int = 20261125, vocabulary_size: int = 30_000):
        self.rng = random.Random(seed)
        self.words = vocabulary(vocabulary_size)
        self.cum_weights = list(accumulate(1.0 / (rank**1.07) for rank in range(1, len(self.words) + 1)))

    def _draw(self, count: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum_weights, k=count)

    def sentence_text(self, count: int) -> str:
        words = self._draw(count)
        out, i = [], 0
        while i < len(words):
            n = self.rng.randint(6, 16)
            chunk = words[i : i + n]
            i += n
            chunk[0] = chunk[0].capitalize()
            out.append(" ".join(chunk) + self.rng.choice(".....!?"))
        return " ".join(out)

    def title(self) -> str:
        words = self._draw(self.rng.randint(3, 8))
        return " ".join(words).capitalize()

    def body(self, mean_words: int = 80) -> str:
        count = max(10, int(self.rng.gauss(mean_words, mean_words / 4)))
        text = self.sentence_text(count)
        # Blank lines between paragraphs now and then, as people write.
        if count > 60 and self.rng.random() < 0.5:
            cut = text.find(". ", len(text) // 2)
            if cut > 0:
                text = text[: cut + 1] + "\n\n" + text[cut + 2 :]
        return text

    def rank_of(self, word: str) -> int:
        return self.words.index(word) + 1

    def word_at(self, rank: int) -> str:
        return self.words[rank - 1]

    def frequency_rank(self, probability_from: float) -> int:
        """The rank whose cumulative probability first exceeds `probability_from`."""
        total = self.cum_weights[-1]
        return bisect(self.cum_weights, probability_from * total) + 1
