"""Entities on real PostgreSQL: seeding, mentions with exact offsets, curation, re-extraction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from dbapp.cli import app
from tests.conftest import SEEDS, shared_path
from tests.test_load import dbapp, rows, scalar

runner = CliRunner()

BAD_OFFSETS = """
SELECT count(*) FROM mentions m JOIN documents d USING (document_id)
WHERE substr(d.body, m.start + 1, m."end" - m.start) <> m.surface
"""


def mentions_of(engine: Engine, name: str) -> list[tuple]:
    return rows(
        engine,
        """SELECT e.kind, m.surface, m.role, d.external_id
           FROM mentions m JOIN entities e USING (entity_id) JOIN documents d USING (document_id)
           WHERE e.canonical_name = :n ORDER BY d.external_id, m.start""",
        n=name,
    )


def count_of(engine: Engine, name: str) -> int:
    return int(
        scalar(
            engine,
            "SELECT count(*) FROM mentions m JOIN entities e USING (entity_id) "
            "WHERE e.canonical_name = :n",
            n=name,
        )  # type: ignore[arg-type]
    )


def test_seeds_have_the_expected_mentions(fresh_db: str, engine: Engine) -> None:
    result = dbapp(fresh_db, "load", str(SEEDS))
    assert result.exit_code == 0, result.output
    assert scalar(engine, BAD_OFFSETS) == 0
    for name in [
        "Azerbaijan",
        "Armenia",
        "Karabakh",
        "United Nations",
        "United Nations Security Council",
        "United Nations General Assembly",
        "National Assembly of Azerbaijan",
        "Baku",
        "Leman Zeynalova",
    ]:
        assert count_of(engine, name) > 0, name
    assert mentions_of(engine, "Leman Zeynalova") == [
        ("PERSON", "Leman Zeynalova", "byline", "b9ae1a64affd447b")
    ]
    assert mentions_of(engine, "Baku") == [
        ("GPE", "BAKU", "dateline", "b9ae1a64affd447b"),
        ("GPE", "BAKU", "dateline", "d1f4e4cf78dcdb67"),
    ]
    karabakh = {surface for _, surface, _, _ in mentions_of(engine, "Karabakh")}
    assert karabakh == {"Karabakh", "Nagorno-Karabakh", "Nagorno Karabakh"}
    majlis = {
        surface for _, surface, _, _ in mentions_of(engine, "National Assembly of Azerbaijan")
    }
    assert majlis == {"Milli Majlis", "Azerbaijani Parliament"}
    assert scalar(engine, "SELECT count(*) FROM mentions WHERE surface LIKE '%Trend%'") == 0
    assert rows(engine, "SELECT mentions_inserted FROM loads") == [
        (scalar(engine, "SELECT count(*) FROM mentions"),)
    ]
    sources = rows(engine, "SELECT name, kind, domain FROM sources ORDER BY name")
    assert ("Trend", "agency", "trend.az") in sources


def test_catalogue_is_seeded_once_and_stats_are_right(fresh_db: str, engine: Engine) -> None:
    first = runner.invoke(app, ["--database-url", fresh_db, "entities", "seed"])
    assert first.exit_code == 0 and "seeded:" in first.stdout
    catalogue = json.loads(
        (Path(__file__).parents[1] / "dbapp" / "data" / "catalogue.json").read_text()
    )
    assert scalar(engine, "SELECT count(*) FROM entities") == len(catalogue["entities"])
    assert scalar(engine, "SELECT count(*) FROM entity_aliases") == sum(
        len(e["aliases"]) for e in catalogue["entities"]
    )
    again = runner.invoke(app, ["--database-url", fresh_db, "entities", "seed"])
    assert "already seeded" in again.stdout
    georgia = rows(
        engine,
        "SELECT context_terms FROM entity_aliases WHERE alias = 'Georgia' AND kind = 'GPE'",
    )
    assert georgia and "Tbilisi" in georgia[0][0]


def _load_text(url: str, tmp_path: Path, name: str, body: str) -> None:
    path = tmp_path / f"{name}.jsonl"
    path.write_text(json.dumps({"id": name, "text": body, "date": "2024-01-02"}) + "\n")
    result = dbapp(url, "load", str(path))
    assert result.exit_code == 0, result.output


def test_alias_add_then_extract_links_old_documents(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    _load_text(fresh_db, tmp_path, "a", "Talks opened in Baki on Monday, officials said.")
    assert count_of(engine, "Baku") == 0
    added = dbapp(fresh_db, "entities", "alias", "add", "Baki", "Baku")
    assert added.exit_code == 0, added.output
    first = dbapp(fresh_db, "extract")
    assert first.exit_code == 0, first.output
    assert "1 mention added, 0 removed" in first.stdout
    assert mentions_of(engine, "Baku") == [("GPE", "Baki", "body", "a")]
    second = dbapp(fresh_db, "extract")
    assert "0 mentions added, 0 removed" in second.stdout
    # Every stored mention carries the extractor's new version.
    versions = rows(engine, "SELECT DISTINCT extractor, extractor_version FROM mentions")
    assert len(versions) == 1 and versions[0][0] == "gazetteer"


def test_alias_remove_and_ignore_keep_counts_consistent(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    dbapp(fresh_db, "load", str(SEEDS))
    before = count_of(engine, "National Assembly of Azerbaijan")
    removed = dbapp(fresh_db, "entities", "alias", "remove", "Milli Majlis")
    assert removed.exit_code == 0, removed.output
    assert "and 1 mentions" in removed.stdout
    assert count_of(engine, "National Assembly of Azerbaijan") == before - 1
    # Re-extraction does not bring it back: the alias is gone.
    dbapp(fresh_db, "extract")
    assert count_of(engine, "National Assembly of Azerbaijan") == before - 1

    armenia = count_of(engine, "Armenia")
    ignored = dbapp(fresh_db, "entities", "ignore", "Armenia", "--note", "test")
    assert f"{armenia} mentions removed" in ignored.stdout
    assert count_of(engine, "Armenia") == 0
    _load_text(fresh_db, tmp_path, "b", "Armenia and Azerbaijan met in Brussels.")
    assert count_of(engine, "Armenia") == 0  # new loads honour the rule
    dbapp(fresh_db, "entities", "unignore", "Armenia")
    dbapp(fresh_db, "extract")
    assert count_of(engine, "Armenia") == armenia + 1


def test_merge_moves_mentions_and_redirects(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    dbapp(fresh_db, "load", str(SEEDS))
    unsc = count_of(engine, "United Nations Security Council")
    un = count_of(engine, "United Nations")
    merged = dbapp(
        fresh_db, "entities", "merge", "United Nations Security Council", "United Nations"
    )
    assert merged.exit_code == 0, merged.output
    assert count_of(engine, "United Nations") == un + unsc
    assert count_of(engine, "United Nations Security Council") == 0
    aliases = {a for (a,) in rows(
        engine,
        "SELECT alias FROM entity_aliases a JOIN entities e USING (entity_id) "
        "WHERE e.canonical_name = 'United Nations'",
    )}  # fmt: skip
    assert "UN Security Council" in aliases
    # Re-seeding does not resurrect the merged entity; new text resolves to the target.
    reseed = runner.invoke(app, ["--database-url", fresh_db, "entities", "seed", "--force"])
    assert reseed.exit_code == 0
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM entities WHERE canonical_name = :n",
            n="United Nations Security Council",
        )
        == 0
    )
    _load_text(fresh_db, tmp_path, "c", "The UN Security Council met.")
    assert count_of(engine, "United Nations") == un + unsc + 1


def test_ambiguous_and_unknown_entity_names(fresh_db: str, tmp_path: Path) -> None:
    dbapp(fresh_db, "entities", "seed")
    # "Azerbaijani" is only NORP, "Georgia" only GPE: found. An unknown name: exit 2.
    assert dbapp(fresh_db, "entities", "show", "Azerbaijani").exit_code == 0
    # An untitled article is listed by its opening words, marked so: not passed off as a title.
    _load_text(fresh_db, tmp_path, "untitled", "Azerbaijani officials met in the capital.")
    shown = dbapp(fresh_db, "entities", "show", "Azerbaijani")
    assert "(untitled) Azerbaijani officials met in the capital." in shown.stdout, shown.output
    assert "capital.…" not in shown.stdout  # all of it shown: no ellipsis
    # Names with control characters are refused: listing them would drive the terminal.
    escape = dbapp(fresh_db, "entities", "add", "Bad\x1b[31mName", "--kind", "ORG")
    assert escape.exit_code == 2 and "control characters" in escape.output
    assert "no entities match" in dbapp(fresh_db, "entities", "list", "--search", "zzqq").stderr
    missing = dbapp(fresh_db, "entities", "show", "Atlantis")
    assert missing.exit_code == 2 and "no entity named 'Atlantis'" in missing.stderr
    bad_kind = dbapp(fresh_db, "entities", "list", "--kind", "PLANET")
    assert bad_kind.exit_code == 2 and "unknown kind" in bad_kind.stderr  # a usage error
    # The list as data, for scripts: the same entities in every format.
    listed = dbapp(fresh_db, "entities", "list", "--search", "Azerbaij", "--format", "json")
    assert listed.exit_code == 0, listed.output
    names = {(e["kind"], e["name"]) for e in json.loads(listed.stdout)}
    assert {("GPE", "Azerbaijan"), ("NORP", "Azerbaijani")} <= names
    as_csv = dbapp(fresh_db, "entities", "list", "--search", "Azerbaij", "--format", "csv")
    assert as_csv.stdout.splitlines()[0].startswith("entity_id,kind,name,external_id,aliases")
    assert len(as_csv.stdout.splitlines()) == len(names) + 1
    bad_format = dbapp(fresh_db, "entities", "list", "--format", "xml")
    assert bad_format.exit_code == 2 and "--format must be one of" in bad_format.stderr
    conflict = dbapp(fresh_db, "entities", "alias", "add", "Armenia", "Azerbaijan")
    assert conflict.exit_code == 2 and "already names GPE Armenia" in conflict.stderr


def test_offsets_are_exact_on_a_real_corpus(fresh_db: str, engine: Engine) -> None:
    corpus = shared_path("corpora", "wikinews-sample")
    result = dbapp(fresh_db, "load", str(corpus), "--source", "Wikinews")
    assert result.exit_code in (0, 5), result.output
    total = scalar(engine, "SELECT count(*) FROM mentions")
    assert isinstance(total, int) and total > 2000
    assert scalar(engine, BAD_OFFSETS) == 0


def test_spacy_backend_resolves_to_the_catalogue(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    spacy = pytest.importorskip("spacy", reason="the optional [spacy] extra is not installed")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [
            {"label": "GPE", "pattern": "Baku"},
            {"label": "GPE", "pattern": "Ganja"},
            {"label": "PERSON", "pattern": "Ilham Aliyev"},
            {"label": "ORG", "pattern": "Trend"},
            {"label": "DATE", "pattern": "Monday"},
        ]
    )
    model = tmp_path / "pipeline"
    nlp.to_disk(model)
    _load_text(fresh_db, tmp_path, "g", "Seed text Baku.")  # seeds the catalogue
    path = tmp_path / "s.txt"
    path.write_text(
        " date 2024-05-06 BAKU, Azerbaijan, May 6\n\nBy Leman Zeynalova – Trend:\n\n"
        "Ilham Aliyev visited Baku and Ganja on Monday, Trend reports."
    )
    result = dbapp(fresh_db, "load", str(path), "--extractor", "spacy", "--spacy-model", str(model))
    assert result.exit_code == 0, result.output
    got = rows(
        engine,
        """SELECT m.surface, e.kind, e.canonical_name, m.role FROM mentions m
           JOIN entities e USING (entity_id) JOIN documents d USING (document_id)
           WHERE m.extractor = 'spacy' ORDER BY m.start""",
    )
    assert got == [
        ("BAKU", "GPE", "Baku", "dateline"),  # from the dateline, resolved by name
        ("Leman Zeynalova", "PERSON", "Leman Zeynalova", "byline"),
        ("Ilham Aliyev", "PERSON", "Ilham Aliyev", "body"),
        ("Baku", "GPE", "Baku", "body"),
        ("Ganja", "GPE", "Ganja", "body"),
    ]
    # "Baku" resolved to the catalogue's entity, the one the gazetteer uses.
    assert scalar(engine, "SELECT count(*) FROM entities WHERE canonical_name = 'Baku'") == 1
    assert scalar(engine, BAD_OFFSETS) == 0
    missing = dbapp(fresh_db, "extract", "--extractor", "spacy", "--spacy-model", "no_such_model")
    assert missing.exit_code == 2 and "is not installed" in missing.stderr


def test_extract_finds_what_the_load_found(fresh_db: str, engine: Engine, tmp_path: Path) -> None:
    # An agency's own name in its own story, and a French story: the load links neither, and
    # neither may re-extraction (it knew the source and the language too).
    path = tmp_path / "wire.jsonl"
    records = [
        {"id": "r", "source": "Reuters", "date": "2024-01-02",
         "text": "Oil rose in Baku on Monday, one analyst told Reuters, as exports grew."},
        {"id": "f", "source": "Le Monde", "date": "2024-01-02",
         "text": "Le pétrole a augmenté à Bakou et à Paris lundi, selon les analystes, qui "
                 "prévoient une hausse des exportations de la région vers l'Europe."},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert dbapp(fresh_db, "load", str(path), "--no-progress").exit_code == 0
    before = rows(engine, "SELECT document_id, start, entity_id FROM mentions ORDER BY 1, 2")
    assert count_of(engine, "Reuters") == 0 and count_of(engine, "Baku") == 1
    again = dbapp(fresh_db, "extract")
    assert again.exit_code == 0, again.output
    assert "0 mentions added, 0 removed" in again.stdout
    assert (
        rows(engine, "SELECT document_id, start, entity_id FROM mentions ORDER BY 1, 2") == before
    )


def test_accepting_by_threshold_and_importing_say_what_they_did(
    fresh_db: str, engine: Engine, tmp_path: Path
) -> None:
    from sqlalchemy import text

    path = tmp_path / "w.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "id": str(i),
                    "source": "Wikinews",
                    "date": "2024-01-02",
                    "text": f"Story {i} from Wikinews about Gianni Zorzetto.",
                }
            )
            + "\n"
            for i in range(3)
        )  # fmt: skip
    )
    assert dbapp(fresh_db, "load", str(path), "--no-progress").exit_code == 0
    # What discovery would have stored: the publisher's own name and a person, in 3 articles.
    with engine.begin() as conn:
        for kind, name in (("ORG", "Wikinews"), ("PERSON", "Gianni Zorzetto")):
            conn.execute(
                text(
                    "WITH c AS (INSERT INTO entity_candidates (kind, name, normalised) "
                    "VALUES (:k, :n, lower(:n)) RETURNING candidate_id) "
                    "INSERT INTO candidate_sightings SELECT c.candidate_id, d.document_id, :k "
                    "FROM c, documents d"
                ),
                {"k": kind, "n": name},
            )
    both = dbapp(fresh_db, "entities", "accept", "Wikinews", "--min-documents", "1")
    assert both.exit_code == 2 and "not both" in both.output
    accepted = dbapp(fresh_db, "entities", "accept", "--min-documents", "2")
    assert accepted.exit_code == 0, accepted.output
    # The person, named; never the source's own name.
    assert "accepted 1 entity: PERSON Gianni Zorzetto;" in accepted.stdout
    missing = dbapp(fresh_db, "entities", "accept", "Nobody Known")
    assert missing.exit_code != 0 and "no candidate named Nobody Known" in missing.output
    # An ORG named like a catalogued city is imported, and the overlap is said.
    orgs = tmp_path / "orgs.csv"
    orgs.write_text("name,kind,aliases\nChicago Bulls,ORG,Chicago;Bulls\n")
    imported = dbapp(fresh_db, "entities", "import", str(orgs))
    assert imported.exit_code == 0, imported.output
    assert (
        "'Chicago' of ORG Chicago Bulls" in imported.stderr
        and "the ORG is taken" in imported.stderr
    )
    unchanged = dbapp(fresh_db, "entities", "add", "Chicago Bulls", "--kind", "ORG")
    assert "nothing changed" in unchanged.stdout
    nameless = dbapp(fresh_db, "entities", "add", " ", "--kind", "ORG")
    assert nameless.exit_code == 2 and "an entity needs a name" in nameless.stderr
