"""RSS and Atom feed files (feedparser): each item a document, the feed's title its source.

An item's text is its full content when the feed carries it, else its summary; HTML in it is
reduced to text. Items without text are counted (``feed_item_without_text``), not stored empty.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html as htmllib
import re
from collections.abc import Iterator
from typing import Any

from dbapp.parse.dates import DATE_MISSING, parse_date
from dbapp.parse.native import add_authors, apply_structure, author_names
from dbapp.parse.records import (
    ParsedDocument,
    Reject,
    clean_field,
    clean_tags,
    clean_text,
    storage_problem,
)

EMPTY_ITEM = "feed_item_without_text"
_BLOCK = re.compile(r"(?i)</?(?:p|div|br|li|h[1-6]|blockquote|tr)\b[^>]*>")
_TAG = re.compile(r"<[^>]+>")


def html_to_text(fragment: str) -> str:
    """A feed's HTML snippet as plain text: blocks become lines, tags go, entities decode."""
    text = _TAG.sub("", _BLOCK.sub("\n", fragment))
    lines = (" ".join(line.split()) for line in htmllib.unescape(text).split("\n"))
    return "\n".join(line for line in lines if line)


def _entry_html(entry: Any) -> str:
    """The item's full content when it has one, else its summary (HTML as the feed gave it)."""
    for content in entry.get("content") or []:
        value = content.get("value") or ""
        if value.strip():
            return str(value)
    return str(entry.get("summary") or entry.get("description") or "")


def _entry_date(entry: Any) -> dt.date | None:
    # dict.get: feedparser's own get maps missing keys onto others, with a warning.
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = dict.get(entry, key)
        if parsed:
            try:
                day, _ = parse_date(dt.date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday))
            except ValueError:
                continue
            if day is not None:  # in range: not before 1800, not in the future
                return day
    for key in ("published", "updated"):
        day, _ = parse_date(dict.get(entry, key))
        if day is not None:
            return day
    return None


def parse_feed(
    raw: bytes, path: str, source: str | None = None
) -> Iterator[ParsedDocument | Reject | tuple[str, str]]:
    """Documents of a feed file, rejects, and ``(warning, detail)`` for items without text."""
    import feedparser

    parsed = feedparser.parse(raw)
    if not parsed.entries:
        why = str(parsed.get("bozo_exception") or "no items")
        yield Reject(path, "not_a_feed", f"no feed items found ({why[:200]})", raw)
        return
    feed_title = clean_field(html_to_text(parsed.feed.get("title") or ""))
    for number, entry in enumerate(parsed.entries, 1):
        original = _entry_html(entry)
        body = clean_text(html_to_text(original))
        where = f"{path}#{number}"
        if not body:
            yield (EMPTY_ITEM, f"{where}: {clean_field(entry.get('title')) or 'untitled'}")
            continue
        item_bytes = original.encode("utf-8", "replace")
        doc = ParsedDocument(
            body=body,
            origin_path=path,
            record_number=number,
            source_name=source or feed_title,
            external_id=clean_field(entry.get("id")),
            title=clean_field(html_to_text(entry.get("title") or "")),
            author=clean_field(entry.get("author")),
            url=clean_field(entry.get("link")),
            published_on=_entry_date(entry),
            original_sha256=hashlib.sha256(item_bytes).hexdigest(),
            original_bytes=len(item_bytes),
        )
        if doc.published_on is None:
            doc.warnings.append((DATE_MISSING, f"{where}: the item has no date"))
        terms = [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
        doc.tags = clean_tags(terms, "categories")
        apply_structure(doc)
        names = [a.get("name") for a in entry.get("authors") or [] if a.get("name")]
        people = author_names(names or entry.get("author") or "")
        doc.author = ", ".join(people) or doc.author  # every author, not feedparser's last
        add_authors(doc, people)
        problem = storage_problem(doc)
        if problem is not None:
            yield Reject(path, *problem, item_bytes, record_number=number)
            continue
        yield doc
