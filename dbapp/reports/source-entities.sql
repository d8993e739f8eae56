-- description: Which entities each source mentions most (--limit per source).
-- params: since, until, source, kind, limit
-- All-time figures come from report_entity_totals; a date range needs the per-day rows.
WITH scope AS (
    SELECT source, entity_id, entity, kind, mentions, documents
    FROM report_entity_totals
    WHERE CAST(:since AS date) IS NULL AND CAST(:until AS date) IS NULL
    UNION ALL
    SELECT source, entity_id, entity, kind, mentions, documents
    FROM report_entity_daily
    WHERE (CAST(:since AS date) IS NOT NULL OR CAST(:until AS date) IS NOT NULL)
      AND (CAST(:since AS date) IS NULL OR day >= :since)
      AND (CAST(:until AS date) IS NULL OR day <= :until)
),
ranked AS (
    SELECT source, entity, kind, sum(mentions)::integer AS mentions,
           sum(documents)::integer AS documents,
           row_number() OVER (PARTITION BY source
                              ORDER BY sum(documents) DESC, sum(mentions) DESC, entity) AS rank
    FROM scope
    WHERE (CAST(:source AS text) IS NULL OR source = :source)
      AND (CAST(:kind AS text) IS NULL OR kind = :kind)
    GROUP BY source, entity_id, entity, kind
)
SELECT source, entity, kind, mentions, documents
FROM ranked
WHERE rank <= :limit
ORDER BY source, rank
