"""Web pages: the article's main text and its metadata, extracted with trafilatura.

The stored text is what extraction gives (mention offsets point into it); the original page is
kept as its SHA-256 and size. Title, date, author, canonical URL, site name and tags come from
the page's own metadata; the source is the site's name, else (later) the agency's marker or the
URL's domain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from dbapp.errors import InputError
from dbapp.parse.dates import DATE_MISSING, parse_date, settle_date
from dbapp.parse.decode import ENCODING_FALLBACK, declared_charset, decode_input
from dbapp.parse.native import add_authors, apply_structure, author_names
from dbapp.parse.records import (
    MAX_FIELD_CHARS,
    ParsedDocument,
    Reject,
    clean_field,
    clean_tags,
    clean_text,
    storage_problem,
)

NO_TEXT = "no_article_text"
MIN_ARTICLE_WORDS = 15  # less is a menu or a form ("Home About"), not an article
DATE_FROM_FETCH = "date_from_fetch"  # warning: the page had no date; the crawl's was used
WEB_EXTRA = "reading HTML, WARC and feeds needs dbapp's web extra: pip install 'dbapp[web]'"
# Measured on the 181 pages of the article-extraction benchmark (benchmarks/html_quality.py):
# without comments and favouring precision, F1 0.964 (defaults 0.953).
_OPTIONS: dict[str, Any] = {
    "with_metadata": True,
    "include_comments": False,
    "favor_precision": True,
    "include_tables": True,
}


def require_web() -> None:
    """InputError unless the web extra (trafilatura, fastwarc, feedparser) is installed."""
    try:
        import fastwarc  # noqa: F401
        import feedparser  # noqa: F401
        import trafilatura  # noqa: F401
    except ImportError:
        raise InputError(WEB_EXTRA) from None


def extract_html(html: str, url: str | None = None) -> Any:
    """trafilatura's extraction of a page (a Document), or None when it finds no article."""
    import trafilatura

    return trafilatura.bare_extraction(html, url=url, **_OPTIONS)


def parse_html(
    raw: bytes,
    path: str,
    source: str | None = None,
    url: str | None = None,
    fetched: dt.date | None = None,
    encoding: str | None = None,
    record: int | None = None,
) -> ParsedDocument | Reject:
    """One page as a document; a page with no article text is a reject that keeps its bytes.

    ``url`` and ``fetched`` come from where the page was found (a WARC record's headers); the
    page's own canonical URL and publication date win over them.
    """
    decoded = decode_input(raw, path, encoding=encoding, declared=declared_charset(raw[:4096]))
    if isinstance(decoded, Reject):
        return decoded
    html, fallback = decoded
    try:
        found = extract_html(html, url)
    except Exception as exc:  # noqa: BLE001 - a page that breaks the extractor is a reject
        return Reject(
            path, "malformed_html", f"extraction failed: {exc}"[:500], raw, record_number=record
        )
    body = clean_text(found.text or "") if found is not None else ""
    title = clean_field(found.title) if found is not None else None
    first, _, rest = body.partition("\n")
    if title and rest and " ".join(first.split()).casefold() == title.casefold():
        body = rest.strip()  # the headline is the title, not the article's first line
    if len(body.split()) < MIN_ARTICLE_WORDS:
        return Reject(
            path,
            NO_TEXT,
            f"no article text found in the page (fewer than {MIN_ARTICLE_WORDS} words: "
            "navigation, an index, a form or an empty page)",
            raw,
            record_number=record,
        )
    doc = ParsedDocument(
        body=body,
        origin_path=path,
        record_number=record,
        source_name=source or clean_field(found.sitename),
        title=title,
        author=clean_field(found.author),
        url=(clean_field(found.url) or url or "")[:MAX_FIELD_CHARS] or None,
        original_sha256=hashlib.sha256(raw).hexdigest(),
        original_bytes=len(raw),
    )
    if fallback:
        doc.warnings.append((ENCODING_FALLBACK, f"{doc.where}: {fallback}"))
    if found.date:
        doc.published_on, _ = parse_date(found.date)
    doc.tags = clean_tags(_page_tags([*(found.categories or []), *(found.tags or [])]), "tags")
    apply_structure(doc)
    settle_date(doc)  # the dateline's or the URL's, when the page's metadata has none
    if doc.published_on is None and fetched is not None:
        # A news crawl fetches a page within hours of publication: the best date there is.
        doc.published_on = fetched
        detail = f"{doc.where}: no date in the page; fetched {fetched}"
        doc.warnings.append((DATE_FROM_FETCH, detail))
    elif doc.published_on is None:
        doc.warnings.append((DATE_MISSING, f"{doc.where}: no publication date in the page"))
    add_authors(doc, author_names(found.author or ""))
    problem = storage_problem(doc)
    if problem is not None:
        return Reject(path, *problem, raw, record_number=record)
    return doc


def _page_tags(values: list[Any]) -> list[str]:
    """A page's tags, each as written: one meta element is one tag ("Beshear, Andrew G"),
    unless it packs a list with bare commas ("Electronic Arts,EA,Microsoft")."""
    tags: list[str] = []
    for value in values:
        text = str(value)
        if "," in text and ", " not in text:
            tags += [t for t in text.split(",") if t.strip()]
        else:
            tags.append(text)
    return tags
