"""`dbapp load` on real PostgreSQL: fields, idempotence, formats, rejects, ledger, exit codes."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from dbapp.cli import app
from dbapp.extract.base import ExtractedMention, NoExtractor
from dbapp.load import LoadOptions, load_documents
from dbapp.parse.records import ParsedDocument
from tests.conftest import SEEDS, shared_path

runner = CliRunner()
EXIT_REJECTS = 5


def dbapp(url: str, *args: str, stdin: bytes | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--database-url", url, *args], input=stdin)


def scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def rows(engine: Engine, sql: str, **params: object) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def test_seeds_load_with_every_field(fresh_db: str, engine: Engine) -> None:
    result = dbapp(fresh_db, "load", str(SEEDS), "--extractor", "none")
    assert result.exit_code == 0, result.output
    got = rows(
        engine,
        """SELECT d.external_id, d.published_on, d.dateline, d.dateline_place, d.dateline_country,
                  d.author, s.name, d.char_count = length(d.body), d.word_count > 300,
                  d.origin_path LIKE '%seeds/%'
           FROM documents d JOIN sources s USING (source_id) ORDER BY d.external_id""",
    )
    assert got == [
        ("b9ae1a64affd447b", dt.date(2020, 4, 24), "BAKU, Azerbaijan, April 24", "Baku",
         "Azerbaijan", "Leman Zeynalova", "Trend", True, True, True),
        ("d1f4e4cf78dcdb67", dt.date(2023, 9, 11), "BAKU, Azerbaijan, September 11.", "Baku",
         "Azerbaijan", None, "Trend", True, True, True),
    ]  # fmt: skip
    body = scalar(engine, "SELECT body FROM documents WHERE external_id = 'b9ae1a64affd447b'")
    assert isinstance(body, str) and body.startswith("BAKU, Azerbaijan, April 24\n\nBy Leman")
    load = rows(
        engine,
        "SELECT status, files_seen, documents_seen, documents_inserted, documents_duplicate,"
        " documents_rejected, finished_at IS NOT NULL FROM loads",
    )
    assert load == [("completed", 2, 2, 2, 0, 0, True)]
    # Full-text search works on the stored, generated vector.
    hits = scalar(
        engine,
        "SELECT count(*) FROM documents WHERE search_vector @@ websearch_to_tsquery('english', :q)",
        q="so-called elections",
    )
    assert hits == 2


def test_loading_twice_changes_nothing(fresh_db: str, engine: Engine) -> None:
    dbapp(fresh_db, "load", str(SEEDS))
    snapshot = rows(engine, "SELECT document_id, content_sha256, load_id FROM documents ORDER BY 1")
    mentions = scalar(engine, "SELECT count(*) FROM mentions")
    again = dbapp(fresh_db, "load", str(SEEDS))
    assert again.exit_code == 0
    assert "nothing new" in again.stdout
    assert (
        rows(engine, "SELECT document_id, content_sha256, load_id FROM documents ORDER BY 1")
        == snapshot
    )
    assert scalar(engine, "SELECT count(*) FROM mentions") == mentions
    assert rows(
        engine, "SELECT documents_inserted, documents_duplicate FROM loads ORDER BY load_id"
    ) == [
        (2, 0),
        (0, 2),
    ]


def test_same_text_in_two_files_is_one_document(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    seed = (SEEDS / "000_d1f4e4cf78dcdb67.txt").read_bytes()
    (tmp_path / "a.txt").write_bytes(seed)
    # Same article, different line endings and spacing: still the same text.
    (tmp_path / "b.txt").write_bytes(seed.replace(b"\n", b"\r\n").replace(b". ", b".  "))
    result = dbapp(fresh_db, "load", str(tmp_path))
    assert result.exit_code == 0
    assert scalar(engine, "SELECT count(*) FROM documents") == 1
    assert "b.txt:1 repeats a document of this load" in result.stderr
    assert rows(engine, "SELECT documents_inserted, documents_duplicate FROM loads") == [(1, 1)]


def test_jsonl_csv_sgml_gzip_and_stdin(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    jsonl = [
        {
            "id": "j1",
            "content": "NATO met in Brussels.",
            "published": "2021-03-04",
            "outlet": "Wire",
        },
        {"id": "j2", "content": "Undated story.", "published": "9/5/17", "outlet": "Wire"},
    ]
    (tmp_path / "a.jsonl.gz").write_bytes(
        gzip.compress("\n".join(json.dumps(r) for r in jsonl).encode())
    )
    (tmp_path / "b.csv").write_text(
        "link,published_at,headline,story,publisher\n"
        'https://x/1,2020-02-02,Headline,"A CSV story,\nover two lines.",Paper\n'
    )
    (tmp_path / "c.sgm").write_bytes(
        b'<REUTERS NEWID="5"><DATE>2-MAR-1987 10:00:00.00</DATE><TEXT><TITLE>T</TITLE>'
        b"<DATELINE>LONDON, March 2 - </DATELINE><BODY>Sterling rose.\n Reuter\n&#3;</BODY>"
        b"</TEXT></REUTERS>"
    )
    result = dbapp(fresh_db, "load", str(tmp_path))
    assert result.exit_code == 0, result.output
    got = rows(
        engine,
        """SELECT d.external_id, d.published_on, s.name, d.title, d.url, d.dateline_place
           FROM documents d JOIN sources s USING (source_id)
           ORDER BY d.origin_path, d.origin_line""",
    )
    assert got == [
        ("j1", dt.date(2021, 3, 4), "Wire", None, None, None),
        ("j2", None, "Wire", None, None, None),
        (None, dt.date(2020, 2, 2), "Paper", "Headline", "https://x/1", None),
        ("5", dt.date(1987, 3, 2), "Reuters", "T", None, "London"),
    ]
    warnings = scalar(engine, "SELECT warnings FROM loads")
    assert warnings == {
        "date_ambiguous": {"count": 1, "examples": [f"{tmp_path}/a.jsonl.gz:2: '9/5/17'"]}
    }

    piped = dbapp(
        fresh_db, "load", "-", "--source", "Piped", stdin=b" date 2024-01-01 From a pipe."
    )
    assert piped.exit_code == 0, piped.output
    assert rows(
        engine,
        "SELECT d.origin_path, s.name FROM documents d JOIN sources s USING (source_id) "
        "WHERE body = 'From a pipe.'",
    ) == [("<stdin>", "Piped")]


BAD_INPUTS: dict[str, bytes] = {
    "empty.txt": b"",
    "binary.txt": bytes(range(256)) * 8,
    "no_header.txt": b"Just some text without the date header.\n",
    "bad_date.txt": b" date 2023-02-30 Impossible date.",
    "bad_utf8.txt": b" date 2023-01-01 Caf\x81 bytes no encoding reads.",
    "huge.txt": b" date 2023-01-01 " + b"word " * 4000,
}


def test_each_bad_input_is_recorded_and_the_rest_loads(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    for name, data in BAD_INPUTS.items():
        (tmp_path / name).write_bytes(data)
    shutil.copy(SEEDS / "000_d1f4e4cf78dcdb67.txt", tmp_path / "good.txt")
    (tmp_path / "mixed.jsonl").write_bytes(
        b'{"text": "Good one."}\n{"text": oops}\n"a string"\n{"body": "Good two."}\n'
    )
    (tmp_path / "mixed.csv").write_bytes(
        b'title,text\nA,Good three.\nB\nC,"Bad \x81"\nD,Good four.\n'
    )
    result = dbapp(fresh_db, "load", str(tmp_path), "--max-document-size", "0.01")
    assert result.exit_code == EXIT_REJECTS, result.output
    rejects = rows(
        engine,
        "SELECT regexp_replace(path, '.*/', ''), line_number, error_code, raw FROM load_rejects "
        "ORDER BY path, line_number",
    )
    by_file = {(name, line, code) for name, line, code, _ in rejects}
    assert by_file == {
        ("bad_date.txt", 1, "invalid_date_header"),
        ("bad_utf8.txt", 1, "invalid_utf8"),
        ("binary.txt", 1, "binary"),
        ("empty.txt", 1, "empty"),
        ("huge.txt", 1, "too_large"),
        ("no_header.txt", 1, "missing_date_header"),
        ("mixed.csv", 3, "csv_field_count"),
        ("mixed.csv", 4, "invalid_utf8"),
        ("mixed.jsonl", 2, "malformed_json"),
        ("mixed.jsonl", 3, "not_an_object"),
    }
    raw = {(name, line): data for name, line, _, data in rejects}
    for name, data in BAD_INPUTS.items():
        if name != "huge.txt":
            assert raw[(name, 1)] == data, name
    assert raw[("huge.txt", 1)] == BAD_INPUTS["huge.txt"]  # whole: under the 1 MiB raw cap
    assert raw[("mixed.jsonl", 2)] == b'{"text": oops}'
    assert raw[("mixed.csv", 4)] == b'C,"Bad \x81"\n'
    bodies = {b for (b,) in rows(engine, "SELECT left(body, 20) FROM documents")}
    assert bodies == {"BAKU, Azerbaijan, Se", "Good one.", "Good two.", "Good three.", "Good four."}
    status = rows(engine, "SELECT status, documents_rejected, documents_inserted FROM loads")
    assert status == [("partial", 10, 5)]
    assert "bad_utf8.txt:1: invalid_utf8" in result.stderr


def test_loads_command_lists_runs_and_returns_raw_bytes(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "x.jsonl").write_bytes(b'{"text": "fine"}\n{broken\n')
    dbapp(fresh_db, "load", str(tmp_path))
    listing = dbapp(fresh_db, "loads")
    assert listing.exit_code == 0 and "partial" in listing.stdout
    shown = dbapp(fresh_db, "loads", "show", "1")
    assert shown.exit_code == 0 and "malformed_json" in shown.stdout
    reject_id = scalar(engine, "SELECT load_reject_id FROM load_rejects")
    raw = dbapp(fresh_db, "loads", "raw", str(reject_id))
    assert raw.stdout_bytes == b"{broken"
    missing = dbapp(fresh_db, "loads", "show", "99")
    assert missing.exit_code == 2 and "no load 99" in missing.stderr


def test_dry_run_writes_nothing(fresh_db: str, engine: Engine) -> None:
    dbapp(fresh_db, "load", str(SEEDS / "000_d1f4e4cf78dcdb67.txt"))
    result = dbapp(fresh_db, "load", "--dry-run", str(SEEDS))
    assert result.exit_code == 0
    assert "dry run" in result.stdout
    assert re.search(r"documents would be inserted\s+│ 1 ", result.stdout)
    assert re.search(r"duplicates \(already loaded or repeated\)\s+│ 1 ", result.stdout)
    assert scalar(engine, "SELECT count(*) FROM documents") == 1
    assert scalar(engine, "SELECT count(*) FROM loads") == 1


def test_a_killed_load_is_marked_interrupted_and_a_rerun_finishes(
    fresh_db: str, engine: Engine
) -> None:
    # A 'running' load whose process is gone: nobody holds its advisory lock.
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO loads (dbapp_version, pid) VALUES ('0', 1)"))
    dbapp(fresh_db, "load", str(SEEDS))
    assert rows(engine, "SELECT load_id, status FROM loads ORDER BY 1") == [
        (1, "interrupted"),
        (2, "completed"),
    ]


def test_batches_and_workers_do_not_change_the_result(server_url: str, fresh_db: str) -> None:
    corpus = shared_path("corpora", "wikinews-sample")
    engine = create_engine(fresh_db)
    try:
        one = load_documents(
            engine, [str(corpus)], NoExtractor(), LoadOptions(batch_size=7, workers=1)
        )
        assert one.counts.documents_inserted == 295
        first = rows(engine, "SELECT content_sha256, published_on, title FROM documents ORDER BY 1")
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE documents, mentions, load_rejects, loads CASCADE"))
        two = load_documents(
            engine, [str(corpus)], NoExtractor(), LoadOptions(batch_size=1000, workers=2)
        )
        assert two.counts.as_dict() | {"bytes_read": 0} == one.counts.as_dict() | {"bytes_read": 0}
        assert (
            rows(engine, "SELECT content_sha256, published_on, title FROM documents ORDER BY 1")
            == first
        )
    finally:
        engine.dispose()


def test_unreachable_database_is_one_line_exit_3(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["--database-url", "postgresql://u@127.0.0.1:1/x", "load", str(SEEDS)]
    )
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1 and "cannot connect" in result.stderr


def test_missing_path_is_a_usage_error(fresh_db: str) -> None:
    result = dbapp(fresh_db, "load", "/nonexistent/corpus")
    assert result.exit_code == 2
    assert "no such file or directory: /nonexistent/corpus" in result.stderr


@pytest.mark.slow
def test_reuters_corpus_loads_fully(fresh_db: str, engine: Engine) -> None:
    corpus = shared_path("corpora", "reuters21578", "sgm")
    result = dbapp(fresh_db, "load", str(corpus))
    assert result.exit_code == EXIT_REJECTS, result.output
    counts = rows(
        engine,
        "SELECT files_seen, documents_seen, documents_inserted, documents_duplicate,"
        " documents_rejected FROM loads",
    )[0]
    files, seen, inserted, duplicate, rejected = counts
    assert (files, seen) == (22, 21578)  # every record of the 22 files
    assert inserted + duplicate + rejected == seen
    assert scalar(engine, "SELECT count(*) FROM documents") == inserted
    # The one reject, explained: a record with no text at all. The record with a stray Latin-1
    # byte (0xfc, u-umlaut) loads, read as cp1252, with a warning that names it.
    assert rows(
        engine,
        "SELECT regexp_replace(path, '.*/', ''), error_code FROM load_rejects ORDER BY path",
    ) == [("reut2-012.sgm.gz", "empty")]
    (warnings,) = rows(engine, "SELECT warnings -> 'encoding_fallback' FROM loads")[0]
    assert warnings["count"] == 1 and "reut2-017.sgm.gz" in warnings["examples"][0]
    # Reuters' own tags are kept: "earn" is its most common topic, "usa" its most common place.
    top = dict(
        rows(
            engine,
            "SELECT DISTINCT ON (vocabulary) vocabulary, tag FROM report_tags "
            "ORDER BY vocabulary, documents DESC",
        )
    )
    assert top["topics"] == "earn" and top["places"] == "usa"
    assert set(top) == {"topics", "places", "people", "orgs", "exchanges"}
    # Duplicates are real: identical normalised bodies.
    assert duplicate == seen - rejected - scalar(engine, "SELECT count(*) FROM documents")
    undated = scalar(engine, "SELECT count(*) FROM documents WHERE published_on IS NULL")
    assert undated == 0
    # Every mention's offsets point at exactly its surface text.
    assert scalar(engine, "SELECT count(*) FROM mentions") > 40_000
    bad = scalar(
        engine,
        "SELECT count(*) FROM mentions m JOIN documents d USING (document_id) "
        'WHERE substr(d.body, m.start + 1, m."end" - m.start) <> m.surface',
    )
    assert bad == 0


class TwiceExtractor:
    """Names the document's first word twice: the same span, the same (new) entity."""

    name = "twice"
    version = "1"

    def extract(self, doc: ParsedDocument) -> list[ExtractedMention]:
        end = len(doc.body.split()[0])
        first = ExtractedMention(0, end, doc.body[:end], "body", "MISC", "First Word")
        return [first, first._replace(role="title")]


def test_a_mention_found_twice_is_stored_once(engine: Engine) -> None:
    """A new document's mentions go in without a conflict check (nothing stored can share
    their keys), so staged repeats are dropped on the way in, not by the database's key."""
    result = load_documents(engine, [str(SEEDS)], TwiceExtractor())
    documents = scalar(engine, "SELECT count(*) FROM documents")
    assert result.counts.mentions_inserted == documents
    assert scalar(engine, "SELECT count(*) FROM mentions WHERE extractor = 'twice'") == documents
    assert scalar(engine, "SELECT count(DISTINCT entity_id) FROM mentions") == 1


def test_the_search_vector_stays_in_the_row(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    # A phrase is re-checked against each candidate's word positions; a tsvector out of line
    # costs a TOAST lookup per candidate (migration 0013 keeps it in the row: STORAGE MAIN).
    # This article's tsvector (300 distinct words) is over the 2 KB TOAST threshold.
    words = ["".join(chr(97 + (i * 7 + k * 13) % 26) for k in range(4)) + "x" for i in range(300)]
    body = " ".join(f"{w}{i}" for i, w in enumerate(words))
    (tmp_path / "long.jsonl").write_text(json.dumps({"id": "l1", "content": body}) + "\n")
    result = dbapp(fresh_db, "load", str(tmp_path), "--extractor", "none")
    assert result.exit_code == 0, result.output
    storage = scalar(
        engine,
        "SELECT attstorage FROM pg_attribute "
        "WHERE attrelid = 'documents'::regclass AND attname = 'search_vector'",
    )
    assert storage == "m"
    assert int(scalar(engine, "SELECT pg_column_size(search_vector) FROM documents")) > 2048  # type: ignore[arg-type]
    if int(scalar(engine, "SHOW server_version_num")) >= 170000:  # type: ignore[arg-type]
        # pg_column_toast_chunk_id (PostgreSQL 17+) is NULL for a value kept in the row.
        assert rows(
            engine,
            "SELECT pg_column_toast_chunk_id(search_vector) IS NULL, "
            "pg_column_toast_chunk_id(body) IS NULL FROM documents",
        ) == [(True, False)]
