"""Issue 12's hostile cases, one test (or more) each, on real PostgreSQL.

Each case was a failure found by an independent attack on the loader: data lost or wrong,
tracebacks instead of one-line errors, hangs, unbounded memory. The numbers in the comments
are the issue's.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import zlib
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from dbapp.embedded import State
from dbapp.parse.sgml import SgmlRecord, split_records
from dbapp.parse.stream import RAW_CAP
from tests.test_load import EXIT_REJECTS, dbapp, rows, scalar


def _docs(engine: Engine) -> int:
    return int(scalar(engine, "SELECT count(*) FROM documents") or 0)


def _rejects(engine: Engine) -> list[tuple]:
    return rows(
        engine,
        "SELECT regexp_replace(path, '.*/', ''), line_number, record_number, error_code, raw, "
        "raw_size, raw_sha256, message FROM load_rejects ORDER BY load_reject_id",
    )


def _no_traceback(output: str) -> None:
    assert "Traceback" not in output, output


# -- data loss or wrong data ---------------------------------------------------------------


def test_2_sgml_missing_close_tag_never_merges_records(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    records = [
        b'<REUTERS NEWID="1">\n<TEXT><BODY>First story about Baku.</BODY></TEXT>\n',  # no close
        b'<REUTERS NEWID="2">\n<TEXT><BODY>Second story.</BODY></TEXT>\n</REUTERS>\n',
        b'<REUTERS NEWID="3">\n<TEXT><BODY>Third story.</BODY></TEXT>\n</REUTERS>\n',
    ]
    (tmp_path / "r.sgm").write_bytes(b"".join(records))
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    bodies = sorted(str(b) for (b,) in rows(engine, "SELECT body FROM documents"))
    assert bodies == ["Second story.", "Third story."]
    [reject] = _rejects(engine)
    assert reject[1] == 1 and reject[3] == "malformed_sgml" and reject[4] == records[0]


def test_2_unclosed_sgml_is_linear_and_every_record_accounted(tmp_path: Path) -> None:
    # 20,000 records that never close: each is a reject of its own, found in one pass (the
    # old regex rescanned to the end of the file for every one of them).
    data = b"".join(b'<REUTERS NEWID="%d"><TEXT>x</TEXT>\n' % i for i in range(20_000))
    parts = list(split_records(io.BytesIO(data), "bomb.sgm", 5_000_000))
    assert len(parts) == 20_000
    assert not any(isinstance(p, SgmlRecord) for p in parts)


def test_3_truncated_jsonl_gz_keeps_every_complete_line(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    lines = [json.dumps({"text": f"Story {i} from Baku."}).encode() + b"\n" for i in range(1500)]
    packed = gzip.compress(b"".join(lines))
    cut = packed[: len(packed) * 9 // 10]
    complete = len(zlib.decompressobj(31).decompress(cut).split(b"\n")) - 1
    (tmp_path / "t.jsonl.gz").write_bytes(cut)
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    assert _docs(engine) == complete
    [reject] = _rejects(engine)
    assert reject[3] == "truncated" and reject[1] == complete + 1
    assert reject[4] == cut  # the file as it is on disk, nothing lost from it
    assert reject[5] == len(cut) and reject[6] == hashlib.sha256(cut).hexdigest()


def test_4_csv_header_faults_map_nothing_and_lose_nothing(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "bad_utf8.csv").write_bytes(b"te\xffxt,title\nfirst row,t1\nsecond row,t2\n")
    (tmp_path / "nul.csv").write_bytes(b"te\x00xt,title\nthird row,t3\n")
    (tmp_path / "utf16.csv").write_bytes("text,title\nUTF-16 row about Baku,t4\n".encode("utf-16"))
    (tmp_path / "good.csv").write_bytes(b"text,title\ngood row,t5\n")
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    _no_traceback(result.output)
    # No data row ever became a header, and the good rows of the same batch loaded.
    titles = sorted(str(t) for (t,) in rows(engine, "SELECT title FROM documents"))
    assert titles == ["t4", "t5"]
    got = {(r[0], r[1], r[3]) for r in _rejects(engine)}
    assert got == {
        ("bad_utf8.csv", 1, "bad_csv_header"),
        ("bad_utf8.csv", 2, "csv_no_header"),
        ("bad_utf8.csv", 3, "csv_no_header"),
        ("nul.csv", 1, "bad_csv_header"),
        ("nul.csv", 2, "csv_no_header"),
    }
    raw = {(r[0], r[1]): r[4] for r in _rejects(engine)}
    assert raw[("bad_utf8.csv", 2)] == b"first row,t1\n"


def test_5_oversized_quoted_csv_field_is_one_reject(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    big = b'"' + b"Fragment line of a long quoted field\n" * 3000 + b'"'
    data = b"text,title\n" + big + b",big\nafter it,small\n"
    (tmp_path / "q.csv").write_bytes(data)
    result = dbapp(fresh_db, "load", str(tmp_path), "--max-document-size", "0.05",
                   "--no-progress")  # fmt: skip
    assert result.exit_code == EXIT_REJECTS, result.output
    assert [t for (t,) in rows(engine, "SELECT title FROM documents")] == ["small"]
    [reject] = _rejects(engine)
    record = big + b",big\n"
    assert reject[3] == "too_large" and reject[1] == 2
    assert reject[5] == len(record) and reject[6] == hashlib.sha256(record).hexdigest()
    assert record.startswith(reject[4])


def test_6_json_arrays_keep_limits_and_input_bytes(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    huge = b'{"text": "' + b"x" * 6_200_000 + b'"}'
    data = b'[{"text": "caf\\u00e9 in Baku"},\n ' + huge + b',\n {"n": 1.0e2, "title": "t"}]'
    (tmp_path / "a.json").write_bytes(data)
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    assert [b for (b,) in rows(engine, "SELECT body FROM documents")] == ["café in Baku"]
    too_large, missing = _rejects(engine)
    assert (too_large[2], too_large[3], too_large[1]) == (2, "too_large", 2)
    assert too_large[5] == len(huge) and too_large[6] == hashlib.sha256(huge).hexdigest()
    assert len(too_large[4]) == RAW_CAP and huge.startswith(too_large[4])
    assert (missing[2], missing[3]) == (3, "missing_text")
    assert missing[4] == b'{"n": 1.0e2, "title": "t"}'  # the input's bytes, not re-serialised


def test_6_oversized_jsonl_reject_says_it_is_truncated(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    line = b'{"text": "' + b"y" * 3_000_000 + b'"}'
    (tmp_path / "l.jsonl").write_bytes(line + b'\n{"text": "next"}\n')
    result = dbapp(fresh_db, "load", str(tmp_path), "--max-document-size", "2", "--no-progress")
    assert result.exit_code == EXIT_REJECTS
    [reject] = _rejects(engine)
    assert len(reject[4]) == RAW_CAP and reject[5] == len(line) + 1
    assert "first bytes are kept" in reject[7]
    show = dbapp(fresh_db, "loads", "show", "1")
    assert show.exit_code == 0 and "are kept" in show.output
    assert f"{RAW_CAP:,} of {len(line) + 1:,}" in show.output


# -- tracebacks and the ledger -------------------------------------------------------------


def test_7_8_deep_json_and_huge_epoch_dates(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    deep = b'{"a": ' * 100_000 + b"1" + b"}" * 100_000
    (tmp_path / "d.jsonl").write_bytes(
        deep + b'\n{"text": "Dated far out", "date": "999999999999"}\n'
    )
    (tmp_path / "deep.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    _no_traceback(result.output)
    assert rows(engine, "SELECT published_on FROM documents") == [(None,)]
    assert {(r[0], r[3]) for r in _rejects(engine)} == {
        ("d.jsonl", "too_deep"),
        ("deep.json", "too_deep"),
    }
    assert scalar(engine, "SELECT status FROM loads") == "partial"
    assert "date_out_of_range" in result.output


def test_9_19_directory_entries_that_are_not_files_are_skipped(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    corpus = tmp_path / "in"
    corpus.mkdir()
    (corpus / "a.txt").write_bytes(b" date 2024-01-02 A story from Baku.\n")
    os.mkfifo(corpus / "pipe.txt")  # would block a reader forever
    (corpus / "zero.jsonl").symlink_to("/dev/zero")  # endless input
    (corpus / "loop").symlink_to(corpus)  # a directory symlink loop
    (corpus / "self.txt").symlink_to(corpus / "self.txt")  # a file symlink loop
    (corpus / "archive.zip").write_bytes(b"PK\x03\x04")  # a zip is read; this one is broken
    (corpus / "archive.tar").write_bytes(b"x" * 512)
    result = dbapp(fresh_db, "load", str(corpus), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    assert _docs(engine) == 1
    for why in ("named pipe", "a device", "symlink loop", "an archive (unpack it first)"):
        assert why in result.output, why
    assert "archive.zip: bad_zip: not a readable zip archive" in result.stderr
    assert dbapp(fresh_db, "load", "/dev/zero").exit_code == 2


def test_10_11_odd_file_names_load_and_print_verbatim(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "a[").mkdir()
    names = [b"caf\xff.txt", b"a[/b].txt", b"[red]x.txt", b":smile: y.txt"]
    for i, name in enumerate(names):
        (Path(os.fsdecode(bytes(tmp_path) + b"/" + name))).write_bytes(
            b" date 2024-01-0%d Story %d about Baku.\n" % (i + 1, i)
        )
    (Path(os.fsdecode(bytes(tmp_path) + b"/[bold]bad.txt"))).write_bytes(b"no date header")
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    _no_traceback(result.output)
    assert "[bold]bad.txt" in result.output
    prefix = len(str(tmp_path)) + 1
    stored = {str(p)[prefix:] for (p,) in rows(engine, "SELECT origin_path FROM documents")}
    assert stored == {"caf\\xff.txt", "a[/b].txt", "[red]x.txt", ":smile: y.txt"}
    show = dbapp(fresh_db, "loads", "show", "1")
    assert show.exit_code == 0 and "[bold]bad.txt" in show.output, show.output


@pytest.mark.parametrize("size", ["inf", "1e308", "nan", "0"])
def test_14_impossible_document_sizes_are_usage_errors(fresh_db: str, size: str) -> None:
    result = dbapp(fresh_db, "load", "seeds", "--max-document-size", size)
    assert result.exit_code == 2, result.output
    _no_traceback(result.output)


def test_15_16_17_bad_paths_urls_and_a_full_disk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dbapp.cli import app
    from tests.test_load import runner

    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = runner.invoke(app, ["--pgdata", "/proc/pg", "load", "seeds"])
    assert result.exit_code == 3 and "/proc" in result.output, result.output
    _no_traceback(result.output)
    result = runner.invoke(app, ["--database-url", "postgresql://u@[::1:5432/x", "loads"])
    assert result.exit_code == 2 and "not a database URL" in result.output
    _no_traceback(result.output)

    def full(self: State, path: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(State, "write", full)
    result = runner.invoke(app, ["--pgdata", str(tmp_path / "pg"), "db", "stop"])
    assert result.exit_code == 3 and "disk full" in result.output, result.output
    _no_traceback(result.output)


@pytest.mark.parametrize(
    "args",
    [
        ["report", "top-entities", "--limit", "99999999999999999999"],
        ["report", "kwic", "--entity", "Baku", "--context", "3000000000"],
        ["loads", "--limit", "99999999999999999999"],
        ["search", "Baku", "--limit", "99999999999999999999"],
        ["loads", "show", "99999999999999999999"],
    ],
)
def test_18_huge_numbers_are_usage_errors(fresh_db: str, args: list[str]) -> None:
    result = dbapp(fresh_db, *args)
    assert result.exit_code == 2, result.output


# -- security: the reader login ------------------------------------------------------------


def _reader(fresh_db: str, engine: Engine, name: str) -> str:
    result = dbapp(fresh_db, "db", "grant-reader", name, "--password-stdin", stdin=b"s3cret!\n")
    assert result.exit_code == 0, result.output
    return make_url(fresh_db).set(username=name, password="s3cret!").render_as_string(False)


def test_24_reader_cannot_block_loads_or_write_large_objects(
    fresh_db: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader_url = _reader(fresh_db, engine, "attacker")
    dsn = reader_url.replace("+psycopg", "")
    with psycopg.connect(dsn, autocommit=True) as attacker:
        nxt = int(scalar(engine, "SELECT coalesce(max(load_id), 0) FROM loads") or 0) + 1
        for load_id in range(nxt, nxt + 5):  # the old (namespace, load id) liveness locks
            attacker.execute("SELECT pg_advisory_lock(25698, %s)", (load_id,))
        result = dbapp(fresh_db, "load", "seeds", "--no-progress")
        assert result.exit_code == 0, result.output
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            attacker.execute("SELECT lo_from_bytea(0, 'x')")
        # The catalogue lock: held forever by the attacker, loads fail clearly, not hang.
        from dbapp.locks import CATALOGUE_KEY

        attacker.execute("SELECT pg_advisory_lock(%s)", (CATALOGUE_KEY,))
        monkeypatch.setenv("DBAPP_LOCK_TIMEOUT", "0.5")
        result = dbapp(fresh_db, "load", "seeds", "--no-progress")
        assert result.exit_code == 6, result.output
        assert "user attacker" in result.output


def test_24_grant_reader_refuses_a_login_that_can_write(fresh_db: str, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE ROLE writer_login LOGIN"))
        conn.execute(text("GRANT INSERT ON documents TO writer_login"))
    result = dbapp(fresh_db, "db", "grant-reader", "writer_login", "--no-password")
    assert result.exit_code == 1 and "can write" in result.output, result.output
    assert not scalar(engine, "SELECT pg_has_role('writer_login', 'dbapp_reader', 'member')")
    with engine.begin() as conn:
        conn.execute(text("REVOKE ALL ON documents FROM writer_login"))
        conn.execute(text("DROP ROLE writer_login"))


# -- clear errors and usability ------------------------------------------------------------


def test_25_unmigrated_databases_get_one_answer_everywhere(blank_db: str) -> None:
    dry = dbapp(blank_db, "load", "seeds", "--dry-run", "--no-progress")
    assert dry.exit_code == 0, dry.output
    assert "documents would be inserted" in dry.output
    for args in (["search", "Baku"], ["entities", "list"], ["report", "top-entities"]):
        result = dbapp(blank_db, *args)
        assert result.exit_code == 4, (args, result.output)
        assert "dbapp db upgrade" in result.output


def test_27_help_keeps_bracketed_text() -> None:
    from dbapp.cli import app
    from tests.test_load import runner

    result = runner.invoke(app, ["load", "--help"])
    flat = " ".join(result.output.split())
    assert "[default: from name/content]" in flat
    assert "[default: when the input is 16 MB or more]" in flat


def test_28_small_gaps(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = dbapp(fresh_db, "load", str(empty))
    assert result.exit_code == 2 and "nothing to load" in result.output
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "news.7z").write_bytes(b"7z\xbc\xaf\x27\x1c")
    result = dbapp(fresh_db, "load", str(tmp_path / "z"))
    assert result.exit_code == 2 and "archive" in result.output
    assert dbapp(fresh_db, "load", "seeds", "--no-progress").exit_code == 0
    result = dbapp(fresh_db, "report", "source-coverage", "--source", "trend")
    assert result.exit_code == 0 and "Trend" in result.output
    result = dbapp(fresh_db, "report", "source-coverage", "--source", "nosuch")
    assert result.exit_code == 2 and "Trend" in result.output
    result = dbapp(fresh_db, "search", "")
    assert result.exit_code == 2 and "needs some words" in result.output
    # Same catalogue, same extractor label, load after load (byline names do not count).
    (tmp_path / "more.txt").write_bytes(b" date 2024-03-03 Another story from Baku.\n")
    assert dbapp(fresh_db, "load", str(tmp_path / "more.txt")).exit_code == 0
    versions = rows(engine, "SELECT DISTINCT extractor_version FROM mentions")
    assert len(versions) == 1
    # Rejects are recorded once, however often the same input is loaded.
    (tmp_path / "bad.txt").write_bytes(b"no date header here")
    for _ in range(2):
        assert dbapp(fresh_db, "load", str(tmp_path / "bad.txt")).exit_code == EXIT_REJECTS
    assert scalar(engine, "SELECT count(*) FROM load_rejects") == 1


def test_28_makefile_demo_installs_no_extras() -> None:
    makefile = (Path(__file__).parent.parent / "Makefile").read_text()
    demo_install = [
        line for line in makefile.splitlines() if "pip install" in line and "-e ." in line
    ]
    assert any(line.rstrip().endswith("-e .") for line in demo_install), demo_install


def test_reject_raw_bytes_come_back_exactly(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    raw = b'{"text": "caf\\u00e9", "date": 1.0e2, "x": [1, 2,]}'
    (tmp_path / "r.jsonl").write_bytes(raw + b"\n")
    assert dbapp(fresh_db, "load", str(tmp_path)).exit_code == EXIT_REJECTS
    reject_id = scalar(engine, "SELECT load_reject_id FROM load_rejects")
    out = tmp_path / "back.jsonl"
    assert dbapp(fresh_db, "loads", "raw", str(reject_id), "-o", str(out)).exit_code == 0
    assert out.read_bytes() == raw


# -- a newcomer's walk-through ---------------------------------------------------------------


def test_newcomer_mistakes_get_usage_errors(
    fresh_db: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbapp.cli import app
    from tests.test_load import runner

    for args in (
        ["db", "upgrade", "nosuch"],
        ["db", "downgrade", "nosuchrev", "--yes"],
        ["entities", "list", "--kind", "city"],
        ["db", "backup", str(tmp_path / "no" / "dir" / "x.dump")],
    ):
        result = dbapp(fresh_db, *args)
        assert result.exit_code == 2, (args, result.output)
        _no_traceback(result.output)
    not_a_dump = tmp_path / "bad.jsonl"
    not_a_dump.write_bytes(b'{"text": "x"}\n')
    monkeypatch.delenv("DATABASE_URL", raising=False)
    target = tmp_path / "r2"
    result = runner.invoke(app, ["--pgdata", str(target), "db", "restore", str(not_a_dump)])
    assert result.exit_code == 2 and "not a backup" in result.output
    assert not target.exists()  # nothing created for a file that cannot be restored
    result = runner.invoke(app, ["--pgdata", str(not_a_dump), "report", "overview"])
    assert result.exit_code == 2 and "not a data directory" in result.output
    assert not (tmp_path / "bad.jsonl.lock").exists()
    # A source given in another case files under the existing one.
    assert dbapp(fresh_db, "load", "seeds", "--no-progress").exit_code == 0
    (tmp_path / "more.jsonl").write_bytes(b'{"text": "Another story from Baku."}\n')
    assert dbapp(fresh_db, "load", str(tmp_path / "more.jsonl"), "--source", "trend").exit_code == 0
    names = [n for (n,) in rows(engine, "SELECT name FROM sources")]
    assert "trend" not in names
    assert scalar(engine, "SELECT count(*) FROM documents JOIN sources USING (source_id) "
                          "WHERE name = 'Trend'") == 3  # fmt: skip


def test_grant_reader_url_is_the_readers_own(fresh_db: str, engine: Engine) -> None:
    result = dbapp(fresh_db, "db", "grant-reader", "newcomer", "--password-stdin", stdin=b"pw-1\n")
    assert result.exit_code == 0, result.output
    url = result.stdout.strip().splitlines()[-1]
    assert url.startswith("postgresql://newcomer@") and "passfile" not in url


# -- the second attack (after the first round of fixes) --------------------------------------


def test_values_postgresql_cannot_hold_are_rejects_not_failures(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    import random

    rng = random.Random(5)
    words = " ".join("".join(rng.choices("abcdefghij", k=9)) for _ in range(250_000))
    lines = [
        b'{"text": "a \\ud800 b"}',
        b'{"text": "ok", "title": "t \\udc00"}',
        json.dumps({"text": "long id", "id": "x" * 9000}).encode(),
        json.dumps({"text": "long source", "source": "s" * 9000}).encode(),
        json.dumps({"text": words}).encode(),
        b'{"text": "good Yerevan"}',
    ]
    (tmp_path / "s.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    _no_traceback(result.output)
    assert sorted(b for (b,) in rows(engine, "SELECT body FROM documents")) == [
        "good Yerevan",
        "ok",
    ]
    assert {r[3] for r in _rejects(engine)} == {
        "invalid_unicode",
        "field_too_long",
        "too_many_words",
    }
    assert scalar(engine, "SELECT title FROM documents WHERE body = 'ok'") == "t ?"


def test_a_bad_id_cannot_break_a_bulk_load_for_good(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    from dbapp import bulk, migrate

    (tmp_path / "b.jsonl").write_bytes(
        json.dumps({"text": "long id", "id": "x" * 9000}).encode() + b'\n{"text": "fine"}\n'
    )
    result = dbapp(fresh_db, "load", str(tmp_path), "--bulk", "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    with engine.connect() as conn:
        assert bulk.missing(conn) == []
    assert migrate.check(engine) is None
    assert dbapp(fresh_db, "load", "seeds", "--no-progress").exit_code == 0


def test_a_batch_postgresql_refuses_is_written_document_by_document(
    fresh_db: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    import dbapp.parse.tabular as tabular

    # Without the parser's check, PostgreSQL itself refuses the 9,000-byte id (index row size;
    # random letters, which do not compress).
    monkeypatch.setattr(tabular, "storage_problem", lambda doc: None)
    rng = random.Random(3)
    long_id = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=9000))
    lines = [
        json.dumps({"text": f"story {i}", "id": long_id if i == 3 else f"id{i}"}) for i in range(8)
    ]
    (tmp_path / "r.jsonl").write_text("\n".join(lines) + "\n")
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    assert scalar(engine, "SELECT count(*) FROM documents") == 7
    [reject] = _rejects(engine)
    assert reject[3] == "database_refused" and reject[1] == 4 and "index row" in reject[7]
    assert scalar(engine, "SELECT documents_rejected FROM loads") == 1


def test_broken_sgml_tags_are_never_silent(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "r.sgm").write_bytes(
        b'<REUTERS NEWID="1"><TEXT><BODY>One.</BODY></TEXT></REUTERS>\n'
        b'<REUTER NEWID="2"><TEXT><BODY>Two.</BODY></TEXT></REUTERS>\n'
        b'<reuters NEWID="3"><TEXT><BODY>Three.</BODY></TEXT></reuters>\n'
        b'<REUTERS NEWID="4"><TEXT><BODY>Four.</BODY></TEXT></REUTERS>\n'
    )
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    assert sorted(b for (b,) in rows(engine, "SELECT body FROM documents")) == [
        "Four.",
        "One.",
        "Three.",
    ]
    [reject] = _rejects(engine)
    assert reject[1] == 2 and reject[3] == "malformed_sgml" and b"Two." in reject[4]


def test_csv_and_array_faults_lose_no_later_record(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    rows_after = b"".join(b"r%d,good row %d\n" % (i, i) for i in range(10))
    (tmp_path / "q.csv").write_bytes(
        b"title,text\nbig," + b"x" * 3000 + b' a 5" pipe\n' + rows_after
    )
    good = b",".join(json.dumps({"text": f"array item {i}"}).encode() for i in range(30))
    (tmp_path / "a.json").write_bytes(b'[{"text":"one"}, {"text":"two"]}, ' + good + b"]")
    (tmp_path / "dup.csv").write_bytes(b"text,title,text\na,b,c\n")
    (tmp_path / "blank.csv").write_bytes(b'text,title\n,\n"  ","  "\nvalue,t\n')
    result = dbapp(fresh_db, "load", str(tmp_path), "--max-document-size", "0.002", "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    bodies = {b for (b,) in rows(engine, "SELECT body FROM documents")}
    assert {f"good row {i}" for i in range(10)} <= bodies
    assert {f"array item {i}" for i in range(30)} | {"one", "value"} <= bodies
    codes = sorted((r[0], r[3]) for r in _rejects(engine))
    assert codes == [
        ("a.json", "malformed_json"),
        ("blank.csv", "empty"),
        ("blank.csv", "empty"),
        ("dup.csv", "bad_csv_header"),
        ("dup.csv", "csv_no_header"),
        ("q.csv", "too_large"),
    ]


def test_memory_bounds_batches_mentions_and_column_cache(
    fresh_db: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dbapp.load as load_module
    import dbapp.parse.inputs as inputs
    from dbapp.parse import tabular

    # Batches are cut by bytes as well as by count (at unit boundaries; units are small here).
    monkeypatch.setattr(load_module, "BATCH_BYTES", 100_000)
    monkeypatch.setattr(inputs, "UNIT_BYTES", 40_000)
    submitted: list[int] = []
    real_submit = load_module.WriterPool.submit

    def counting(self, batch, rejects):  # type: ignore[no-untyped-def]
        submitted.append(len(batch))
        return real_submit(self, batch, rejects)

    monkeypatch.setattr(load_module.WriterPool, "submit", counting)
    docs = [json.dumps({"text": f"doc {i} " + "lorem ipsum " * 4000}) for i in range(10)]
    (tmp_path / "big.jsonl").write_text("\n".join(docs) + "\n")
    assert dbapp(fresh_db, "load", str(tmp_path / "big.jsonl"), "--no-progress").exit_code == 0
    assert len([n for n in submitted if n]) >= 4
    # At most MAX_MENTIONS mentions of one document, and the load says so.
    (tmp_path / "many.jsonl").write_text(json.dumps({"text": "Baku, " * 25_000}) + "\n")
    result = dbapp(fresh_db, "load", str(tmp_path / "many.jsonl"), "--no-progress")
    assert result.exit_code == 0 and "mentions_capped" in result.output
    assert (
        scalar(
            engine, "SELECT max(c) FROM (SELECT count(*) c FROM mentions GROUP BY document_id) x"
        )
        == 20_000
    )
    # Records with thousands of keys are not cached as a "shape".
    tabular._COLUMN_CACHE.clear()
    for i in range(50):
        values = {f"k{i}_{j}": j for j in range(2000)} | {"text": "x"}
        tabular.record_to_document(tabular.RawRecord(values, 1, 1, b""), "w.jsonl", {}, None)
    assert len(tabular._COLUMN_CACHE) == 0


@pytest.mark.parametrize("value", ["inf", "nan", "1e30", "-1", "soon", "0", "0.0005", "1e-300"])
def test_bad_lock_timeouts_are_usage_errors(
    fresh_db: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBAPP_LOCK_TIMEOUT", value)
    result = dbapp(fresh_db, "load", "seeds", "--no-progress")
    assert result.exit_code == 2 and "DBAPP_LOCK_TIMEOUT" in result.output, result.output


# -- the third attack ---------------------------------------------------------------------------


def test_backup_tools_match_the_server_version() -> None:
    """A newer pg_dump/pg_restore writes settings an older server refuses (18's
    transaction_timeout on 15): a tool of the server's own major version is chosen if any."""
    import subprocess

    from dbapp.backup import _major, _tool

    for major in (15, 16, 17, 18):
        for name in ("pg_dump", "pg_restore"):
            try:
                chosen = _tool(name, major)
            except Exception:  # noqa: BLE001 - no tool of this version or newer here
                continue
            out = subprocess.run([chosen, "--version"], capture_output=True, text=True).stdout
            version = _major(out.split(")")[-1])
            exists = any(
                _major(
                    subprocess.run([p, "--version"], capture_output=True, text=True).stdout.split(
                        ")"
                    )[-1]
                )
                == major
                for p in map(str, Path("/usr/lib/postgresql").glob(f"{major}/bin/{name}"))
            )
            assert version >= major
            if exists:
                assert version == major, (name, major, chosen)


def test_an_unclosed_array_element_does_not_swallow_the_rest(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "m.json").write_bytes(
        b'[\n{"id":"x","text":"missing close brace",\n{"id":"a","text":"after one"},\n'
        b'{"id":"b","text":"after two"}\n]\n'
    )
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    assert sorted(b for (b,) in rows(engine, "SELECT body FROM documents")) == [
        "after one",
        "after two",
    ]
    [reject] = _rejects(engine)
    assert reject[4] == b'{"id":"x","text":"missing close brace",'


def test_each_broken_sgml_record_is_its_own_reject(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    records = []
    for i in range(10):
        tag = b"<REUTER " if 3 <= i < 7 else b"<REUTERS "
        records.append(tag + b'NEWID="%d"><TEXT><BODY>Story %d.</BODY></TEXT></REUTERS>\n' % (i, i))
    records.append(
        b'<reuters newid="99"><text type="brief"><title>LOWER CASE</title></text></reuters>\n'
    )
    (tmp_path / "r.sgm").write_bytes(b"".join(records))
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    assert scalar(engine, "SELECT count(*) FROM documents") == 7
    assert scalar(engine, "SELECT external_id FROM documents WHERE body = 'LOWER CASE'") == "99"
    assert [r[1] for r in _rejects(engine)] == [4, 5, 6, 7]


def test_the_same_file_however_typed_records_its_rejects_once(
    fresh_db: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(f'{{"broken {i}",\n' for i in range(20)))
    monkeypatch.chdir(tmp_path)
    for typed in ("bad.jsonl", "./bad.jsonl", str(bad), f"../{tmp_path.name}/bad.jsonl"):
        assert dbapp(fresh_db, "load", typed, "--no-progress").exit_code == EXIT_REJECTS
    assert scalar(engine, "SELECT count(*) FROM load_rejects") == 20


def test_a_quote_that_never_closes_keeps_the_rows_it_swallowed(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    data = (
        b"id,title,text\n"
        b'10,t10,"unterminated quote start\n'
        b"11,t11,good eleven\n"
        b'12,t12,"multi\n'
        b'line quoted ok"\n'
        b"13,t13,fine\n"
    )
    (tmp_path / "q.csv").write_bytes(data)
    result = dbapp(fresh_db, "load", str(tmp_path), "--no-progress")
    assert result.exit_code == EXIT_REJECTS, result.output
    assert [b for (b,) in rows(engine, "SELECT body FROM documents")] == ["fine"]
    kept = b"".join(r[4] for r in _rejects(engine))
    assert b"11,t11,good eleven" in kept  # not merged into a document: a reject, bytes and all
    assert {r[3] for r in _rejects(engine)} <= {"malformed_csv", "csv_field_count"}


def test_a_search_of_stop_words_says_so(fresh_db: str) -> None:
    assert dbapp(fresh_db, "load", "seeds", "--no-progress").exit_code == 0
    result = dbapp(fresh_db, "search", "the")
    assert result.exit_code == 0 and "only stop words" in result.output
    result = dbapp(fresh_db, "search", "zzzqqq")
    assert result.exit_code == 0 and "no document matches" in result.output
