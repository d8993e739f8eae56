"""Discovery with a real trained pipeline (dbapp[ner]) on real PostgreSQL:
discover -> candidates -> accept/reject -> extract, and `load --discover`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.test_load import dbapp, rows, scalar

pytestmark = pytest.mark.slow

STORIES = [
    ("Alpha", "Armenian Prime Minister Nikol Pashinyan met officials in Yerevan on Monday. "
              "Pashinyan said talks with Baku would go on."),
    ("Alpha", "Nikol Pashinyan spoke to parliament. Montedison reported higher profits in Milan."),
    ("Beta", "In Brussels, Nikol Pashinyan met European Union leaders on Tuesday."),
    ("Beta", "Montedison, the Italian chemicals group, said sales rose. Analysts at Montedison "
             "expected more."),
    ("Gamma", "Montedison shares rose in Milan trading after Gianni Zorzetto commented."),
]  # fmt: skip


def _corpus(tmp_path: Path) -> Path:
    path = tmp_path / "stories.jsonl"
    path.write_text(
        "".join(
            json.dumps({"text": t, "source": s, "date": f"2024-03-0{i + 1}"}) + "\n"
            for i, (s, t) in enumerate(STORIES)
        )
    )
    return path


def _entity_mentions(engine: Engine, name: str) -> int:
    return int(
        scalar(
            engine,
            "SELECT count(*) FROM mentions m JOIN entities e USING (entity_id) "
            "WHERE e.canonical_name = :n",
            n=name,
        )
        or 0
    )


def test_discover_accept_reject_extract(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    assert dbapp(fresh_db, "load", str(_corpus(tmp_path)), "--no-progress").exit_code == 0
    assert _entity_mentions(engine, "Nikol Pashinyan") == 0  # not in the catalogue yet
    found = dbapp(fresh_db, "entities", "discover", "--workers", "1", "--no-progress")
    assert found.exit_code == 0, found.output
    listed = dbapp(fresh_db, "entities", "candidates", "--format", "x")
    assert listed.exit_code == 2  # no such option: typer says so
    table = dbapp(fresh_db, "entities", "candidates", "--min-documents", "3")
    assert "Nikol Pashinyan" in table.output and "Montedison" in table.output
    counts = dict(
        rows(
            engine,
            "SELECT c.name, count(*) FROM entity_candidates c "
            "JOIN candidate_sightings USING (candidate_id) GROUP BY c.name",
        )
    )
    assert counts["Nikol Pashinyan"] == 3
    # Discovery is idempotent: a second run counts no document twice.
    assert dbapp(fresh_db, "entities", "discover", "--workers", "1").exit_code == 0
    assert scalar(engine, "SELECT count(*) FROM candidate_sightings") == sum(counts.values())
    # Known catalogue names are never candidates.
    known = {"Yerevan", "Brussels", "Milan", "European Union", "Baku"}
    assert not known & set(counts)
    rejected = dbapp(fresh_db, "entities", "reject", "Gianni Zorzetto")
    assert rejected.exit_code == 0, rejected.output
    accepted = dbapp(fresh_db, "entities", "accept", "--min-documents", "2")
    assert accepted.exit_code == 0 and "accepted 2 entities" in accepted.output, accepted.output
    assert dbapp(fresh_db, "extract").exit_code == 0
    # Three full names and one surname short form in the first story.
    assert _entity_mentions(engine, "Nikol Pashinyan") == 4
    assert _entity_mentions(engine, "Montedison") == 4
    statuses = dict(rows(engine, "SELECT name, status FROM entity_candidates"))
    assert statuses["Gianni Zorzetto"] == "rejected"
    dbapp(fresh_db, "entities", "discover", "--workers", "1")
    again = dict(rows(engine, "SELECT name, status FROM entity_candidates"))
    assert again["Gianni Zorzetto"] == "rejected"  # never proposed again
    assert dbapp(fresh_db, "entities", "accept", "No Such Name").exit_code == 1


def test_load_discover_links_names_seen_often_enough(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    result = dbapp(fresh_db, "load", str(_corpus(tmp_path)), "--discover", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output
    assert _entity_mentions(engine, "Nikol Pashinyan") == 4
    assert _entity_mentions(engine, "Gianni Zorzetto") == 0  # seen once: stays a candidate


@pytest.mark.parametrize(
    ("label", "span", "proposed"),
    [
        ("ORG", "Real Madrid 1", ("ORG", "Real Madrid")),
        ("GPE", "Lithuania 2-1", ("GPE", "Lithuania")),
        ("ORG", "New York Newsdesk 212-859-1610", ("ORG", "New York Newsdesk")),
        ("GPE", "Jiangsu province", ("GPE", "Jiangsu")),
        ("ORG", "3M", None),  # a name starts with a capital letter
        ("ORG", "Partick 1 St Mirren 1", None),  # a results row
        ("GPE", "the Oval , Surrey", None),
        ("GPE", "New Zealand - 15", ("GPE", "New Zealand")),
        ("FAC", "Dinamo", None),  # facilities are not proposed
        ("PERSON", "the Smiths' ", ("PERSON", "Smiths")),
        ("DATE", "Monday", None),
    ],
)
def test_what_a_span_proposes(label: str, span: str, proposed: tuple[str, str] | None) -> None:
    from dbapp.discover import proposal

    assert proposal(label, span) == proposed


def test_a_known_place_with_other_words_is_not_proposed_as_a_place() -> None:
    from dbapp.discover import extends_place

    places = {"hong kong", "kansas", "atlanta"}
    assert extends_place("GPE", "Hong Kong Open", places)
    assert extends_place("LOC", "Atlanta Games", places)
    assert not extends_place("GPE", "Kansas City", places)
    assert not extends_place("ORG", "Hong Kong Open", places)  # labelled as something else
    assert not extends_place("GPE", "Sharqiyah", places)
