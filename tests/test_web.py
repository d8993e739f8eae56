"""News as it comes: HTML pages, WARC archives, feeds, zips, tags and authors, end to end on
PostgreSQL. The WARC is written here with fastwarc from the benchmark's real pages."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from dbapp.parse import inputs
from tests.conftest import shared_path
from tests.test_load import dbapp, rows, scalar

pytest.importorskip("trafilatura", reason="the web extra (pip install 'dbapp[web]')")

EXIT_REJECTS = 5
PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Talks in Baku | Example News</title>
<meta property="og:site_name" content="Example News">
<meta property="og:title" content="Talks in Baku">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2024-03-05T10:00:00Z">
<link rel="canonical" href="https://news.example.com/2024/03/05/talks-in-baku">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article><h1>Talks in Baku</h1>
<p>BAKU, March 5 (Xinhua) -- Armenia and Azerbaijan resumed talks in Baku on Tuesday, the
foreign ministries of both countries said in a joint statement issued after the meeting.</p>
<p>The delegations discussed the delimitation of the border and the opening of transport links
across the region, officials said, adding that a further round is planned for next month.</p>
<p>Observers from the European Union and the United Nations attended the session, which lasted
more than six hours and ended late in the evening without a final agreement.</p>
</article>
<footer>Copyright Example News. All rights reserved. Subscribe to our newsletter.</footer>
</body></html>
"""


def _benchmark_pages(n: int) -> list[tuple[str, bytes]]:
    """``n`` real pages of the article-extraction benchmark: (url, html)."""
    folder = shared_path("corpora", "article-extraction-benchmark")
    truth = json.loads((folder / "ground-truth.json").read_text())
    pages = []
    for key in sorted(truth)[:n]:
        html = gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes())
        pages.append((truth[key]["url"], html))
    return pages


def _record(kind: str, url: str, content: bytes, **headers: str) -> bytes:
    """One WARC record written by fastwarc."""
    from fastwarc.warc import WarcRecord, WarcRecordType

    record = WarcRecord()
    record.init_headers(getattr(WarcRecordType, kind))
    record.headers["WARC-Target-URI"] = url
    for name, value in headers.items():
        record.headers[name.replace("_", "-")] = value
    record.set_bytes_content(content)
    out = io.BytesIO()
    record.write(out)
    return out.getvalue()


def _response(url: str, status: int, content_type: str, body: bytes) -> bytes:
    http = f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n\r\n".encode() + body
    return _record("response", url, http, WARC_Date="2023-02-01T12:00:00Z",
                   Content_Type="application/http; msgtype=response")  # fmt: skip


def _request(url: str) -> bytes:
    return _record("request", url, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def test_an_html_page_loads_its_article_and_metadata(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "talks.html").write_bytes(PAGE)
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == 0, result.output
    ((title, url, day, source, author, body, digest, size),) = rows(
        engine,
        "SELECT d.title, d.url, d.published_on::text, s.name, d.author, d.body, "
        "d.original_sha256, d.original_bytes FROM documents d JOIN sources s USING (source_id)",
    )
    assert (title, url, day, source, author) == (
        "Talks in Baku",
        "https://news.example.com/2024/03/05/talks-in-baku",
        "2024-03-05",
        "Example News",  # the site's name wins over the agency's marker
        "Jane Doe",
    )
    assert body.startswith("BAKU, March 5 (Xinhua) -- Armenia and Azerbaijan")
    assert "Subscribe" not in body and "Sport" not in body  # boilerplate left out
    assert (digest, size) == (hashlib.sha256(PAGE).hexdigest(), len(PAGE))
    mentions = dict(
        rows(
            engine,
            "SELECT m.surface, m.role FROM mentions m JOIN documents d USING (document_id) "
            'WHERE substr(d.body, m.start + 1, m."end" - m.start) = m.surface',
        )
    )
    assert mentions["Jane Doe"] == "byline" and mentions["Armenia"] == "body"


def test_a_warc_archive_loads_its_pages_counts_the_rest_and_survives_a_corrupt_record(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    pages = _benchmark_pages(3)
    corrupt = b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 40\r\n\r\ntoo short\r\n\r\n"
    data = b"".join(
        [
            _response(pages[0][0], 200, "text/html; charset=utf-8", pages[0][1]),
            _request(pages[0][0]),
            _response("https://x.example/logo.png", 200, "image/png", b"\x89PNG\r\n\x1a\n..."),
            _response("https://x.example/gone", 404, "text/html", b"<html>Not found</html>"),
            corrupt,
            _response(pages[1][0], 200, "text/html", pages[1][1]),
            _response(pages[2][0], 200, "text/html", pages[2][1]),
        ]
    )
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(gzip.compress(data))
    result = dbapp(fresh_db, "load", str(path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    urls = {r[0] for r in rows(engine, "SELECT url FROM documents")}
    assert len(urls) == 3 and all(u.startswith("http") for u in urls)
    ((code, number, raw),) = rows(engine, "SELECT error_code, record_number, raw FROM load_rejects")
    assert (code, number) == ("corrupt_warc_record", 5) and bytes(raw).startswith(corrupt[:40])
    (warnings,) = rows(engine, "SELECT warnings FROM loads")[0]
    assert {k: v["count"] for k, v in warnings.items() if k.startswith("warc_")} == {
        "warc_not_html": 1,
        "warc_not_200": 1,
        "warc_other_records": 1,
    }
    digests = {r[0] for r in rows(engine, "SELECT original_sha256 FROM documents")}
    assert hashlib.sha256(pages[1][1]).hexdigest() in digests
    assert scalar(engine, "SELECT count(*) FROM documents WHERE published_on IS NULL") == 0
    # Loading it again changes nothing.
    again = dbapp(fresh_db, "load", str(path), "--no-progress")
    assert again.exit_code == EXIT_REJECTS, again.output
    assert scalar(engine, "SELECT count(*) FROM documents") == 3
    assert scalar(engine, "SELECT count(*) FROM load_rejects") == 1


FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>Caspian Feed</title><link>https://feed.example.org/</link>
<item><title>Ministers meet in Baku</title><link>https://feed.example.org/a</link>
<guid>a-1</guid><pubDate>Tue, 05 Mar 2024 10:00:00 GMT</pubDate>
<dc:creator>John Roe</dc:creator><category>Politics</category><category>Caucasus</category>
<description>&lt;p&gt;Armenia and Azerbaijan met in &lt;b&gt;Baku&lt;/b&gt;.&lt;/p&gt;
</description></item>
<item><title>Empty</title><link>https://feed.example.org/b</link><description></description></item>
<item><title>Oil</title><link>https://feed.example.org/c</link><guid>c-3</guid>
<pubDate>Wed, 06 Mar 2024 09:00:00 GMT</pubDate>
<description>Oil prices rose in Kazakhstan.</description></item>
</channel></rss>
"""


def test_a_feed_loads_its_items_with_tags_and_bylines(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "news.rss").write_bytes(FEED)
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == 0, result.output
    docs = rows(
        engine,
        "SELECT d.external_id, s.name, d.title, d.published_on::text, d.body "
        "FROM documents d JOIN sources s USING (source_id) ORDER BY 1",
    )
    assert docs == [
        ("a-1", "Caspian Feed", "Ministers meet in Baku", "2024-03-05",
         "Armenia and Azerbaijan met in Baku.\n\nBy John Roe"),
        ("c-3", "Caspian Feed", "Oil", "2024-03-06", "Oil prices rose in Kazakhstan."),
    ]  # fmt: skip
    (warnings,) = rows(engine, "SELECT warnings FROM loads")[0]
    assert warnings["feed_item_without_text"]["count"] == 1
    assert rows(engine, "SELECT vocabulary, tag, documents FROM report_tags ORDER BY tag") == [
        ("categories", "Caucasus", 1),
        ("categories", "Politics", 1),
    ]
    assert rows(
        engine,
        "SELECT m.surface, e.kind, m.role FROM mentions m JOIN entities e "
        "USING (entity_id) WHERE m.role = 'byline'",
    ) == [("John Roe", "PERSON", "byline")]


def test_a_zip_loads_its_members_as_files_and_refuses_a_bomb(
    fresh_db: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inputs, "ZIP_RATIO_FLOOR", 1024 * 1024)
    nested = io.BytesIO()
    with zipfile.ZipFile(nested, "w") as inner:
        inner.writestr("c.txt", " date 2024-01-03 Inner story from Tbilisi, Georgia.")
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.txt", " date 2024-01-01 A story about Armenia.")
        archive.writestr("dir/b.jsonl", '{"text": "B story about Baku.", "date": "2024-01-02"}\n'
                                        '{"text": "broken", \n')  # fmt: skip
        archive.writestr("nested.zip", nested.getvalue())
        archive.writestr("notes.bin", b"\x00\x01 not an input")
        archive.writestr("bomb.txt", b"0" * (3 * 1024 * 1024))
    result = dbapp(fresh_db, "load", str(path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    prefix = f"{tmp_path}/"
    origins = sorted(
        r[0].removeprefix(prefix) for r in rows(engine, "SELECT origin_path FROM documents")
    )
    assert origins == ["bundle.zip!a.txt", "bundle.zip!dir/b.jsonl", "bundle.zip!nested.zip!c.txt"]
    rejects = sorted(
        (r[0].removeprefix(prefix), r[1], r[2])
        for r in rows(engine, "SELECT path, error_code, line_number FROM load_rejects")
    )
    assert rejects == [
        ("bundle.zip!bomb.txt", "zip_bomb", None),
        ("bundle.zip!dir/b.jsonl", "malformed_json", 2),
    ]
    assert "bundle.zip!notes.bin" in result.stderr  # skipped, and said
    files = scalar(engine, "SELECT files_seen FROM loads")
    assert files is not None and int(files) >= 4  # each member is a file in the ledger


def test_json_authors_and_tags_end_to_end(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "us.json"
    path.write_text(
        json.dumps(
            {
                "text": "The Senate met in Washington on the budget.",
                "date": "7/23/17",
                "authors": ["Jane Doe", "John Roe"],
                "tags": ["politics", "budget"],
            }
        )
    )
    result = dbapp(fresh_db, "load", str(path), "--no-progress")
    assert result.exit_code == 0, result.output
    assert rows(engine, "SELECT published_on::text, author FROM documents") == [
        ("2017-07-23", "Jane Doe, John Roe")
    ]
    assert rows(engine, "SELECT surface FROM mentions WHERE role = 'byline' ORDER BY start") == [
        ("Jane Doe",),
        ("John Roe",),
    ]
    assert rows(engine, "SELECT tag FROM document_tags ORDER BY tag") == [
        ("budget",),
        ("politics",),
    ]


def test_french_and_german_articles_are_detected_and_get_no_english_mentions(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    articles = {
        "fr": "Le président de l'Azerbaïdjan a rencontré mardi à Bakou le Premier ministre "
        "arménien. Les deux dirigeants ont discuté de la délimitation de la frontière et de "
        "l'ouverture des voies de communication dans la région, selon un communiqué.",
        "de": "Der Präsident Aserbaidschans hat am Dienstag in Baku den armenischen "
        "Ministerpräsidenten getroffen. Die beiden Politiker sprachen über die Grenzziehung "
        "und die Öffnung der Verkehrswege in der Region, hieß es in einer Mitteilung.",
        "en": "The president of Azerbaijan met the Armenian prime minister in Baku on "
        "Tuesday. The two leaders discussed the border and the opening of transport links "
        "in the region, according to a statement.",
    }
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        "\n".join(
            json.dumps({"id": k, "text": v, "date": "2024-03-05"}) for k, v in articles.items()
        )
    )
    result = dbapp(fresh_db, "load", str(path), "--no-progress")
    assert result.exit_code == 0, result.output
    found = rows(
        engine,
        "SELECT d.external_id, d.language, count(m.document_id) FROM documents d "
        "LEFT JOIN mentions m USING (document_id) GROUP BY 1, 2 ORDER BY 1",
    )
    assert [(k, lang) for k, lang, _ in found] == [("de", "de"), ("en", "en"), ("fr", "fr")]
    mentions = {k: n for k, _, n in found}
    assert mentions["de"] == 0 and mentions["fr"] == 0 and mentions["en"] >= 2
    (warnings,) = rows(engine, "SELECT warnings FROM loads")[0]
    assert warnings["language_not_extracted"]["count"] == 2
    # A language the record names is kept as given.
    given = tmp_path / "given.jsonl"
    given.write_text(json.dumps({"text": articles["en"] + " Again.", "language": "EN"}))
    assert dbapp(fresh_db, "load", str(given), "--no-progress").exit_code == 0
    assert scalar(engine, "SELECT count(*) FROM documents WHERE language = 'en'") == 2


def test_tag_and_language_filter_reports_search_and_export(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    # t1 (en, tags oil+energy), t2 (en, tag politics), t3 (fr, tag oil).
    records = [
        {"id": "t1", "date": "2024-01-05", "tags": ["oil", "energy"],
         "text": "Oil output rose in Azerbaijan and Kazakhstan this week, the ministry of "
                 "energy said on Friday in a statement about exports to Europe and Turkey."},
        {"id": "t2", "date": "2024-01-06", "tags": ["politics"],
         "text": "Armenia and Azerbaijan held talks in Brussels on Saturday, and the officials "
                 "said that a new round of the talks is planned for the spring in the region."},
        {"id": "t3", "date": "2024-02-01", "tags": ["oil"],
         "text": "La production de pétrole a augmenté en Azerbaïdjan cette semaine, selon le "
                 "ministère de l'énergie, qui prévoit une hausse des exportations vers l'Europe."},
    ]  # fmt: skip
    path = tmp_path / "tagged.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    assert dbapp(fresh_db, "load", str(path), "--no-progress").exit_code == 0

    def report(*args: str) -> list[dict]:
        result = dbapp(fresh_db, "report", *args, "--format", "json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    (oil,) = report("overview", "--tag", "oil")
    assert (oil["documents"], oil["documents_in_range"]) == (2, 3)  # t1 and t3, of 3
    (vocab,) = report("overview", "--tag", "tags:oil")
    assert vocab["documents"] == 2
    (any_case,) = report("overview", "--tag", "OIL")  # a tag matches in any case
    assert any_case["documents"] == 2
    (english_oil,) = report("overview", "--tag", "oil", "--language", "en")
    assert english_oil["documents"] == 1
    top = report("top-entities", "--tag", "politics")
    assert {r["entity"] for r in top} >= {"Armenia", "Azerbaijan"} and all(
        r["documents"] == 1 for r in top
    )
    monthly = report("timeline", "--language", "fr", "--period", "month")
    assert [(r["period"], r["documents"]) for r in monthly] == [
        ("2024-01-01", 0),
        ("2024-02-01", 1),
    ]
    found = dbapp(fresh_db, "search", "Azerbaijan", "--tag", "oil", "--format", "json")
    assert found.exit_code == 0, found.output
    ids = {r["document_id"] for r in json.loads(found.stdout)}
    by_external = dict(rows(engine, "SELECT external_id, document_id FROM documents"))
    assert ids == {by_external["t1"]}  # t3 is French: "Azerbaïdjan" is another word
    french = dbapp(fresh_db, "search", "production", "--language", "fr", "--format", "json")
    assert {r["document_id"] for r in json.loads(french.stdout)} == {by_external["t3"]}
    exported = dbapp(fresh_db, "export", "documents", "--tag", "politics")
    assert exported.exit_code == 0, exported.output
    assert [json.loads(x)["external_id"] for x in exported.stdout.splitlines()] == ["t2"]
    pairs = report("co-mentions", "--tag", "oil", "--language", "en")
    assert pairs and all(r["documents"] == 1 for r in pairs)  # t1's entities, pairwise


def test_html_inside_json_records(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "pages.jsonl"
    path.write_text(
        json.dumps({"id": "p1", "page_html": PAGE.decode(), "date": "2024-03-06"})
        + "\n"
        + json.dumps({"id": "p2", "page_html": "<html><body></body></html>"})
    )
    result = dbapp(fresh_db, "load", str(path), "--map", "html=page_html", "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    ((external, day, title, body),) = rows(
        engine, "SELECT external_id, published_on::text, title, body FROM documents"
    )
    assert (external, day, title) == ("p1", "2024-03-06", "Talks in Baku")  # the record's date
    assert body.startswith("BAKU, March 5 (Xinhua)")
    assert rows(engine, "SELECT error_code, line_number FROM load_rejects") == [
        ("no_article_text", 2)
    ]


def test_what_the_first_trial_found(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    # A menu is not an article; a page's tags are kept as written (one meta element, one tag).
    (tmp_path / "menu.html").write_text(
        "<html><body><nav><a>Home</a> <a>About</a></nav></body></html>"
    )
    page = PAGE.replace(
        b'<meta name="author"',
        b'<meta property="article:tag" content="Beshear, Andrew G (1977- )">\n<meta name="author"',
    )
    (tmp_path / "talks.html").write_bytes(page)
    feed = FEED.replace(b"<dc:creator>John Roe</dc:creator>",
                        b"<dc:creator>Anna Petrosyan and Rauf Aliyev</dc:creator>")  # fmt: skip
    (tmp_path / "news.rss").write_bytes(feed)
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    assert rows(engine, "SELECT error_code FROM load_rejects") == [("no_article_text",)]
    assert ("tags", "Beshear, Andrew G (1977- )") in rows(
        engine, "SELECT vocabulary, tag FROM document_tags"
    )
    assert rows(
        engine,
        "SELECT m.surface FROM mentions m JOIN documents d USING (document_id) "
        "WHERE m.role = 'byline' AND d.external_id = 'a-1' ORDER BY m.start",
    ) == [("Anna Petrosyan",), ("Rauf Aliyev",)]

    def report(*args: str) -> list[dict]:
        got = dbapp(fresh_db, "report", *args, "--format", "json")
        assert got.exit_code == 0, got.output
        return json.loads(got.stdout)

    # Bylines are not news about their authors: --query forms leave them out, as the plain ones.
    people = {r["entity"] for r in report("top-entities", "--query", "Baku", "--kind", "PERSON")}
    assert not people & {"Jane Doe", "Anna Petrosyan", "Rauf Aliyev"}
    # overview --since runs over the articles of that range.
    (recent,) = report("overview", "--since", "2024-03-06")
    assert recent["documents"] == 1  # the feed's oil item
    bad = dbapp(fresh_db, "search", "Baku", "--language", "english")
    assert bad.exit_code == 2 and "ISO 639-1" in bad.stderr
    assert dbapp(fresh_db, "search", "Baku", "--tag", ":").exit_code == 2


def test_a_dry_run_of_what_is_loaded_would_insert_no_mentions(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "talks.html").write_bytes(PAGE)
    assert dbapp(fresh_db, "load", str(tmp_path), "--no-progress").exit_code == 0
    dry = dbapp(fresh_db, "load", str(tmp_path), "--dry-run", "--no-progress")
    assert dry.exit_code == 0, dry.output
    assert re.search(r"mentions would be inserted\s*│\s*0\b", dry.stdout), dry.stdout


def test_zips_that_break(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    # A corrupt byte in a member, a photo without extension sense, a zip cut short.
    good = io.BytesIO()
    with zipfile.ZipFile(good, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a.txt", " date 2024-01-01 A story about Armenia and its border.")
        archive.writestr("b.txt", " date 2024-01-02 B story about Baku.")
        archive.writestr("photo.jpg", bytes(range(256)) * 800)
    data = bytearray(good.getvalue())
    at = data.index(b"A story")
    data[at] = ord("X")  # a.txt's CRC no longer matches
    (tmp_path / "crc.zip").write_bytes(bytes(data))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("inner.txt", " date 2024-01-03 Inner.")
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("first.txt", " date 2024-01-04 First of the outer zip.")
        archive.writestr("inner.zip", inner.getvalue() + b"\0" * 2000)
    whole = outer.getvalue()
    (tmp_path / "cut.zip").write_bytes(whole[: whole.index(b"\0" * 100) + 50])
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    assert "Traceback" not in result.output and "a bug" not in result.output
    prefix = f"{tmp_path}/"
    assert sorted(
        (r[0].removeprefix(prefix), r[1])
        for r in rows(engine, "SELECT path, error_code FROM load_rejects")
    ) == [("crc.zip!a.txt", "bad_zip"), ("cut.zip", "bad_zip")]
    assert [
        r[0].removeprefix(prefix) for r in rows(engine, "SELECT origin_path FROM documents")
    ] == ["crc.zip!b.txt"]
    assert "crc.zip!photo.jpg: no known input extension" in result.stderr


def test_estimated_facets_respect_tag_and_language(
    fresh_db: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbapp import search as search_module

    path = tmp_path / "pipes.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(
                {
                    "text": f"Pipeline story {i} about gas.",
                    "date": "2024-01-05",
                    "tags": ["rare"] if i % 10 == 0 else ["common"],
                }
            )  # fmt: skip
            for i in range(40)
        )
    )
    assert dbapp(fresh_db, "load", str(path), "--no-progress").exit_code == 0
    monkeypatch.setattr(search_module, "FACET_EXACT", 1)  # estimate from the sample
    monkeypatch.setattr(search_module, "ESTIMATE_FROM", 1)
    got = dbapp(fresh_db, "search", "pipeline", "--tag", "rare", "--facets", "--format", "json")
    assert got.exit_code == 0, got.output
    sources = json.loads(got.stdout)["sources"]
    assert sum(r["documents"] for r in sources) == 4  # 4 of the 40 are tagged rare


def test_what_the_attack_found(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    # HTML inside JSON keeps the record's author, tags and language; a feed's future date is
    # dropped and its title loses its markup; NUL in an author is not a byline of the text.
    page = PAGE.decode().replace('<meta name="author" content="Jane Doe">', "")
    (tmp_path / "r.jsonl").write_text(
        json.dumps(
            {
                "id": "r1",
                "html": page,
                "author": "Mary Jane Smith",
                "tags": ["Energy"],
                "language": "English",
            }
        )  # fmt: skip
        + "\n"
        + json.dumps(
            {"id": "r2", "text": "Baku hosted talks today.", "author": "By Jo\u0000hn Smith"}
        )
    )
    feed = FEED.replace(
        b"<title>Caspian Feed</title>", b"<title>&lt;b&gt;Caspian&lt;/b&gt; Feed</title>"
    )
    feed = feed.replace(b"Wed, 06 Mar 2024", b"Wed, 06 Mar 2099")
    (tmp_path / "f.rss").write_bytes(feed)
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == 0, result.output
    docs = {
        r[0]: r[1:]
        for r in rows(
            engine,
            "SELECT d.external_id, d.author, d.language, s.name, d.published_on::text "
            "FROM documents d JOIN sources s USING (source_id)",
        )
    }
    assert docs["r1"][:2] == ("Mary Jane Smith", "en")
    assert docs["c-3"][2:] == ("Caspian Feed", None)  # 2099 is no date
    bylines = rows(engine, "SELECT surface FROM mentions WHERE role = 'byline' ORDER BY surface")
    assert ("Mary Jane Smith",) in bylines and ("John Smith",) in bylines
    assert rows(
        engine,
        "SELECT t.tag FROM document_tags t JOIN documents d USING (document_id) "
        "WHERE d.external_id = 'r1'",
    ) == [("Energy",)]
    none = dbapp(fresh_db, "search", "Baku", "--tag", "nosuch")
    assert "no document matches 'Baku' with --tag nosuch" in none.stderr
    huge = " ".join(["word"] * 1001)  # 20,000 words overflowed PostgreSQL's parser stack
    for args in (["search", huge], ["report", "timeline", "--query", huge]):
        refused = dbapp(fresh_db, *args)
        assert refused.exit_code == 2 and "at most 1,000 are searched" in refused.stderr


def test_estimated_facets_of_an_author_count_their_articles(
    fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbapp import search as search_module

    path = tmp_path / "signed.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(
                {
                    "text": f"The economy grew, report {i}.",
                    "date": f"2024-01-{1 + i % 28:02d}",
                    "author": "Ivan Petrov",
                }
            )  # fmt: skip
            for i in range(30)
        )
    )
    assert dbapp(fresh_db, "load", str(path), "--no-progress").exit_code == 0
    monkeypatch.setattr(search_module, "FACET_EXACT", 1)
    monkeypatch.setattr(search_module, "ESTIMATE_FROM", 1)
    got = dbapp(fresh_db, "search", "economy", "--entity", "Ivan Petrov", "--facets",
                "--format", "json")  # fmt: skip
    assert got.exit_code == 0, got.output
    data = json.loads(got.stdout)
    assert sum(r["documents"] for r in data["sources"]) == 30  # his bylines are his articles
