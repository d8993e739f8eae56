"""Read-only role for BI tools and SQL users: SELECT on every table and view, nothing else.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

`dbapp_reader` cannot log in; `dbapp db grant-reader NAME` creates a login that is a member.
Roles belong to the whole server, so the role is created only if missing and dropped only if no
other database still uses it. Without the CREATEROLE privilege (some managed servers) the
migration skips the role and says so; an administrator can create it and re-run the grants.

Frozen history: never import from dbapp here; write views and functions in full SQL.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "dbapp_reader"


def upgrade() -> None:
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user
                           AND (rolsuper OR rolcreaterole)) THEN
                    CREATE ROLE {ROLE} NOLOGIN;
                ELSE
                    RAISE NOTICE 'no CREATEROLE privilege: role {ROLE} not created';
                    RETURN;
                END IF;
            END IF;
            EXECUTE format('GRANT CONNECT ON DATABASE %I TO {ROLE}', current_database());
            GRANT USAGE ON SCHEMA public TO {ROLE};
            GRANT SELECT ON ALL TABLES IN SCHEMA public TO {ROLE};
            -- Tables and views later migrations create are readable too.
            ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {ROLE};
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
                RETURN;
            END IF;
            ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM {ROLE};
            REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM {ROLE};
            REVOKE USAGE ON SCHEMA public FROM {ROLE};
            EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM {ROLE}', current_database());
            BEGIN
                DROP ROLE {ROLE};
            EXCEPTION WHEN dependent_objects_still_exist OR object_in_use THEN
                RAISE NOTICE 'role {ROLE} is still used by another database; kept';
            END;
        END
        $$
        """
    )
