-- description: Entities by attention: mentions, articles, share of articles, first/last seen.
-- params: since, until, source, kind, limit
-- All-time figures come from report_entity_totals; a date range needs the per-day rows.
WITH scope AS (
    SELECT entity_id, entity, kind, mentions, documents, first_seen, last_seen
    FROM report_entity_totals
    WHERE CAST(:since AS date) IS NULL AND CAST(:until AS date) IS NULL
      AND (CAST(:source AS text) IS NULL OR source = :source)
    UNION ALL
    SELECT entity_id, entity, kind, mentions, documents, day, day
    FROM report_entity_daily
    WHERE (CAST(:since AS date) IS NOT NULL OR CAST(:until AS date) IS NOT NULL)
      AND (CAST(:since AS date) IS NULL OR day >= :since)
      AND (CAST(:until AS date) IS NULL OR day <= :until)
      AND (CAST(:source AS text) IS NULL OR source = :source)
),
total AS (
    SELECT sum(documents) AS n FROM report_daily_documents
    WHERE (CAST(:since AS date) IS NULL OR day >= :since)
      AND (CAST(:until AS date) IS NULL OR day <= :until)
      AND (CAST(:source AS text) IS NULL OR source = :source)
)
SELECT entity, kind, sum(mentions)::integer AS mentions, sum(documents)::integer AS documents,
       round(sum(documents)::numeric / NULLIF((SELECT n FROM total), 0), 4)::float8
           AS share_of_documents,
       min(first_seen) AS first_seen, max(last_seen) AS last_seen
FROM scope
WHERE (CAST(:kind AS text) IS NULL OR kind = :kind)
GROUP BY entity_id, entity, kind
ORDER BY documents DESC, mentions DESC, entity
LIMIT :limit
