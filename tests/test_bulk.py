"""Bulk mode: a large first load builds its indexes and checks its foreign keys at the end.

The result must be indistinguishable from a normal load: same rows, and a schema with no drift
from the migrations (``alembic check``), also after a bulk load that died half-way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from dbapp import bulk, migrate
from dbapp.extract import extractor_for
from dbapp.load import LoadOptions, load_documents
from tests.conftest import _unique, create_database, drop_database
from tests.synthetic import write_corpus

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_corpus(tmp_path_factory.mktemp("bulk"), documents=1500, files=3)


def rows(engine: Engine) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
    with engine.connect() as conn:
        docs = set(conn.execute(text("SELECT content_sha256, body, search_vector FROM documents")))
        mentions = set(
            conn.execute(
                text(
                    'SELECT d.content_sha256, m.start, m."end", e.canonical_name, m.role '
                    "FROM mentions m JOIN documents d USING (document_id) JOIN entities e "
                    "USING (entity_id)"
                )
            )
        )
    return docs, mentions


def test_bulk_load_equals_a_normal_load_and_leaves_no_drift(
    engine: Engine, fresh_db: str, corpus: list[Path], server_url: str, template_db: str
) -> None:
    paths = list(map(str, corpus))
    result = load_documents(
        engine,
        paths,
        extractor_for(engine, "gazetteer"),
        LoadOptions(bulk=True, workers=2, writers=2),
    )
    assert result.bulk and result.status == "completed"
    assert result.counts.documents_inserted == 1500
    with engine.connect() as conn:
        assert bulk.missing(conn) == []
    assert migrate.check(engine) is None

    name = _unique("nobulk")
    other = create_engine(create_database(server_url, name, template=template_db))
    try:
        normal = load_documents(
            other, paths, extractor_for(other, "gazetteer"), LoadOptions(bulk=False)
        )
        assert not normal.bulk
        assert normal.counts.mentions_inserted == result.counts.mentions_inserted > 5000
        assert rows(other) == rows(engine)
    finally:
        other.dispose()
        drop_database(server_url, name)


def test_no_bulk_mode_once_documents_exist(engine: Engine, corpus: list[Path]) -> None:
    extractor = extractor_for(engine, "gazetteer")
    load_documents(engine, [str(SEEDS)], extractor)
    result = load_documents(engine, list(map(str, corpus)), extractor, LoadOptions(bulk=True))
    assert not result.bulk  # the indexes stay: other documents are being searched
    assert result.counts.documents_inserted == 1500
    with engine.connect() as conn:
        assert bulk.missing(conn) == []


def test_the_next_load_restores_what_a_dead_bulk_load_left(engine: Engine) -> None:
    with engine.connect() as conn:
        with conn.begin():
            assert bulk.begin_bulk(conn)
        assert len(bulk.missing(conn)) == len(bulk.DEFERRED_INDEXES) + len(
            bulk.DEFERRED_FOREIGN_KEYS
        )
        # While the bulk load lives, nobody else rebuilds under it.
        with engine.connect() as other, other.begin():
            assert bulk.restore(other) == []
        conn.invalidate()  # the process dies: its session (and lock) goes, end_bulk never ran
    assert migrate.check(engine) is not None
    result = load_documents(engine, [str(SEEDS)], extractor_for(engine, "gazetteer"))
    assert result.counts.documents_inserted == 2
    with engine.connect() as conn:
        assert bulk.missing(conn) == []
    assert migrate.check(engine) is None


def test_a_load_while_a_dead_bulk_loads_statements_still_run_heals_at_its_end(
    engine: Engine,
) -> None:
    extractor = extractor_for(engine, "gazetteer")
    with engine.connect() as dead:
        with dead.begin():
            assert bulk.begin_bulk(dead)  # dropped its indexes, holds the bulk lock...
        # ... and, killed in its end phase, its statements still run in the server: a load
        # now can neither heal nor start bulk mode, and says so.
        during = load_documents(engine, [str(SEEDS)], extractor)
        assert during.counts.documents_inserted == 2 and during.status == "completed"
        assert any("end phase" in note for note in during.notes)
        with engine.connect() as conn:
            assert bulk.missing(conn) != []
        dead.invalidate()  # the orphaned statements end: the lock goes
    again = load_documents(engine, [str(SEEDS)], extractor)
    assert again.counts.documents_duplicate == 2 and again.notes == []
    with engine.connect() as conn:
        assert bulk.missing(conn) == []
    assert migrate.check(engine) is None
