"""The Python API, called exactly the way the README shows it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import matplotlib
import pytest

import dbapp
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def _readme_example() -> str:
    section = README.split("### From Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README has no Python example"
    return match.group(1)


def test_the_readme_example_runs(
    fresh_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    matplotlib.use("Agg")  # the example plots; no display here
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    namespace: dict[str, object] = {}
    exec(compile(_readme_example(), "README.md", "exec"), namespace)  # noqa: S102
    timeline, top, hits, first, mentions = (
        namespace[k] for k in ("timeline", "top", "hits", "first", "mentions")
    )
    assert list(timeline["period"].astype(str)) == ["2020-01-01", "2021-01-01", "2022-01-01",
                                                    "2023-01-01"]  # fmt: skip
    assert list(timeline["documents"]) == [1, 0, 0, 1]
    assert top.iloc[0]["documents"] == top["documents"].max() == 2 and len(top) > 5
    assert hits and first["document_id"] == hits[0]["document_id"]
    assert all(first["body"][m["start"] : m["end"]] == m["surface"] for m in first["mentions"])
    assert len(mentions) > 0 and set(mentions["surface"]) >= {"Armenia"}


def test_the_api_is_declared_and_its_verbs_return_rows(fresh_db: str) -> None:
    assert set(dbapp.__all__) >= {"connect", "Dbapp", "LoadSummary"}
    with dbapp.connect(database_url=fresh_db) as db:
        loaded = db.load(str(REPO / "seeds"))
        again = db.load(str(REPO / "seeds"))
        assert (loaded.documents_inserted, again.documents_duplicate) == (2, 2)
        assert again.documents_inserted == 0  # idempotent, as the CLI
        [overview] = db.report("overview")
        assert overview["documents"] == 2
        compared = db.report("timeline", compare=["ceasefire", "coronavirus"], period="year")
        assert {r["series"] for r in compared} == {"ceasefire", "coronavirus"}
        # Every report of the CLI, top-words included; compare only where the CLI takes it.
        words = db.report("top-words", query="elections", limit=200)
        assert any(w["term"] == "occupi" or w["term"].startswith("occup") for w in words), words
        with pytest.raises(dbapp.DbappError, match="only timeline compares"):
            db.report("top-entities", compare=["ceasefire", "coronavirus"])
        assert db.sql("SELECT count(*) AS n FROM documents") == [{"n": 2}]
        out = db.export("documents", Path(os.environ.get("TMPDIR", "/tmp")) / "api-docs.csv")
        assert out == 2
