"""dbapp: a relational document database for news, on PostgreSQL.

From Python: ``with dbapp.connect() as db: db.report("top-entities")`` (see :mod:`dbapp.api`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Dbapp", "DbappError", "LoadSummary", "__version__", "connect"]

if TYPE_CHECKING:
    from dbapp.api import Dbapp, LoadSummary, connect
    from dbapp.errors import DbappError


def __getattr__(name: str) -> Any:
    # Imported on first use: the CLI starts without SQLAlchemy's models being loaded twice.
    if name in ("connect", "Dbapp", "LoadSummary"):
        from dbapp import api

        return getattr(api, name)
    if name == "DbappError":  # what every error of dbapp's is, to catch in a notebook
        from dbapp.errors import DbappError

        return DbappError
    raise AttributeError(f"module 'dbapp' has no attribute {name!r}")
