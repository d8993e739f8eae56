"""What every command shares: consoles, settings from the context, and the error edge."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError, OperationalError

from dbapp.config import Settings
from dbapp.errors import DatabaseUnavailable, DbappError

F = TypeVar("F", bound=Callable[..., Any])

# Outside a terminal (pipes, CI logs) rich would squeeze tables into 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)

EXIT_INTERRUPTED = 130


def settings(ctx: typer.Context) -> Settings:
    """The settings the top-level callback resolved."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Settings)
    return obj


def _first_line(exc: Exception) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


def handle_errors(fn: F) -> F:
    """Turn domain errors into one line on stderr and the error's exit code (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DbappError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(code=exc.exit_code) from None
        except (OperationalError, psycopg.OperationalError) as exc:
            err.print(f"[red]error:[/red] database connection failed: {escape(_first_line(exc))}")
            raise typer.Exit(code=DatabaseUnavailable.exit_code) from None
        except (DBAPIError, psycopg.Error) as exc:
            err.print(f"[red]error:[/red] database error: {escape(_first_line(exc))}")
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/yellow]")
            raise typer.Exit(code=EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]
