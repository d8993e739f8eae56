-- description: Attention over time (per day, week, month or year); one entity with --entity, else all articles.
-- params: entity, period, since, until, source
WITH periods AS (
    SELECT date_trunc(:period, day)::date AS period, sum(documents)::integer AS documents
    FROM report_daily_documents
    WHERE day IS NOT NULL
      AND (CAST(:since AS date) IS NULL OR day >= :since)
      AND (CAST(:until AS date) IS NULL OR day <= :until)
      AND (CAST(:source AS text) IS NULL OR source = :source)
    GROUP BY 1
),
hits AS (
    SELECT date_trunc(:period, day)::date AS period, sum(mentions)::integer AS mentions,
           sum(documents)::integer AS documents
    FROM report_entity_daily
    WHERE entity_id = CAST(:entity_id AS integer) AND day IS NOT NULL
      AND (CAST(:since AS date) IS NULL OR day >= :since)
      AND (CAST(:until AS date) IS NULL OR day <= :until)
      AND (CAST(:source AS text) IS NULL OR source = :source)
    GROUP BY 1
)
SELECT p.period,
       CASE WHEN CAST(:entity_id AS integer) IS NULL THEN NULL ELSE coalesce(h.mentions, 0) END
           AS mentions,
       CASE WHEN CAST(:entity_id AS integer) IS NULL THEN p.documents
            ELSE coalesce(h.documents, 0) END AS documents,
       p.documents AS documents_in_period,
       round(CASE WHEN CAST(:entity_id AS integer) IS NULL THEN 1
                  ELSE coalesce(h.documents, 0)::numeric / p.documents END, 4)::float8
           AS share_of_documents
FROM periods p LEFT JOIN hits h USING (period)
ORDER BY p.period
