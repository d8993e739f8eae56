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

import bisect
import hashlib
import itertools
import operator
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick_rs

from dbapp.catalogue import CatalogueAlias, normalise_alias
from dbapp.extract.base import ExtractedMention
from dbapp.extract.structure import (
    AGENCIES,
    agency_ranges,
    boilerplate_ranges,
    dateline_ranges,
    structure_mentions,
)
from dbapp.parse.records import ParsedDocument

CODE_VERSION = "1"
# Nations that field national sides without a country code of their own: like a country's,
# their name in a result is the nation's team, and stays the place.
NATIONAL_SIDES = frozenset({"england", "scotland", "wales", "northern ireland"})
KIND_PRIORITY = ("ORG", "GPE", "LOC", "NORP", "EVENT", "MISC", "PERSON")
SHORT_ACRONYM = 3
MAX_HITS = 100_000  # automaton hits per document and automaton
SCAN_WINDOW = 200_000  # characters per automaton call: a call returns all its hits at once
DFA_KEYS = 20_000  # up to this many keys a DFA (fastest; about 1.6 KB a key), then an NFA


class Scanner:
    """Every occurrence of any key in a text, overlapping ones included, as
    ``(start, end, payload)`` in order of their end; at most ``limit`` of them."""

    def __init__(self, keyed: dict[str, Any]) -> None:
        self.keys = list(keyed)
        self.payloads = list(keyed.values())
        self.longest = max(map(len, self.keys), default=0)
        self._ac = (
            ahocorasick_rs.AhoCorasick(
                self.keys,
                matchkind=ahocorasick_rs.MatchKind.Standard,
                implementation=ahocorasick_rs.Implementation.DFA
                if len(self.keys) <= DFA_KEYS
                else ahocorasick_rs.Implementation.ContiguousNFA,
            )
            if self.keys
            else None
        )

    def scan(self, text: str, limit: int = MAX_HITS) -> list[tuple[int, int, Any]]:
        if self._ac is None:
            return []
        find, payloads = self._ac.find_matches_as_indexes, self.payloads
        if len(text) <= SCAN_WINDOW:
            hits = _find(find, text)
            return [(s, e, payloads[i]) for i, s, e in hits[:limit]]
        # A long text in windows, each reaching back by the longest key: memory stays bounded
        # by the window, and a hit is kept by the window it ends in, so the hits come in the
        # order of their ends, as from one scan.
        out: list[tuple[int, int, Any]] = []
        back = max(self.longest - 1, 0)
        for offset in range(0, len(text), SCAN_WINDOW):
            start = max(offset - back, 0)
            for i, s, e in _find(find, text[start : offset + SCAN_WINDOW]):
                if start + e > offset:
                    out.append((start + s, start + e, payloads[i]))
                    if len(out) >= limit:
                        return out
        return out


_SURROGATE = re.compile("[\ud800-\udfff]")


def _find(find: Any, text: str) -> list[tuple[int, int, int]]:
    """Overlapping hits as (key index, start, end); a lone surrogate (which no key holds, and
    which cannot be encoded for the scan) reads as U+FFFD, so offsets stay the same."""
    try:
        return find(text, overlapping=True)
    except UnicodeEncodeError:
        return find(_SURROGATE.sub("\ufffd", text), overlapping=True)


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
# "CHICAGO 71 64 .526", "Chicago 4 HOUSTON 3", "ATLANTA AT CHICAGO": a city in a results table
# or a fixture is a team, not a place. A number followed by a word in lower case is a quantity
# ("Chicago 4 weeks ago"), and so is a decimal or a percentage ("Melbourne 7.5%").
_SCORE_AFTER = re.compile(
    r"[ \t]+(?:\d{1,3}(?![\d/%]|[.,]\d)(?=[ \t]*(?:\Z|[A-Z0-9.,;(-]))"
    r"|AT[ \t]+[A-Z])"
)
_NUMBERED_NAME = re.compile(r" \d+(?!st\b|nd\b|rd\b|th\b)[a-z]+\b")
# "Leicestershire beat Somerset", "May 18 v Worcestershire": a fixture or a result.
_VERSUS = (" v ", " vs ", " vs. ", " beat ", " beats ")


def _plays(text: str, start: int, end: int) -> str | None:
    """Whether the name at ``text[start:end]`` (the match view, single spaces) is a side in a
    result ("score": a number after it) or a fixture ("versus": "v", "beat" around it). String
    tests first: this runs for most place names."""
    after = text[end : end + 2]
    if len(after) == 2 and after[0] == " ":
        if (after[1].isdigit() or after[1] in "Aa") and _SCORE_AFTER.match(text, end):
            return "score"
        if after[1] in "vb" and text.startswith(_VERSUS, end):
            rest = text[end + 1 :].split(" ", 2)
            if len(rest) > 1 and rest[1][:1].isupper():
                return "versus"
    before = text[max(0, start - 7) : start]
    return "versus" if (" " + before if start <= 7 else before).endswith(_VERSUS) else None


_CAPITALS = re.compile(r"[A-Z][A-Z'’&-]+")  # a word in capitals (not "U.S.", not "A")
_WORD_TAIL = re.compile(r"[A-Z][\w'’.&-]*\Z")  # the capitalised end of the word before
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
    team_like: bool = False  # a city or state: followed by a score it names a sports team
    place: bool = False  # GPE or LOC
    named: bool = False  # GPE, LOC, ORG or NORP: a longer name around it is another thing
    single_word: bool = False  # the alias has no space


# Every whitespace character becomes a space in the text the automata read (same length), and
# runs of spaces become one: "United\nStates" and "Bank of\n   England" match their aliases.
_SPACES = {ord(c): " " for c in "\t\n\r\x0b\x0c\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"}
_SPACES.update(dict.fromkeys(range(8192, 8203), " "))
_RUN = re.compile(r"  +")
_SPACE_CHARS = re.compile("[" + "".join(chr(c) for c in _SPACES) + "]")


@dataclass(frozen=True, slots=True)
class MatchView:
    """The text the automata read, and how its offsets map back to the body's."""

    text: str
    marks: tuple[int, ...] = ()  # view offsets from which ...
    shifts: tuple[int, ...] = ()  # ... this many body characters were dropped before

    @classmethod
    def of(cls, body: str) -> MatchView:
        flat = _SPACE_CHARS.sub(" ", body)
        if "  " not in flat:
            return cls(flat)
        marks, shifts = [], []
        dropped = 0
        for m in _RUN.finditer(flat):
            marks.append(m.start() + 1 - dropped)  # the view offset just after the kept space
            dropped += m.end() - m.start() - 1
            shifts.append(dropped)
        return cls(_RUN.sub(" ", flat), tuple(marks), tuple(shifts))


def strip_accents(text: str) -> str:
    """Each character without its accents, keeping the length (``Bogotá`` -> ``Bogota``)."""
    out = []
    for ch in text:
        base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        out.append(base if len(base) == 1 else ch)
    return "".join(out)


# "<ERIC.ST>", "<DBKG.FRA>": a stock ticker, never a mention.
_TICKER = re.compile(r"<[A-Z0-9][A-Z0-9.\-]{0,14}>")
# "Tour de France", "Universidad de Chile", "Banco do Brasil": a name with a particle.
PARTICLES = frozenset("de du des da do dos das di del della la le van von der den y".split())
_PARTICLE_BEFORE = re.compile(r"\b([A-Z][\w'’.&-]*)[ \t]+([a-z]{1,5})[ \t]+\Z")
# In a headline in capitals, "NEW JERSEY", "NORTH DAKOTA": the prefix makes another place.
UPPER_PREFIXES = frozenset(
    "NEW NORTH SOUTH EAST WEST UPPER LOWER GREATER SAINT ST. FORT PORT".split()
)
UPPER_SUFFIXES = frozenset("CITY COUNTY ISLAND ISLANDS STATE".split())
_UPPER_WORD_BEFORE = re.compile(r"([A-Z][A-Z.'’&-]*)[ \t]+\Z")
# Short acronyms of international organisations that news uses for nothing else; any other
# acronym from the catalogue counts only in a document that also names the organisation in
# full (or holds one of its context terms): "SHARE", "ERA", "CBD" are words and other bodies.
UNAMBIGUOUS_ACRONYMS = frozenset(
    """UN U.N. NATO OPEC EU E.U. IMF WHO UNESCO UNICEF UNHCR UNDP UNEP OSCE ASEAN OECD WTO IAEA
    CSTO GCC OIC FAO ILO ICRC INTERPOL Interpol ECB EBRD ADB AfDB BRICS SCO APEC CERN
    FIFA UEFA GATT EEC""".split()
)
ACRONYM_MAX = 5


def _is_acronym(alias: str) -> bool:
    """``SHARE``, ``U.N.``, ``AfDB``: a short form in capitals (dots and digits aside)."""
    letters = alias.replace(".", "").replace("&", "")
    return (
        " " not in alias
        and 2 <= len(letters) <= ACRONYM_MAX
        and letters[:1].isupper()
        and sum(c.isupper() for c in letters) >= max(2, len(letters) - 1)
    )


_PREFIXES = frozenset("pro anti non ex post pre neo pan trans mid".split())


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _whole_word(body: str, start: int, end: int) -> bool:
    """Not inside a word, a currency (US$), or a lower-case hyphenated compound (U.S.-led,
    pro-Israel): those are adjectives, not mentions. "Armenia-Azerbaijan" names both."""
    # Written out with string tests: this runs for every automaton hit.
    if end < len(body):
        ch = body[end]
        if ch.isalnum() or ch == "_" or ch == "$":
            return False
        if ch == "-" and end + 1 < len(body) and body[end + 1].islower():
            return False
    if start > 0:
        ch = body[start - 1]
        if ch.isalnum() or ch == "_":
            return False
        if ch == "-" and start > 1:
            word_start = start - 1
            while word_start > 0 and _word_char(body[word_start - 1]):
                word_start -= 1
            prefix = body[word_start : start - 1]
            return not prefix[:1].islower() and prefix.lower() not in _PREFIXES  # "Pro-Moscow"
    return True


def _line_is_upper(body: str, start: int, end: int) -> bool:
    """True when the line around a match has letters but no lower-case ones (a headline)."""
    left = body.rfind("\n", 0, start) + 1
    right = body.find("\n", end)
    return body[left : right if right >= 0 else len(body)].isupper()


# Every word of every agency's name: a match that is none of these cannot lie in a credit.
_CREDIT_WORDS = frozenset(w for name in AGENCIES for w in (name, *re.split(r"[\s-]+", name)) if w)


class Excluded:
    """Where a document has no mentions: its boilerplate, and agency credits ("(Reuters)",
    "told Reuters"), which are found only when a match could lie in one (finding them costs,
    and most documents name no agency)."""

    def __init__(self, doc: ParsedDocument) -> None:
        self._doc = doc
        self._credits_found = False
        self._source = doc.source_name or ""
        self._index(boilerplate_ranges(doc))

    def _index(self, ranges: list[tuple[int, int]]) -> None:
        """Ranges by start, with the furthest end reached so far: a range holds [start, end)
        exactly when one starting at or before ``start`` reaches ``end`` (a binary search,
        however many credits a long text holds)."""
        self._ranges = sorted(ranges)
        self._starts = [s for s, _ in self._ranges]
        self._reach = list(itertools.accumulate((e for _, e in self._ranges), max))

    def covers(self, start: int, end: int, surface: str) -> bool:
        if not self._credits_found and (surface in _CREDIT_WORDS or surface in self._source):
            self._index(self._ranges + agency_ranges(self._doc))
            self._credits_found = True
        i = bisect.bisect_right(self._starts, start) - 1
        return i >= 0 and self._reach[i] >= end


class Gazetteer:
    """Catalogue-driven extractor. Picklable: the automata are rebuilt after unpickling."""

    name = "gazetteer"
    languages = frozenset({"en"})  # its names are English

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
        self._persons: dict[str, tuple[int, str]] = {}
        self._countries: set[str] = set()
        full_names: dict[int, list[str]] = {}
        for a in self._aliases:
            if not _is_acronym(a.alias):
                full_names.setdefault(a.entity_id, []).append(a.alias)
        keyed: dict[tuple[bool, str], list[_Entry]] = {}
        for a in self._aliases:
            exact = is_exact_case(a.alias)
            capitals = tuple(i for i, c in enumerate(a.alias) if c.isupper())
            context = a.context_terms
            if (
                context is None
                and a.kind == "ORG"
                and a.origin == "catalogue"
                and _is_acronym(a.alias)
                and a.alias not in UNAMBIGUOUS_ACRONYMS
            ):
                # Only with the full name in the same document (no full name: never).
                context = tuple(full_names.get(a.entity_id, ())) or ("\x00",)
            entry = _Entry(
                a.entity_id,
                a.kind,
                a.canonical_name,
                a.alias,
                exact,
                context,
                capitals,
                # A country's name before a score is its national team, still the country
                # (CoNLL's convention too); a city's or a state's is a club.
                team_like=not (a.country or normalise_alias(a.alias) in NATIONAL_SIDES),
                place=a.kind in ("GPE", "LOC"),
                named=a.kind in ("GPE", "LOC", "ORG", "NORP"),
                single_word=" " not in a.alias,
            )
            if a.country or normalise_alias(a.alias) in NATIONAL_SIDES:
                self._countries.add(normalise_alias(a.alias))
            keys = {a.alias} if exact else {fold(a.alias), strip_accents(fold(a.alias))}
            for key in keys:
                keyed.setdefault((exact, key), []).append(entry)
            if a.kind == "PERSON":
                self._persons[normalise_alias(a.alias)] = (a.entity_id, a.canonical_name)
        payloads: tuple[dict[str, Any], dict[str, Any]] = ({}, {})  # folded, exact
        for (exact, key), entries in keyed.items():
            entries.sort(key=lambda e: KIND_PRIORITY.index(e.kind))
            # A city's or a region's name only: before a score it is a team (see extract).
            team_only = all(e.team_like and e.kind in ("GPE", "LOC") for e in entries)
            payloads[exact][key] = (tuple(entries), team_only)
        self._folded = Scanner(payloads[False])
        self._exact = Scanner(payloads[True])

    # -- matching ---------------------------------------------------------------------------

    def _candidates(self, text: str) -> list[tuple[int, int, int, int, tuple[_Entry, ...], bool]]:
        """Every automaton hit as (start, -end, n, end, entries, team_only), so that sorting
        gives leftmost-longest order (``n`` breaks ties without comparing entries)."""
        # A text of names and nothing else ("Baku, Baku, ...") would give millions of hits:
        # the first MAX_HITS of each automaton bound memory (mentions are capped anyway).
        # Exact-case hits first: on the same span, ``n`` puts them before folded ones.
        found = [
            (start, -end, n, end, entries, team_only)
            for n, (start, end, (entries, team_only)) in enumerate(self._exact.scan(text))
        ]
        n = len(found)
        found.extend(
            (start, -end, n + i, end, entries, team_only)
            for i, (start, end, (entries, team_only)) in enumerate(self._folded.scan(fold(text)))
        )
        return found

    def _acceptable(self, text: str, start: int, end: int, entry: _Entry, upper_line: bool) -> bool:
        """Whether ``text[start:end]`` (the match view, a whole word: see _whole_word) may be a
        mention of ``entry``."""
        if entry.exact:
            if len(entry.alias) <= SHORT_ACRONYM and upper_line:
                return False
        else:
            # The surface must carry at least the alias's capitals.
            for i in entry.capitals:
                if not text[start + i].isupper():
                    return False
        if (
            entry.place
            and entry.team_like
            and text[end + 1 : end + 2].isdigit()
            and _NUMBERED_NAME.match(text, end)
        ):
            return False  # "San Francisco 49ers", "Philadelphia 76ers"
        if entry.named:
            if upper_line:
                before = _UPPER_WORD_BEFORE.search(text, max(0, start - 20), start)
                if before and before.group(1) in UPPER_PREFIXES:
                    return False  # "NEW JERSEY" is not Jersey
                after = _WORD_AFTER.match(text, end, end + 20)
                if after and (
                    after.group(1) in UPPER_SUFFIXES
                    or (entry.kind != "NORP" and after.group(1).lower() in ORG_HEADS)
                ):
                    return False  # "KANSAS CITY" is not Kansas, "CHICAGO BOARD" not Chicago
            elif self._inside_longer_name(text, start, end, entry.single_word):
                return False
        return True

    @staticmethod
    def _inside_longer_name(text: str, start: int, end: int, single_word: bool) -> bool:
        """True when capitalised neighbours make the match part of a longer, unknown name."""
        # A name in mixed case does not run on into a word in capitals, or back from one
        # (a heading before it: "SOCCER - FRIENDLY\nEngland 2 Scotland 1").
        # (The view has single spaces, so a word after starts just after the one space.)
        if text.startswith(" ", end) and "A" <= text[end + 1 : end + 2] <= "Z":
            after = _WORD_AFTER.match(text, end, end + 40)
            if after and after.group(1).lower() not in NEUTRAL_WORDS:
                if not (_CAPITALS.fullmatch(after.group(1)) and not text[start:end].isupper()):
                    return True
        # The view has single spaces: the word before is between the last two spaces.
        word = ""
        if start >= 2 and text[start - 1] == " ":
            left = text.rfind(" ", 0, start - 1) + 1
            word = text[left : start - 1]
            if word == "of":
                of = _OF_BEFORE.search(text, max(0, start - 40), start)
                if of and of.group(1).lower() in ORG_HEADS:
                    return True
            elif word in PARTICLES:
                particle = _PARTICLE_BEFORE.search(text, max(0, start - 40), start)
                if particle and particle.group(1).lower() not in NEUTRAL_WORDS:
                    return True  # "Tour de France"
        if not single_word or start < 2 or text[start - 1] != " " or word == word.lower():
            return False  # (a word before with no capital cannot end a name)
        # The word before: the view has single spaces, so it ends just before this one.
        window = max(0, start - 40)
        before = _WORD_TAIL.search(
            text, text.rfind(" ", window, start - 1) + 1 or window, start - 1
        )
        if before:
            word = before.group()
            # A possessive ("Azerbaijan's Karabakh") or a sentence's end ("Brussels. Armenia")
            # closes the name before; short abbreviations ("St.", "U.S.") do not.
            sentence_end = word.endswith(".") and len(word.replace(".", "")) > 3
            if (
                not (word.endswith(("'s", "’s")) or sentence_end)
                and word.lower().rstrip(".") not in NEUTRAL_WORDS
                and not (_CAPITALS.fullmatch(word) and not text[start:end].isupper())
            ):
                return True
        return False

    def extract(self, doc: ParsedDocument) -> list[ExtractedMention]:
        body = doc.body
        view = MatchView.of(body)
        text = view.text
        boiler = Excluded(doc)
        dateline = dateline_ranges(doc)
        tickers = [(m.start(), m.end()) for m in _TICKER.finditer(text)] if "<" in text else []
        context_cache: dict[tuple[str, ...], bool] = {}

        def in_context(terms: tuple[str, ...] | None) -> bool:
            """Some term is in the document, and no term marked ``!`` (which names the
            other thing of the same name: "!Seattle" for Washington, D.C.)."""
            if not terms:
                return True
            if terms not in context_cache:
                context_cache[terms] = any(
                    t in text for t in terms if not t.startswith("!")
                ) and not any(t[1:] in text for t in terms if t.startswith("!"))
            return context_cache[terms]

        # Headlines (lines with no lower case) change some rules; most documents have none.
        upper_lines = any(map(str.isupper, body.split("\n")))
        # Leftmost-longest selection over acceptable candidates.
        candidates = self._candidates(text)
        candidates.sort()
        mentions: list[ExtractedMention] = []
        teams = results_teams(body, self._countries, self._persons)
        plays: list[tuple[int, int]] = []
        versus = False
        taken_until = 0
        dateline_end = max((e for _, e in dateline), default=0)
        marks, shifts = view.marks, view.shifts
        for vstart, _, _, vend, entries, team_only in candidates:
            if vstart < taken_until or not _whole_word(text, vstart, vend):
                continue
            if tickers and any(s <= vstart and vend <= e for s, e in tickers):
                continue
            if marks:  # view offsets to the body's: add what was dropped before each
                i = bisect.bisect_right(marks, vstart) - 1
                start = vstart + (shifts[i] if i >= 0 else 0)
                i = bisect.bisect_right(marks, vend - 1) - 1
                end = vend + (shifts[i] if i >= 0 else 0)
            else:
                start, end = vstart, vend
            if team_only and (side := _plays(text, vstart, vend)):
                # "CHICAGO 71 64 .526", "Chicago 4 HOUSTON 3", "v Somerset": a city's or a
                # region's team, if the story is about sport and has another side (below);
                # until then it is the place.
                plays.append((start, end))
                versus = versus or side == "versus"
            upper = upper_lines and _line_is_upper(body, start, end)
            # The first entry that fits; but two catalogue entries whose context both fit
            # ("Georgia" the state and the country): the document does not say which, so
            # neither.
            entry = None
            for e in entries:
                if self._acceptable(text, vstart, vend, e, upper) and in_context(e.context):
                    if entry is None:
                        entry = e
                        if not e.context:
                            break
                    elif e.context and e.entity_id != entry.entity_id:
                        entry = None
                        break
            if entry is None:
                continue
            surface = body[start:end]
            if self._ignored and normalise_alias(surface) in self._ignored:
                continue
            if boiler.covers(start, end, surface):
                continue
            taken_until = vend
            role = "body"
            if start < dateline_end:
                for first, last in dateline:
                    if first <= start and end <= last:
                        role = "dateline"
            mentions.append(
                ExtractedMention(
                    start, end, surface, role, entry.kind, entry.canonical, entry.entity_id
                )
            )
        # One place before a number is not sport enough to relabel a whole story ("Melbourne
        # 7, ..." in a table of figures): it takes two sides, a results line or a fixture
        # ("beat Somerset"), in a story about sport.
        if teams or versus or len(plays) >= 2:
            teams += plays
        if teams and is_sport(body):
            mentions = with_teams(body, mentions, teams, boiler)
        mentions = short_forms(body, mentions, boiler)
        mentions.extend(structure_mentions(doc, mentions, self._persons, self._ignored))
        return sorted(mentions, key=_SPAN)


# Sports results: a line of team names and scores only ("Cukaricki 1 Vojvodina 0", "Port Vale 2
# Oxford 0", "Blackpool 4 2 1 1 3 2 7"). A golfer's or runner's row has 3-5 numbers after a
# person's name, so an unknown name's standings row needs six; two names need a bare score each.
# A team's name has at most six words.
_TEAM = r"[A-Z][\w'’.&-]*(?:[ \t]+(?:[A-Z][\w'’.&-]*|of|de|del|the)){0,5}"
_SCORE_PAIR = re.compile(
    rf"[ \t]*({_TEAM})[ \t]+\d{{1,3}},?[ \t]+({_TEAM})[ \t]+\d{{1,3}}"
    r"(?:[ \t]+\([^()\n]{0,40}\))?[ \t\r]*"  # "(halftime 1-1)"
)
_STANDING = re.compile(rf"[ \t]*({_TEAM})(?:[ \t]+\d{{1,3}}){{6,}}[ \t\r]*")
MAX_RESULTS_LINE = 200
TEAM_SUFFIX = " (sports team)"
_DATED = re.compile(
    r"[ \t]*(?:,[^\n]{0,30}?)?[ \t]+(?:\d{4}-\d\d-\d\d|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct"
    r"|Nov|Dec)[a-z]*\.?[ \t]+\d{1,2}\b)"
)
# Names are teams only in a story about sport: without one of these words, "Texas 49 Florida
# 41" is an election, "Moscow 12 London 15" the weather and "Windows 10 Office 365" software.
_SPORT = re.compile(
    r"\b(?:soccer|football|baseball|basketball|cricket|rugby|tennis|hockey|golf|cycling|"
    r"athletics|boxing|motor racing|formula one|nba|nfl|nhl|mlb|uefa|fifa|halftime|"
    r"half-time|innings|inning|wickets?|standings|strikers?|pitchers?|homers?|homered|"
    r"touchdowns?|quarterback|goalkeeper|midfielder|hat-trick|play-?offs?|seeded|"
    r"quarter-?finals?|semi-?finals?)\b",
    re.I,
)
_TEAM_BEFORE = re.compile(r"[\w'’.&-]")  # matched at the character before a name
_TEAM_AFTER = re.compile(r"[\w&-]|['’](?![sS]\b)|\.\w")  # matched at the end of a name
_NEXT_WORD = re.compile(r"[ \t]+([A-Z][\w'’.&-]*)")


def is_sport(body: str) -> bool:
    """Whether the document is about sport (see _SPORT)."""
    return _SPORT.search(body) is not None


def results_teams(
    body: str, countries: set[str], persons: dict[str, tuple[int, str]]
) -> list[tuple[int, int]]:
    """Spans of team names in results lines; a country's name there is its national team,
    which stays the country (CoNLL's convention too), and a known person stays a person."""
    spans = []
    offset = 0
    for line in body.split("\n"):
        # Only a short line that ends in a number (or a bracket) can be one, so the patterns
        # stay cheap.
        last = line.rstrip()[-1:]
        if len(line) <= MAX_RESULTS_LINE and (last.isdigit() or last == ")"):
            m = _SCORE_PAIR.fullmatch(line) or _STANDING.fullmatch(line)
            if m:
                for group in range(1, (m.lastindex or 0) + 1):
                    norm = normalise_alias(m.group(group))
                    if norm not in countries and norm not in persons:
                        spans.append((offset + m.start(group), offset + m.end(group)))
        offset += len(line) + 1
    return spans


def team_name(surface: str) -> str:
    """The entity a team's name stands for: "SAN DIEGO" -> "San Diego (sports team)"."""
    name = " ".join(surface.split())
    return (name.title() if name.isupper() else name) + TEAM_SUFFIX


def with_teams(
    body: str,
    found: list[ExtractedMention],
    teams: list[tuple[int, int]],
    excluded: Excluded,
) -> list[ExtractedMention]:
    """One sense per document: a name the document uses as a team's (in a results line or
    before a score) is that team wherever it stands alone in the document, not the place or
    person of the same name. A longer name around it ("Chicago Board of Trade") is kept."""
    names = {fold(" ".join(body[s:e].split())): team_name(body[s:e]) for s, e in teams}
    # An automaton, not a regular expression of alternatives: a table of thousands of teams
    # must not make the scan quadratic.
    folded = fold(body)
    hits = sorted(
        (start, -end, key) for start, end, key in Scanner({k: k for k in names}).scan(folded)
    )
    spans = {(m.start, m.end): m for m in found}
    taken = sorted((m.start, m.end) for m in found)
    team_spans = set(teams)
    dropped: set[tuple[int, int]] = set()
    added: list[ExtractedMention] = []
    until = 0
    for start, negative_end, key in hits:
        end = -negative_end
        if start < until or not body[start].isupper():
            continue  # inside the previous team's name; "nice weather" is not Nice
        if start and _TEAM_BEFORE.match(folded, start - 1):
            continue
        if _TEAM_AFTER.match(folded, end):
            continue  # part of a longer word
        if (start, end) not in team_spans:
            after = _NEXT_WORD.match(body, end)
            if after and (
                after.group(1).lower() in ORG_HEADS
                or (
                    after.group(1).lower() not in NEUTRAL_WORDS
                    and not _line_is_upper(body, start, end)
                )
            ):
                continue  # "Chicago Board of Trade", "CHICAGO BOARD OF TRADE": a longer name
        if excluded.covers(start, end, body[start:end]):
            continue
        if (start == 0 or body[start - 1] == "\n") and _DATED.match(body, end):
            continue  # "CHICAGO 1996-08-30", "CHICAGO, Aug 30 -": a dateline's place
        same = spans.get((start, end))
        i = bisect.bisect_left(taken, (start, start))
        overlaps = [(s, e) for s, e in taken[max(0, i - 2) : i + 2] if s < end and start < e]
        if same is not None and overlaps == [(start, end)]:
            if same.role != "body":
                continue  # a dateline's place, a byline's author
            dropped.add((start, end))
        elif overlaps:
            continue  # inside a longer name the catalogue knows
        until = end
        added.append(ExtractedMention(start, end, body[start:end], "body", "ORG", names[key]))
    return [m for m in found if (m.start, m.end) not in dropped] + added


# "flew to Washington", "stay in Paris": after a preposition the place is meant, not a person.
_AFTER_PREPOSITION = re.compile(
    r"\b(?:in|to|at|from|of|near|into|across|around|outside|inside|via|towards?)[ \t\n]+\Z",
    re.I,
)
_DEFINED_ACRONYM = re.compile(r"[ \t]*\(([A-Z][A-Za-z&.]{1,9})\)")


_SPAN = operator.itemgetter(0, 1)  # an ExtractedMention's (start, end)
_START = operator.itemgetter(0)


def short_forms(
    body: str, found: list[ExtractedMention], excluded: Excluded | None = None
) -> list[ExtractedMention]:
    """The mentions with later short forms of names the document spelled out, linked to the
    same entity:

    - an acronym it defines ("Securities and Exchange Commission (SEC)"), from there on;
    - a person's surname alone or after a title ("Aliyev", "President Aliyev") after the full
      name, when only one person of that surname is named in the document. The surname wins
      over a place of the same name ("MaliVai Washington ... Washington fell short").
    Offsets are exact; text already taken by another mention is left alone.
    """
    out = list(found)
    taken = sorted(map(_SPAN, found))
    places = {(m.start, m.end): m for m in found if m.kind in ("GPE", "LOC") and m.role == "body"}

    def free(start: int, end: int, person: bool) -> bool:
        i = bisect.bisect_left(taken, (start, start))
        for s, e in taken[max(0, i - 1) : i + 1]:
            if (
                s < end
                and start < e
                and not (
                    person
                    and (s, e) == (start, end) in places
                    and not _AFTER_PREPOSITION.search(body, max(0, start - 12), start)
                )
            ):
                return False
        return excluded is None or not excluded.covers(start, end, body[start:end])

    def link(word: str, after: int, model: ExtractedMention) -> None:
        person = model.kind == "PERSON"
        for m in re.finditer(rf"(?<![\w.-]){re.escape(word)}(?![\w-])", body[after:]):
            start, end = after + m.start(), after + m.end()
            if free(start, end, person):
                if person and (start, end) in places:
                    out.remove(places.pop((start, end)))
                else:
                    bisect.insort(taken, (start, end))
                out.append(model._replace(start=start, end=end, surface=word, role="body"))

    ordered = sorted(found, key=_START)
    for m in ordered:
        if m.kind in ("ORG", "GPE", "LOC", "EVENT", "MISC") and " " in m.surface:
            d = _DEFINED_ACRONYM.match(body, m.end)
            if d and _initials_fit(d.group(1), m.surface):
                link(d.group(1), d.start(1), m)
    persons: dict[str, set[int | str | None]] = {}
    for m in found:
        if m.kind == "PERSON" and m.role != "byline" and len(m.surface.split()) >= 2:
            persons.setdefault(m.surface.split()[-1], set()).add(m.entity_id or m.name)
    for m in ordered:
        if m.kind != "PERSON" or m.role == "byline" or len(m.surface.split()) < 2:
            continue
        surname = m.surface.split()[-1]
        if len(persons.get(surname, ())) == 1 and surname[:1].isupper() and len(surname) > 2:
            link(surname, m.end, m)
            persons[surname] = set()  # linked once, from its first full mention
    return out


def _initials_fit(acronym: str, name: str) -> bool:
    """``SEC`` fits "Securities and Exchange Commission": its capitals, in order."""
    letters = [c for c in acronym if c.isupper()]
    capitals = [w[0] for w in re.split(r"[\s-]+", name) if w[:1].isupper()]
    it = iter(capitals)
    return len(letters) >= 2 and all(any(c == ch for c in it) for ch in letters)
