"""What every command shares: consoles, settings from the context, and the error edge."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import psycopg
import psycopg.errors
import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import DBAPIError, OperationalError

from dbapp.config import Settings
from dbapp.db import read_only_message
from dbapp.errors import (
    DatabaseUnavailable,
    DbappError,
    MigrationError,
    ReadOnlyServer,
    first_line,
)

F = TypeVar("F", bound=Callable[..., Any])


# Outside a terminal (pipes, CI logs) rich would squeeze tables into 80 columns. Markup and
# emoji codes are off: file names, entity names and messages are data ("[red]x.txt" stays as
# it is); styled words are built with rich.text.Text instead.
class _Console(Console):
    def on_broken_pipe(self) -> None:
        raise BrokenPipeError  # handled at the CLI edge: the reader has what it wanted


out = _Console(
    soft_wrap=True, width=None if sys.stdout.isatty() else 200, markup=False, emoji=False
)
err = Console(
    stderr=True,
    soft_wrap=True,
    width=None if sys.stderr.isatty() else 200,
    markup=False,
    emoji=False,
)


# C0 controls (but newline and tab), DEL and C1 controls as visible symbols, one character for
# one: stored text may hold escape sequences that would recolour or retitle the terminal, and a
# terminal drops BEL or BS, which would shift every highlight after them.
_VISIBLE = (
    {c: 0x2400 + c for c in range(32) if c not in (9, 10)}
    | {127: 0x2421}
    | dict.fromkeys(range(128, 160), 65533)
    # Bidirectional overrides and isolates reorder what follows them on the line.
    | dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)], 65533)
)


def counted(n: int, one: str, many: str) -> str:
    """``1 mention``, ``1,204 mentions``."""
    return f"{n:,} {one if n == 1 else many}"


def printable(value: str) -> str:
    """``value`` safe for a terminal, with the same length (offsets into it stay right)."""
    return value.translate(_VISIBLE)


def styled(label: str, style: str, rest: str = "") -> Text:
    """``label`` in ``style`` followed by plain ``rest`` (never read as markup)."""
    return Text.assemble((label, style), rest)


def print_error(message: str) -> None:
    err.print(styled("error:", "red", " " + message), highlight=False)


EXIT_INTERRUPTED = 130
# Bounds of numeric options: past them a value is a usage error (exit 2), not a database one.
MAX_ROWS = 1_000_000
MAX_BATCH = 100_000
MAX_ID = 2**31 - 1


# --port of `db start` and `db replica start`.
PortOption = Annotated[
    int | None,
    typer.Option(min=1, max=65535, help="TCP port on 127.0.0.1 [default: the last one, or free]."),
]


def settings(ctx: typer.Context) -> Settings:
    """The settings the top-level callback resolved."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Settings)
    return obj


def handle_errors(fn: F) -> F:
    """Turn errors into one line on stderr and a meaningful exit code (no traceback).

    ``DBAPP_DEBUG=1`` shows the traceback of an unexpected error instead.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DbappError as exc:
            print_error(str(exc))
            raise typer.Exit(code=exc.exit_code) from None
        except (OperationalError, psycopg.OperationalError) as exc:
            orig = getattr(exc, "orig", None) or exc
            if isinstance(orig, psycopg.errors.TransactionRollback):
                # A deadlock or serialization failure: the transaction rolled back whole.
                print_error(
                    f"database error: {first_line(exc)} (its transaction was rolled back "
                    "whole; run the command again)"
                )
                raise typer.Exit(code=1) from None
            print_error(f"database connection failed: {first_line(exc)}")
            raise typer.Exit(code=DatabaseUnavailable.exit_code) from None
        except (DBAPIError, psycopg.Error) as exc:
            orig = getattr(exc, "orig", None) or exc
            if isinstance(orig, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn):
                print_error(
                    f"the database schema is not migrated ({first_line(exc)}): "
                    "run `dbapp db upgrade`"
                )
                raise typer.Exit(code=MigrationError.exit_code) from None
            if isinstance(orig, psycopg.errors.ReadOnlySqlTransaction):
                print_error(read_only_message(first_line(exc)))
                raise typer.Exit(code=ReadOnlyServer.exit_code) from None
            print_error(f"database error: {first_line(exc)}")
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt:
            err.print(styled("interrupted", "yellow"))
            raise typer.Exit(code=EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            # The reader went away (`| head`): it has what it wanted. Point stdout at
            # /dev/null so the interpreter's final flush does not complain either.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(code=0) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own: usage errors, exits
        except Exception as exc:
            if os.environ.get("DBAPP_DEBUG"):
                raise
            print_error(
                f"unexpected {type(exc).__name__}: {exc} "
                "(a bug: DBAPP_DEBUG=1 shows the traceback; please report it)"
            )
            raise typer.Exit(code=1) from None

    return wrapper  # type: ignore[return-value]
