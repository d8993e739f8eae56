"""The default extractor: every catalogue alias in one Aho-Corasick automaton, with case rules.

Rules, each for precision:
- whole words only; the longest match wins (``UN Security Council`` over ``UN``);
- acronyms (``UN``, ``NATO``, ``AfDB``) match in their exact case, and not in all-caps lines when
  three letters or shorter (a headline's ``WHO`` is a word);
- other names match in any case that keeps the alias's capitals (``Baku``, ``BAKU``, not
  ``baku``: ``turkey`` is a bird);
- a single-word place or organisation touching another capitalised word is part of a longer name
  we do not know (``George Washington``, ``Jordan Grand Prix``) and is skipped;
- an ambiguous alias (``Georgia``, ``Jordan``, ``Chad``) counts only when the document contains
  one of its context terms (``Tbilisi``, ``Amman``, ``N'Djamena``...);
- matches inside agency boilerplate (``By X – Trend:``, ``Trend reports``) are not mentions;
  the byline's author is a PERSON mention (role ``byline``), dateline places role ``dateline``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick

from dbapp.catalogue import CatalogueAlias, normalise_alias
from dbapp.extract.base import ExtractedMention
from dbapp.extract.structure import boilerplate_ranges, dateline_ranges, structure_mentions
from dbapp.parse.records import ParsedDocument

CODE_VERSION = "1"
KIND_PRIORITY = ("ORG", "GPE", "LOC", "NORP", "EVENT", "MISC", "PERSON")
SHORT_ACRONYM = 3


def _fold_table() -> dict[int, int]:
    """Lower-casing of single characters; every cased script lives below U+20000."""
    table = {}
    for code in range(0x20000):
        ch = chr(code)
        low = ch.lower()
        if low != ch and len(low) == 1:
            table[code] = ord(low)
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """Lower-case without ever changing the length, so offsets into the original stay exact."""
    low = text.lower()
    # lower() only ever lengthens (e.g. 'İ' -> 'i̇'); equal length means nothing expanded.
    return low if len(low) == len(text) else text.translate(_FOLD)


# Capitalised words that do not make a neighbouring name part of a longer one.
NEUTRAL_WORDS = frozenset(
    """a an and as at after before but by during for from if in into of on or over since the
    then this that these those to under until when where while with without both either neither
    his her its their our my your mr mrs ms dr president prime minister premier king queen
    secretary secretary-general ambassador envoy representative spokesman spokeswoman
    chancellor senator governor general
    monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december""".split()
)
_WORD_BEFORE = re.compile(r"([A-Z][\w'’.&-]*)[ \t]+\Z")  # searched with endpos=start
_WORD_AFTER = re.compile(r"[ \t]+([A-Z][\w'’.&-]*)")  # matched at pos=end
# "Bank of England", "Times of London": a place after "<Org-word> of" names the org, not the place.
_OF_BEFORE = re.compile(r"\b([A-Z][a-z]+)[ \t]+of[ \t]+\Z")
ORG_HEADS = frozenset(
    """bank trust times university institute museum association federation league college school
    academy church society foundation corporation company board bureau agency chamber exchange
    party front movement council commission committee authority fund union""".split()
)


def is_exact_case(alias: str) -> bool:
    """Acronyms and camel-case names (``UN``, ``U.N.``, ``AfDB``) must match exactly."""
    if not any(c.isalpha() for c in alias):
        return True
    if alias == alias.upper():
        return True
    return any(any(c.isupper() for c in word[1:]) for word in re.split(r"[\s-]+", alias))


@dataclass(frozen=True, slots=True)
class _Entry:
    entity_id: int
    kind: str
    canonical: str
    alias: str
    exact: bool
    context: tuple[str, ...] | None
    capitals: tuple[int, ...]  # positions the surface must have in upper case


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _whole_word(body: str, start: int, end: int) -> bool:
    """Not inside a word, a currency (US$), or a lower-case hyphenated compound (U.S.-led,
    pro-Israel): those are adjectives, not mentions. "Armenia-Azerbaijan" names both."""
    if start > 0 and _word_char(body[start - 1]):
        return False
    if end < len(body) and (_word_char(body[end]) or body[end] == "$"):
        return False
    if body.startswith("-", end) and end + 1 < len(body) and body[end + 1].islower():
        return False
    if start > 1 and body[start - 1] == "-":
        word_start = start - 1
        while word_start > 0 and _word_char(body[word_start - 1]):
            word_start -= 1
        return not body[word_start : start - 1][:1].islower()
    return True


def _line_is_upper(body: str, start: int, end: int) -> bool:
    """True when the line around a match has letters but no lower-case ones (a headline)."""
    left = body.rfind("\n", 0, start) + 1
    right = body.find("\n", end)
    return body[left : right if right >= 0 else len(body)].isupper()


class Gazetteer:
    """Catalogue-driven extractor. Picklable: the automata are rebuilt after unpickling."""

    name = "gazetteer"

    def __init__(self, aliases: Sequence[CatalogueAlias], ignored: Iterable[str] = ()) -> None:
        self._aliases = list(aliases)
        self._ignored = frozenset(ignored)
        # The version names the curated catalogue: names that extraction itself added (byline
        # authors of earlier loads) would otherwise give every load a new label.
        digest = hashlib.sha256()
        for a in self._aliases:
            if not a.extracted:
                digest.update(f"{a.entity_id}\t{a.kind}\t{a.alias}\t{a.context_terms}\n".encode())
        for surface in sorted(self._ignored):
            digest.update(f"ignore\t{surface}\n".encode())
        self.version = f"{CODE_VERSION}.{digest.hexdigest()[:10]}"
        self._build()

    def __getstate__(self) -> dict[str, Any]:
        return {"aliases": self._aliases, "ignored": self._ignored}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["aliases"], state["ignored"])  # type: ignore[misc]

    def _build(self) -> None:
        self._exact: Any = ahocorasick.Automaton()
        self._folded: Any = ahocorasick.Automaton()
        self._persons: dict[str, tuple[int, str]] = {}
        keyed: dict[tuple[bool, str], list[_Entry]] = {}
        for a in self._aliases:
            exact = is_exact_case(a.alias)
            capitals = tuple(i for i, c in enumerate(a.alias) if c.isupper())
            entry = _Entry(
                a.entity_id, a.kind, a.canonical_name, a.alias, exact, a.context_terms, capitals
            )
            key = a.alias if exact else fold(a.alias)
            keyed.setdefault((exact, key), []).append(entry)
            if a.kind == "PERSON":
                self._persons[normalise_alias(a.alias)] = (a.entity_id, a.canonical_name)
        for (exact, key), entries in keyed.items():
            entries.sort(key=lambda e: KIND_PRIORITY.index(e.kind))
            automaton = self._exact if exact else self._folded
            automaton.add_word(key, (len(key), tuple(entries)))
        for automaton in (self._exact, self._folded):
            if len(automaton):
                automaton.make_automaton()

    # -- matching ---------------------------------------------------------------------------

    def _candidates(self, body: str) -> list[tuple[int, int, tuple[_Entry, ...]]]:
        found = []
        if len(self._exact):
            for end, (length, entries) in self._exact.iter(body):
                found.append((end + 1 - length, end + 1, entries))
        if len(self._folded):
            for end, (length, entries) in self._folded.iter(fold(body)):
                found.append((end + 1 - length, end + 1, entries))
        return found

    def _acceptable(
        self, body: str, start: int, end: int, entry: _Entry, upper_lines: bool
    ) -> bool:
        if not _whole_word(body, start, end):
            return False
        upper_line = upper_lines and _line_is_upper(body, start, end)
        if entry.exact:
            if len(entry.alias) <= SHORT_ACRONYM and upper_line:
                return False
        # The surface must carry at least the alias's capitals.
        elif not all(body[start + i].isupper() for i in entry.capitals):
            return False
        if entry.kind in ("GPE", "LOC", "ORG", "NORP") and not upper_line:
            single = " " not in entry.alias and not entry.exact
            if self._inside_longer_name(body, start, end, single_word=single):
                return False
        return True

    @staticmethod
    def _inside_longer_name(body: str, start: int, end: int, single_word: bool) -> bool:
        """True when capitalised neighbours make the match part of a longer, unknown name."""
        after = _WORD_AFTER.match(body, end, end + 40)
        if after and after.group(1).lower() not in NEUTRAL_WORDS:
            return True
        of = _OF_BEFORE.search(body, max(0, start - 40), start)
        if of and of.group(1).lower() in ORG_HEADS:
            return True
        if not single_word:
            return False
        before = _WORD_BEFORE.search(body, max(0, start - 40), start)
        if before:
            word = before.group(1)
            # A possessive ("Azerbaijan's Karabakh") or a sentence's end ("Brussels. Armenia")
            # closes the name before; short abbreviations ("St.", "U.S.") do not.
            sentence_end = word.endswith(".") and len(word.replace(".", "")) > 3
            if not (word.endswith(("'s", "’s")) or sentence_end) and (
                word.lower().rstrip(".") not in NEUTRAL_WORDS
            ):
                return True
        return False

    def extract(self, doc: ParsedDocument) -> list[ExtractedMention]:
        body = doc.body
        boiler = boilerplate_ranges(doc)
        dateline = dateline_ranges(doc)
        context_cache: dict[tuple[str, ...], bool] = {}

        def in_context(terms: tuple[str, ...] | None) -> bool:
            if not terms:
                return True
            if terms not in context_cache:
                context_cache[terms] = any(t in body for t in terms)
            return context_cache[terms]

        # Headlines (lines with no lower case) change some rules; most documents have none.
        upper_lines = any(line.isupper() for line in body.split("\n"))
        # Leftmost-longest selection over acceptable candidates.
        candidates = sorted(self._candidates(body), key=lambda c: (c[0], -(c[1] - c[0])))
        mentions: list[ExtractedMention] = []
        taken_until = 0
        for start, end, entries in candidates:
            if start < taken_until:
                continue
            entry = next(
                (
                    e
                    for e in entries
                    if self._acceptable(body, start, end, e, upper_lines) and in_context(e.context)
                ),
                None,
            )
            if entry is None:
                continue
            surface = body[start:end]
            if normalise_alias(surface) in self._ignored:
                continue
            if any(s <= start and end <= e for s, e in boiler):
                continue
            taken_until = end
            role = "dateline" if any(s <= start and end <= e for s, e in dateline) else "body"
            mentions.append(
                ExtractedMention(
                    start, end, surface, role, entry.kind, entry.canonical, entry.entity_id
                )
            )
        mentions.extend(structure_mentions(doc, mentions, self._persons, self._ignored))
        return sorted(mentions, key=lambda m: (m.start, m.end))
