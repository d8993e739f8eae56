"""Users manage the catalogue: entities add, import (CSV, JSON Lines), export; on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import Engine

from tests.test_load import dbapp, rows, scalar


def _aliases(engine: Engine, name: str) -> set[str]:
    return {
        a
        for (a,) in rows(
            engine,
            "SELECT a.alias FROM entity_aliases a JOIN entities e USING (entity_id) "
            "WHERE e.canonical_name = :n",
            n=name,
        )
    }


def test_add_then_alias_then_extract_finds_it(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    added = dbapp(fresh_db, "entities", "add", "Montedison", "--kind", "ORG",
                  "--alias", "Montedison SpA", "--external-id", "Q1155640",
                  "--description", "Italian chemicals group")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert _aliases(engine, "Montedison") == {"Montedison", "Montedison SpA"}
    by_name = "SELECT entity_id FROM entities WHERE canonical_name = :n"
    montedison = scalar(engine, by_name, n="Montedison")
    again = dbapp(fresh_db, "entities", "add", "Montedison", "--kind", "ORG")
    assert again.exit_code == 0 and "nothing changed" in again.output  # idempotent
    # A new description replaces the stored one, and says so.
    described = dbapp(fresh_db, "entities", "add", "Montedison", "--kind", "ORG",
                      "--description", "Italian chemicals and energy group")  # fmt: skip
    assert described.exit_code == 0 and "updated" in described.output, described.output
    assert scalar(engine, "SELECT description FROM entities WHERE canonical_name = :n",
                  n="Montedison") == "Italian chemicals and energy group"  # fmt: skip
    # An entity whose only name is another's alias could never be found: refused, naming it.
    nameless = dbapp(fresh_db, "entities", "add", "Montedison SpA", "--kind", "ORG")
    assert nameless.exit_code == 2 and "already names ORG Montedison" in nameless.output
    # ... down to the ids: a re-run draws none, so the next entity takes the next id.
    assert dbapp(fresh_db, "entities", "add", "Ferruzzi", "--kind", "ORG").exit_code == 0
    assert scalar(engine, by_name, n="Ferruzzi") == montedison + 1
    # An alias that names another entity of the kind is refused, naming it.
    clash = dbapp(fresh_db, "entities", "add", "Some Bank", "--kind", "ORG", "--alias", "NATO")
    assert clash.exit_code == 2 and "North Atlantic Treaty Organisation" in clash.output
    assert scalar(engine, "SELECT count(*) FROM entities WHERE canonical_name = 'Some Bank'") == 0
    # The shipped catalogue now knows GATT: alias add works on it.
    ok = dbapp(fresh_db, "entities", "alias", "add", "the General Agreement",
               "General Agreement on Tariffs and Trade")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    (tmp_path / "a.txt").write_bytes(b" date 2024-01-02 Montedison SpA and GATT talks.\n")
    assert dbapp(fresh_db, "load", str(tmp_path)).exit_code == 0
    found = {n for (n,) in rows(engine, "SELECT e.canonical_name FROM mentions "
                                         "JOIN entities e USING (entity_id)")}  # fmt: skip
    assert {"Montedison", "General Agreement on Tariffs and Trade"} <= found


def test_import_export_round_trip(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    jsonl = tmp_path / "people.jsonl"
    jsonl.write_text(
        "\n".join(
            [
                json.dumps({"name": "Ilham Aliyev", "kind": "PERSON",
                            "aliases": ["President Aliyev"], "external_id": "Q57452"}),
                json.dumps({"name": "Nikol Pashinyan", "kind": "PERSON", "aliases": []}),
                json.dumps({"name": "", "kind": "PERSON"}),
                json.dumps({"name": "Bad Kind", "kind": "PLANET"}),
                "{not json",
                json.dumps({"name": "Extra", "kind": "ORG", "colour": "red"}),
            ]
        )
        + "\n"
    )  # fmt: skip
    first = dbapp(fresh_db, "entities", "import", str(jsonl))
    assert first.exit_code == 5, first.output
    assert "2 entities added" in first.stdout
    for line in (3, 4, 5, 6):
        assert f"people.jsonl:{line}:" in first.stderr
    second = dbapp(fresh_db, "entities", "import", str(jsonl))
    assert "0 entities added" in second.stdout and "0 aliases added" in second.stdout
    csv_file = tmp_path / "orgs.csv"
    csv_file.write_text(
        "name,kind,aliases,external_id,description\n"
        "Montedison,ORG,Montedison SpA;Montedison Group,Q1155640,chemicals\n"
    )
    assert dbapp(fresh_db, "entities", "import", str(csv_file)).exit_code == 0
    assert _aliases(engine, "Montedison") == {"Montedison", "Montedison SpA", "Montedison Group"}
    # Export, then import into a fresh database: the same entities and aliases.
    for fmt in ("csv", "jsonl"):
        out = tmp_path / f"all.{fmt}"
        assert dbapp(fresh_db, "entities", "export", "-o", str(out)).exit_code == 0
        specs = out.read_text().splitlines()
        assert len(specs) > 1400
        if fmt == "jsonl":
            aliyev = [json.loads(s) for s in specs if "Ilham Aliyev" in s]
            assert aliyev == [{"name": "Ilham Aliyev", "kind": "PERSON",
                               "aliases": ["President Aliyev"], "external_id": "Q57452",
                               "description": None}]  # fmt: skip
    exported = scalar(engine, "SELECT count(*) FROM entity_aliases WHERE origin <> 'extracted'")
    with engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("DELETE FROM mentions"))
        conn.execute(text("DELETE FROM entity_aliases"))
        conn.execute(text("DELETE FROM entities"))
    back = dbapp(fresh_db, "entities", "import", str(tmp_path / "all.jsonl"))
    assert back.exit_code == 0, back.output
    assert scalar(engine, "SELECT count(*) FROM entity_aliases") == exported
