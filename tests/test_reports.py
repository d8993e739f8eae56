"""Reports, search, views, the reader role and plots, on a small corpus whose counts are checked
by hand (see the comments: every expected number is worked out from CORPUS below)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from typer.testing import CliRunner

from dbapp.cli import app
from dbapp.embedded import _bin_path
from dbapp.roles import scram_sha256
from tests.conftest import SEEDS
from tests.test_load import dbapp, rows, scalar

runner = CliRunner()

# Two sources, five articles; entity mentions by hand:
#   a1 Alpha 2024-01-05: Armenia x2, Azerbaijan, Brussels
#   a2 Alpha 2024-01-20: Azerbaijan, UN, Baku
#   b1 Beta  2024-02-10: UN, Armenia, Karabakh
#   b2 Beta  2024-02-11: (none)
#   b3 Beta  undated   : Armenia
CORPUS = [
    (
        "a1",
        "Alpha",
        "2024-01-05",
        "Armenia and Azerbaijan met in Brussels. Armenia proposed talks.",
    ),
    ("a2", "Alpha", "2024-01-20", "Azerbaijan hosted the UN in Baku."),
    ("b1", "Beta", "2024-02-10", "The UN and Armenia discussed Karabakh."),
    ("b2", "Beta", "2024-02-11", "Nothing to see here."),
    ("b3", "Beta", "soon", "Armenia again."),
]


@pytest.fixture
def corpus(fresh_db: str, tmp_path: Path) -> str:
    path = tmp_path / "corpus.jsonl"
    path.write_text(
        "\n".join(json.dumps({"id": i, "source": s, "date": d, "text": t}) for i, s, d, t in CORPUS)
    )
    result = dbapp(fresh_db, "load", str(path))
    assert result.exit_code == 0, result.output
    return fresh_db


def report_json(url: str, *args: str) -> list[dict]:
    result = dbapp(url, "report", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_overview(corpus: str) -> None:
    [row] = report_json(corpus, "overview")
    assert row["documents"] == 5
    assert row["sources"] == 2  # Alpha and Beta (catalogue sources without articles don't count)
    assert (row["first_published"], row["last_published"]) == ("2024-01-05", "2024-02-11")
    assert row["undated_documents"] == 1
    assert row["mentions"] == 11  # 4 + 3 + 3 + 0 + 1
    assert row["entities_mentioned"] == 6  # Armenia Azerbaijan Brussels UN Baku Karabakh
    assert (row["loads"], row["last_load_status"], row["rejects"]) == (1, "completed", 0)


def test_top_entities(corpus: str) -> None:
    rows_ = report_json(corpus, "top-entities")
    got = [(r["entity"], r["mentions"], r["documents"], r["share_of_documents"]) for r in rows_]
    assert got == [
        ("Armenia", 4, 3, 0.6),  # a1 a1 b1 b3; 3 of 5 articles
        ("Azerbaijan", 2, 2, 0.4),  # ties broken by name
        ("United Nations", 2, 2, 0.4),
        ("Baku", 1, 1, 0.2),
        ("Brussels", 1, 1, 0.2),
        ("Karabakh", 1, 1, 0.2),
    ]
    armenia = rows_[0]
    assert (armenia["first_seen"], armenia["last_seen"]) == ("2024-01-05", "2024-02-10")
    beta = report_json(corpus, "top-entities", "--source", "Beta", "--limit", "2")
    # Beta has 3 articles (b1 b2 b3): Armenia in b1 and b3.
    assert [(r["entity"], r["documents"], r["share_of_documents"]) for r in beta] == [
        ("Armenia", 2, 0.6667),
        ("Karabakh", 1, 0.3333),
    ]
    feb = report_json(corpus, "top-entities", "--since", "2024-02-01", "--kind", "ORG")
    assert [(r["entity"], r["share_of_documents"]) for r in feb] == [("United Nations", 0.5)]


def test_timeline(corpus: str) -> None:
    monthly = report_json(corpus, "timeline", "--entity", "Armenia", "--period", "month")
    assert [
        (
            r["period"],
            r["mentions"],
            r["documents"],
            r["documents_in_period"],
            r["share_of_documents"],
        )
        for r in monthly
    ] == [
        ("2024-01-01", 2, 1, 2, 0.5),  # a1 (twice); January has a1 and a2
        ("2024-02-01", 1, 1, 2, 0.5),  # b1; February has b1 and b2
    ]
    daily_un = report_json(corpus, "timeline", "--entity", "UN", "--period", "day")
    assert [(r["period"], r["documents"]) for r in daily_un if r["documents"]] == [
        ("2024-01-20", 1),
        ("2024-02-10", 1),
    ]
    volume = report_json(corpus, "timeline", "--period", "month")
    assert [(r["period"], r["documents"]) for r in volume] == [
        ("2024-01-01", 2),
        ("2024-02-01", 2),
    ]
    # Calendar-complete: every day from the first article to the last has a row, zeros too.
    assert len(daily_un) == 38  # 2024-01-05 .. 2024-02-11
    assert daily_un[0]["period"] == "2024-01-05" and daily_un[-1]["period"] == "2024-02-11"
    quiet = next(r for r in daily_un if r["period"] == "2024-01-06")
    assert (quiet["documents"], quiet["documents_in_period"], quiet["share_of_documents"]) == (
        0,
        0,
        None,  # no articles that day: no share, not a share of 0
    )
    # --since/--until bound the calendar even where there are no articles at all.
    weeks = report_json(corpus, "timeline", "--period", "week", "--since", "2023-12-01",
                        "--until", "2024-01-31")  # fmt: skip
    assert weeks[0]["period"] == "2023-11-27" and weeks[-1]["period"] == "2024-01-29"
    assert [w["period"] for w in weeks] == sorted({w["period"] for w in weeks})
    assert len(weeks) == 10 and sum(w["documents"] for w in weeks) == 2


def test_reports_over_the_articles_matching_a_query(corpus: str) -> None:
    # "Armenia" matches a1 (Jan), b1 (Feb) and b3 (undated).
    monthly = report_json(corpus, "timeline", "--query", "Armenia", "--period", "month")
    assert [
        (r["period"], r["documents"], r["documents_in_period"], r["share_of_documents"])
        for r in monthly
    ] == [("2024-01-01", 1, 2, 0.5), ("2024-02-01", 1, 2, 0.5)]
    top = report_json(corpus, "top-entities", "--query", "Armenia")
    assert [(r["entity"], r["mentions"], r["documents"], r["share_of_documents"]) for r in top] == [
        ("Armenia", 4, 3, 1.0),  # a1 twice, b1, b3: in all 3 matching articles
        ("Azerbaijan", 1, 1, 0.3333),  # a1 (a2 does not match)
        ("Brussels", 1, 1, 0.3333),
        ("Karabakh", 1, 1, 0.3333),
        ("United Nations", 1, 1, 0.3333),  # b1 (a2 does not match)
    ]
    alpha = report_json(corpus, "top-entities", "--query", "Armenia", "--source", "Alpha")
    assert [(r["entity"], r["mentions"], r["documents"]) for r in alpha][:1] == [("Armenia", 2, 1)]
    coverage = report_json(corpus, "source-coverage", "--query", "Armenia", "--period", "month")
    assert [
        (r["source"], r["period"], r["documents"], r["documents_in_period"]) for r in coverage
    ] == [("Alpha", "2024-01-01", 1, 2), ("Beta", "2024-02-01", 1, 2), ("Beta", None, 1, 1)]
    kwic = report_json(corpus, "kwic", "--entity", "Armenia", "--query", "Karabakh")
    assert [(r["match"], r["published_on"]) for r in kwic] == [("Armenia", "2024-02-10")]
    pairs = report_json(corpus, "co-mentions", "--query", "Karabakh")
    assert sorted((r["entity_a"], r["entity_b"], r["documents"]) for r in pairs) == [
        ("Armenia", "Karabakh", 1),  # b1 is the only match: its three entities, pairwise
        ("Armenia", "United Nations", 1),
        ("Karabakh", "United Nations", 1),
    ]
    named = report_json(corpus, "timeline", "--query", "Armenia", "--entity", "Armenia",
                        "--period", "month")  # fmt: skip
    assert [(r["mentions"], r["documents"]) for r in named] == [(2, 1), (1, 1)]
    # Every report takes --query. Overview: a1, b1, b3 of the 5 articles; mentions (no
    # bylines): a1 4, b1 3, b3 1; entities: Armenia, Azerbaijan, Brussels, UN, Karabakh.
    (glance,) = report_json(corpus, "overview", "--query", "Armenia")
    assert (glance["documents"], glance["documents_in_range"], glance["share_of_documents"],
            glance["sources"], glance["undated_documents"], glance["mentions"],
            glance["entities_mentioned"]) == (3, 5, 0.6, 2, 1, 8, 5)  # fmt: skip
    assert (glance["first_published"], glance["last_published"]) == ("2024-01-05", "2024-02-10")
    beta = dbapp(corpus, "report", "overview", "--query", "Armenia", "--source", "Beta",
                 "--format", "json")  # fmt: skip
    assert beta.exit_code == 0 and "ignores" not in beta.stderr, beta.output
    # Beta: b1 and b3 match, of its 3 articles.
    assert [(r["documents"], r["documents_in_range"]) for r in json.loads(beta.stdout)] == [(2, 3)]
    per_source = report_json(corpus, "source-entities", "--query", "Karabakh", "--limit", "2")
    assert [(r["source"], r["entity"], r["documents"]) for r in per_source] == [
        ("Beta", "Armenia", 1),  # b1 only; ties broken by name
        ("Beta", "Karabakh", 1),
    ]
    assert dbapp(corpus, "report", "timeline", "--query", "  ").exit_code == 2


def test_co_mentions(corpus: str) -> None:
    pairs = report_json(corpus, "co-mentions", "--entity", "Karabakh")
    # Karabakh is only in b1, with UN (in 2 articles) and Armenia (in 3); 5 articles in all.
    assert [(r["entity_a"], r["entity_b"], r["documents"], r["lift"], r["pmi"]) for r in pairs] == [
        ("Karabakh", "United Nations", 1, 2.5, round(math.log(2.5), 3)),  # 1*5/(1*2)
        ("Armenia", "Karabakh", 1, 1.667, round(math.log(5 / 3), 3)),  # 1*5/(3*1)
    ]
    everything = report_json(corpus, "co-mentions", "--limit", "100")
    assert len(everything) == 9  # 3 pairs in a1, 3 in a2, 3 in b1, all different
    armenia_azerbaijan = next(
        r for r in everything if {r["entity_a"], r["entity_b"]} == {"Armenia", "Azerbaijan"}
    )
    assert armenia_azerbaijan["lift"] == 0.833  # 1*5/(3*2)
    assert report_json(corpus, "co-mentions", "--min-documents", "2") == []
    # With a source or dates the pairs are counted live, within that scope only.
    beta = report_json(corpus, "co-mentions", "--entity", "Karabakh", "--source", "Beta")
    # Beta: b1 b2 b3; Karabakh in b1 (with UN, in b1 only, and Armenia, in b1 and b3).
    assert [(r["entity_a"], r["entity_b"], r["documents"], r["lift"]) for r in beta] == [
        ("Karabakh", "United Nations", 1, 3.0),  # 1*3/(1*1)
        ("Armenia", "Karabakh", 1, 1.5),  # 1*3/(2*1)
    ]
    # Part of January (a day-by-day count) and all of February (a month count): a2 b1 b2.
    mid = report_json(corpus, "co-mentions", "--entity", "Armenia", "--since", "2024-01-10")
    assert [({r["entity_a"], r["entity_b"]}, r["lift"]) for r in mid] == [
        ({"Armenia", "Karabakh"}, 3.0),  # both only in b1: 1*3/(1*1)
        ({"Armenia", "United Nations"}, 1.5),  # UN in a2 and b1: 1*3/(1*2)
    ]
    # All of January (a month count) and February up to the 10th (day by day): a1 a2 b1.
    upto = report_json(corpus, "co-mentions", "--entity", "UN", "--until", "2024-02-10")
    assert sorted((sorted([r["entity_a"], r["entity_b"]]), r["lift"]) for r in upto) == [
        (["Armenia", "United Nations"], 0.75),  # Armenia in a1 b1: 1*3/(2*2)
        (["Azerbaijan", "United Nations"], 0.75),  # Azerbaijan in a1 a2
        (["Baku", "United Nations"], 1.5),  # Baku in a2: 1*3/(1*2)
        (["Karabakh", "United Nations"], 1.5),  # Karabakh in b1
    ]
    dated = report_json(corpus, "co-mentions", "--since", "2024-01-01", "--limit", "100")
    assert len(dated) == 9  # b3 (undated) has no pairs anyway
    pair = next(r for r in dated if {r["entity_a"], r["entity_b"]} == {"Armenia", "Azerbaijan"})
    assert pair["lift"] == 1.0  # 4 dated articles; Armenia in a1 b1, Azerbaijan in a1 a2: 1*4/(2*2)


def test_source_coverage_and_entities(corpus: str) -> None:
    coverage = report_json(corpus, "source-coverage", "--period", "month")
    assert [(r["source"], r["period"], r["documents"], r["entities"]) for r in coverage] == [
        ("Alpha", "2024-01-01", 2, 5),  # Armenia Azerbaijan Brussels UN Baku
        ("Beta", "2024-02-01", 2, 3),  # UN Armenia Karabakh
        ("Beta", None, 1, 1),  # the undated b3: Armenia
    ]
    weekly = report_json(corpus, "source-coverage", "--period", "week")
    assert [(r["source"], r["period"], r["documents"], r["entities"]) for r in weekly] == [
        ("Alpha", "2024-01-01", 1, 3),  # a1 (Friday 5th): Armenia Azerbaijan Brussels
        ("Alpha", "2024-01-15", 1, 3),  # a2 (Saturday 20th): Azerbaijan UN Baku
        ("Beta", "2024-02-05", 2, 3),  # b1 b2 (10th, 11th): UN Armenia Karabakh
        ("Beta", None, 1, 1),
    ]
    daily = report_json(corpus, "source-coverage", "--period", "day")
    assert [(r["source"], r["period"], r["documents"], r["entities"]) for r in daily] == [
        ("Alpha", "2024-01-05", 1, 3),  # a1: Armenia Azerbaijan Brussels
        ("Alpha", "2024-01-20", 1, 3),  # a2: Azerbaijan UN Baku
        ("Beta", "2024-02-10", 1, 3),  # b1: UN Armenia Karabakh
        ("Beta", "2024-02-11", 1, 0),  # b2 names nothing
        ("Beta", None, 1, 1),
    ]
    yearly = report_json(corpus, "source-coverage", "--period", "year", "--since", "2024-01-01")
    assert [(r["source"], r["documents"], r["entities"]) for r in yearly] == [
        ("Alpha", 2, 5),
        ("Beta", 2, 3),  # the undated b3 is outside any date range
    ]
    # A range that is not whole months counts entities of the days in it only.
    part = report_json(corpus, "source-coverage", "--since", "2024-01-10", "--source", "Alpha")
    assert [(r["period"], r["documents"], r["entities"]) for r in part] == [
        ("2024-01-01", 1, 3)  # a2 only: Azerbaijan UN Baku
    ]
    per_source = report_json(corpus, "source-entities", "--source", "Beta")
    assert [(r["entity"], r["mentions"], r["documents"]) for r in per_source] == [
        ("Armenia", 2, 2),
        ("Karabakh", 1, 1),
        ("United Nations", 1, 1),
    ]


def test_keyword_in_context(corpus: str) -> None:
    lines = report_json(corpus, "kwic", "--entity", "Armenia", "--context", "10")
    assert [(r["left"], r["match"], r["right"]) for r in lines] == [
        ("", "Armenia", " and Azerb"),
        ("Brussels. ", "Armenia", " proposed "),
        ("he UN and ", "Armenia", " discussed"),
        ("", "Armenia", " again."),
    ]
    missing = dbapp(corpus, "report", "kwic")
    assert missing.exit_code == 2 and "kwic needs --entity" in missing.stderr


def test_formats_and_bad_options(corpus: str) -> None:
    csv_out = dbapp(corpus, "report", "top-entities", "--limit", "1", "--format", "csv")
    assert csv_out.stdout.splitlines() == [
        "entity,kind,mentions,documents,share_of_documents,first_seen,last_seen",
        "Armenia,GPE,4,3,0.6,2024-01-05,2024-02-10",
    ]
    table = dbapp(corpus, "report", "top-entities")
    assert "Armenia" in table.stdout and "share_of_documents" in table.stdout
    assert dbapp(corpus, "report", "nope").exit_code == 2
    assert dbapp(corpus, "report", "timeline", "--period", "decade").exit_code == 2
    assert dbapp(corpus, "report", "top-entities", "--format", "xml").exit_code == 2
    listing = dbapp(corpus, "report", "list")
    for name in ["overview", "top-entities", "timeline", "co-mentions", "kwic", "source-coverage"]:
        assert name in listing.stdout


def test_filters_are_data_not_sql(corpus: str, engine: Engine) -> None:
    for hostile in ["x'; DROP TABLE documents; --", "Beta' OR '1'='1", "\\'; SELECT 1; --"]:
        by_source = dbapp(corpus, "report", "top-entities", "--source", hostile)
        assert by_source.exit_code == 2 and "no source" in by_source.stderr  # a name, not SQL
        found = dbapp(corpus, "search", hostile, "--format", "json")
        assert found.exit_code == 0 and json.loads(found.stdout) == []
    assert scalar(engine, "SELECT count(*) FROM documents") == 5


def test_search(corpus: str, engine: Engine) -> None:
    def ids(*args: str) -> list[int]:
        result = dbapp(corpus, "search", *args, "--format", "json")
        assert result.exit_code == 0, result.output
        return [r["document_id"] for r in json.loads(result.stdout)]

    by_external = {
        name: doc_id
        for doc_id, name in rows(engine, "SELECT document_id, external_id FROM documents")
    }
    assert ids("Armenia talks") == [by_external["a1"]]  # both words: only a1
    assert ids('"Armenia discussed"') == [by_external["b1"]]  # the phrase
    assert sorted(ids("Armenia -Karabakh")) == sorted([by_external["a1"], by_external["b3"]])
    assert ids("Armenia", "--source", "Alpha") == [by_external["a1"]]
    hit = json.loads(dbapp(corpus, "search", "proposed", "--format", "json").stdout)[0]
    assert "«proposed»" in hit["snippet"]
    empty = dbapp(corpus, "search", "   ")
    assert empty.exit_code == 2 and "needs some words" in empty.stderr


def test_report_views_are_exact_without_a_refresh(fresh_db: str, tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"text": "Armenia.", "date": "2024-01-01"}))
    # --no-refresh is still accepted (old scripts), and changes nothing: no refresh exists.
    assert dbapp(fresh_db, "load", str(path), "--no-refresh").exit_code == 0
    assert [r["entity"] for r in report_json(fresh_db, "top-entities")] == ["Armenia"]
    refreshed = dbapp(fresh_db, "report", "refresh")
    assert refreshed.exit_code == 0 and "nothing to refresh" in refreshed.stderr


def test_every_view_and_column_is_documented(engine: Engine) -> None:
    undocumented = rows(
        engine,
        """SELECT c.relname, a.attname FROM pg_class c
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           WHERE c.relname LIKE 'report\\_%' AND c.relkind IN ('v', 'm')
             AND col_description(c.oid, a.attnum) IS NULL""",
    )
    assert undocumented == []
    views = rows(
        engine,
        "SELECT relname, obj_description(oid, 'pg_class') IS NOT NULL FROM pg_class "
        "WHERE relname LIKE 'report\\_%' AND relkind IN ('v', 'm') ORDER BY 1",
    )
    assert len(views) == 18 and all(documented for _, documented in views)
    types = dict(
        rows(
            engine,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'report_entity_timeline'",
        )
    )
    assert types["day"] == "date" and types["share_of_documents"] == "double precision"


@pytest.fixture
def reader(corpus: str, engine: Engine):  # type: ignore[no-untyped-def]
    name = f"dbapp_test_reader_{uuid.uuid4().hex[:8]}"
    result = runner.invoke(
        app,
        ["--database-url", corpus, "db", "grant-reader", name, "--password-stdin"],
        input="s3cret-pass\n",
    )
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    yield (
        name,
        make_url(corpus)
        .set(drivername="postgresql", username=name, password="s3cret-pass")
        .render_as_string(hide_password=False),
    )
    with engine.begin() as conn:
        conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))


def test_reader_role_reads_but_cannot_write(reader, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    name, url = reader
    stored = scalar(engine, "SELECT rolpassword FROM pg_authid WHERE rolname = :n", n=name)
    assert isinstance(stored, str) and stored.startswith("SCRAM-SHA-256$4096:")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM report_documents").fetchone() == (5,)
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (5,)
        # Views of later migrations (0005) are readable too (default privileges).
        # Entity-article pairs: a1 3, a2 3, b1 3, b3 1.
        assert conn.execute("SELECT sum(documents) FROM report_entity_totals").fetchone() == (10,)
        for statement in [
            "INSERT INTO sources (name) VALUES ('x')",
            "UPDATE documents SET title = 'x'",
            "DELETE FROM mentions",
            "TRUNCATE loads CASCADE",
            "CREATE TABLE sneaky (a int)",
            "DROP VIEW report_overview",
            "ALTER TABLE documents ADD COLUMN x int",
            "SELECT summary_rebuild()",
            "UPDATE summary_entity_days SET mentions = 0",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    assert scalar(engine, "SELECT count(*) FROM documents") == 5


def test_psql_as_reader_sees_views_with_comments(reader) -> None:  # type: ignore[no-untyped-def]
    _, url = reader
    psql = shutil.which("psql") or str(_bin_path() / "psql")
    shown = subprocess.run(
        [psql, url, "-X", "-c", "\\dv+ report_top_entities", "-c", "\\d+ report_top_entities"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Entities by attention" in shown
    assert "Articles mentioning it / all articles (normalised attention)." in shown


def test_scram_verifier_matches_postgres(engine: Engine) -> None:
    name = f"dbapp_test_scram_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(text("SET password_encryption = 'scram-sha-256'"))
        conn.execute(text(f"CREATE ROLE \"{name}\" PASSWORD 'correct horse'"))
    try:
        stored = str(scalar(engine, "SELECT rolpassword FROM pg_authid WHERE rolname = :n", n=name))
        salt = stored.split(":")[1].split("$")[0]
        import base64

        assert scram_sha256("correct horse", base64.b64decode(salt)) == stored
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP ROLE "{name}"'))


def test_timeline_plots(corpus: str, tmp_path: Path) -> None:
    page = tmp_path / "armenia.html"
    result = dbapp(corpus, "report", "timeline", "--entity", "Armenia", "--plot", str(page))
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "<svg" in html and "2024-01-01" in html and "share_of_documents" in html
    bars = tmp_path / "top.html"
    dbapp(corpus, "report", "top-entities", "--plot", str(bars))
    assert bars.read_text().count("<rect") == 6
    bad = dbapp(corpus, "report", "timeline", "--plot", str(tmp_path / "x.gif"))
    assert bad.exit_code == 1 and ".html, .png" in bad.stderr
    pytest.importorskip("matplotlib", reason="the optional [plot] extra is not installed")
    png = tmp_path / "armenia.png"
    dbapp(corpus, "report", "timeline", "--entity", "Armenia", "--plot", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_timeline_compares_queries_and_entities(corpus: str, tmp_path: Path) -> None:
    queries = report_json(corpus, "timeline", "--compare", "Armenia", "--compare", "Baku",
                          "--period", "month")  # fmt: skip
    got = [(r["series"], r["period"], r["documents"], r["share_of_documents"]) for r in queries]
    assert got == [
        ("Armenia", "2024-01-01", 1, 0.5),  # a1 of a1, a2
        ("Armenia", "2024-02-01", 1, 0.5),  # b1 of b1, b2
        ("Baku", "2024-01-01", 1, 0.5),  # a2
        ("Baku", "2024-02-01", 0, 0.0),
    ]
    entities = report_json(corpus, "timeline", "--entity", "Armenia", "--entity", "UN",
                           "--period", "month")  # fmt: skip
    assert [(r["series"], r["mentions"], r["documents"]) for r in entities] == [
        ("Armenia", 2, 1),
        ("Armenia", 1, 1),
        ("UN", 1, 1),  # a2
        ("UN", 1, 1),  # b1
    ]
    page = tmp_path / "compare.html"
    drawn = dbapp(corpus, "report", "timeline", "--compare", "Armenia", "--compare", "Baku",
                  "--plot", str(page))  # fmt: skip
    assert drawn.exit_code == 0, drawn.output
    html_text = page.read_text()
    assert html_text.count("<polyline") == 2 and "Armenia vs Baku" in html_text
    for bad in (["--compare", "Armenia"], ["--compare", "a", "--compare", "b", "--query", "c"]):
        assert dbapp(corpus, "report", "timeline", *bad).exit_code == 2
    assert (
        dbapp(corpus, "report", "top-entities", "--entity", "UN", "--entity", "Baku").exit_code == 2
    )


def test_bi_views_say_what_a_row_is_and_chart_without_gaps(corpus: str, engine: Engine) -> None:
    with engine.connect() as conn:
        firsts = conn.execute(
            text(
                "SELECT c.relname, col_description(c.oid, 1) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('v', 'm') "
                "AND c.relname LIKE 'report%'"
            )
        ).all()
        assert len(firsts) >= 15
        assert [v for v, comment in firsts if not (comment or "").startswith("One row")] == []
        shares = conn.execute(
            text(
                "SELECT c.relname, a.attname, col_description(c.oid, a.attnum) FROM pg_class c "
                "JOIN pg_attribute a ON a.attrelid = c.oid WHERE c.relname LIKE 'report%' "
                "AND a.attname LIKE 'share%'"
            )
        ).all()
        assert shares and all("never average" in (c or "") for _, _, c in shares), shares
        sql = text(
            "SELECT month::text, mentions, documents, documents_in_month, share_of_documents "
            "FROM report_entity_months WHERE entity = :e ORDER BY month"
        )
        armenia = conn.execute(sql, {"e": "Armenia"}).all()
        brussels = conn.execute(sql, {"e": "Brussels"}).all()
    # a1 (Jan: Armenia twice) of a1, a2; b1 (Feb) of b1, b2; b3 undated is in no month.
    assert [tuple(r) for r in armenia] == [
        ("2024-01-01", 2, 1, 2, 0.5),
        ("2024-02-01", 1, 1, 2, 0.5),
    ]
    # Brussels only in January: February still has its row, with zeros.
    assert [tuple(r) for r in brussels] == [
        ("2024-01-01", 1, 1, 2, 0.5),
        ("2024-02-01", 0, 0, 2, 0.0),
    ]


def test_top_words_of_the_matching_articles(corpus: str) -> None:
    # "Armenia" matches a1, b1, b3 (3 of 5 articles); Armenia is in all three.
    words = report_json(corpus, "top-words", "--query", "Armenia")
    by_term = {w["term"]: w for w in words}
    assert words[0]["term"] == "armenia"
    assert (words[0]["documents"], words[0]["share_of_sample"]) == (3, 1.0)
    assert by_term["armenia"]["share_of_background"] == 0.6  # 3 of the 5 articles
    assert "the" not in by_term and "and" not in by_term  # stop words
    assert by_term["karabakh"]["documents"] == 1  # b1
    assert "hosted" not in by_term  # a2 does not match
    # Azerbaijan is also in a2, outside the matches: less distinctive than Armenia.
    assert by_term["armenia"]["distinctiveness"] > by_term["azerbaijan"]["distinctiveness"]
    distinctive = report_json(corpus, "top-words", "--query", "Armenia", "--by", "distinctive")
    scores = [w["distinctiveness"] for w in distinctive]
    assert scores == sorted(scores, reverse=True)
    sampled = dbapp(corpus, "report", "top-words", "--query", "Armenia", "--sample", "2")
    assert "random sample of 2 of the 3 matching articles" in sampled.stderr
    pairs = report_json(corpus, "top-words", "--query", "Brussels", "--bigrams")
    assert "proposed talks" in {w["term"] for w in pairs}
    assert dbapp(corpus, "report", "top-words").exit_code == 2  # needs --query
    # A query that cannot match says why; an option the report does not read is named.
    stop = dbapp(corpus, "report", "overview", "--query", "the")
    assert "holds only stop words" in stop.stderr
    none = dbapp(corpus, "report", "top-entities", "--query", "xylophone")
    assert "no article matches --query 'xylophone'" in none.stderr
    ignored = dbapp(corpus, "report", "overview", "--limit", "3", "--by", "distinctive")
    assert ignored.exit_code == 0 and "overview ignores --limit, --by" in ignored.stderr
    # A tag no article has is named as such, not answered with silent zeros.
    untagged = dbapp(corpus, "report", "top-entities", "--tag", "no-such-tag")
    assert "no article has the tag 'no-such-tag'" in untagged.stderr
    # The background is the articles in the same filters, and says so: b1 and b2 since February.
    since = dbapp(corpus, "report", "top-words", "--query", "Armenia", "--since", "2024-02-01")
    assert "background: all articles in these filters (2 sampled of 2)" in since.stderr
    assert "counted in the one matching article" in since.stderr  # b1


def test_rollups_to_countries_and_the_codes_a_map_needs(corpus: str, engine: Engine) -> None:
    # Azerbaijan: a1, and a2 through Baku too (one article once); Brussels rolls up to Belgium.
    countries = report_json(corpus, "top-entities", "--rollup", "country")
    assert [
        (r["entity"], r["mentions"], r["documents"], r["share_of_documents"], r["members"],
         r["iso_alpha3"]) for r in countries
    ] == [
        ("Armenia", 4, 3, 0.6, 1, "ARM"),  # a1 twice, b1, b3
        ("Azerbaijan", 3, 2, 0.4, 2, "AZE"),  # a1 Azerbaijan; a2 Azerbaijan and Baku
        ("Belgium", 1, 1, 0.2, 1, "BEL"),  # a1 Brussels
    ]  # fmt: skip
    baku = report_json(corpus, "timeline", "--rollup", "country", "--entity", "Baku",
                       "--period", "month")  # fmt: skip
    assert [(r["period"], r["documents"], r["share_of_documents"]) for r in baku] == [
        ("2024-01-01", 2, 1.0),  # a1 and a2, both Azerbaijan
        ("2024-02-01", 0, 0.0),
    ]
    with engine.connect() as conn:
        mapped = conn.execute(
            text(
                "SELECT entity, iso_alpha3, country, parent FROM report_top_entities "
                "WHERE entity IN ('Baku', 'Brussels', 'United Nations') ORDER BY entity"
            )
        ).all()
        parent = conn.execute(
            text(
                "SELECT parent FROM report_entity_rollups "
                "WHERE entity = 'United Nations Security Council'"
            )
        ).scalar()
    assert [tuple(r) for r in mapped] == [
        ("Baku", "AZE", "Azerbaijan", None),
        ("Brussels", "BEL", "Belgium", None),
        ("United Nations", None, None, None),
    ]
    assert parent == "United Nations"
    # With --query "Baku OR Brussels" (a1, a2): Azerbaijan in both, Belgium in a1; Armenia in
    # a1 twice. Shares are of the 2 matching articles.
    matching = report_json(corpus, "top-entities", "--rollup", "country", "--query",
                           "Baku OR Brussels")  # fmt: skip
    assert [
        (r["entity"], r["mentions"], r["documents"], r["share_of_documents"]) for r in matching
    ] == [  # fmt: skip
        ("Azerbaijan", 3, 2, 1.0),
        ("Armenia", 2, 1, 0.5),
        ("Belgium", 1, 1, 0.5),
    ]
    baku_q = report_json(corpus, "timeline", "--rollup", "country", "--entity", "Baku",
                         "--query", "Brussels", "--period", "month")  # fmt: skip
    assert [(r["period"], r["documents"], r["documents_in_period"]) for r in baku_q] == [
        ("2024-01-01", 1, 2),  # a1 only matches; the share stays of all January's articles
        ("2024-02-01", 0, 2),
    ]
    for bad in (["co-mentions", "--rollup", "country"], ["top-entities", "--rollup", "town"],
                ["timeline", "--rollup", "country"]):  # fmt: skip
        assert dbapp(corpus, "report", *bad).exit_code == 2, bad


def test_query_reports_sample_the_matches_past_a_limit(
    corpus: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbapp import report as report_module

    # "Armenia" matches a1, b1, b3 (3 articles); a sample of 2 of them stands for all 3.
    monkeypatch.setattr(report_module, "ENTITY_SAMPLE", 2)
    result = dbapp(corpus, "report", "top-entities", "--query", "Armenia", "--format", "json")
    assert result.exit_code == 0, result.output
    assert "a random sample of 2 of the 3 matching articles" in result.stderr
    top = json.loads(result.stdout)
    armenia = next(r for r in top if r["entity"] == "Armenia")
    assert armenia["share_of_documents"] == 1.0 and armenia["documents"] == 3  # 2 of 2, x1.5
    assert all("_matched" not in r for r in top)
    monkeypatch.setattr(report_module, "ENTITY_SAMPLE", 3)  # all of them: exact, nothing said
    exact = dbapp(corpus, "report", "top-entities", "--query", "Armenia", "--format", "json")
    assert "sample" not in exact.stderr
    assert json.loads(exact.stdout)[0] == {
        "entity": "Armenia", "kind": "GPE", "mentions": 4, "documents": 3,
        "share_of_documents": 1.0, "first_seen": "2024-01-05", "last_seen": "2024-02-10",
    }  # fmt: skip


def test_wide_date_ranges_take_a_sample_for_pairs_and_rollups(
    corpus: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbapp import report as report_module

    # 4 dated articles since 2024-01-01 (a1 a2 b1 b2): exact while the pair sample holds them.
    exact = dbapp(corpus, "report", "co-mentions", "--since", "2024-01-01", "--format", "json")
    assert exact.exit_code == 0 and "sample" not in exact.stderr, exact.output
    pair = next(
        r
        for r in json.loads(exact.stdout)
        if {r["entity_a"], r["entity_b"]} == {"Armenia", "Azerbaijan"}
    )
    assert pair["documents"] == 1  # a1
    # Past the sample, the live pairs of every article would cost seconds per 100,000.
    monkeypatch.setattr(report_module, "PAIR_SAMPLE", 3)
    sampled = dbapp(corpus, "report", "co-mentions", "--since", "2024-01-01", "--format", "json")
    assert sampled.exit_code == 0, sampled.output
    assert "a random sample of 3 of the 4 articles in these filters" in sampled.stderr
    # With --entity, its articles are few: exact, never sampled.
    anchored = dbapp(corpus, "report", "co-mentions", "--since", "2024-01-01", "--entity",
                     "Armenia", "--format", "json")  # fmt: skip
    assert anchored.exit_code == 0 and "sample" not in anchored.stderr
    # A roll-up over a wide range samples its articles too (ENTITY_SAMPLE of them).
    rolled = dbapp(corpus, "report", "top-entities", "--rollup", "country", "--since",
                   "2024-01-01", "--format", "json")  # fmt: skip
    assert rolled.exit_code == 0 and "sample" not in rolled.stderr, rolled.output
    monkeypatch.setattr(report_module, "ENTITY_SAMPLE", 2)
    rolled = dbapp(corpus, "report", "top-entities", "--rollup", "country", "--since",
                   "2024-01-01", "--format", "json")  # fmt: skip
    assert rolled.exit_code == 0, rolled.output
    assert "a random sample of 2 of the 4 articles in these filters" in rolled.stderr


def test_bylines_stay_out_and_anchored_pairs_count_every_shared_article(
    corpus: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbapp import report as report_module

    assert dbapp(corpus, "load", str(SEEDS), "--no-progress").exit_code == 0
    # Leman Zeynalova only signs articles: no timeline mentions, with a filter or without.
    for extra in ([], ["--language", "en"], ["--query", "Azerbaijan"]):
        rows_ = report_json(corpus, "timeline", "--entity", "Leman Zeynalova", *extra)
        assert all(r["documents"] == 0 for r in rows_), extra
    # co-mentions of one entity count its shared articles in every matching article of it
    # (up to ANCHOR_SAMPLE), whatever the samples of all matches; only lift's other counts
    # come from that sample, and it says so.
    exact = report_json(corpus, "co-mentions", "--query", "Armenia", "--entity", "Armenia")
    monkeypatch.setattr(report_module, "ENTITY_SAMPLE", 1)
    monkeypatch.setattr(report_module, "PAIR_SAMPLE", 1)
    pairs = dbapp(corpus, "report", "co-mentions", "--query", "Armenia", "--entity", "Armenia",
                  "--format", "json")  # fmt: skip
    assert pairs.exit_code == 0, pairs.output
    assert "shared articles" not in pairs.stderr and "lift takes the other" in pairs.stderr
    found = {frozenset((r["entity_a"], r["entity_b"])) for r in json.loads(pairs.stdout)}
    assert {frozenset(("Armenia", "Azerbaijan")), frozenset(("Armenia", "Karabakh"))} <= found
    shared = {(r["entity_a"], r["entity_b"]): r["documents"] for r in json.loads(pairs.stdout)}
    assert shared == {(r["entity_a"], r["entity_b"]): r["documents"] for r in exact}
    # Past ANCHOR_SAMPLE of its matching articles, the shared ones are sampled too.
    monkeypatch.setattr(report_module, "ANCHOR_SAMPLE", 1)
    sampled = dbapp(corpus, "report", "co-mentions", "--query", "Armenia", "--entity", "Armenia")
    assert sampled.exit_code == 0, sampled.output
    assert "shared articles are counted in a random sample of 1 of the" in sampled.stderr
    assert "that mention Armenia" in sampled.stderr


def test_the_all_time_rollup_agrees_with_the_general_one(
    corpus: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbapp import report as report_module

    assert dbapp(corpus, "load", str(SEEDS), "--no-progress").exit_code == 0
    # A user may relate a person to a country; their bylines must not count on either path.
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO entity_relations (entity_id, relation, related_entity_id) "
                "SELECT a.entity_id, 'based_in', b.entity_id FROM entities a, entities b "
                "WHERE a.canonical_name = 'Leman Zeynalova' AND b.canonical_name = 'Azerbaijan'"
            )
        )
    for rollup in ("country", "parent"):
        fast = report_json(corpus, "top-entities", "--rollup", rollup, "--limit", "500")
        monkeypatch.setattr(report_module, "FAST_ROLLUP", False)
        general = report_json(corpus, "top-entities", "--rollup", rollup, "--limit", "500")
        monkeypatch.setattr(report_module, "FAST_ROLLUP", True)
        assert len(fast) >= 3 and fast == general, rollup


def test_timeline_refuses_an_absurd_calendar(corpus: str) -> None:
    huge = dbapp(corpus, "report", "timeline", "--since", "0001-01-01", "--period", "day")
    assert huge.exit_code == 2 and "at most 100,000" in huge.stderr
    yearly = report_json(corpus, "timeline", "--since", "0001-01-01", "--period", "year")
    assert len(yearly) == 2024 and yearly[-1]["documents"] == 4  # a1 a2 b1 b2 (b3 undated)


def test_top_words_of_a_common_query_sample_pages(
    corpus: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query that matches a good share of a big archive draws its sample from a random
    sample of pages and estimates how many articles match. Shrunk to this corpus: every page
    is sampled, so the estimate is exact."""
    from dbapp import topwords

    monkeypatch.setattr(topwords, "MATCH_OVERSAMPLE", 1)
    monkeypatch.setattr(topwords, "COMMON_SHARE", 0.0)
    monkeypatch.setattr(topwords, "MAX_PAGE_PERCENT", 10_000.0)
    with engine.connect() as conn:
        result = topwords.top_words(conn, "Armenia", sample=2)
    # "Armenia" matches a1, b1 and b3: two of them sampled, both name Armenia.
    assert result.notes[0] == (
        "counted in a random sample of 2 of about 3 matching articles "
        "(a common query: drawn from a random sample of pages)"
    )
    armenia = next(r for r in result.rows if r[0] == "armenia")
    assert armenia[1:3] == (2, 1.0)
    # Too rare for the planner's estimate: every match is read, and counted exactly.
    monkeypatch.setattr(topwords, "COMMON_SHARE", 2.0)
    with engine.connect() as conn:
        exact = topwords.top_words(conn, "Armenia", sample=2)
    assert exact.notes[0] == "counted in a random sample of 2 of the 3 matching articles"


def test_top_words_says_which_options_it_ignores_and_which_filter_emptied_it(
    corpus: str,
) -> None:
    ignored = dbapp(corpus, "report", "top-words", "--query", "Armenia", "--kind", "GPE")
    assert ignored.exit_code == 0
    assert "top-words ignores --kind" in ignored.stderr
    twice = dbapp(corpus, "report", "top-words", "--query", "Armenia", "--entity", "Armenia",
                  "--entity", "Baku", "--period", "year")  # fmt: skip
    assert "top-words ignores --period, --entity (given twice)" in twice.stderr
    # "Armenia" matches three articles; none of them is from 2030.
    empty = dbapp(corpus, "report", "top-words", "--query", "Armenia", "--since", "2030-01-01")
    assert "no article matches 'Armenia' with --since 2030-01-01" in empty.stderr
    listed = dbapp(corpus, "report", "list", "--format", "json")
    options = {r["report"]: r["options"] for r in json.loads(listed.stdout)}
    assert "entity, tag, language" in options["top-words"]
