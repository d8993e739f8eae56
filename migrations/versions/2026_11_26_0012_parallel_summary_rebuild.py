"""The summary rebuild in two halves a bulk load can run at once.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26

- `summary_rebuild_counts()` recomputes the per-day, month, year, source and entity tables;
  `summary_rebuild_pairs()` the co-mention pairs (the heaviest single part). Neither touches
  `summary_state`: a bulk load runs both at once on two connections (beside its index builds)
  and marks the summaries fresh only when both have committed.
- `summary_rebuild()` stays the one-call form (both halves, then fresh), as before.

Frozen history: never import from dbapp here; functions are written in full SQL.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE FUNCTION summary_rebuild_counts() RETURNS void LANGUAGE plpgsql
    SET work_mem = '256MB' SET maintenance_work_mem = '512MB' AS $$
DECLARE
    empty boolean;
BEGIN
    LOCK TABLE summary_source_days, summary_entity_days, summary_entity_months,
               summary_entity_years, summary_entity_sources, summary_source_entity_counts,
               summary_entities IN EXCLUSIVE MODE;
    empty := NOT EXISTS (SELECT 1 FROM summary_entity_days);
    DELETE FROM summary_source_days;
    DELETE FROM summary_entity_sources;
    DELETE FROM summary_source_entity_counts;
    DELETE FROM summary_entities;
    IF empty THEN
        -- Readers of the (empty) tables would wait; one holding them open makes it the
        -- slower way instead of a wait.
        BEGIN
            LOCK TABLE summary_entity_days, summary_entity_months, summary_entity_years
                IN ACCESS EXCLUSIVE MODE NOWAIT;
        EXCEPTION WHEN lock_not_available THEN
            empty := false;
        END;
    END IF;
    IF empty THEN
        DROP INDEX ux_summary_entity_days, ix_summary_entity_days_day,
                   ux_summary_entity_months, ix_summary_entity_months_month,
                   ix_summary_entity_months_source_id_month, ux_summary_entity_years,
                   ix_summary_entity_years_source_id_year;
        TRUNCATE summary_entity_days, summary_entity_months, summary_entity_years;
    ELSE
        DELETE FROM summary_entity_days;
        DELETE FROM summary_entity_months;
        DELETE FROM summary_entity_years;
    END IF;

    INSERT INTO summary_source_days
    SELECT source_id, published_on, count(*), coalesce(sum(word_count), 0)
    FROM documents GROUP BY 1, 2 ORDER BY 1, 2;
    INSERT INTO summary_entity_days
    SELECT p.entity_id, d.source_id, d.published_on, sum(p.n), count(*)
    FROM (SELECT document_id, entity_id, count(*)::integer AS n
          FROM mentions WHERE role <> 'byline' GROUP BY 1, 2) p
    JOIN documents d USING (document_id)
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
    INSERT INTO summary_entity_months
    SELECT entity_id, source_id, date_trunc('month', day)::date, sum(mentions), sum(documents)
    FROM summary_entity_days GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
    INSERT INTO summary_entity_years
    SELECT entity_id, source_id, date_trunc('year', month)::date, sum(documents)
    FROM summary_entity_months GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
    INSERT INTO summary_entity_sources
    SELECT entity_id, source_id, sum(mentions), sum(documents), min(day), max(day)
    FROM summary_entity_days GROUP BY 1, 2 ORDER BY 1, 2;
    INSERT INTO summary_source_entity_counts
    SELECT source_id, 'month', month, count(*) FROM summary_entity_months GROUP BY 1, 3
    UNION ALL
    SELECT source_id, 'year', year, count(*) FROM summary_entity_years GROUP BY 1, 3;
    INSERT INTO summary_entities
    SELECT entity_id, sum(mentions), sum(documents) FROM summary_entity_sources GROUP BY 1
    ORDER BY 1;

    IF empty THEN
        CREATE UNIQUE INDEX ux_summary_entity_days ON summary_entity_days
            (entity_id, source_id, day) NULLS NOT DISTINCT;
        CREATE INDEX ix_summary_entity_days_day ON summary_entity_days (day);
        CREATE UNIQUE INDEX ux_summary_entity_months ON summary_entity_months
            (entity_id, source_id, month) NULLS NOT DISTINCT;
        CREATE INDEX ix_summary_entity_months_month ON summary_entity_months (month);
        CREATE INDEX ix_summary_entity_months_source_id_month ON summary_entity_months
            (source_id, month);
        CREATE UNIQUE INDEX ux_summary_entity_years ON summary_entity_years
            (entity_id, source_id, year) NULLS NOT DISTINCT;
        CREATE INDEX ix_summary_entity_years_source_id_year ON summary_entity_years
            (source_id, year);
    END IF;
    -- Fresh statistics: the next queries plan against the new row counts.
    ANALYZE summary_source_days, summary_entity_days, summary_entity_months,
            summary_entity_years, summary_entity_sources, summary_source_entity_counts,
            summary_entities;
END
$$;

CREATE FUNCTION summary_rebuild_pairs() RETURNS void LANGUAGE plpgsql
    SET work_mem = '256MB' SET maintenance_work_mem = '512MB' AS $$
DECLARE
    empty boolean;
BEGIN
    LOCK TABLE summary_entity_pairs IN EXCLUSIVE MODE;
    empty := NOT EXISTS (SELECT 1 FROM summary_entity_pairs);
    IF empty THEN
        BEGIN
            LOCK TABLE summary_entity_pairs IN ACCESS EXCLUSIVE MODE NOWAIT;
        EXCEPTION WHEN lock_not_available THEN
            empty := false;
        END;
    END IF;
    IF empty THEN
        DROP INDEX ix_summary_entity_pairs_entity_b_id, ix_summary_entity_pairs_documents;
        ALTER TABLE summary_entity_pairs DROP CONSTRAINT summary_entity_pairs_pkey;
        TRUNCATE summary_entity_pairs;
    ELSE
        DELETE FROM summary_entity_pairs;
    END IF;
    -- Each (document, entity) once: a pair counts the documents naming both.
    CREATE TEMPORARY TABLE summary_rebuild_pairs ON COMMIT DROP AS
    SELECT DISTINCT document_id, entity_id FROM mentions WHERE role <> 'byline';
    INSERT INTO summary_entity_pairs
    SELECT a.entity_id, b.entity_id, count(*)
    FROM summary_rebuild_pairs a
    JOIN summary_rebuild_pairs b ON b.document_id = a.document_id AND a.entity_id < b.entity_id
    GROUP BY 1, 2 ORDER BY 1, 2;
    DROP TABLE summary_rebuild_pairs;
    IF empty THEN
        ALTER TABLE summary_entity_pairs ADD CONSTRAINT summary_entity_pairs_pkey
            PRIMARY KEY (entity_a_id, entity_b_id);
        CREATE INDEX ix_summary_entity_pairs_entity_b_id ON summary_entity_pairs (entity_b_id);
        CREATE INDEX ix_summary_entity_pairs_documents ON summary_entity_pairs (documents DESC);
    END IF;
    ANALYZE summary_entity_pairs;
END
$$;

CREATE OR REPLACE FUNCTION summary_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM summary_rebuild_counts();
    PERFORM summary_rebuild_pairs();
    UPDATE summary_state SET stale = false, reason = NULL, marked_at = now();
END
$$;
"""

# Revision 0008's one-piece rebuild, as it was.
DOWNGRADE = """
DROP FUNCTION summary_rebuild_counts();
DROP FUNCTION summary_rebuild_pairs();
CREATE OR REPLACE FUNCTION summary_rebuild() RETURNS void LANGUAGE plpgsql
    SET work_mem = '256MB' SET maintenance_work_mem = '512MB' AS $$
DECLARE
    empty boolean;
BEGIN
    LOCK TABLE summary_source_days, summary_entity_days, summary_entity_months,
               summary_entity_years, summary_entity_sources, summary_source_entity_counts,
               summary_entities, summary_entity_pairs IN EXCLUSIVE MODE;
    empty := NOT EXISTS (SELECT 1 FROM summary_entity_days)
             AND NOT EXISTS (SELECT 1 FROM summary_entity_pairs);
    DELETE FROM summary_source_days;
    DELETE FROM summary_entity_sources;
    DELETE FROM summary_source_entity_counts;
    DELETE FROM summary_entities;
    IF empty THEN
        -- Readers of the (empty) tables would wait; one holding them open makes it the
        -- slower way instead of a wait.
        BEGIN
            LOCK TABLE summary_entity_days, summary_entity_months, summary_entity_years,
                       summary_entity_pairs IN ACCESS EXCLUSIVE MODE NOWAIT;
        EXCEPTION WHEN lock_not_available THEN
            empty := false;
        END;
    END IF;
    IF empty THEN
        DROP INDEX ux_summary_entity_days, ix_summary_entity_days_day,
                   ux_summary_entity_months, ix_summary_entity_months_month,
                   ix_summary_entity_months_source_id_month, ux_summary_entity_years,
                   ix_summary_entity_years_source_id_year, ix_summary_entity_pairs_entity_b_id,
                   ix_summary_entity_pairs_documents;
        ALTER TABLE summary_entity_pairs DROP CONSTRAINT summary_entity_pairs_pkey;
        TRUNCATE summary_entity_days, summary_entity_months, summary_entity_years,
                 summary_entity_pairs;
    ELSE
        DELETE FROM summary_entity_days;
        DELETE FROM summary_entity_months;
        DELETE FROM summary_entity_years;
        DELETE FROM summary_entity_pairs;
    END IF;

    INSERT INTO summary_source_days
    SELECT source_id, published_on, count(*), coalesce(sum(word_count), 0)
    FROM documents GROUP BY 1, 2 ORDER BY 1, 2;
    -- (document, entity) with its mentions, once: the days and the pairs both start here.
    CREATE TEMPORARY TABLE summary_rebuild_pairs ON COMMIT DROP AS
    SELECT document_id, entity_id, count(*)::integer AS n
    FROM mentions WHERE role <> 'byline' GROUP BY 1, 2;
    INSERT INTO summary_entity_days
    SELECT p.entity_id, d.source_id, d.published_on, sum(p.n), count(*)
    FROM summary_rebuild_pairs p JOIN documents d USING (document_id)
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
    INSERT INTO summary_entity_months
    SELECT entity_id, source_id, date_trunc('month', day)::date, sum(mentions), sum(documents)
    FROM summary_entity_days GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
    INSERT INTO summary_entity_years
    SELECT entity_id, source_id, date_trunc('year', month)::date, sum(documents)
    FROM summary_entity_months GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
    INSERT INTO summary_entity_sources
    SELECT entity_id, source_id, sum(mentions), sum(documents), min(day), max(day)
    FROM summary_entity_days GROUP BY 1, 2 ORDER BY 1, 2;
    INSERT INTO summary_source_entity_counts
    SELECT source_id, 'month', month, count(*) FROM summary_entity_months GROUP BY 1, 3
    UNION ALL
    SELECT source_id, 'year', year, count(*) FROM summary_entity_years GROUP BY 1, 3;
    INSERT INTO summary_entities
    SELECT entity_id, sum(mentions), sum(documents) FROM summary_entity_sources GROUP BY 1
    ORDER BY 1;
    INSERT INTO summary_entity_pairs
    SELECT a.entity_id, b.entity_id, count(*)
    FROM summary_rebuild_pairs a
    JOIN summary_rebuild_pairs b ON b.document_id = a.document_id AND a.entity_id < b.entity_id
    GROUP BY 1, 2 ORDER BY 1, 2;
    DROP TABLE summary_rebuild_pairs;

    IF empty THEN
        CREATE UNIQUE INDEX ux_summary_entity_days ON summary_entity_days
            (entity_id, source_id, day) NULLS NOT DISTINCT;
        CREATE INDEX ix_summary_entity_days_day ON summary_entity_days (day);
        CREATE UNIQUE INDEX ux_summary_entity_months ON summary_entity_months
            (entity_id, source_id, month) NULLS NOT DISTINCT;
        CREATE INDEX ix_summary_entity_months_month ON summary_entity_months (month);
        CREATE INDEX ix_summary_entity_months_source_id_month ON summary_entity_months
            (source_id, month);
        CREATE UNIQUE INDEX ux_summary_entity_years ON summary_entity_years
            (entity_id, source_id, year) NULLS NOT DISTINCT;
        CREATE INDEX ix_summary_entity_years_source_id_year ON summary_entity_years
            (source_id, year);
        ALTER TABLE summary_entity_pairs ADD CONSTRAINT summary_entity_pairs_pkey
            PRIMARY KEY (entity_a_id, entity_b_id);
        CREATE INDEX ix_summary_entity_pairs_entity_b_id ON summary_entity_pairs (entity_b_id);
        CREATE INDEX ix_summary_entity_pairs_documents ON summary_entity_pairs (documents DESC);
    END IF;
    UPDATE summary_state SET stale = false, reason = NULL, marked_at = now();
    -- Fresh statistics: the next queries plan against the new row counts.
    ANALYZE summary_source_days, summary_entity_days, summary_entity_months,
            summary_entity_years, summary_entity_sources, summary_source_entity_counts,
            summary_entities, summary_entity_pairs;
END
$$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
