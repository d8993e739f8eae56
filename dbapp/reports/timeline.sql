-- description: Attention over time (per day, week, month or year); one entity with --entity, else all articles. Every period of the range has a row, zeros included.
-- params: entity, period, since, until, source
WITH {calendar},
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
SELECT c.period,
       CASE WHEN CAST(:entity_id AS integer) IS NULL THEN NULL ELSE coalesce(h.mentions, 0) END
           AS mentions,
       CASE WHEN CAST(:entity_id AS integer) IS NULL THEN coalesce(p.documents, 0)
            ELSE coalesce(h.documents, 0) END AS documents,
       coalesce(p.documents, 0) AS documents_in_period,
       -- No articles in the period: no share (not 0, which would read as "not covered").
       round(CASE WHEN coalesce(p.documents, 0) = 0 THEN NULL
                  WHEN CAST(:entity_id AS integer) IS NULL THEN 1
                  ELSE coalesce(h.documents, 0)::numeric / p.documents END, 4)::float8
           AS share_of_documents
FROM calendar c LEFT JOIN periods p USING (period) LEFT JOIN hits h USING (period)
ORDER BY c.period
