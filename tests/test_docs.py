"""Every command has help and an example, and is in the README."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from dbapp.cli import app
from dbapp.report import list_reports
from tests.conftest import SEEDS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
runner = CliRunner()


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append(path)
        if hasattr(command, "commands"):  # a group (Typer vendors its own click)
            found.extend(_commands(command, path))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def test_the_cli_has_the_commands_we_document() -> None:
    assert ("load",) in COMMANDS and ("db", "grant-reader") in COMMANDS
    assert ("entities", "alias", "add") in COMMANDS and ("search",) in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_command_has_help_and_is_in_the_readme(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert f"dbapp {' '.join(path)}" in README, f"README does not mention dbapp {' '.join(path)}"


@pytest.mark.parametrize("name", [*list_reports(), "top-words"])
def test_report_name_help_describes_that_report(name: str) -> None:
    result = runner.invoke(app, ["report", name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Report {name}:" in result.output and "It reads" in result.output
    general = runner.invoke(app, ["report", "--help"])  # the command's own help comes back
    assert "Report " not in general.output and "Run a SQL report" in general.output


def test_report_help_finds_the_name_among_options_and_says_when_there_is_none() -> None:
    among = runner.invoke(app, ["report", "--since", "2020-01-01", "kwic", "--help"])
    assert "Report kwic:" in among.output
    # An option's value that is itself a report's name is not taken for the name.
    valued = runner.invoke(app, ["report", "--query", "timeline", "co-mentions", "--help"])
    assert "Report co-mentions:" in valued.output
    missing = runner.invoke(app, ["report", "nosuch", "--help"])
    assert missing.exit_code == 0 and "There is no report 'nosuch'" in missing.output


def test_every_report_is_in_the_readme() -> None:
    for name in list_reports():
        assert f"dbapp report {name}" in README, name


# -- the README's example outputs are real -----------------------------------------------------

# A paragraph that starts with a command, then its output block (before any other command).
EXAMPLE = re.compile(
    r"^`(dbapp (?:report|search) [^`]+)`(?:(?!```|\n`dbapp).)*?```\n(┃.*?)```", re.S | re.M
)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("┃│").split("┃" if "┃" in line else "│")]


def _table(lines: list[str]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a rich table as printed; wrapped cells are joined again."""
    header: list[str] = []
    rows: list[list[str]] = []
    for line in lines:
        if line.startswith("┃") and not header:
            header = _cells(line)
        elif line.startswith("│"):
            cells = _cells(line)
            if rows and not cells[0]:  # a wrapped row goes on
                rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
            else:
                rows.append(cells)
    return header, rows


def _highlights(snippet: str) -> str:
    return " ".join(sorted(set(re.findall(r"«([^»]+)»", snippet))))


def test_readme_example_outputs_match_the_real_ones(fresh_db: str) -> None:
    examples = EXAMPLE.findall(README)
    assert len(examples) >= 8
    assert runner.invoke(app, ["--database-url", fresh_db, "load", str(SEEDS)]).exit_code == 0
    for command, block in examples:
        args = shlex.split(command)[1:]
        result = runner.invoke(app, ["--database-url", fresh_db, *args])
        assert result.exit_code == 0, (command, result.output)
        want_header, want_rows = _table(block.splitlines())
        got_header, got_rows = _table(result.output.splitlines())
        assert got_header == want_header, command
        volatile = [i for i, name in enumerate(got_header) if name.endswith("_at")]
        # ts_headline's fragments differ between PostgreSQL versions; the highlights do not.
        snippets = [i for i, name in enumerate(got_header) if name == "snippet"]
        for want, got in zip(want_rows, got_rows, strict=False):
            for i in volatile:
                want[i] = got[i]
            for i in snippets:
                want[i], got[i] = _highlights(want[i]), _highlights(got[i])
            assert got == want, command
        assert len(want_rows) <= len(got_rows), command
