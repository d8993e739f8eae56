"""Alembic environment: the URL comes from dbapp's configuration, or a caller's connection."""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from dbapp.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata

# One advisory lock key for "dbapp schema migration", so concurrent upgrades run one after another.
MIGRATION_LOCK_KEY = 0x64626170_0001


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # Views, and the summary tables their triggers maintain, are written in SQL in their
    # revisions, not modelled; the loader's staging tables are scratch space. None is drift.
    if type_ == "table" and reflected and compare_to is None:
        if name.startswith(("report_", "staging_", "summary_")):
            return False
    return True


def run_migrations_offline() -> None:
    from dbapp.config import get_settings

    settings = get_settings(database_url=config.get_main_option("sqlalchemy.url") or None)
    if settings.database_url is None:
        raise SystemExit("offline (--sql) mode needs DATABASE_URL or --database-url")
    context.configure(
        url=settings.database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        compare_server_default=False,
    )
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
        return
    from dbapp.config import get_settings
    from dbapp.db import open_database

    settings = get_settings(database_url=config.get_main_option("sqlalchemy.url") or None)
    with open_database(settings) as db, db.engine.connect() as conn:
        do_run_migrations(conn)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
