-- Attention over time for the articles matching --query: matching articles (or, with --entity,
-- matching articles that mention it) per period, against all articles of the period.
WITH {matched},
{calendar},
hits AS (
    SELECT date_trunc(:period, x.published_on)::date AS period,
           count(*)::integer AS documents, sum(x.mentions)::integer AS mentions
    FROM (
        SELECT mt.document_id, mt.published_on,
               (SELECT count(*) FROM mentions m
                WHERE m.document_id = mt.document_id AND m.role <> 'byline'
                  AND m.entity_id = CAST(:entity_id AS integer)) AS mentions
        FROM matched mt
        WHERE mt.published_on IS NOT NULL
    ) x
    WHERE CAST(:entity_id AS integer) IS NULL OR x.mentions > 0
    GROUP BY 1
)
SELECT c.period,
       CASE WHEN CAST(:entity_id AS integer) IS NULL THEN NULL ELSE coalesce(h.mentions, 0) END
           AS mentions,
       coalesce(h.documents, 0) AS documents,
       coalesce(p.documents, 0) AS documents_in_period,
       round(CASE WHEN coalesce(p.documents, 0) = 0 THEN NULL
                  ELSE coalesce(h.documents, 0)::numeric / p.documents END, 4)::float8
           AS share_of_documents
FROM calendar c LEFT JOIN periods p USING (period) LEFT JOIN hits h USING (period)
ORDER BY c.period
