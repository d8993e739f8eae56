"""Every command has help and an example, and is in the README."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from dbapp.cli import app
from dbapp.report import list_reports

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


def test_every_report_is_in_the_readme() -> None:
    for name in list_reports():
        assert f"dbapp report {name}" in README, name
