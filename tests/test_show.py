"""`dbapp show DOC_ID`: the stored document with every mention and its exact offsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import SEEDS
from tests.test_load import dbapp, rows, scalar


def test_show_gives_the_document_and_every_mention(fresh_db: str, engine: Engine) -> None:
    assert dbapp(fresh_db, "load", str(SEEDS), "--no-progress").exit_code == 0
    doc_id = scalar(engine, "SELECT min(document_id) FROM documents")
    result = dbapp(fresh_db, "show", str(doc_id), "--format", "json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    body = scalar(engine, "SELECT body FROM documents WHERE document_id = :d", d=doc_id)
    assert shown["body"] == body
    assert shown["source"] == "Trend" and shown["load_id"] is not None
    stored = rows(
        engine,
        'SELECT start, "end", entity_id FROM mentions WHERE document_id = :d ORDER BY 1, 2, 3',
        d=doc_id,
    )
    assert len(stored) > 5
    assert sorted((m["start"], m["end"], m["entity_id"]) for m in shown["mentions"]) == stored
    for m in shown["mentions"]:
        assert body[m["start"] : m["end"]] == m["surface"]
        assert m["kind"] and m["entity"]
    assert {m["role"] for m in shown["mentions"]} >= {"dateline", "body"}

    text = dbapp(fresh_db, "show", str(doc_id))
    assert text.exit_code == 0, text.output
    assert body.splitlines()[-1] in text.stdout  # the full text, to its last line
    assert f"{len(stored)} mentions" in text.stdout
    first = shown["mentions"][0]
    assert f"│ {first['start']} " in text.stdout and first["entity"] in text.stdout


def test_show_of_a_missing_document_is_a_usage_error(fresh_db: str) -> None:
    result = dbapp(fresh_db, "show", "987654")
    assert result.exit_code == 2
    assert "no document 987654" in result.stderr
    assert dbapp(fresh_db, "show", "1", "--format", "xml").exit_code == 2


def test_search_and_kwic_say_how_to_open_a_result(fresh_db: str) -> None:
    assert dbapp(fresh_db, "load", str(SEEDS), "--no-progress").exit_code == 0
    for args in (["search", "Karabakh"], ["report", "kwic", "--entity", "Karabakh"]):
        result = dbapp(fresh_db, *args)
        assert result.exit_code == 0, result.output
        assert "dbapp show DOCUMENT_ID" in result.stderr
        assert "document_id" in result.stdout


def test_search_filters_sorts_counts_and_facets(fresh_db: str, engine: Engine) -> None:
    assert dbapp(fresh_db, "load", str(SEEDS), "--no-progress").exit_code == 0
    matching = rows(
        engine,
        "SELECT document_id, published_on FROM documents "
        "WHERE search_vector @@ websearch_to_tsquery('english', 'Azerbaijan') ORDER BY 2, 1",
    )
    assert len(matching) >= 2
    newest = dbapp(fresh_db, "search", "Azerbaijan", "--sort", "newest", "--limit", "1",
                   "--format", "json")  # fmt: skip
    assert newest.exit_code == 0, newest.output
    assert [r["document_id"] for r in json.loads(newest.stdout)] == [matching[-1][0]]
    assert f"{len(matching):,} documents match (showing 1, sorted by newest)" in newest.stderr
    oldest = dbapp(fresh_db, "search", "Azerbaijan", "--sort", "oldest", "--format", "json")
    assert [r["document_id"] for r in json.loads(oldest.stdout)] == [d for d, _ in matching]

    with_entity = rows(
        engine,
        "SELECT DISTINCT d.document_id FROM documents d JOIN mentions m USING (document_id) "
        "JOIN entities e USING (entity_id) WHERE e.canonical_name = 'Leman Zeynalova' "
        "AND d.search_vector @@ websearch_to_tsquery('english', 'Azerbaijan')",
    )
    only = dbapp(fresh_db, "search", "Azerbaijan", "--entity", "Leman Zeynalova",
                 "--format", "json")  # fmt: skip
    assert only.exit_code == 0, only.output
    assert [(r["document_id"],) for r in json.loads(only.stdout)] == with_entity
    assert 0 < len(with_entity) < len(matching)

    faceted = dbapp(fresh_db, "search", "Azerbaijan", "--facets", "--format", "json")
    assert faceted.exit_code == 0, faceted.output
    data = json.loads(faceted.stdout)
    assert sum(r["documents"] for r in data["sources"]) == len(matching)
    assert sum(r["documents"] for r in data["months"]) == len(matching)
    top = data["entities"][0]
    assert top["documents"] <= len(matching) and 0 < top["share_of_documents"] <= 1
    assert dbapp(fresh_db, "search", "Azerbaijan", "--sort", "best").exit_code == 2
    assert dbapp(fresh_db, "search", "Azerbaijan", "--entity", "Nowhere-land").exit_code == 2


def test_search_ranks_a_bounded_window_and_says_so(
    fresh_db: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbapp import search as search_module

    assert dbapp(fresh_db, "load", str(SEEDS), "--no-progress").exit_code == 0
    newest = scalar(
        engine,
        "SELECT document_id FROM documents WHERE search_vector @@ "
        "websearch_to_tsquery('english', 'Azerbaijan') ORDER BY published_on DESC LIMIT 1",
    )
    everything = scalar(engine, "SELECT count(*) FROM documents")
    monkeypatch.setattr(search_module, "RANK_WINDOW", 1)
    monkeypatch.setattr(search_module, "FIRST_WINDOW", 1)
    monkeypatch.setattr(search_module, "ESTIMATE_FROM", 1)
    ranked = dbapp(fresh_db, "search", "Azerbaijan", "--limit", "1", "--format", "json")
    assert ranked.exit_code == 0, ranked.output
    assert [r["document_id"] for r in json.loads(ranked.stdout)] == [newest]
    # One article read (the newest day's), one match in it: the rest is an estimate, and said.
    assert (
        f"about {everything} documents match (showing 1, best first among the 1 newest "
        "matches; counted in the 1 newest articles, estimated beyond)" in ranked.stderr
    )


def test_search_walks_date_windows_without_losing_or_misordering_a_match(
    fresh_db: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbapp import search as search_module

    # 90 articles over 30 days (three a day, so windows split between days, never inside
    # one), every third about oil; 6 undated, two of them about oil.
    lines = []
    for i in range(90):
        day = f"2024-01-{1 + i // 3:02d}"
        words = "oil prices rose" if i % 3 == 0 else "wheat harvest"
        words += " in Baku" if i % 2 == 0 else ""
        words += " zeppelin" if i >= 81 else ""  # a story of the last three days only
        lines.append({"id": f"a{i}", "text": f"Story {i}: {words}.", "date": day, "source": "S"})
    for i in range(6):
        words = "oil prices" if i < 2 else "rain"
        lines.append({"id": f"u{i}", "text": f"Undated {i}: {words}.", "source": "S"})
    path = tmp_path / "windows.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    assert dbapp(fresh_db, "load", str(path), "--no-progress").exit_code == 0
    expected = {
        "newest": "published_on DESC NULLS LAST, document_id DESC",
        "oldest": "published_on ASC NULLS LAST, document_id",
    }
    monkeypatch.setattr(search_module, "FIRST_WINDOW", 4)
    monkeypatch.setattr(search_module, "GROWTH", 2)
    monkeypatch.setattr(search_module, "ESTIMATE_FROM", 3)
    for sort, order in expected.items():
        truth = [
            r[0]
            for r in rows(
                engine,
                "SELECT document_id FROM documents WHERE search_vector @@ "
                f"websearch_to_tsquery('english', '\"oil prices\"') ORDER BY {order}",
            )
        ]
        assert len(truth) == 32
        for limit in (1, 5, 31, 32, 40):
            got = dbapp(fresh_db, "search", '"oil prices"', "--sort", sort, "--limit",
                        str(limit), "--format", "json")  # fmt: skip
            assert got.exit_code == 0, got.output
            assert [r["document_id"] for r in json.loads(got.stdout)] == truth[:limit], (
                sort,
                limit,
            )
            if limit >= 31:  # read to the end: exact
                assert "32 documents match" in got.stderr and "about" not in got.stderr
            else:  # stopped early: an estimate from the articles read, near the truth
                assert "about" in got.stderr and "estimated beyond" in got.stderr
        # A story bunched in time: the older articles are sampled, not assumed alike.
        bunched = dbapp(fresh_db, "search", "zeppelin", "--sort", sort, "--limit", "1")
        assert "about 9 documents match" in bunched.stderr, bunched.stderr
        # --entity walks the entity's own articles: the same order, none lost.
        in_baku = [
            r[0]
            for r in rows(
                engine,
                "SELECT d.document_id FROM documents d WHERE d.search_vector @@ "
                "websearch_to_tsquery('english', '\"oil prices\"') AND EXISTS (SELECT 1 FROM "
                "mentions m JOIN entities e USING (entity_id) WHERE m.document_id = "
                f"d.document_id AND e.canonical_name = 'Baku') ORDER BY {order}",
            )
        ]
        assert len(in_baku) == 15
        for limit in (1, 4, 15, 20):
            got = dbapp(fresh_db, "search", '"oil prices"', "--entity", "Baku", "--sort", sort,
                        "--limit", str(limit), "--format", "json")  # fmt: skip
            assert got.exit_code == 0, got.output
            assert [r["document_id"] for r in json.loads(got.stdout)] == in_baku[:limit]


def test_show_makes_control_characters_visible_and_keeps_offsets(
    fresh_db: str, tmp_path: Path
) -> None:
    body = "Ctl \x1b[31mRED\x1b[0m then \x07 bell \x08\x08 Azerbaijan and Baku."
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"text": body, "date": "2024-01-01", "source": "Odd"}) + "\n")
    assert dbapp(fresh_db, "load", str(path), "--no-progress").exit_code == 0
    data = json.loads(dbapp(fresh_db, "show", "1", "--format", "json").stdout)
    assert data["body"] == body  # stored as given
    assert all(body[m["start"] : m["end"]] == m["surface"] for m in data["mentions"])
    shown = dbapp(fresh_db, "show", "1").stdout
    assert "\x1b" not in shown and "\x07" not in shown and "\x08" not in shown
    assert "␛[31mRED" in shown and "␇ bell ␈␈ Azerbaijan" in shown
