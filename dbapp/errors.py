"""The domain exceptions; the CLI turns each into a one-line message and an exit code."""

import unicodedata


class DbappError(Exception):
    """Base class of every error dbapp reports to a user."""

    exit_code = 1


class ConfigError(DbappError):
    """The configuration (URL, data directory, options) is not usable."""

    exit_code = 2


class DatabaseUnavailable(DbappError):
    """The database server cannot be reached."""

    exit_code = 3


class EmbeddedServerError(DbappError):
    """The embedded PostgreSQL server could not be initialised, started or stopped."""

    exit_code = 3


class MigrationError(DbappError):
    """The schema is not where the command needs it (e.g. not migrated, or drifted)."""

    exit_code = 4


class InputError(DbappError):
    """An input path or option cannot be used at all (not a per-record reject)."""

    exit_code = 2


class WorkerDied(DbappError):
    """A parser process ended abnormally (killed, out of memory)."""

    exit_code = 1


class Busy(DbappError):
    """Another session holds a lock this command needs (a load, curation, a bulk build)."""

    exit_code = 6


class ReadOnlyServer(DbappError):
    """The server is a hot-standby replica: it serves reads, never writes."""

    exit_code = 7


class NotFound(DbappError):
    """A named object (report, entity, load) does not exist."""

    exit_code = 2


class BadArgument(DbappError):
    """An option's value cannot be used (e.g. it holds a NUL character)."""

    exit_code = 2


def first_line(exc: BaseException) -> str:
    """The first line of an error (a driver's own error under SQLAlchemy's wrapper), or its
    type's name when it has no text."""
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


def check_text(value: str | None, what: str) -> None:
    """PostgreSQL text cannot hold NUL; say so instead of failing inside the driver."""
    if value is not None and "\x00" in value:
        raise BadArgument(f"{what} contains a NUL character")


def check_name(value: str | None, what: str) -> None:
    """A name or alias holds no control characters (an escape sequence would recolour the
    terminal of whoever lists the catalogue, and no text ever matches one)."""
    check_text(value, what)
    if value is not None and any(unicodedata.category(c) == "Cc" for c in value):
        raise BadArgument(f"{what} {value!r} contains control characters")


MAX_QUERY_WORDS = 1000  # PostgreSQL's parser runs out of stack near 20,000 words of a query


def check_query(value: str | None, what: str = "--query") -> None:
    """A search text PostgreSQL can parse: no NUL, at most MAX_QUERY_WORDS words."""
    check_text(value, what)
    if value is not None and len(value.split()) > MAX_QUERY_WORDS:
        raise BadArgument(
            f"{what} has {len(value.split()):,} words; at most {MAX_QUERY_WORDS:,} are searched"
        )
