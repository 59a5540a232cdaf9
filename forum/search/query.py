"""What people type into the search box, turned into a small, safe query.

The syntax is the one people know from web search engines and PostgreSQL's
`websearch_to_tsquery`: words (all must match), "quoted phrases", `-word` to
exclude, `OR` between alternatives, and `word*` for words starting with
"word". Nothing else is an operator: brackets, colons (field names), `?`,
`~`, `^`, `AND`/`NOT`, HTML and control characters are just separators
between words. Parsing never fails, and sizes are capped so that no query
can make a page slow.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

MAX_QUERY_CHARS = 200        # the rest of a longer query is ignored (and the user told)
MAX_CLAUSES = 10             # words/phrases that count; more are dropped (and the user told)
MAX_PHRASE_WORDS = 10
MAX_PREFIXES = 3
MIN_PREFIX_CHARS = 3         # "a*" would expand to half the dictionary
MAX_WORD_CHARS = 40

WORD_RE = re.compile(r"\w+(?:\.\w+)*", re.UNICODE)
# A token of the query: a quoted phrase (closing quote optional), or a run of non-space.
TOKEN_RE = re.compile(r'(-?)"([^"]*)"?|(\S+)')
QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})


@dataclass(frozen=True)
class Clause:
    kind: str                 # "word" | "phrase" | "prefix"
    words: tuple[str, ...]    # lower-case surface words (a prefix clause: one, without "*")

    def display(self) -> str:
        if self.kind == "phrase":
            return '"' + " ".join(self.words) + '"'
        if self.kind == "prefix":
            return self.words[0] + "*"
        return self.words[0]


@dataclass
class ParsedQuery:
    # All groups must match; within a group any clause may (OR).
    groups: list[list[Clause]] = field(default_factory=list)
    excluded: list[Clause] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.groups

    def clauses(self):
        for group in self.groups:
            yield from group

    def words(self) -> list[str]:
        """Every searched word (not the excluded ones)."""
        return [w for c in self.clauses() for w in c.words]

    def text(self) -> str:
        """The query written back in its own syntax (what was actually searched)."""
        parts = [" OR ".join(c.display() for c in group) for group in self.groups]
        parts += ["-" + c.display() for c in self.excluded]
        return " ".join(parts)

    def replace_words(self, replacements: dict[str, str]) -> str:
        """The query text with some words replaced (for "did you mean")."""
        def fix(clause: Clause) -> Clause:
            return Clause(clause.kind, tuple(replacements.get(w, w) for w in clause.words))

        copy = ParsedQuery([[fix(c) for c in g] for g in self.groups], list(self.excluded))
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


def parse(raw: str | None) -> ParsedQuery:
    text = clean_text(raw).translate(QUOTES)
    query = ParsedQuery()
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS]
        query.notices.append(f"Your search was long, so only its first {MAX_QUERY_CHARS} characters were used.")
    pending_or = False
    clause_count = prefixes = 0
    dropped = False
    for match in TOKEN_RE.finditer(text):
        negated, phrase, bare = match.group(1), match.group(2), match.group(3)
        clauses: list[Clause] = []
        if phrase is not None:
            words = _words(phrase)[:MAX_PHRASE_WORDS]
            if len(words) == 1:
                clauses = [Clause("word", (words[0],))]
            elif words:
                clauses = [Clause("phrase", tuple(words))]
        else:
            if bare.upper() == "OR":
                pending_or = bool(query.groups)
                continue
            negated = "-" if bare.startswith("-") and len(bare) > 1 else ""
            body = bare[1:] if negated else bare
            words = _words(body)
            if body.endswith("*") and len(words) >= 1 and len(words[-1]) >= MIN_PREFIX_CHARS \
                    and prefixes < MAX_PREFIXES and not negated:
                prefixes += 1
                clauses = [Clause("word", (w,)) for w in words[:-1]] + [Clause("prefix", (words[-1],))]
            else:
                clauses = [Clause("word", (w,)) for w in words]
        if not clauses:
            continue
        if negated:
            # "-word" excludes; "-a.b-c" excludes each of its words
            if clause_count < MAX_CLAUSES:
                query.excluded.extend(clauses)
                clause_count += len(clauses)
            else:
                dropped = True
            pending_or = False
            continue
        for clause in clauses:
            if clause_count >= MAX_CLAUSES:
                dropped = True
                break
            clause_count += 1
            if pending_or and query.groups:
                query.groups[-1].append(clause)
            else:
                query.groups.append([clause])
            pending_or = False
    if dropped:
        query.notices.append(f"Only the first {MAX_CLAUSES} words of your search were used.")
    return query
