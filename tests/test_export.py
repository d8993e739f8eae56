"""`dbapp export`: documents, mentions and entities, filtered, as JSONL, CSV and Parquet."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy.engine import Engine

from dbapp import export as export_module
from tests.conftest import SEEDS
from tests.test_load import dbapp, rows, scalar


@pytest.fixture
def loaded(fresh_db: str) -> str:
    assert dbapp(fresh_db, "load", str(SEEDS), "--no-progress").exit_code == 0
    return fresh_db


def test_export_documents_and_mentions_match_the_database(
    loaded: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(export_module, "BATCH", 7)  # many batches: streaming keeps every row
    docs = dbapp(loaded, "export", "documents")
    assert docs.exit_code == 0, docs.output
    records = [json.loads(line) for line in docs.stdout.splitlines()]
    assert [(r["document_id"], r["body"]) for r in records] == rows(
        engine, "SELECT document_id, body FROM documents ORDER BY 1"
    )
    out = tmp_path / "m.csv"
    mentions = dbapp(loaded, "export", "mentions", "-o", str(out))
    assert mentions.exit_code == 0, mentions.output
    with out.open(newline="") as f:
        got = list(csv.DictReader(f))
    assert len(got) == scalar(engine, "SELECT count(*) FROM mentions") > 7
    bodies = dict(rows(engine, "SELECT document_id, body FROM documents"))
    for m in got:
        assert bodies[int(m["document_id"])][int(m["start"]) : int(m["end"])] == m["surface"]
    armenia = dbapp(loaded, "export", "mentions", "--entity", "Armenia", "--format", "csv")
    lines = list(csv.DictReader(io.StringIO(armenia.stdout)))
    assert lines and {r["entity"] for r in lines} == {"Armenia"}
    assert len(lines) == scalar(
        engine,
        "SELECT count(*) FROM mentions m JOIN entities e USING (entity_id) "
        "WHERE e.canonical_name = 'Armenia'",
    )


def test_export_parquet_with_a_query_and_the_catalogue(
    loaded: str, engine: Engine, tmp_path: Path
) -> None:
    target = tmp_path / "docs.parquet"
    result = dbapp(loaded, "export", "documents", "--query", "coronavirus", "-o", str(target))
    assert result.exit_code == 0, result.output
    table = pq.read_table(target)
    expected = rows(
        engine,
        "SELECT document_id FROM documents "
        "WHERE search_vector @@ websearch_to_tsquery('english', 'coronavirus') ORDER BY 1",
    )
    assert [(i,) for i in table.column("document_id").to_pylist()] == expected
    assert 0 < len(expected) < scalar(engine, "SELECT count(*) FROM documents")

    catalogue = tmp_path / "entities.jsonl"
    assert dbapp(loaded, "export", "entities", "-o", str(catalogue)).exit_code == 0
    entities = [json.loads(line) for line in catalogue.read_text().splitlines()]
    assert len(entities) == scalar(engine, "SELECT count(*) FROM entities")
    mentioned = dbapp(loaded, "export", "entities", "--query", "coronavirus", "--kind", "GPE")
    scoped = [json.loads(line) for line in mentioned.stdout.splitlines()]
    assert scoped and all(e["kind"] == "GPE" and e["documents"] >= 1 for e in scoped)
    assert len(scoped) < len(entities)

    empty = tmp_path / "none.parquet"
    assert dbapp(loaded, "export", "mentions", "--query", "zzzqqq", "-o", str(empty)).exit_code == 0
    assert pq.read_table(empty).num_rows == 0 and "surface" in pq.read_table(empty).schema.names


def test_export_refuses_what_it_cannot_do(loaded: str) -> None:
    assert dbapp(loaded, "export", "things").exit_code == 2
    assert dbapp(loaded, "export", "documents", "--format", "parquet").exit_code == 2
    assert dbapp(loaded, "export", "documents", "--format", "xml").exit_code == 2
    assert dbapp(loaded, "export", "mentions", "--entity", "Atlantis-on-Sea").exit_code == 2
