"""What people type into the search box, turned into a small, safe query.

People type questions ("what is the best cable to connect my laptop to a 4k
monitor at 60hz") and keywords alike. Every meaningful word is searched: a
document matching some of them is found, one matching all of them ranks first
(the backends rank by BM25; see docs/search.md). Very common words ("what",
"is", "to") are neither searched nor counted toward the word limit.

Operators are for people who mean them: "quoted phrases" (must match), `-word`
at the start of a word (leave out), `word*` (words starting with "word"), and
`AND`, `OR`, `NOT` written in capitals. Lower-case "and", "or", "not" are plain
(stop) words, and a hyphen inside a word ("usb-c", "wi-fi", "4k-ready") is part
of the word: its parts are searched next to each other, as written in text.
Brackets, colons (field names), `?`, `~`, `^`, HTML and control characters are
only separators. Parsing never fails, and sizes are capped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .analysis import WORD_RE, terms_of

MAX_QUERY_CHARS = 1000  # the rest of a longer query is ignored (and the user told)
MAX_CLAUSES = 64  # meaningful words/phrases that count; more are dropped (and the user told)
MAX_PHRASE_WORDS = 16
MAX_PREFIXES = 3
MIN_PREFIX_CHARS = 3  # "a*" would expand to half the dictionary
MAX_WORD_CHARS = 40

# A token of the query: a quoted phrase (closing quote optional), or a run of non-space.
TOKEN_RE = re.compile(r'(-?)"([^"]*)"?|(\S+)')
QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})
OPERATORS = ("AND", "OR", "NOT")


@dataclass(frozen=True)
class Clause:
    kind: str  # "word" | "phrase" | "prefix"
    # Lower-case surface words. A "word" typed with inner hyphens or dots ("usb-c") has
    # several, searched next to each other; a prefix clause has one, without "*".
    words: tuple[str, ...]

    def display(self) -> str:
        if self.kind == "phrase":
            return '"' + " ".join(self.words) + '"'
        if self.kind == "prefix":
            return self.words[0] + "*"
        return "-".join(self.words)

    def terms(self) -> list[str]:
        """The index terms this clause searches, in order (a prefix: none; see the backends)."""
        if self.kind == "prefix":
            return []
        return [t for w in self.words for t in terms_of(w)]


@dataclass
class ParsedQuery:
    # Within a group any clause may match (OR). A document is found when any group matches
    # (or, when some groups are required, when all required groups match), and no excluded
    # clause does; the more groups match, the better it ranks.
    groups: list[list[Clause]] = field(default_factory=list)
    excluded: list[Clause] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    # Indexes of the groups that must match: quoted phrases, and words joined by AND.
    required: set[int] = field(default_factory=set)

    @property
    def is_empty(self) -> bool:
        return not self.groups

    def clauses(self):
        for group in self.groups:
            yield from group

    def words(self) -> list[str]:
        """Every searched word (not the excluded ones)."""
        return [w for c in self.clauses() for w in c.words]

    def required_groups(self) -> list[list[Clause]]:
        return [g for i, g in enumerate(self.groups) if i in self.required]

    def optional_groups(self) -> list[list[Clause]]:
        return [g for i, g in enumerate(self.groups) if i not in self.required]

    def text(self) -> str:
        """The query written back in its own syntax (what was actually searched)."""
        out: list[str] = []
        for i, group in enumerate(self.groups):
            if (
                out
                and i in self.required
                and i - 1 in self.required
                and not (
                    all(c.kind == "phrase" for c in group)
                    and all(c.kind == "phrase" for c in self.groups[i - 1])
                )
            ):
                out.append("AND")
            out.append(" OR ".join(c.display() for c in group))
        out += ["-" + c.display() for c in self.excluded]
        return " ".join(out)

    def replace_words(self, replacements: dict[str, str]) -> str:
        """The query text with some words replaced (for "did you mean")."""

        def fix(clause: Clause) -> Clause:
            return Clause(clause.kind, tuple(replacements.get(w, w) for w in clause.words))

        copy = ParsedQuery(
            [[fix(c) for c in g] for g in self.groups], list(self.excluded), required=set(self.required)
        )
        return copy.text()


def clean_text(raw: str | None) -> str:
    """Printable text only: control and format characters become spaces, NFC."""
    if not raw:
        return ""
    raw = raw[: MAX_QUERY_CHARS * 4]
    text = unicodedata.normalize("NFC", raw)
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if category[0] == "C" or category in ("Zl", "Zp"):  # Cc, Cf, Cs, Co, Cn; line breaks
            out.append(" ")
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def _words(text: str) -> list[str]:
    return [w for w in (m.group().lower() for m in WORD_RE.finditer(text)) if len(w) <= MAX_WORD_CHARS]


def _meaningful(clause: Clause) -> bool:
    return clause.kind == "prefix" or bool(clause.terms())


def parse(raw: str | None) -> ParsedQuery:
    text = clean_text(raw).translate(QUOTES)
    query = ParsedQuery()
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS]
        query.notices.append(
            f"Your search was long, so only its first {MAX_QUERY_CHARS} characters were used."
        )
    pending_or = pending_and = pending_not = False
    clause_count = prefixes = 0
    dropped = False
    for match in TOKEN_RE.finditer(text):
        negated, phrase, bare = match.group(1), match.group(2), match.group(3)
        clause: Clause | None = None
        required = False
        if phrase is not None:
            words = _words(phrase)[:MAX_PHRASE_WORDS]
            if len(words) == 1:
                clause = Clause("word", (words[0],))
            elif words:
                clause = Clause("phrase", tuple(words))
            required = not negated
        else:
            if bare in OPERATORS:  # capitals only: "or" in a sentence is a word
                if bare == "OR":
                    pending_or, pending_and = bool(query.groups), False
                elif bare == "AND":
                    pending_and, pending_or = bool(query.groups), False
                else:
                    pending_not = True
                continue
            # "-word": the user put a minus at the start of a word; "usb-c": one word
            negated = (
                "-"
                if bare.startswith("-") and len(bare) > 1 and (bare[1].isalnum() or bare[1] == "-")
                else ""
            )
            body = bare.lstrip("-") if negated else bare
            words = _words(body)[:MAX_PHRASE_WORDS]
            if (
                body.endswith("*")
                and len(words) == 1
                and len(words[0]) >= MIN_PREFIX_CHARS
                and prefixes < MAX_PREFIXES
                and not negated
                and not pending_not
            ):
                prefixes += 1
                clause = Clause("prefix", (words[0],))
            elif words:
                clause = Clause("word", tuple(words))
        if clause is None or not _meaningful(clause):
            continue  # punctuation, stop words: nothing to search, nothing to count
        if clause_count >= MAX_CLAUSES:
            dropped = True
            continue
        clause_count += 1
        if negated or pending_not:
            query.excluded.append(clause)
            pending_or = pending_and = pending_not = False
            continue
        if pending_or and query.groups:
            query.groups[-1].append(clause)
            if required:
                query.required.add(len(query.groups) - 1)
        else:
            if pending_and and query.groups:
                query.required.add(len(query.groups) - 1)
                required = True
            query.groups.append([clause])
            if required:
                query.required.add(len(query.groups) - 1)
        pending_or = pending_and = False
    if dropped:
        query.notices.append(f"Only the first {MAX_CLAUSES} words of your search were used.")
    return query
