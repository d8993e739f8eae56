"""Parsing is pure: every format and every kind of bad input, without a database."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbapp.errors import InputError
from dbapp.parse.dates import parse_date
from dbapp.parse.inputs import discover, iter_units, sniff
from dbapp.parse.native import external_id_from_path, parse_native
from dbapp.parse.records import ParsedDocument, Reject, content_sha256, word_count
from dbapp.parse.sgml import SgmlRecord, parse_sgml_record, split_records
from dbapp.parse.tabular import (
    RawRecord,
    iter_csv_records,
    iter_json_records,
    parse_mapping,
    record_to_document,
)
from tests.conftest import SEEDS

SEED_0 = SEEDS / "000_d1f4e4cf78dcdb67.txt"
SEED_1 = SEEDS / "001_b9ae1a64affd447b.txt"


def _doc(result: ParsedDocument | Reject) -> ParsedDocument:
    assert isinstance(result, ParsedDocument), result
    return result


def _reject(result: ParsedDocument | Reject) -> Reject:
    assert isinstance(result, Reject), result
    return result


def _span_texts(doc: ParsedDocument) -> list[tuple[str, str]]:
    return [(s.role, doc.body[s.start : s.end]) for s in doc.spans]


# -- the native format: the two seeds, field by field ---------------------------------------


def test_seed_0_fields() -> None:
    doc = _doc(parse_native(SEED_0.read_bytes(), str(SEED_0)))
    assert doc.published_on == dt.date(2023, 9, 11)
    assert doc.external_id == "d1f4e4cf78dcdb67"
    assert doc.dateline == "BAKU, Azerbaijan, September 11."
    assert doc.dateline_place == "Baku"
    assert doc.dateline_country == "Azerbaijan"
    assert doc.author is None  # this article has no byline
    assert doc.source_name == "Trend"  # from "..., Trend reports."
    assert doc.body.startswith("BAKU, Azerbaijan, September 11. Heads of working groups")
    assert doc.body.endswith('so-called "election" activities.')
    assert ("boilerplate", "Trend reports") in _span_texts(doc)
    assert ("dateline_place", "BAKU") in _span_texts(doc)


def test_seed_1_fields() -> None:
    doc = _doc(parse_native(SEED_1.read_bytes(), str(SEED_1)))
    assert doc.published_on == dt.date(2020, 4, 24)
    assert doc.external_id == "b9ae1a64affd447b"
    assert doc.dateline == "BAKU, Azerbaijan, April 24"
    assert doc.dateline_place == "Baku"
    assert doc.dateline_country == "Azerbaijan"
    assert doc.author == "Leman Zeynalova"
    assert doc.source_name == "Trend"  # from the byline "By Leman Zeynalova – Trend:"
    spans = _span_texts(doc)
    assert ("byline_author", "Leman Zeynalova") in spans
    assert ("boilerplate", "By Leman Zeynalova – Trend:") in spans
    assert ("dateline_country", "Azerbaijan") in spans


def test_source_option_overrides_the_text() -> None:
    doc = _doc(parse_native(SEED_1.read_bytes(), "x.txt", source="Agency X"))
    assert doc.source_name == "Agency X"
    assert doc.author == "Leman Zeynalova"


def test_article_without_source_clues_has_no_source() -> None:
    doc = _doc(parse_native(b" date 2021-01-02 Plain text with no agency.", "a.txt"))
    assert doc.source_name is None and doc.dateline is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("000_d1f4e4cf78dcdb67.txt", "d1f4e4cf78dcdb67"),
        ("dir/12_abc.txt.gz", "abc"),
        ("article-7.txt", "article-7"),
    ],
)
def test_external_id_from_file_name(name: str, expected: str) -> None:
    assert external_id_from_path(name) == expected


@pytest.mark.parametrize(
    ("raw", "code", "line"),
    [
        (b"", "empty", 1),
        (b"   \n\n ", "empty", 1),
        (b"No header here.\nMore text.", "missing_date_header", 1),
        (b" date 2023-13-45 Text.", "invalid_date_header", 1),
        (b" date 11/09/2023 Text.", "invalid_date_header", 1),
        (b" date 2023-09-11 ", "empty", 1),
        (b" date 2023-09-11 ok\nline two \x81\x8d bad", "invalid_utf8", 2),
        (b"\x00\x01\x02\x03binary\x00\x00", "binary", 1),
        (b" date 2023-09-11 text\n\nNUL \x00 here" + b"x" * 9000, "nul_character", 3),
    ],
)
def test_native_bad_input_is_a_reject_with_its_bytes(raw: bytes, code: str, line: int) -> None:
    reject = _reject(parse_native(raw, "bad.txt"))
    assert (reject.code, reject.line_number) == (code, line)
    assert reject.raw == raw and reject.path == "bad.txt" and reject.message


def test_bom_crlf_and_unicode_are_normalised() -> None:
    raw = "\ufeff date 2022-02-02 Cafe\u0301 in Baku\r\nsecond line\r\n".encode()
    doc = _doc(parse_native(raw, "bom.txt"))
    assert doc.body == "Caf\u00e9 in Baku\nsecond line"
    assert doc.published_on == dt.date(2022, 2, 2)


def test_dedup_key_ignores_whitespace_layout_only() -> None:
    assert content_sha256("a  b\n\nc") == content_sha256("a b c")
    assert content_sha256("a b c") != content_sha256("a b C")


# -- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected", "warning"),
    [
        ("2023-09-11", dt.date(2023, 9, 11), None),
        ("2023-09-11T22:10:00+04:00", dt.date(2023, 9, 11), None),
        ("Friday, January 4, 2019", dt.date(2019, 1, 4), None),
        ("26-FEB-1987 15:01:01.79", dt.date(1987, 2, 26), None),
        ("Mon, 20 Nov 1995 19:12:08 -0500", dt.date(1995, 11, 20), None),
        ("25/12/2017", dt.date(2017, 12, 25), None),
        ("9/5/17", None, "date_ambiguous"),
        ("03/04/2019", None, "date_ambiguous"),
        ("0217-05-01", None, "date_out_of_range"),
        ("2999-01-01", None, "date_out_of_range"),
        ("2023-02-30", None, "date_unparsed"),
        ("soon", None, "date_unparsed"),
        ("", None, "date_missing"),
        (None, None, "date_missing"),
    ],
)
def test_dates_are_parsed_or_explained(value: object, expected: object, warning: object) -> None:
    assert parse_date(value, today=dt.date(2026, 11, 24)) == (expected, warning)


@pytest.mark.parametrize(
    ("value", "order", "expected"),
    [
        ("7/23/17", None, dt.date(2017, 7, 23)),  # no month 23: one reading, M/D/YY
        ("23/7/17", None, dt.date(2017, 7, 23)),  # D/M/YY
        ("12/31/98", None, dt.date(1998, 12, 31)),  # 2098 is after next year: 1998
        ("5/5/05", None, dt.date(2005, 5, 5)),  # both readings the same day
        ("9/5/17", "MDY", dt.date(2017, 9, 5)),
        ("9/5/17", "DMY", dt.date(2017, 5, 9)),
        ("03/04/2019", "DMY", dt.date(2019, 4, 3)),
        ("7/23/17", "DMY", dt.date(2017, 7, 23)),  # the order settles only what is ambiguous
    ],
)
def test_numeric_dates_with_one_reading_or_a_given_order(
    value: str, order: str | None, expected: dt.date
) -> None:
    assert parse_date(value, today=dt.date(2026, 11, 24), order=order) == (expected, None)


def test_date_warnings_say_when_the_field_is_empty() -> None:
    data = b'{"text": "One.", "date": ""}\n{"text": "Two."}\n{"text": "Three.", "date": "  "}'
    docs = [record_to_document(r, "in.jsonl", {}, None) for r in _records(data)]  # type: ignore[arg-type]
    assert [_doc(d).warnings for d in docs] == [
        [("date_missing", "in.jsonl:1: the date field is empty")],
        [("date_missing", "in.jsonl:2: no date field")],
        [("date_missing", "in.jsonl:3: the date field is empty")],
    ]


# -- JSON Lines and CSV ----------------------------------------------------------------------


def _records(data: bytes) -> list[RawRecord | Reject]:
    return list(iter_json_records(data, "in.jsonl"))


def test_jsonl_defaults_and_bad_lines() -> None:
    data = b"\n".join(
        [
            b'{"id": "a1", "content": "Baku hosts talks.", "published": "2023-05-01",'
            b' "outlet": "Trend", "headline": "Talks", "authors": ["A B", "C D"]}',
            b"",
            b'{"text": "broken", ',
            b"[1, 2]",
            b'{"text": "ok \x81"}',
            b'{"title": "no text"}',
            b'{"text": "Date is 9/5/17.", "date": "9/5/17"}',
        ]
    )
    items = _records(data)
    docs = [
        record_to_document(r, "in.jsonl", {}, None) if isinstance(r, RawRecord) else r
        for r in items
    ]
    first = _doc(docs[0])
    assert (first.external_id, first.title, first.source_name) == ("a1", "Talks", "Trend")
    assert first.author == "A B, C D" and first.published_on == dt.date(2023, 5, 1)
    assert first.origin_line == 1
    bad = [_reject(d) for d in docs[1:5]]
    assert [(r.code, r.line_number) for r in bad] == [
        ("malformed_json", 3),
        ("not_an_object", 4),
        ("invalid_utf8", 5),
        ("missing_text", 6),
    ]
    assert bad[0].raw == b'{"text": "broken", '
    last = _doc(docs[5])
    assert last.published_on is None
    assert last.warnings == [("date_ambiguous", "in.jsonl:7: '9/5/17'")]


def test_mapping_option_and_nested_fields() -> None:
    mapping = parse_mapping(["text=content_original", "date=meta.when", "source=meta.site.name"])
    record = RawRecord(
        {
            "content_original": "Body.",
            "text": "ignored",
            "meta": {"when": "2020-01-02", "site": {"name": "S"}},
        },
        1,
        1,
        b"",
    )
    doc = _doc(record_to_document(record, "m.jsonl", mapping, None))
    assert (doc.body, doc.published_on, doc.source_name) == ("Body.", dt.date(2020, 1, 2), "S")
    with pytest.raises(ValueError, match="unknown field"):
        parse_mapping(["colour=x"])
    with pytest.raises(ValueError, match="FIELD=COLUMN"):
        parse_mapping(["text"])


def test_csv_records_keep_line_numbers_and_raw_bytes() -> None:
    text = (
        "url,date,title,text\r\n"
        '"https://a",2019-01-04,"T1","First\r\nmultiline"\r\n'
        "https://b,2019-01-05,T2\r\n"
        'https://c,2019-01-06,T3,"bad \udc81 byte"\r\n'
        "https://d,2019-01-07,T4,Fourth\r\n"
    )
    data = text.encode("utf-8", "surrogateescape")
    items = list(iter_csv_records(data, "w.csv", max_bytes=10_000))
    assert isinstance(items[0], RawRecord) and items[0].line == 2
    assert items[0].values["text"] == "First\r\nmultiline"
    assert items[0].raw == b'"https://a",2019-01-04,"T1","First\r\nmultiline"\r\n'
    field_count = _reject(items[1])  # type: ignore[arg-type]
    assert (field_count.code, field_count.line_number) == ("csv_field_count", 4)
    assert field_count.raw == b"https://b,2019-01-05,T2\r\n"
    bad_bytes = _reject(items[2])  # type: ignore[arg-type]
    assert (bad_bytes.code, bad_bytes.line_number) == ("invalid_utf8", 5)
    assert b"\x81" in (bad_bytes.raw or b"")
    assert isinstance(items[3], RawRecord) and items[3].line == 6
    doc = _doc(record_to_document(items[3], "w.csv", {}, None))
    assert (doc.url, doc.title, doc.body) == ("https://d", "T4", "Fourth")


# -- Reuters SGML ------------------------------------------------------------------------------

SGML = b"""<!DOCTYPE lewis SYSTEM "lewis.dtd">
<REUTERS TOPICS="YES" NEWID="7">
<DATE>26-FEB-1987 15:01:01.79</DATE>
<TEXT>&#2;
<TITLE>COCOA &lt;REVIEW&gt;</TITLE>
<DATELINE>    SALVADOR, Feb 26 - </DATELINE><BODY>Showers continued in
the Bahia cocoa zone.
 Reuter
&#3;</BODY></TEXT>
</REUTERS>
<REUTERS NEWID="8">
<DATE>31-MAR-1987 605:12:19.12</DATE>
<TEXT TYPE="BRIEF">&#2;
******<TITLE>ASSETS ROSE 720.4 MLN DLRS
</TITLE>Blah blah blah.
&#3;
</TEXT>
</REUTERS>
<REUTERS NEWID="9">
<DATE>garbage</DATE>
<TEXT TYPE="UNPROC">&#2;
FEDERAL RESERVE WEEKLY REPORT
 Net free reserves....644
</TEXT>
</REUTERS>
<REUTERS NEWID="10">
<DATE>1-APR-1987</DATE>
<TEXT><TITLE>CUT OFF
"""


def test_sgml_records_briefs_unproc_and_truncation() -> None:
    parts = list(split_records(SGML, "r.sgm"))
    assert [p.line for p in parts if isinstance(p, SgmlRecord)] == [2, 11, 19]
    truncated = _reject(parts[-1])  # type: ignore[arg-type]
    assert (truncated.code, truncated.line_number) == ("malformed_sgml", 26)
    docs = [_doc(parse_sgml_record(p, "r.sgm")) for p in parts[:3]]  # type: ignore[arg-type]
    a, brief, unproc = docs
    assert (a.external_id, a.title, a.source_name) == ("7", "COCOA <REVIEW>", "Reuters")
    assert a.published_on == dt.date(1987, 2, 26)
    assert (a.dateline, a.dateline_place) == ("SALVADOR, Feb 26", "Salvador")
    # Stored as the wire sent it: dateline first (a dateline mention at exact offsets); the
    # dedup key is the body's alone, as it was before the dateline was kept.
    assert a.body == "SALVADOR, Feb 26 - Showers continued in\nthe Bahia cocoa zone.\n Reuter"
    assert a.dedup_text == "Showers continued in\nthe Bahia cocoa zone.\n Reuter"
    assert [(s.role, a.body[s.start : s.end]) for s in a.spans] == [
        ("dateline_place", "SALVADOR"),
        ("boilerplate", "Reuter"),
    ]
    assert brief.body == brief.title == "ASSETS ROSE 720.4 MLN DLRS"
    assert brief.published_on == dt.date(1987, 3, 31)
    assert unproc.body.startswith("FEDERAL RESERVE WEEKLY REPORT")
    assert unproc.published_on is None and unproc.warnings[0][0] == "date_unparsed"


# -- finding inputs ----------------------------------------------------------------------------


def test_discover_directories_globs_and_missing(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_bytes(b" date 2020-01-01 A")
    (tmp_path / "sub" / "b.jsonl.gz").write_bytes(gzip.compress(b'{"text": "B"}'))
    (tmp_path / "README.md").write_text("not an input")
    (tmp_path / ".hidden.txt").write_text("skip")
    found = discover([str(tmp_path)])
    assert [(Path(f.path).name, f.fmt) for f in found] == [
        ("a.txt", "native"),
        ("b.jsonl.gz", "jsonl"),
    ]
    assert [Path(f.path).name for f in discover([str(tmp_path / "**" / "*.gz")])] == ["b.jsonl.gz"]
    with pytest.raises(InputError, match="no such file"):
        discover([str(tmp_path / "nope.txt")])
    with pytest.raises(InputError, match="no files match"):
        discover([str(tmp_path / "*.csv")])
    with pytest.raises(InputError, match="unknown --format"):
        discover([str(tmp_path)], fmt="xml")


def test_gzip_is_transparent_and_sniffing_works(tmp_path: Path) -> None:
    path = tmp_path / "mystery"
    path.write_bytes(gzip.compress(b'{"text": "hello"}\n{"text": "world"}\n'))
    units = list(iter_units(discover([str(path)]), max_document_bytes=1000))
    assert [u.fmt for u in units] == ["jsonl"]
    assert units[0].payload == b'{"text": "hello"}\n{"text": "world"}'
    assert sniff(b" date 2020-01-01 x") == "native"
    assert sniff(b"<!DOCTYPE lewis>") == "sgml"
    assert sniff(b"a,b,c\n1,2,3") == "csv"
    assert sniff(b"\x89PNG\r\n") is None


def test_oversized_inputs_are_rejected_and_the_rest_continues(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b" date 2020-01-01 " + b"x" * 5000)
    lines = [b'{"text": "small"}', b'{"text": "' + b"y" * 5000 + b'"}', b'{"text": "after"}']
    (tmp_path / "b.jsonl").write_bytes(b"\n".join(lines))
    units = list(iter_units(discover([str(tmp_path)]), max_document_bytes=1000))
    rejects = [u.payload for u in units if u.fmt == "reject"]
    assert [(r.path.rsplit("/", 1)[1], r.code, r.line_number) for r in rejects] == [
        ("b.jsonl", "too_large", 2),
        ("big.txt", "too_large", 1),
    ]
    kept = b"\n".join(u.payload for u in units if u.fmt == "jsonl" and u.payload)
    assert kept == b'{"text": "small"}\n{"text": "after"}'


# -- encodings, authors, tags ------------------------------------------------------------------


def test_text_that_is_not_utf8_is_read_as_declared_or_cp1252_with_a_warning() -> None:
    from dbapp.parse.decode import declared_charset, decode_input

    # cp1252: curly quotes (0x93 0x94) and an e acute (0xe9), invalid as UTF-8.
    raw = b" date 2024-01-04 \x93Caf\xe9\x94 in Baku"
    doc = _doc(parse_native(raw, "cp.txt"))
    assert doc.body == "\u201cCaf\u00e9\u201d in Baku"
    assert doc.warnings == [
        ("encoding_fallback", "cp.txt: invalid UTF-8 at byte 17 (line 1): read as cp1252")
    ]
    # --encoding wins over detection, and bytes it cannot read are a reject with their line.
    forced = _doc(
        parse_native(" date 2024-01-04 Ça va".encode("latin-1"), "l.txt", None, "latin-1")
    )
    assert (forced.body, forced.warnings) == ("Ça va", [])
    wrong = _reject(parse_native(b" date 2024-01-04 x\n\xff\xfe", "a.txt", None, "ascii"))
    assert (wrong.code, wrong.line_number) == ("invalid_encoding", 2)
    # A declared charset (HTML meta, XML prolog) is tried before cp1252.
    assert declared_charset(b'<meta charset="ISO-8859-2">') == "iso8859-2"
    assert declared_charset(b'<?xml version="1.0" encoding="koi8-r"?>') == "koi8-r"
    text, warning = decode_input("Žluťoučký".encode("iso8859-2"), "p.html", declared="iso8859-2")  # type: ignore[misc]
    assert text == "Žluťoučký" and warning is not None and "(as declared)" in warning
    # JSON Lines: the record loads, the warning names its line.
    (record,) = _records(b'{"text": "Caf\xe9 au lait"}')
    json_doc = _doc(record_to_document(record, "in.jsonl", {}, None))  # type: ignore[arg-type]
    assert json_doc.body == "Café au lait"
    assert (
        json_doc.warnings[0][0] == "encoding_fallback" and "in.jsonl:1" in json_doc.warnings[0][1]
    )


def test_authors_become_byline_spans_one_each() -> None:
    from dbapp.parse.native import author_names
    from dbapp.parse.records import SPAN_BYLINE_AUTHOR

    assert author_names(["Jane Doe", "John Q. Public"]) == ["Jane Doe", "John Q. Public"]
    assert author_names("By Jane Doe and John Roe") == ["Jane Doe", "John Roe"]
    assert author_names("Jane Doe, John Roe & Ann Lee") == ["Jane Doe", "John Roe", "Ann Lee"]
    assert author_names("Associated Press") == []  # an agency, not a person
    assert author_names(["staff@example.com", "Reuters Staff", "Cher"]) == []
    data = (
        b'{"text": "Talks in Baku.\\nBy Jane Doe", "authors": ["Jane Doe", "John Roe"]}\n'
        b'{"text": "No byline here.", "author": "Ann Lee"}'
    )
    first, second = (
        _doc(record_to_document(r, "in.jsonl", {}, None))  # type: ignore[arg-type]
        for r in _records(data)
    )
    # Jane Doe is in the text already; John Roe is added as the last line, so both have offsets.
    assert first.body == "Talks in Baku.\nBy Jane Doe\n\nBy John Roe"
    authors = [first.body[s.start : s.end] for s in first.spans if s.role == SPAN_BYLINE_AUTHOR]
    assert authors == ["Jane Doe", "John Roe"]
    assert first.dedup_text == "Talks in Baku.\nBy Jane Doe"  # dedup on the text as given
    assert second.body == "No byline here.\n\nBy Ann Lee"
    assert [second.body[s.start : s.end] for s in second.spans if s.role == SPAN_BYLINE_AUTHOR] == [
        "Ann Lee"
    ]


def test_tags_from_json_fields_and_reuters_sgml() -> None:
    from dbapp.parse.sgml import sgml_tags

    (record,) = _records(
        b'{"text": "x", "tags": ["Oil", "oil", "Gas", ""], "topic": "Energy; Markets",'
        b' "keywords": [{"term": "OPEC"}]}'
    )
    doc = _doc(record_to_document(record, "in.jsonl", {}, None))  # type: ignore[arg-type]
    assert doc.tags == [
        ("tags", "Oil"), ("tags", "oil"), ("tags", "Gas"),
        ("topic", "Energy"), ("topic", "Markets"), ("keywords", "OPEC"),
    ]  # fmt: skip
    record_text = (
        "<REUTERS><TOPICS><D>crude</D><D>ship</D></TOPICS><PLACES><D>usa</D></PLACES>"
        "<PEOPLE></PEOPLE><ORGS><D>opec</D></ORGS><EXCHANGES><D>nyse</D></EXCHANGES></REUTERS>"
    )
    assert sgml_tags(record_text) == [
        ("topics", "crude"), ("topics", "ship"), ("places", "usa"), ("orgs", "opec"),
        ("exchanges", "nyse"),
    ]  # fmt: skip


# -- agencies, datelines, URL-first texts ------------------------------------------------------


def _settled(doc: ParsedDocument, default: dt.date | None = None) -> ParsedDocument:
    from dbapp.parse.dates import settle_date

    settle_date(doc, default)
    return doc


@pytest.mark.parametrize(
    ("text", "source", "place", "date"),
    [
        ("BEIJING, June 3 (Xinhua) -- China said.", "Xinhua", "Beijing", None),
        ("ABUJA, Jun 22 2022 (IPS) - Farmers wait.", "IPS", "Abuja", dt.date(2022, 6, 22)),
        ("WASHINGTON (AP) — The Senate voted.", "AP", "Washington", None),
        ("PARIS, March 3, 2021 (AFP) - Talks.", "AFP", "Paris", dt.date(2021, 3, 3)),
        ("LONDON (Reuters) - Oil rose.", "Reuters", "London", None),
        ("(Xinhua) -- A report said.", "Xinhua", None, None),
        ("Officials spoke (IPS) — later.", "IPS", None, None),
        ("NEW YORK, Sept. 9 2019 - Stocks fell.", None, "New York", dt.date(2019, 9, 9)),
    ],
)
def test_agency_markers_and_datelines(
    text: str, source: str | None, place: str | None, date: dt.date | None
) -> None:
    (record,) = _records(json.dumps({"text": text}).encode())
    doc = _settled(_doc(record_to_document(record, "in.jsonl", {}, None)))  # type: ignore[arg-type]
    assert (doc.source_name, doc.dateline_place, doc.published_on) == (source, place, date)


def test_a_dateline_without_a_year_takes_it_from_the_given_date_never_a_guess() -> None:
    (record,) = _records(b'{"text": "BEIJING, June 3 (Xinhua) -- China said."}')
    undated = _settled(_doc(record_to_document(record, "x.jsonl", {}, None)))  # type: ignore[arg-type]
    assert undated.published_on is None and undated.dateline_date == (None, 6, 3)
    (record,) = _records(b'{"text": "BEIJING, June 3 (Xinhua) -- China said."}')
    dated = _doc(record_to_document(record, "x.jsonl", {}, None))  # type: ignore[arg-type]
    assert _settled(dated, dt.date(2021, 12, 30)).published_on == dt.date(2021, 6, 3)
    # The record's own date wins over the dateline.
    (record,) = _records(b'{"text": "ABUJA, Jun 22 2022 (IPS) - x", "date": "2022-06-23"}')
    own = _settled(_doc(record_to_document(record, "x.jsonl", {}, None)))  # type: ignore[arg-type]
    assert own.published_on == dt.date(2022, 6, 23)
    # A source given by the record wins over the agency's marker.
    (record,) = _records(b'{"text": "LONDON (Reuters) - x", "source": "Wire"}')
    wire = _doc(record_to_document(record, "x.jsonl", {}, None))  # type: ignore[arg-type]
    assert wire.source_name == "Wire"


def test_texts_with_their_url_first_load_dated_by_dateline_or_url() -> None:
    from dbapp.parse.dates import url_date

    raw = (
        b"https://www.ipsnews.net/2022/06/nigeria-farmers/\n"
        b"ABUJA, Jun 22 2022 (IPS) - Farmers in Nigeria wait for rain.\n"
    )
    doc = _settled(_doc(parse_native(raw, "crawl/0001.txt")))
    assert doc.url == "https://www.ipsnews.net/2022/06/nigeria-farmers/"
    assert doc.body.startswith("ABUJA, Jun 22 2022 (IPS) - Farmers")
    assert (doc.source_name, doc.published_on, doc.warnings) == ("IPS", dt.date(2022, 6, 22), [])
    by_path = _settled(
        _doc(parse_native(b"https://example.com/news/2021/03/04/story.html\nSome text.", "a.txt"))
    )
    assert by_path.published_on == dt.date(2021, 3, 4)
    nothing = _settled(_doc(parse_native(b"http://example.org/story\nNo date at all.", "b.txt")))
    assert nothing.published_on is None and nothing.warnings[0][0] == "date_missing"
    assert url_date("https://x.com/2022-06-22-story") == dt.date(2022, 6, 22)
    assert url_date("https://x.com/2022/13/40/") is None
    assert url_date("https://x.com/a/20/b") is None
    assert sniff(b"https://example.com/x\ntext") == "native"


def test_author_forms_from_feeds_and_pages() -> None:
    from dbapp.parse.native import author_names

    assert author_names(["Anna Petrosyan and Rauf Aliyev"]) == ["Anna Petrosyan", "Rauf Aliyev"]
    assert author_names("editor@caucasuswire.example (Nino Beridze)") == ["Nino Beridze"]
    assert author_names("Tom Krisher; Ap Auto Writer") == ["Tom Krisher"]  # a job title
    assert author_names(["Doe, John"]) == ["Doe, John"]  # one item, one person: never split


def test_language_fields_become_codes() -> None:
    from dbapp.parse.language import language_code

    assert [language_code(v) for v in ("EN", "en-US", "English", "eng", "fre", "zh_Hant")] == [
        "en", "en", "en", "en", "fr", "zh"
    ]  # fmt: skip
    assert language_code("klingon") is None and language_code("") is None


def test_a_warc_record_without_a_type_is_a_reject() -> None:
    import io

    from dbapp.parse.warc import split_warc

    broken = b"WARC/1.0\r\nWARC-Type response\r\nContent-Length: 4\r\n\r\nabcd\r\n\r\n"
    (item,) = list(split_warc(io.BytesIO(broken), "x.warc", 1000))
    assert isinstance(item, Reject) and item.code == "corrupt_warc_record"
    assert "no WARC-Type header" in item.message and item.raw and item.raw.endswith(b"abcd")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F)) | st.text())
def test_word_count_is_the_count_of_word_runs(text: str) -> None:
    """The ASCII shortcut counts exactly what the regular expression does."""
    assert word_count(text) == len(re.findall(r"\w+", text))
