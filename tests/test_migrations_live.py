"""Migrations on a populated database keep every row, up from the first revision and round trip."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from dbapp import migrate
from tests.conftest import SEEDS
from tests.test_load import dbapp, scalar

# The tables and columns of revision 0001, with their primary keys: what must survive.
CORE = {
    "sources": ("source_id", "source_id, name, kind, homepage, domain, country"),
    "loads": ("load_id", "load_id, status, arguments, documents_inserted, mentions_inserted"),
    "load_rejects": ("load_reject_id", "load_reject_id, load_id, path, error_code, raw"),
    "documents": (
        "document_id",
        "document_id, source_id, content_sha256, published_on, author, body, search_vector",
    ),
    "entities": ("entity_id", "entity_id, kind, canonical_name, external_id"),
    "entity_aliases": ("entity_alias_id", "entity_alias_id, entity_id, kind, alias, normalised"),
    "mentions": ("mention_id", 'mention_id, document_id, entity_id, start, "end", surface, role'),
}


def checksums(engine: Engine) -> dict[str, tuple[int, str]]:
    """Row count and an md5 over every row of every core table."""
    out = {}
    with engine.connect() as conn:
        for table, (pk, columns) in CORE.items():
            out[table] = tuple(
                conn.execute(
                    text(
                        "SELECT count(*), md5(coalesce(string_agg(t::text, '|' "
                        f"ORDER BY {pk}), '')) FROM (SELECT {columns} FROM {table}) t"
                    )
                ).one()
            )
    return out  # type: ignore[return-value]


def populate_at_first_revision(engine: Engine) -> None:
    """Rows written with plain SQL, as a 0001-era dbapp would have."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sources (name, kind) VALUES ('Trend', 'agency')"))
        conn.execute(
            text(
                "INSERT INTO loads (dbapp_version, status, documents_inserted) "
                "VALUES ('0.0', 'partial', 2)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO load_rejects (load_id, path, line_number, error_code, message, raw) "
                "VALUES (1, 'bad.txt', 1, 'invalid_utf8', 'bad byte', '\\xff'::bytea)"
            )
        )
        for i, body in enumerate(["Armenia and Azerbaijan met in Baku.", "The UN met."], 1):
            conn.execute(
                text(
                    "INSERT INTO documents (source_id, content_sha256, published_on, body, "
                    "char_count, word_count, load_id) VALUES (1, :sha, CAST(:day AS date), :body, "
                    "length(:body), 5, 1)"
                ),
                {"sha": f"{i:064x}", "day": f"2024-01-0{i}", "body": body},
            )
        conn.execute(
            text(
                "INSERT INTO entities (kind, canonical_name, external_id) VALUES "
                "('GPE', 'Armenia', 'ARM'), ('GPE', 'Baku', NULL), "
                "('ORG', 'United Nations', 'Q1065')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO entity_aliases (entity_id, kind, alias, normalised) VALUES "
                "(1, 'GPE', 'Armenia', 'armenia'), (3, 'ORG', 'UN', 'un')"
            )
        )
        conn.execute(
            text(
                'INSERT INTO mentions (document_id, entity_id, start, "end", surface, role, '
                "extractor, extractor_version) VALUES (1, 1, 0, 7, 'Armenia', 'body', 'g', '1'), "
                "(1, 2, 30, 34, 'Baku', 'body', 'g', '1'), (2, 3, 4, 6, 'UN', 'body', 'g', '1')"
            )
        )


def test_upgrade_from_the_first_revision_keeps_every_row(blank_db: str) -> None:
    engine = create_engine(blank_db)
    try:
        first = migrate.history()[-1][0]
        migrate.upgrade(engine, first)
        populate_at_first_revision(engine)
        before = checksums(engine)
        migrate.upgrade(engine, "head")
        assert checksums(engine) == before
        with engine.begin() as conn:  # the report views see the old rows (0008 summarised them)
            top = conn.execute(
                text("SELECT entity, mentions FROM report_top_entities ORDER BY entity")
            ).all()
        assert [tuple(r) for r in top] == [("Armenia", 1), ("Baku", 1), ("United Nations", 1)]
    finally:
        engine.dispose()


def test_round_trip_on_a_loaded_database(fresh_db: str, engine: Engine) -> None:
    assert dbapp(fresh_db, "load", str(SEEDS)).exit_code == 0
    before = checksums(engine)
    assert before["mentions"][0] == 53
    revisions = [rev for rev, _, _ in reversed(migrate.history())]
    # Step down one revision at a time to the first, then back up: core rows never change.
    for target in reversed(revisions[:-1]):
        migrate.downgrade(engine, target)
        assert checksums(engine) == before, f"rows changed going down to {target}"
    migrate.upgrade(engine, "head")
    assert checksums(engine) == before
    result = dbapp(fresh_db, "report", "check")
    assert result.exit_code == 0, result.output
    assert scalar(engine, "SELECT sum(mentions) FROM report_top_entities") == 52  # bylines out
