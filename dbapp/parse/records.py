"""What parsing produces: documents ready to load, and rejects that keep the raw bytes."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Roles of structural spans a parser finds; the extractor turns some into mentions and ignores
# entity matches inside boilerplate.
SPAN_DATELINE_PLACE = "dateline_place"
SPAN_DATELINE_COUNTRY = "dateline_country"
SPAN_BYLINE_AUTHOR = "byline_author"
SPAN_BOILERPLATE = "boilerplate"

_WORD = re.compile(r"\w+")
_NEWLINES = re.compile(r"\r\n?")


@dataclass(frozen=True, slots=True)
class Span:
    """A structural part of a body: ``body[start:end]`` has role ``role``."""

    role: str
    start: int
    end: int


@dataclass(slots=True)
class ParsedDocument:
    """One article as parsed from its input, before deduplication and entity extraction."""

    body: str
    origin_path: str
    origin_line: int | None = None
    record_number: int | None = None
    source_name: str | None = None
    external_id: str | None = None
    title: str | None = None
    author: str | None = None
    url: str | None = None
    published_on: dt.date | None = None
    dateline: str | None = None
    dateline_place: str | None = None
    dateline_country: str | None = None
    dateline_date: tuple[int | None, int, int] | None = None  # (year or None, month, day)
    language: str | None = None  # ISO 639-1; None: detected by the pipeline
    spans: list[Span] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (code, detail)
    tags: list[tuple[str, str]] = field(default_factory=list)  # (vocabulary, tag), the source's
    original_sha256: str | None = None  # of the HTML (page, WARC record, feed item) it came from
    original_bytes: int | None = None
    sha256: str = ""  # the dedup key, set once by the pipeline (see content_sha256)
    dedup_text: str | None = None  # what the key is computed over, when not the body

    @property
    def where(self) -> str:
        if self.origin_line is not None:
            return f"{self.origin_path}:{self.origin_line}"
        if self.record_number is not None:
            return f"{self.origin_path}#{self.record_number}"
        return self.origin_path


@dataclass(frozen=True, slots=True)
class Reject:
    """An input record that could not become a document; ``raw`` keeps its exact bytes."""

    path: str
    code: str
    message: str
    raw: bytes | None
    line_number: int | None = None
    record_number: int | None = None
    raw_size: int | None = None  # the whole record's size when ``raw`` holds only a prefix
    raw_sha256: str | None = None  # and its digest

    @property
    def truncated(self) -> bool:
        return self.raw_size is not None and self.raw is not None and self.raw_size > len(self.raw)

    def size_and_digest(self) -> tuple[int | None, str | None]:
        """The whole record's size and SHA-256 (computed from ``raw`` unless it was capped)."""
        if self.raw is None:
            return self.raw_size, self.raw_sha256
        if self.raw_sha256 is not None:
            return self.raw_size, self.raw_sha256
        return len(self.raw), hashlib.sha256(self.raw).hexdigest()

    @property
    def where(self) -> str:
        if self.line_number is not None:
            return f"{self.path}:{self.line_number}"
        if self.record_number is not None:
            return f"{self.path}#{self.record_number}"
        return self.path


# What PostgreSQL can store and index: btree index rows (external ids, source names) are at
# most ~2,700 bytes, a full-text tsvector at most 1 MB.
MAX_KEY_CHARS = 500
MAX_FIELD_CHARS = 10_000
MAX_TAG_CHARS = 200  # a tag longer than this is cut (tags are indexed)
MAX_TAGS = 200  # per document and vocabulary
MAX_TSVECTOR_BYTES = 1_000_000
TSVECTOR_CHECK_CHARS = 200_000  # below this a body cannot reach the tsvector limit


def storage_problem(doc: ParsedDocument) -> tuple[str, str] | None:
    """(code, message) when the database could not store or index the document, else None.

    Found here, the record is a reject like any other bad input; found by PostgreSQL, it would
    fail the whole batch (or, in bulk mode, the index build at the end).
    """
    try:
        doc.body.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            "invalid_unicode",
            f"the text holds a lone surrogate (\\u{ord(exc.object[exc.start]):04x})",
        )
    for name, value, limit in (
        ("id", doc.external_id, MAX_KEY_CHARS),
        ("source", doc.source_name, MAX_KEY_CHARS),
        ("title", doc.title, MAX_FIELD_CHARS),
        ("author", doc.author, MAX_FIELD_CHARS),
        ("url", doc.url, MAX_FIELD_CHARS),
        ("language", doc.language, 64),
    ):
        if value is not None and len(value) > limit:
            return (
                "field_too_long",
                f"the {name} field has {len(value):,} characters (at most {limit:,})",
            )
    if len(doc.body) + len(doc.title or "") > TSVECTOR_CHECK_CHARS:
        counts: dict[str, int] = {}
        for m in _WORD.finditer(f"{doc.title or ''} {doc.body}".lower()):  # no list of words
            word = m.group()
            counts[word] = counts.get(word, 0) + 1
        size = sum(len(w.encode()) + 4 + 2 * min(n, 256) for w, n in counts.items())
        if size > MAX_TSVECTOR_BYTES:
            return (
                "too_many_words",
                f"{len(counts):,} distinct words: the full-text index of this text would be "
                f"about {size:,} bytes, over PostgreSQL's {MAX_TSVECTOR_BYTES:,}-byte limit",
            )
    return None


def clean_text(text: str) -> str:
    """The stored form of a text: NFC, ``\\n`` line ends, no BOM, no surrounding whitespace."""
    text = _NEWLINES.sub("\n", text.lstrip("\ufeff"))
    return unicodedata.normalize("NFC", text).strip()


def content_sha256(body: str) -> str:
    """Deduplication key: SHA-256 of the body with every whitespace run collapsed to one space."""
    return hashlib.sha256(" ".join(body.split()).encode("utf-8")).hexdigest()


# ASCII word characters (what \\w matches below U+0080) as b"w", every other byte as a space.
_ASCII_WORDS = bytes(
    ord("w") if chr(b).isascii() and (chr(b).isalnum() or chr(b) == "_") else ord(" ")
    for b in range(256)
)


def word_count(body: str) -> int:
    """How many runs of word characters (``\\w+``) the body has."""
    if body.isascii():  # the same count, several times faster: bytes in C
        return len(body.encode("ascii").translate(_ASCII_WORDS).split())
    # A long text's word list would cost far more memory than the text.
    return len(_WORD.findall(body)) if len(body) < 100_000 else sum(1 for _ in _WORD.finditer(body))


def clean_field(value: object) -> str | None:
    """A metadata field as one tidy line of text, or None when empty."""
    if value is None:
        return None
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value if v not in (None, ""))
    # NUL cannot be stored in PostgreSQL text, nor a lone surrogate (from JSON's "\ud800");
    # in a metadata field they carry no meaning.
    value = str(value).replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    text = " ".join(unicodedata.normalize("NFC", value).split())
    return text or None


def clean_tags(value: object, vocabulary: str) -> list[tuple[str, str]]:
    """``(vocabulary, tag)`` pairs from a field: a list, or one string split on commas and
    semicolons; empty and repeated tags dropped, long ones cut."""
    items = value if isinstance(value, list) else [value]
    tags: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, dict):  # {"term": ...} or {"name": ...}, as feeds and APIs give
            item = item.get("term") or item.get("name") or item.get("label")
        if item is None or isinstance(item, dict | list):
            continue
        parts = [item] if isinstance(value, list) else re.split(r"[;,]", str(item))
        for part in parts:
            tag = clean_field(part)
            if tag and (vocabulary, tag[:MAX_TAG_CHARS]) not in tags and len(tags) < MAX_TAGS:
                tags.append((vocabulary, tag[:MAX_TAG_CHARS]))
    return tags


def site_of(url: str) -> str | None:
    """A URL's site as a source name: ``https://www.ipsnews.net/2022/...`` -> ``ipsnews.net``."""
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    if not host or "." not in host:
        return None
    return host.removeprefix("www.")[:MAX_KEY_CHARS]
