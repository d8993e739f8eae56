"""Hostile input, property-based: the loader never crashes, every bad record is a reject that
keeps its bytes, every good record loads, and mention offsets stay exact in any script."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine

from dbapp.catalogue import shipped_aliases
from dbapp.extract.base import NoExtractor
from dbapp.extract.gazetteer import Gazetteer
from dbapp.load import LoadOptions, load_documents
from dbapp.parse.inputs import discover, iter_units
from dbapp.parse.native import parse_native
from dbapp.parse.records import ParsedDocument, Reject, clean_text, content_sha256
from dbapp.parse.sgml import SgmlRecord, split_records
from dbapp.parse.stream import RAW_CAP
from dbapp.parse.tabular import (
    ArrayItem,
    RawRecord,
    iter_array_records,
    iter_csv_records,
    iter_json_records,
    record_to_document,
    split_array,
)

GAZETTEER = Gazetteer(shipped_aliases())
NAMES = ["Azerbaijan", "Baku", "UN", "Armenia", "Karabakh", "Milli Majlis", "Türkiye", "İstanbul"]
# Scripts and characters that break naive offset arithmetic.
TRICKY = (
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629"  # Arabic (RTL)
    "\u05e2\u05d1\u05e8\u05d9\u05ea"  # Hebrew (RTL)
    "e\u0301a\u0308\u200d\u200f\u202e"  # combining marks, ZWJ, RLM, RLO
    "İıŞşĞğÇçÖöÜüß"  # Turkish dotted/dotless i, ß (case mappings change length)
    "😀👍🏽🇦🇿"  # astral plane, modifiers, flags
    "\ufeff\t \r\n.,;:'\"-"
)
texts = st.lists(
    st.one_of(st.sampled_from(NAMES), st.text(alphabet=TRICKY, max_size=8), st.text(max_size=6)),
    max_size=40,
).map(" ".join)


@given(texts)
@settings(max_examples=300, deadline=None)
def test_offsets_exact_in_any_script(body: str) -> None:
    doc = ParsedDocument(body=clean_text(body), origin_path="h")
    for m in GAZETTEER.extract(doc):
        assert doc.body[m.start : m.end] == m.surface


@given(st.binary(max_size=3000))
@settings(max_examples=300, deadline=None)
def test_random_bytes_as_a_native_file(raw: bytes) -> None:
    result = parse_native(raw, "r.txt")
    if isinstance(result, Reject):
        assert result.raw == raw and result.code and result.message
    else:
        assert "\x00" not in result.body and result.published_on is not None


@given(st.binary(max_size=400).map(lambda b: b" date 2024-02-29 " + b))
@settings(max_examples=200, deadline=None)
def test_random_bytes_after_a_valid_header(raw: bytes) -> None:
    result = parse_native(raw, "r.txt")
    assert isinstance(result, ParsedDocument | Reject)
    if isinstance(result, Reject):
        assert result.raw == raw


good_record = st.builds(
    lambda body, date: {"text": body, "date": date},
    st.text(alphabet=TRICKY + "abc XYZ", min_size=1, max_size=60).filter(
        lambda s: s.strip() and "\x00" not in s
    ),
    st.sampled_from(["2024-01-02", "9/5/17", "", "junk", "0001-01-01", "26-FEB-1987"]),
)
bad_line = st.one_of(
    st.binary(max_size=80).filter(lambda b: b"\n" not in b),
    st.sampled_from([b'{"text": "unterminated', b"[1,2]", b'"just a string"', b"{}",
                     b'{"text": null}', b'{"text": "nul \\u0000 inside"}', b"\xff\xfe{}",
                     b'{"text": 42}']),
)  # fmt: skip
# The first line is a good record: a file that is one JSON array is read as an array instead.
lines = st.lists(
    st.one_of(
        good_record.map(lambda r: ("good", json.dumps(r).encode())),
        bad_line.map(lambda b: ("bad?", b)),
    ),
    max_size=25,
).map(lambda rest: [("good", b'{"text": "first"}'), *rest])


def _split(items: list[ParsedDocument | Reject]) -> tuple[list[ParsedDocument], list[Reject]]:
    docs = [i for i in items if isinstance(i, ParsedDocument)]
    return docs, [i for i in items if isinstance(i, Reject)]


@given(lines)
@settings(max_examples=300, deadline=None)
def test_jsonl_every_line_is_a_document_or_a_reject(items: list[tuple[str, bytes]]) -> None:
    data = b"\n".join(raw for _, raw in items)
    parsed = [
        r if isinstance(r, Reject) else record_to_document(r, "h.jsonl", {}, None)
        for r in iter_json_records(data, "h.jsonl")
    ]
    docs, rejects = _split(parsed)
    nonblank = [raw for _, raw in items if raw.strip()]
    assert len(docs) + len(rejects) == len(nonblank)
    all_lines = [raw for _, raw in items]
    for reject in rejects:
        assert reject.line_number is not None
        assert reject.raw == all_lines[reject.line_number - 1]
    for kind, raw in items:
        if kind == "good":
            body = clean_text(json.loads(raw)["text"])
            if body:
                assert any(d.body == body for d in docs)


@given(st.lists(st.lists(st.text(alphabet=TRICKY + 'ab,"\n', max_size=12), min_size=1, max_size=4),
                min_size=1, max_size=15))  # fmt: skip
@settings(max_examples=200, deadline=None)
def test_csv_never_crashes_and_keeps_bytes(rows: list[list[str]]) -> None:
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerows([["text", "title"], *rows])
    raw = buffer.getvalue()
    records = list(iter_csv_records(raw.encode(), "h.csv", 10_000))
    kept = b"".join(r.raw for r in records if r.raw is not None)
    header = raw.splitlines(keepends=True)[0].encode()
    # Every byte after the header is accounted for by a record or a reject (blank rows aside).
    assert len(kept) <= len(raw.encode()) - len(header)
    for r in records:
        if isinstance(r, RawRecord):
            assert isinstance(record_to_document(r, "h.csv", {}, None), ParsedDocument | Reject)


# -- end to end on PostgreSQL -----------------------------------------------------------------

HOSTILE_FILES = {
    "bom_crlf.txt": "\ufeff date 2024-01-01 BAKU, Azerbaijan, Jan 1.\r\nThe UN met.\r\n".encode(),
    "rtl.txt": (
        " date 2024-01-02 \u0645\u0631\u062d\u0628\u0627 Azerbaijan \u05e9\u05dc\u05d5\u05dd Baku"
    ).encode(),
    "combining.txt": " date 2024-01-03 Cafe\u0301 in İstanbul: Armenia and e\u0301 Baku.".encode(),
    "latin1.txt": b" date 2024-01-04 Caf\xe9 in Baku",  # read as cp1252, with a warning
    "undecodable.txt": b" date 2024-01-04 Caf\x81\x8d in Baku",  # not UTF-8, not cp1252
    "nul.txt": b" date 2024-01-05 before\x00after",
    "truncated.jsonl": b'{"text": "Armenia ok"}\n{"text": "cut',
    "mixed.csv": b'text,date\n"Azerbaijan, fine",2024-01-06\n"bad \x81",2024-01-07\n',
    "huge_line.jsonl": b'{"text": "' + b"Baku " * 30000 + b'"}\n{"text": "small Baku"}\n',
    "empty.txt": b"",
}


@pytest.fixture(scope="module")
def hostile_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dbapp-hostile-"))
    for name, data in HOSTILE_FILES.items():
        (path / name).write_bytes(data)
    yield path
    shutil.rmtree(path)


def test_hostile_files_end_to_end(engine: Engine, hostile_dir: Path) -> None:
    from dbapp.extract import extractor_for

    extractor = extractor_for(engine, "gazetteer")
    result = load_documents(
        engine, [str(hostile_dir)], extractor, LoadOptions(max_document_bytes=100_000)
    )
    with engine.connect() as conn:
        rejects = {
            (path.rsplit("/", 1)[1], line): (code, bytes(raw))
            for path, line, code, raw in conn.execute(
                text("SELECT path, line_number, error_code, raw FROM load_rejects")
            )
        }
        bodies = set(conn.scalars(text("SELECT body FROM documents")))
        bad_offsets = conn.scalar(
            text(
                "SELECT count(*) FROM mentions m JOIN documents d USING (document_id) "
                'WHERE substr(d.body, m.start + 1, m."end" - m.start) <> m.surface'
            )
        )
        mentions = conn.scalar(text("SELECT count(*) FROM mentions"))
    assert rejects == {
        ("undecodable.txt", 1): ("invalid_utf8", HOSTILE_FILES["undecodable.txt"]),
        ("nul.txt", 1): ("nul_character", HOSTILE_FILES["nul.txt"]),
        ("truncated.jsonl", 2): ("malformed_json", b'{"text": "cut'),
        ("mixed.csv", 3): ("invalid_utf8", b'"bad \x81",2024-01-07\n'),
        ("huge_line.jsonl", 1): ("too_large", HOSTILE_FILES["huge_line.jsonl"].split(b"\n")[0]),
        ("empty.txt", 1): ("empty", b""),
    }
    assert bodies == {
        "BAKU, Azerbaijan, Jan 1.\nThe UN met.",
        "\u0645\u0631\u062d\u0628\u0627 Azerbaijan \u05e9\u05dc\u05d5\u05dd Baku",
        "Caf\u00e9 in İstanbul: Armenia and \u00e9 Baku.",
        "Armenia ok",
        "Azerbaijan, fine",
        "small Baku",
        "Caf\u00e9 in Baku",
    }
    assert result.counts.documents_rejected == 6 and result.counts.documents_inserted == 7
    assert result.warning_examples["encoding_fallback"] == [
        f"{hostile_dir / 'latin1.txt'}: invalid UTF-8 at byte 20 (line 1): read as cp1252"
    ]
    assert bad_offsets == 0 and mentions and mentions >= 10


@given(st.lists(good_record, min_size=1, max_size=8), st.lists(bad_line, max_size=4))
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_random_batches_on_postgres(shared_db: Engine, good: list[dict], bad: list[bytes]) -> None:
    with shared_db.begin() as conn:
        conn.execute(
            text("TRUNCATE documents, mentions, loads, load_rejects RESTART IDENTITY CASCADE")
        )
    lines = [json.dumps(r).encode() for r in good] + bad
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.jsonl"
        path.write_bytes(b"\n".join(lines))
        result = load_documents(shared_db, [str(path)], NoExtractor(), LoadOptions())
    with shared_db.connect() as conn:
        stored = conn.scalar(text("SELECT count(*) FROM documents"))
        raws = [bytes(r) for r in conn.scalars(text("SELECT raw FROM load_rejects"))]
    expected = {content_sha256(b) for b in (clean_text(r["text"]) for r in good) if b}
    assert stored == len(expected) == result.counts.documents_inserted
    assert result.counts.documents_rejected == len(raws)
    for raw in raws:
        assert raw in lines


# -- the shapes of issue 12: arrays, deep nesting, huge numbers, broken SGML, truncated
# archives, header faults, bombs (streamed in small random reads, so chunk boundaries fall
# everywhere) --------------------------------------------------------------------------------


class _Trickle(io.RawIOBase):
    """A stream that returns at most ``step`` bytes per read (chunk edges land anywhere)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        part = self._data[self._pos : self._pos + min(len(buffer), self._step)]
        buffer[: len(part)] = part
        self._pos += len(part)
        return len(part)

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        n = self._step if n < 0 else min(n, self._step)
        part = self._data[self._pos : self._pos + n]
        self._pos += len(part)
        return part


json_leaf = st.one_of(
    st.text(alphabet=TRICKY + '\\"/\x01', max_size=10),
    st.integers(min_value=-(10**30), max_value=10**30),  # huge numbers
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
json_values = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(["text", "title", "date", "x"]), children, max_size=4),
    ),
    max_leaves=12,
)
deep = st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n)  # deep nesting


@given(st.lists(st.one_of(json_values.map(json.dumps), deep), max_size=12),
       st.integers(min_value=1, max_value=64))  # fmt: skip
@settings(max_examples=300, deadline=None)
def test_array_files_split_into_exact_elements(elements: list[str], step: int) -> None:
    data = ("[" + ",\n ".join(elements) + "]\n").encode()
    items = list(split_array(io.BufferedReader(_Trickle(data, step), 64), "a.json", 10_000))
    assert [i.raw for i in items if isinstance(i, ArrayItem)] == [e.encode() for e in elements]
    for record in iter_array_records(items, "a.json"):  # never raises, deep or not
        assert isinstance(record, RawRecord | Reject)


@given(st.lists(st.tuples(st.booleans(), st.text(alphabet="ab <>/\n", max_size=20)), max_size=15),
       st.integers(min_value=1, max_value=40))  # fmt: skip
@settings(max_examples=300, deadline=None)
def test_broken_sgml_records_are_never_glued(records: list[tuple[bool, str]], step: int) -> None:
    parts = []
    for closed, body in records:
        body = body.replace("<", "(")  # no stray tags inside
        parts.append(f"<REUTERS>{body}" + ("</REUTERS>\n" if closed else "\n"))
    data = "".join(parts).encode()
    got = list(split_records(io.BufferedReader(_Trickle(data, step), 64), "r.sgm", 10_000))
    assert len(got) == len(records)  # one result per opened record, in order
    for (closed, _), part, result in zip(records, parts, got, strict=True):
        if closed:
            assert isinstance(result, SgmlRecord) and result.raw == part.rstrip("\n").encode()
        else:
            assert isinstance(result, Reject) and result.code == "malformed_sgml"
            assert result.raw == part.encode()


@given(st.integers(min_value=1, max_value=400), st.floats(min_value=0.05, max_value=0.98))
@settings(max_examples=60, deadline=None)
def test_truncated_archives_keep_every_complete_line(lines: int, keep: float) -> None:
    data = b"".join(json.dumps({"text": f"line {i}"}).encode() + b"\n" for i in range(lines))
    packed = gzip.compress(data)
    cut = packed[: max(12, int(len(packed) * keep))]
    complete = zlib.decompressobj(31).decompress(cut).count(b"\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.jsonl.gz"
        path.write_bytes(cut)
        units = list(iter_units(discover([str(path)]), 10_000))
    payload = b"\n".join(u.payload for u in units if u.fmt == "jsonl" and u.payload)
    assert len([x for x in payload.split(b"\n") if x]) == complete
    [truncated] = [u.payload for u in units if u.fmt == "reject"]
    assert truncated.code == "truncated" and truncated.line_number == complete + 1


@given(st.binary(min_size=1, max_size=12).filter(lambda b: not set(b) & set(b'\n\r"')),
       st.lists(st.text(alphabet="abc ,", min_size=1, max_size=8), max_size=6))  # fmt: skip
@settings(max_examples=300, deadline=None)
def test_csv_header_faults_never_map_a_row(header: bytes, rows: list[str]) -> None:
    data = header + b"\n" + "".join(r.replace(",", " ") + "\n" for r in rows).encode()
    records = list(iter_csv_records(data, "h.csv", 10_000))
    faulty = b"\x00" in header or not _utf8(header) or not header.strip(b" ,\t\x0b\x0c")
    if faulty:
        assert not any(isinstance(r, RawRecord) for r in records)
        assert sum(1 for r in records if isinstance(r, Reject)) >= 1


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@given(st.integers(min_value=1, max_value=60), st.sampled_from(["jsonl", "csv", "sgm", "txt"]))
@settings(max_examples=20, deadline=None)
def test_bombs_are_capped_rejects(kib: int, kind: str) -> None:
    """A record far over the limit becomes one reject with its true size and first bytes."""
    limit = 1000
    body = b"x" * (kib * 1024)
    data = {
        "jsonl": b'{"text": "' + body + b'"}\n',
        "csv": b'text\n"' + body + b'"\n',
        "sgm": b"<REUTERS><TEXT><BODY>" + body + b"</BODY></TEXT></REUTERS>\n",
        "txt": b" date 2024-01-01 " + body,
    }[kind]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"bomb.{kind}.gz"
        path.write_bytes(gzip.compress(data))
        units = list(iter_units(discover([str(path)]), limit))
    [reject] = [u.payload for u in units if u.fmt == "reject"]
    assert reject.code == "too_large" and (reject.size_and_digest()[0] or 0) >= len(body)
    assert len(reject.raw) <= max(limit, RAW_CAP)
