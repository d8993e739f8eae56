-- description: Entities by attention: mentions, articles, share of articles, first/last seen.
-- params: since, until, source, kind, limit
WITH scope AS (
    SELECT * FROM report_entity_daily
    WHERE (CAST(:since AS date) IS NULL OR day >= :since)
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
       min(day) AS first_seen, max(day) AS last_seen
FROM scope
WHERE (CAST(:kind AS text) IS NULL OR kind = :kind)
GROUP BY entity_id, entity, kind
ORDER BY documents DESC, mentions DESC, entity
LIMIT :limit
