"""Summary tables kept exact at every commit, in place of refreshed materialized views.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25

The six materialized report views needed a full REFRESH (about 3 minutes at a million articles)
after every change. They become plain views, with the same names and columns, over summary
tables that triggers on `documents` and `mentions` keep exact in the same transaction as the
change: whoever writes (the loader, re-extraction, curation, deletes, or plain SQL), the
summaries commit or roll back with it.

How the triggers count:
- Statement-level AFTER triggers with transition tables, so a batch of 14,000 mentions costs a
  few set-based statements, not 14,000 calls.
- Mentions are folded to (document, entity) changes; whether a document newly mentions an entity
  (or no longer does) is read from the mentions left after the statement, so article counts stay
  distinct counts when re-extraction adds a mention to a document, or a merge re-points one.
- Co-mentioned pairs change only in documents whose set of entities changed.
- Every upsert is ordered by its key, and the tables are always written in the same order
  (summary_source_days first, then the entity tables), so concurrent writers wait for each
  other instead of deadlocking.
- Rows that fall to zero are deleted; first/last seen are recomputed for keys that lost rows.
- A document deleted by any means first deletes its mentions (a BEFORE DELETE row trigger), so
  mention summaries are subtracted while the document's source and date are still readable.
- A bulk first load sets `dbapp.defer_summaries = on` on its own connections and marks the
  summaries stale (summary_state); summary_rebuild() recomputes them at its end, or the next
  load does if it died.

Frozen history: never import from dbapp here; write views and functions in full SQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = """
CREATE TABLE summary_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    stale boolean NOT NULL DEFAULT false,
    reason text,
    marked_at timestamptz
);
INSERT INTO summary_state (singleton) VALUES (true);
COMMENT ON TABLE summary_state IS
    'One row: whether the summary_ tables are stale (a bulk load defers them) and why.';

CREATE TABLE summary_source_days (
    source_id integer NOT NULL,
    day date,
    documents integer NOT NULL,
    words bigint NOT NULL
);
CREATE UNIQUE INDEX ux_summary_source_days ON summary_source_days (source_id, day)
    NULLS NOT DISTINCT;
CREATE INDEX ix_summary_source_days_day ON summary_source_days (day);

CREATE TABLE summary_entity_days (
    entity_id integer NOT NULL,
    source_id integer NOT NULL,
    day date,
    mentions integer NOT NULL,
    documents integer NOT NULL
);
CREATE UNIQUE INDEX ux_summary_entity_days ON summary_entity_days (entity_id, source_id, day)
    NULLS NOT DISTINCT;
CREATE INDEX ix_summary_entity_days_day ON summary_entity_days (day);

CREATE TABLE summary_entity_months (
    entity_id integer NOT NULL,
    source_id integer NOT NULL,
    month date,
    mentions bigint NOT NULL,
    documents bigint NOT NULL
);
CREATE UNIQUE INDEX ux_summary_entity_months ON summary_entity_months
    (entity_id, source_id, month) NULLS NOT DISTINCT;
CREATE INDEX ix_summary_entity_months_month ON summary_entity_months (month);
CREATE INDEX ix_summary_entity_months_source_id_month ON summary_entity_months
    (source_id, month);

CREATE TABLE summary_entity_years (
    entity_id integer NOT NULL,
    source_id integer NOT NULL,
    year date,
    documents bigint NOT NULL
);
CREATE UNIQUE INDEX ux_summary_entity_years ON summary_entity_years
    (entity_id, source_id, year) NULLS NOT DISTINCT;
CREATE INDEX ix_summary_entity_years_source_id_year ON summary_entity_years (source_id, year);

CREATE TABLE summary_entity_sources (
    entity_id integer NOT NULL,
    source_id integer NOT NULL,
    mentions bigint NOT NULL,
    documents bigint NOT NULL,
    first_seen date,
    last_seen date,
    PRIMARY KEY (entity_id, source_id)
);

CREATE TABLE summary_source_entity_counts (
    source_id integer NOT NULL,
    grain text NOT NULL CHECK (grain IN ('month', 'year')),
    period date,
    entities integer NOT NULL
);
CREATE UNIQUE INDEX ux_summary_source_entity_counts ON summary_source_entity_counts
    (source_id, grain, period) NULLS NOT DISTINCT;

CREATE TABLE summary_entities (
    entity_id integer PRIMARY KEY,
    mentions bigint NOT NULL,
    documents bigint NOT NULL
);

CREATE TABLE summary_entity_pairs (
    entity_a_id integer NOT NULL,
    entity_b_id integer NOT NULL,
    documents integer NOT NULL,
    PRIMARY KEY (entity_a_id, entity_b_id),
    CHECK (entity_a_id < entity_b_id)
);
CREATE INDEX ix_summary_entity_pairs_entity_b_id ON summary_entity_pairs (entity_b_id);
CREATE INDEX ix_summary_entity_pairs_documents ON summary_entity_pairs (documents DESC);

"""

SUMMARY_TABLES = (
    "summary_source_days",
    "summary_entity_days",
    "summary_entity_months",
    "summary_entity_years",
    "summary_entity_sources",
    "summary_source_entity_counts",
    "summary_entities",
    "summary_entity_pairs",
)

FUNCTIONS = r"""
CREATE FUNCTION summary_deferred() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('dbapp.defer_summaries', true), '') = 'on'
$$;

-- Scratch tables of the session that fires a trigger (temporary: private, no WAL).
CREATE FUNCTION summary_scratch() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.summary_mention_changes') IS NULL THEN
        CREATE TEMPORARY TABLE summary_mention_changes (
            document_id bigint, entity_id integer, delta integer
        ) ON COMMIT DELETE ROWS;
        CREATE TEMPORARY TABLE summary_touched (
            document_id bigint, entity_id integer, source_id integer, day date,
            mentions integer, present integer
        ) ON COMMIT DELETE ROWS;
        -- Summary rows that fell to zero (to delete), by table; k is the day, month or year.
        CREATE TEMPORARY TABLE summary_gone (
            tbl text, entity_id integer, source_id integer, k date
        ) ON COMMIT DELETE ROWS;
        -- Entity rows per (source, month/year) created (+1) or gone (-1).
        CREATE TEMPORARY TABLE summary_count_changes (
            source_id integer, grain text, period date, delta integer
        ) ON COMMIT DELETE ROWS;
    END IF;
END
$$;

-- Fold summary_mention_changes (document, entity, +/- mentions) into every entity summary.
-- Called by the mention triggers; empties the scratch tables when done. Every statement is a
-- join on a summary table's unique key, so the work follows the rows changed, not the size of
-- the database.
CREATE FUNCTION summary_apply_mentions() RETURNS void LANGUAGE plpgsql
    SET work_mem = '64MB' AS $$
DECLARE
    lost boolean;
BEGIN
    -- Two transactions changing one document's mentions take turns here, so each reads the
    -- other's committed mentions below (a fresh snapshot per statement); the lock does not
    -- block foreign-key checks (loads) or readers.
    PERFORM 1 FROM documents
    WHERE document_id IN (SELECT DISTINCT document_id FROM summary_mention_changes)
    ORDER BY document_id FOR NO KEY UPDATE;
    -- Per (document, entity): the change in mentions, and in presence (did the document mention
    -- the entity before, does it now), read from the mentions as they are after the statement.
    INSERT INTO summary_touched
    SELECT c.document_id, c.entity_id, d.source_id, d.published_on, c.delta,
           (now_.n > 0)::integer - (now_.n - c.delta > 0)::integer
    FROM (SELECT document_id, entity_id, sum(delta)::integer AS delta
          FROM summary_mention_changes GROUP BY 1, 2) c
    JOIN documents d ON d.document_id = c.document_id
    CROSS JOIN LATERAL (
        SELECT count(*)::integer AS n FROM mentions m
        WHERE m.entity_id = c.entity_id AND m.document_id = c.document_id AND m.role <> 'byline'
    ) now_
    WHERE c.delta <> 0;
    DELETE FROM summary_mention_changes;
    IF NOT EXISTS (SELECT 1 FROM summary_touched) THEN
        RETURN;
    END IF;
    -- Temporary tables get no statistics from autovacuum; plans need them.
    ANALYZE summary_touched;
    lost := EXISTS (SELECT 1 FROM summary_touched WHERE mentions < 0 OR present < 0);

    WITH up AS (
        INSERT INTO summary_entity_days AS s (entity_id, source_id, day, mentions, documents)
        SELECT entity_id, source_id, day, sum(mentions), sum(present)
        FROM summary_touched GROUP BY 1, 2, 3
        HAVING sum(mentions) <> 0 OR sum(present) <> 0
        ORDER BY 1, 2, 3
        ON CONFLICT (entity_id, source_id, day) DO UPDATE
            SET mentions = s.mentions + excluded.mentions,
                documents = s.documents + excluded.documents
        RETURNING s.entity_id, s.source_id, s.day, s.documents, s.mentions
    )
    INSERT INTO summary_gone
    SELECT 'days', entity_id, source_id, day FROM up WHERE documents <= 0 AND mentions <= 0;

    WITH up AS (
        INSERT INTO summary_entity_months AS s (entity_id, source_id, month, mentions, documents)
        SELECT entity_id, source_id, date_trunc('month', day)::date, sum(mentions), sum(present)
        FROM summary_touched GROUP BY 1, 2, 3
        HAVING sum(mentions) <> 0 OR sum(present) <> 0
        ORDER BY 1, 2, 3
        ON CONFLICT (entity_id, source_id, month) DO UPDATE
            SET mentions = s.mentions + excluded.mentions,
                documents = s.documents + excluded.documents
        -- xmax is 0 on a row this statement inserted (and not on one it updated).
        RETURNING s.entity_id, s.source_id, s.month, s.documents, s.mentions,
                  (s.xmax = 0) AS created
    ),
    gone AS (
        INSERT INTO summary_gone
        SELECT 'months', entity_id, source_id, month FROM up
        WHERE documents <= 0 AND mentions <= 0
    )
    INSERT INTO summary_count_changes
    SELECT source_id, 'month', month, count(*) FROM up WHERE created GROUP BY 1, 3;

    WITH up AS (
        INSERT INTO summary_entity_years AS s (entity_id, source_id, year, documents)
        SELECT entity_id, source_id, date_trunc('year', day)::date, sum(present)
        FROM summary_touched GROUP BY 1, 2, 3
        HAVING sum(present) <> 0
        ORDER BY 1, 2, 3
        ON CONFLICT (entity_id, source_id, year) DO UPDATE
            SET documents = s.documents + excluded.documents
        RETURNING s.entity_id, s.source_id, s.year, s.documents, (s.xmax = 0) AS created
    ),
    gone AS (
        INSERT INTO summary_gone
        SELECT 'years', entity_id, source_id, year FROM up WHERE documents <= 0
    )
    INSERT INTO summary_count_changes
    SELECT source_id, 'year', year, count(*) FROM up WHERE created GROUP BY 1, 3;

    WITH up AS (
        INSERT INTO summary_entity_sources AS s
            (entity_id, source_id, mentions, documents, first_seen, last_seen)
        SELECT entity_id, source_id, sum(mentions), sum(present),
               min(day) FILTER (WHERE present > 0), max(day) FILTER (WHERE present > 0)
        FROM summary_touched GROUP BY 1, 2
        -- (a document moved to another day nets to zero, but may move first or last seen)
        HAVING sum(mentions) <> 0 OR sum(present) <> 0 OR bool_or(present > 0)
        ORDER BY 1, 2
        ON CONFLICT (entity_id, source_id) DO UPDATE
            SET mentions = s.mentions + excluded.mentions,
                documents = s.documents + excluded.documents,
                first_seen = least(s.first_seen, excluded.first_seen),
                last_seen = greatest(s.last_seen, excluded.last_seen)
        RETURNING s.entity_id, s.source_id, s.documents, s.mentions
    )
    INSERT INTO summary_gone
    SELECT 'sources', entity_id, source_id, NULL FROM up WHERE documents <= 0 AND mentions <= 0;

    IF lost THEN
        ANALYZE summary_gone;
        DELETE FROM summary_entity_days s USING summary_gone g
        WHERE g.tbl = 'days' AND s.entity_id = g.entity_id AND s.source_id = g.source_id
          AND s.day = g.k;
        DELETE FROM summary_entity_days s USING summary_gone g
        WHERE g.tbl = 'days' AND s.entity_id = g.entity_id AND s.source_id = g.source_id
          AND s.day IS NULL AND g.k IS NULL;
        DELETE FROM summary_entity_months s USING summary_gone g
        WHERE g.tbl = 'months' AND s.entity_id = g.entity_id AND s.source_id = g.source_id
          AND s.month = g.k;
        DELETE FROM summary_entity_months s USING summary_gone g
        WHERE g.tbl = 'months' AND s.entity_id = g.entity_id AND s.source_id = g.source_id
          AND s.month IS NULL AND g.k IS NULL;
        DELETE FROM summary_entity_years s USING summary_gone g
        WHERE g.tbl = 'years' AND s.entity_id = g.entity_id AND s.source_id = g.source_id
          AND s.year = g.k;
        DELETE FROM summary_entity_years s USING summary_gone g
        WHERE g.tbl = 'years' AND s.entity_id = g.entity_id AND s.source_id = g.source_id
          AND s.year IS NULL AND g.k IS NULL;
        DELETE FROM summary_entity_sources s USING summary_gone g
        WHERE g.tbl = 'sources' AND s.entity_id = g.entity_id AND s.source_id = g.source_id;
        INSERT INTO summary_count_changes
        SELECT source_id, CASE tbl WHEN 'months' THEN 'month' ELSE 'year' END, k, -count(*)
        FROM summary_gone WHERE tbl IN ('months', 'years') GROUP BY 1, 2, 3;
        -- min/max cannot be un-counted: where a day that went was the first or last seen,
        -- read them again (the unique index answers min and max directly).
        UPDATE summary_entity_sources s
        SET first_seen = (SELECT min(e.day) FROM summary_entity_days e
                          WHERE e.entity_id = s.entity_id AND e.source_id = s.source_id),
            last_seen = (SELECT max(e.day) FROM summary_entity_days e
                         WHERE e.entity_id = s.entity_id AND e.source_id = s.source_id)
        FROM (SELECT DISTINCT entity_id, source_id, k FROM summary_gone WHERE tbl = 'days') g
        WHERE s.entity_id = g.entity_id AND s.source_id = g.source_id
          AND (g.k = s.first_seen OR g.k = s.last_seen);
        DELETE FROM summary_gone;
    END IF;

    -- Distinct entities per source and month/year: the entity rows created and gone.
    INSERT INTO summary_source_entity_counts AS s (source_id, grain, period, entities)
    SELECT source_id, grain, period, sum(delta) FROM summary_count_changes
    GROUP BY 1, 2, 3 HAVING sum(delta) <> 0
    ORDER BY 1, 2, 3
    ON CONFLICT (source_id, grain, period) DO UPDATE SET entities = s.entities + excluded.entities;
    IF lost THEN
        DELETE FROM summary_source_entity_counts s
        USING (SELECT DISTINCT source_id FROM summary_count_changes) c
        WHERE s.source_id = c.source_id AND s.entities <= 0;
    END IF;
    DELETE FROM summary_count_changes;

    WITH up AS (
        INSERT INTO summary_entities AS s (entity_id, mentions, documents)
        SELECT entity_id, sum(mentions), sum(present)
        FROM summary_touched GROUP BY 1
        HAVING sum(mentions) <> 0 OR sum(present) <> 0
        ORDER BY 1
        ON CONFLICT (entity_id) DO UPDATE
            SET mentions = s.mentions + excluded.mentions,
                documents = s.documents + excluded.documents
        RETURNING s.entity_id, s.documents, s.mentions
    )
    INSERT INTO summary_gone SELECT 'entities', entity_id, NULL, NULL FROM up
    WHERE documents <= 0 AND mentions <= 0;
    IF lost THEN
        DELETE FROM summary_entities s USING summary_gone g
        WHERE g.tbl = 'entities' AND s.entity_id = g.entity_id;
    END IF;

    -- Pairs change only in documents whose set of entities changed: pairs with an entity that
    -- arrived (against the set now) count +1, pairs with one that left (against the set
    -- before) count -1, each pair once per document.
    WITH changed AS (
        SELECT document_id, entity_id, present FROM summary_touched WHERE present <> 0
    ),
    now_ AS (
        -- Per document through the index (OFFSET 0 keeps it a lookup per document: the
        -- planner misjudges the join and would read all of mentions).
        SELECT DISTINCT c.document_id, m.entity_id
        FROM (SELECT DISTINCT document_id FROM changed) c
        CROSS JOIN LATERAL (
            SELECT x.entity_id FROM mentions x
            WHERE x.document_id = c.document_id AND x.role <> 'byline' OFFSET 0
        ) m
    ),
    before AS (
        SELECT document_id, entity_id FROM now_
        EXCEPT SELECT document_id, entity_id FROM changed WHERE present > 0
        UNION SELECT document_id, entity_id FROM changed WHERE present < 0
    ),
    pairs AS (
        SELECT DISTINCT c.document_id, least(c.entity_id, n.entity_id) AS a,
               greatest(c.entity_id, n.entity_id) AS b, 1 AS d
        FROM changed c JOIN now_ n ON n.document_id = c.document_id AND n.entity_id <> c.entity_id
        WHERE c.present > 0
        UNION ALL
        SELECT DISTINCT c.document_id, least(c.entity_id, b.entity_id),
               greatest(c.entity_id, b.entity_id), -1
        FROM changed c
        JOIN before b ON b.document_id = c.document_id AND b.entity_id <> c.entity_id
        WHERE c.present < 0
    ),
    up AS (
        INSERT INTO summary_entity_pairs AS s (entity_a_id, entity_b_id, documents)
        SELECT a, b, sum(d) FROM pairs GROUP BY a, b HAVING sum(d) <> 0 ORDER BY a, b
        ON CONFLICT (entity_a_id, entity_b_id) DO UPDATE
            SET documents = s.documents + excluded.documents
        RETURNING s.entity_a_id, s.entity_b_id, s.documents
    )
    -- (a pair's two entity ids ride in summary_gone's entity_id and source_id)
    INSERT INTO summary_gone SELECT 'pairs', entity_a_id, entity_b_id, NULL FROM up
    WHERE documents <= 0;
    IF lost THEN
        DELETE FROM summary_entity_pairs s USING summary_gone g
        WHERE g.tbl = 'pairs' AND s.entity_a_id = g.entity_id AND s.entity_b_id = g.source_id;
    END IF;

    DELETE FROM summary_touched;
    DELETE FROM summary_gone;
    DELETE FROM summary_count_changes;
END
$$;

CREATE FUNCTION summary_mentions_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF summary_deferred() OR NOT EXISTS (SELECT 1 FROM new_rows) THEN RETURN NULL; END IF;
    PERFORM summary_scratch();
    INSERT INTO summary_mention_changes
    SELECT document_id, entity_id, count(*) FROM new_rows WHERE role <> 'byline' GROUP BY 1, 2;
    PERFORM summary_apply_mentions();
    RETURN NULL;
END
$$;

CREATE FUNCTION summary_mentions_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF summary_deferred() OR NOT EXISTS (SELECT 1 FROM old_rows) THEN RETURN NULL; END IF;
    PERFORM summary_scratch();
    INSERT INTO summary_mention_changes
    SELECT document_id, entity_id, -count(*) FROM old_rows WHERE role <> 'byline' GROUP BY 1, 2;
    PERFORM summary_apply_mentions();
    RETURN NULL;
END
$$;

-- Unchanged rows (a re-stamped extractor version) cancel out: +1 new, -1 old.
CREATE FUNCTION summary_mentions_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF summary_deferred() OR NOT EXISTS (SELECT 1 FROM new_rows) THEN RETURN NULL; END IF;
    PERFORM summary_scratch();
    INSERT INTO summary_mention_changes
    SELECT document_id, entity_id, sum(d) FROM (
        SELECT document_id, entity_id, 1 AS d FROM new_rows WHERE role <> 'byline'
        UNION ALL
        SELECT document_id, entity_id, -1 FROM old_rows WHERE role <> 'byline'
    ) x GROUP BY 1, 2 HAVING sum(d) <> 0;
    PERFORM summary_apply_mentions();
    RETURN NULL;
END
$$;

CREATE FUNCTION summary_documents_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF summary_deferred() OR NOT EXISTS (SELECT 1 FROM new_rows) THEN RETURN NULL; END IF;
    INSERT INTO summary_source_days AS s (source_id, day, documents, words)
    SELECT source_id, published_on, count(*), coalesce(sum(word_count), 0)
    FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (source_id, day) DO UPDATE
        SET documents = s.documents + excluded.documents, words = s.words + excluded.words;
    RETURN NULL;
END
$$;

CREATE FUNCTION summary_documents_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF summary_deferred() OR NOT EXISTS (SELECT 1 FROM old_rows) THEN RETURN NULL; END IF;
    INSERT INTO summary_source_days AS s (source_id, day, documents, words)
    SELECT source_id, published_on, -count(*), -coalesce(sum(word_count), 0)
    FROM old_rows GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (source_id, day) DO UPDATE
        SET documents = s.documents + excluded.documents, words = s.words + excluded.words;
    DELETE FROM summary_source_days s USING (SELECT DISTINCT source_id FROM old_rows) o
    WHERE s.source_id = o.source_id AND s.documents <= 0;
    RETURN NULL;
END
$$;

-- A document that moves to another source or date moves its counts, and its mentions' counts.
CREATE FUNCTION summary_documents_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF summary_deferred() THEN RETURN NULL; END IF;
    IF NOT EXISTS (
        SELECT 1 FROM old_rows o JOIN new_rows n USING (document_id)
        WHERE (o.source_id, o.published_on, o.word_count)
              IS DISTINCT FROM (n.source_id, n.published_on, n.word_count)
    ) THEN
        RETURN NULL;
    END IF;
    INSERT INTO summary_source_days AS s (source_id, day, documents, words)
    SELECT source_id, day, sum(n), sum(w) FROM (
        SELECT source_id, published_on AS day, 1 AS n, word_count AS w FROM new_rows
        UNION ALL
        SELECT source_id, published_on, -1, -word_count FROM old_rows
    ) x GROUP BY 1, 2 HAVING sum(n) <> 0 OR sum(w) <> 0 ORDER BY 1, 2
    ON CONFLICT (source_id, day) DO UPDATE
        SET documents = s.documents + excluded.documents, words = s.words + excluded.words;
    DELETE FROM summary_source_days WHERE documents <= 0;
    PERFORM summary_scratch();
    -- Mentions of moved documents: out of the old (source, day), into the new one.
    INSERT INTO summary_touched
    SELECT m.document_id, m.entity_id, x.source_id, x.day, x.sign * count(*)::integer, x.sign
    FROM (SELECT o.document_id, o.source_id, o.published_on AS day, -1 AS sign
          FROM old_rows o JOIN new_rows n USING (document_id)
          WHERE (o.source_id, o.published_on) IS DISTINCT FROM (n.source_id, n.published_on)
          UNION ALL
          SELECT n.document_id, n.source_id, n.published_on, 1
          FROM old_rows o JOIN new_rows n USING (document_id)
          WHERE (o.source_id, o.published_on) IS DISTINCT FROM (n.source_id, n.published_on)) x
    JOIN mentions m ON m.document_id = x.document_id AND m.role <> 'byline'
    GROUP BY m.document_id, m.entity_id, x.source_id, x.day, x.sign;
    PERFORM summary_apply_mentions();
    RETURN NULL;
END
$$;

-- Mentions go first, while the document's source and date can still be read.
CREATE FUNCTION summary_document_deleting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- dbapp deletes the mentions itself first; an empty DELETE would still fire the
    -- statement triggers, once per document.
    IF EXISTS (SELECT 1 FROM mentions WHERE document_id = OLD.document_id) THEN
        DELETE FROM mentions WHERE document_id = OLD.document_id;
    END IF;
    RETURN OLD;
END
$$;

-- Recompute every summary from documents and mentions, under locks that let readers read and
-- make writers wait (taken in the triggers' order, so they cannot deadlock with them). Empty
-- tables (a bulk load's end, this migration) are filled without their indexes, which are
-- built afterwards: several times faster than maintaining them row by row.
CREATE FUNCTION summary_rebuild() RETURNS void LANGUAGE plpgsql
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

-- TRUNCATE removes every row without row triggers: empty what summarised them.
CREATE FUNCTION summary_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'documents' THEN
        DELETE FROM summary_source_days;
    END IF;
    DELETE FROM summary_entity_days;
    DELETE FROM summary_entity_months;
    DELETE FROM summary_entity_years;
    DELETE FROM summary_entity_sources;
    DELETE FROM summary_source_entity_counts;
    DELETE FROM summary_entities;
    DELETE FROM summary_entity_pairs;
    RETURN NULL;
END
$$;

CREATE TRIGGER summary_documents_truncated AFTER TRUNCATE ON documents
    FOR EACH STATEMENT EXECUTE FUNCTION summary_truncated();
CREATE TRIGGER summary_mentions_truncated AFTER TRUNCATE ON mentions
    FOR EACH STATEMENT EXECUTE FUNCTION summary_truncated();
CREATE TRIGGER summary_documents_inserted AFTER INSERT ON documents
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION summary_documents_inserted();
CREATE TRIGGER summary_documents_deleted AFTER DELETE ON documents
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION summary_documents_deleted();
CREATE TRIGGER summary_documents_updated AFTER UPDATE ON documents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION summary_documents_updated();
CREATE TRIGGER summary_document_deleting BEFORE DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION summary_document_deleting();
CREATE TRIGGER summary_mentions_inserted AFTER INSERT ON mentions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION summary_mentions_inserted();
CREATE TRIGGER summary_mentions_deleted AFTER DELETE ON mentions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION summary_mentions_deleted();
CREATE TRIGGER summary_mentions_updated AFTER UPDATE ON mentions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION summary_mentions_updated();
"""


DROP_FUNCTIONS = """
DROP TRIGGER IF EXISTS summary_mentions_truncated ON mentions;
DROP TRIGGER IF EXISTS summary_documents_truncated ON documents;
DROP FUNCTION IF EXISTS summary_truncated();
DROP TRIGGER IF EXISTS summary_mentions_updated ON mentions;
DROP TRIGGER IF EXISTS summary_mentions_deleted ON mentions;
DROP TRIGGER IF EXISTS summary_mentions_inserted ON mentions;
DROP TRIGGER IF EXISTS summary_document_deleting ON documents;
DROP TRIGGER IF EXISTS summary_documents_updated ON documents;
DROP TRIGGER IF EXISTS summary_documents_deleted ON documents;
DROP TRIGGER IF EXISTS summary_documents_inserted ON documents;
DROP FUNCTION IF EXISTS summary_rebuild();
DROP FUNCTION IF EXISTS summary_document_deleting();
DROP FUNCTION IF EXISTS summary_documents_updated();
DROP FUNCTION IF EXISTS summary_documents_deleted();
DROP FUNCTION IF EXISTS summary_documents_inserted();
DROP FUNCTION IF EXISTS summary_mentions_updated();
DROP FUNCTION IF EXISTS summary_mentions_deleted();
DROP FUNCTION IF EXISTS summary_mentions_inserted();
DROP FUNCTION IF EXISTS summary_apply_mentions();
DROP FUNCTION IF EXISTS summary_scratch();
DROP FUNCTION IF EXISTS summary_deferred();
"""

EXACT = " Kept exact at every commit (summary tables maintained by triggers)."

# The former materialized views, as plain views with the same names and columns. LEFT JOINs
# (every summary row has its entity and source) let PostgreSQL skip a join whose columns a
# query does not use.
VIEWS = {
    "report_daily_documents": (
        """
        SELECT s.source_id, src.name AS source, s.day, s.documents, s.words
        FROM summary_source_days s LEFT JOIN sources src USING (source_id)""",
        "Articles per source per publication day." + EXACT,
        {
            "source_id": "Source number.",
            "source": "Source name.",
            "day": "Publication date (empty for undated articles).",
            "documents": "Articles that day.",
            "words": "Words in those articles.",
        },
    ),
    "report_entity_daily": (
        """
        SELECT s.entity_id, e.kind, e.canonical_name AS entity, s.source_id, src.name AS source,
               s.day, s.mentions, s.documents
        FROM summary_entity_days s
        LEFT JOIN entities e USING (entity_id)
        LEFT JOIN sources src ON src.source_id = s.source_id""",
        "Mentions and mentioning articles per entity, source and day (bylines excluded)." + EXACT,
        {
            "entity_id": "Entity number.",
            "kind": "Entity kind.",
            "entity": "Canonical name.",
            "source_id": "Source number.",
            "source": "Source name.",
            "day": "Publication date (empty for undated articles).",
            "mentions": "Mentions that day.",
            "documents": "Articles mentioning the entity that day.",
        },
    ),
    "report_entity_totals": (
        """
        SELECT s.entity_id, e.kind, e.canonical_name AS entity, s.source_id, src.name AS source,
               s.mentions, s.documents, s.first_seen, s.last_seen
        FROM summary_entity_sources s
        LEFT JOIN entities e USING (entity_id)
        LEFT JOIN sources src ON src.source_id = s.source_id""",
        "All-time mentions and articles per entity and source." + EXACT,
        {
            "entity_id": "Entity number.",
            "kind": "Entity kind.",
            "entity": "Canonical name.",
            "source_id": "Source number.",
            "source": "Source name.",
            "mentions": "Mentions in this source's articles (bylines excluded).",
            "documents": "This source's articles mentioning it.",
            "first_seen": "Earliest publication date of such an article.",
            "last_seen": "Latest publication date of such an article.",
        },
    ),
    "report_entity_monthly": (
        """
        SELECT s.entity_id, e.kind, e.canonical_name AS entity, s.source_id, src.name AS source,
               s.month, s.mentions, s.documents
        FROM summary_entity_months s
        LEFT JOIN entities e USING (entity_id)
        LEFT JOIN sources src ON src.source_id = s.source_id""",
        "Mentions and mentioning articles per entity, source and month." + EXACT,
        {
            "entity_id": "Entity number.",
            "kind": "Entity kind.",
            "entity": "Canonical name.",
            "source_id": "Source number.",
            "source": "Source name.",
            "month": "First day of the publication month (empty for undated articles).",
            "mentions": "Mentions that month (bylines excluded).",
            "documents": "Articles mentioning it that month.",
        },
    ),
    "report_source_entity_counts": (
        """
        SELECT s.source_id, src.name AS source, s.grain, s.period, s.entities
        FROM summary_source_entity_counts s LEFT JOIN sources src USING (source_id)""",
        "Distinct entities per source per month and per year." + EXACT,
        {
            "source_id": "Source number.",
            "source": "Source name.",
            "grain": "month or year.",
            "period": "First day of the month or year (empty for undated articles).",
            "entities": "Distinct entities the source's articles mention in that period.",
        },
    ),
    "report_co_mentions": (
        """
        SELECT p.entity_a_id, ea.canonical_name AS entity_a, ea.kind AS kind_a,
               p.entity_b_id, eb.canonical_name AS entity_b, eb.kind AS kind_b,
               p.documents, pa.documents::integer AS documents_a,
               pb.documents::integer AS documents_b, t.n::integer AS total_documents,
               p.documents::float8 * t.n / (pa.documents * pb.documents) AS lift,
               ln(p.documents::float8 * t.n / (pa.documents * pb.documents)) AS pmi
        FROM summary_entity_pairs p
        JOIN summary_entities pa ON pa.entity_id = p.entity_a_id
        JOIN summary_entities pb ON pb.entity_id = p.entity_b_id
        LEFT JOIN entities ea ON ea.entity_id = p.entity_a_id
        LEFT JOIN entities eb ON eb.entity_id = p.entity_b_id
        CROSS JOIN (SELECT sum(documents)::float8 AS n FROM summary_source_days) t""",
        "Pairs of entities mentioned in the same articles, with lift and PMI (how much more "
        "often than chance)." + EXACT,
        {
            "entity_a_id": "First entity's number (the smaller one).",
            "entity_a": "First entity's name.",
            "kind_a": "First entity's kind.",
            "entity_b_id": "Second entity's number.",
            "entity_b": "Second entity's name.",
            "kind_b": "Second entity's kind.",
            "documents": "Articles mentioning both.",
            "documents_a": "Articles mentioning the first.",
            "documents_b": "Articles mentioning the second.",
            "total_documents": "All articles.",
            "lift": "documents x total / (documents_a x documents_b); 1 = as often as chance.",
            "pmi": "Pointwise mutual information: ln(lift).",
        },
    ),
}

# Views that read the former materialized views: re-pointed by CREATE OR REPLACE with the same
# text, which keeps their comments.
DEPENDENT_VIEWS = {
    "report_top_entities": """
        SELECT entity_id, kind, entity, sum(mentions)::integer AS mentions,
               sum(documents)::integer AS documents,
               sum(documents)::float8 / NULLIF(
                   (SELECT sum(documents) FROM report_daily_documents), 0) AS share_of_documents,
               min(first_seen) AS first_seen, max(last_seen) AS last_seen
        FROM report_entity_totals
        GROUP BY entity_id, kind, entity""",
    "report_entity_timeline": """
        SELECT e.entity_id, e.kind, e.entity, e.day, sum(e.mentions)::integer AS mentions,
               sum(e.documents)::integer AS documents, t.documents AS documents_that_day,
               sum(e.documents)::float8 / t.documents AS share_of_documents
        FROM report_entity_daily e
        JOIN (SELECT day, sum(documents)::integer AS documents FROM report_daily_documents
              WHERE day IS NOT NULL GROUP BY day) t USING (day)
        GROUP BY e.entity_id, e.kind, e.entity, e.day, t.documents""",
    "report_source_coverage": """
        SELECT source_id, source, day, documents, words FROM report_daily_documents""",
    "report_source_entities": """
        SELECT source_id, source, entity_id, kind, entity, mentions::integer AS mentions,
               documents::integer AS documents
        FROM report_entity_totals""",
    "report_overview": """
        SELECT (SELECT count(*) FROM documents) AS documents,
               (SELECT count(*) FROM sources s WHERE EXISTS (
                   SELECT 1 FROM documents d WHERE d.source_id = s.source_id)) AS sources,
               (SELECT min(published_on) FROM documents) AS first_published,
               (SELECT max(published_on) FROM documents) AS last_published,
               (SELECT count(*) FROM documents WHERE published_on IS NULL) AS undated_documents,
               (SELECT coalesce(sum(mentions), 0) FROM report_entity_totals)::bigint AS mentions,
               (SELECT count(DISTINCT entity_id) FROM report_entity_totals) AS entities_mentioned,
               (SELECT count(*) FROM loads) AS loads,
               (SELECT max(started_at) FROM loads) AS last_load_at,
               (SELECT status FROM loads ORDER BY load_id DESC LIMIT 1) AS last_load_status,
               (SELECT count(*) FROM load_rejects) AS rejects""",
}

# For the downgrade: the materialized views as 0003 and 0005 made them.
OLD_MATERIALIZED = {
    "report_daily_documents": """
        SELECT d.source_id, s.name AS source, d.published_on AS day,
               count(*)::integer AS documents, sum(d.word_count)::bigint AS words
        FROM documents d JOIN sources s USING (source_id)
        GROUP BY d.source_id, s.name, d.published_on""",
    "report_entity_daily": """
        SELECT m.entity_id, e.kind, e.canonical_name AS entity, d.source_id, s.name AS source,
               d.published_on AS day, count(*)::integer AS mentions,
               count(DISTINCT m.document_id)::integer AS documents
        FROM mentions m
        JOIN documents d USING (document_id)
        JOIN entities e USING (entity_id)
        JOIN sources s ON s.source_id = d.source_id
        WHERE m.role <> 'byline'
        GROUP BY m.entity_id, e.kind, e.canonical_name, d.source_id, s.name, d.published_on""",
    "report_entity_totals": """
        SELECT entity_id, kind, entity, source_id, source, sum(mentions)::bigint AS mentions,
               sum(documents)::bigint AS documents, min(day) AS first_seen, max(day) AS last_seen
        FROM report_entity_daily
        GROUP BY entity_id, kind, entity, source_id, source""",
    "report_entity_monthly": """
        SELECT entity_id, kind, entity, source_id, source,
               date_trunc('month', day)::date AS month,
               sum(mentions)::bigint AS mentions, sum(documents)::bigint AS documents
        FROM report_entity_daily
        GROUP BY entity_id, kind, entity, source_id, source, date_trunc('month', day)::date""",
    "report_source_entity_counts": """
        SELECT source_id, source, 'month' AS grain, month AS period,
               count(DISTINCT entity_id)::integer AS entities
        FROM report_entity_monthly GROUP BY source_id, source, month
        UNION ALL
        SELECT source_id, source, 'year', date_trunc('year', month)::date,
               count(DISTINCT entity_id)::integer
        FROM report_entity_monthly GROUP BY source_id, source, date_trunc('year', month)::date""",
    "report_co_mentions": """
        WITH doc_entities AS (
            SELECT DISTINCT document_id, entity_id FROM mentions WHERE role <> 'byline'
        ),
        per_entity AS (
            SELECT entity_id, count(*)::float8 AS documents FROM doc_entities GROUP BY entity_id
        ),
        pairs AS (
            SELECT a.entity_id AS a_id, b.entity_id AS b_id, count(*)::float8 AS together
            FROM doc_entities a
            JOIN doc_entities b ON b.document_id = a.document_id AND a.entity_id < b.entity_id
            GROUP BY a.entity_id, b.entity_id
        ),
        total AS (SELECT count(*)::float8 AS n FROM documents)
        SELECT p.a_id AS entity_a_id, ea.canonical_name AS entity_a, ea.kind AS kind_a,
               p.b_id AS entity_b_id, eb.canonical_name AS entity_b, eb.kind AS kind_b,
               p.together::integer AS documents,
               pa.documents::integer AS documents_a, pb.documents::integer AS documents_b,
               t.n::integer AS total_documents,
               p.together * t.n / (pa.documents * pb.documents) AS lift,
               ln(p.together * t.n / (pa.documents * pb.documents)) AS pmi
        FROM pairs p
        JOIN per_entity pa ON pa.entity_id = p.a_id
        JOIN per_entity pb ON pb.entity_id = p.b_id
        JOIN entities ea ON ea.entity_id = p.a_id
        JOIN entities eb ON eb.entity_id = p.b_id
        CROSS JOIN total t""",
}
OLD_INDEXES = [
    "CREATE UNIQUE INDEX ux_report_daily_documents ON report_daily_documents "
    "(source_id, day) NULLS NOT DISTINCT",
    "CREATE INDEX ix_report_daily_documents_day ON report_daily_documents (day)",
    "CREATE UNIQUE INDEX ux_report_entity_daily ON report_entity_daily "
    "(entity_id, source_id, day) NULLS NOT DISTINCT",
    "CREATE INDEX ix_report_entity_daily_day ON report_entity_daily (day)",
    "CREATE UNIQUE INDEX ux_report_co_mentions ON report_co_mentions (entity_a_id, entity_b_id)",
    "CREATE INDEX ix_report_co_mentions_entity_b_id ON report_co_mentions (entity_b_id)",
    "CREATE INDEX ix_report_co_mentions_documents ON report_co_mentions (documents DESC)",
    "CREATE UNIQUE INDEX ux_report_entity_totals ON report_entity_totals (entity_id, source_id)",
    "CREATE UNIQUE INDEX ux_report_entity_monthly ON report_entity_monthly "
    "(entity_id, source_id, month) NULLS NOT DISTINCT",
    "CREATE INDEX ix_report_entity_monthly_month ON report_entity_monthly (month)",
    "CREATE UNIQUE INDEX ux_report_source_entity_counts ON report_source_entity_counts "
    "(source_id, grain, period) NULLS NOT DISTINCT",
]
REFRESHED = " Materialized: refreshed after each load and by `dbapp report refresh`."


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _comment(kind: str, name: str, what: str, columns: dict[str, str]) -> None:
    op.execute(f"COMMENT ON {kind} {name} IS {_literal(what)}")
    for column, text in columns.items():
        op.execute(f"COMMENT ON COLUMN {name}.{column} IS {_literal(text)}")


def _deletions() -> None:
    op.create_table(
        "deletions",
        sa.Column("deletion_id", sa.Integer, sa.Identity(always=False), nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.Text, server_default="running", nullable=False),
        sa.Column("criteria", postgresql.JSONB, server_default="{}", nullable=False),
        sa.Column("load_id", sa.Integer),
        sa.Column("os_user", sa.Text),
        sa.Column("db_user", sa.Text, server_default=sa.text("CURRENT_USER"), nullable=False),
        sa.Column("hostname", sa.Text),
        sa.Column("documents_deleted", sa.Integer, server_default="0", nullable=False),
        sa.Column("mentions_deleted", sa.BigInteger, server_default="0", nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("lock_key", sa.BigInteger),
        sa.PrimaryKeyConstraint("deletion_id", name="pk_deletions"),
        sa.ForeignKeyConstraint(
            ["load_id"], ["loads.load_id"], name="fk_deletions_load_id_loads", ondelete="SET NULL"
        ),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'interrupted', 'failed')",
            name=op.f("ck_deletions_status"),
        ),
        comment="One row per run of dbapp documents delete / loads undo: who, what, how many.",
    )
    op.create_index("ix_deletions_load_id", "deletions", ["load_id"])
    op.create_table(
        "watched_files",
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("load_id", sa.Integer),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("path", name="pk_watched_files"),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["loads.load_id"],
            name="fk_watched_files_load_id_loads",
            ondelete="SET NULL",
        ),
        comment="Files dbapp watch has loaded, as they were (size, mtime): a restart skips them.",
    )


def upgrade() -> None:
    _deletions()
    op.execute(TABLES)
    op.execute(FUNCTIONS)
    op.execute("SELECT summary_rebuild()")
    # Dependent views follow a rename; re-pointed below, then the old views go.
    for name in VIEWS:
        op.execute(f"ALTER MATERIALIZED VIEW {name} RENAME TO {name}_old")
    for name, (query, what, columns) in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {query}")
        _comment("VIEW", name, what, columns)
    for name, query in DEPENDENT_VIEWS.items():
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {query}")
    op.execute(
        "COMMENT ON COLUMN report_overview.mentions IS 'Entity mentions (bylines excluded).'"
    )
    op.execute(
        "COMMENT ON COLUMN report_overview.entities_mentioned IS 'Distinct entities mentioned.'"
    )
    for name in reversed(list(VIEWS)):
        op.execute(f"DROP MATERIALIZED VIEW {name}_old")


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"ALTER VIEW {name} RENAME TO {name}_new")
    for name, query in OLD_MATERIALIZED.items():
        op.execute(f"CREATE MATERIALIZED VIEW {name} AS {query}")
        _, what, columns = VIEWS[name]
        _comment("MATERIALIZED VIEW", name, what.replace(EXACT, REFRESHED), columns)
    for statement in OLD_INDEXES:
        op.execute(statement)
    for name, query in DEPENDENT_VIEWS.items():
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {query}")
    op.execute(
        "COMMENT ON COLUMN report_overview.mentions IS "
        "'Entity mentions (bylines excluded; as of the last refresh).'"
    )
    op.execute(
        "COMMENT ON COLUMN report_overview.entities_mentioned IS "
        "'Distinct entities mentioned (as of the last refresh).'"
    )
    for name in reversed(list(VIEWS)):
        op.execute(f"DROP VIEW {name}_new")
    op.execute(DROP_FUNCTIONS)
    for name in reversed(SUMMARY_TABLES):
        op.execute(f"DROP TABLE {name}")
    op.execute("DROP TABLE summary_state")
    op.execute("DROP TABLE watched_files")
    op.execute("DROP TABLE deletions")
