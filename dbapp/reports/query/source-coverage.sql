-- Which sources carried the articles matching --query, per period, against all their articles.
WITH {matched},
{sampled},
docs AS (
    SELECT source, date_trunc(:period, day)::date AS period, sum(documents)::integer AS documents
    FROM report_daily_documents
    WHERE (CAST(:since AS date) IS NULL OR day >= :since)
      AND (CAST(:until AS date) IS NULL OR day <= :until)
      AND (CAST(:source AS text) IS NULL OR source = :source)
    GROUP BY 1, 2
),
hits AS (
    SELECT s.name AS source, date_trunc(:period, mt.published_on)::date AS period,
           count(*)::integer AS matching, sum(mt.word_count)::bigint AS words
    FROM matched mt JOIN sources s ON s.source_id = mt.source_id
    GROUP BY 1, 2
),
ents AS (
    SELECT s.name AS source, x.period, count(*)::integer AS entities
    FROM (
        SELECT DISTINCT mt.source_id, date_trunc(:period, mt.published_on)::date AS period,
               m.entity_id
        FROM sampled mt  -- past ENTITY_SAMPLE matches, the distinct entities of a sample
        CROSS JOIN LATERAL (SELECT * FROM mentions m WHERE m.document_id = mt.document_id
                            OFFSET 0) m  -- by the primary key, not a hash of every mention
        WHERE m.role <> 'byline'
    ) x JOIN sources s ON s.source_id = x.source_id
    GROUP BY 1, 2
)
SELECT h.source, h.period, h.matching AS documents, h.words, coalesce(e.entities, 0) AS entities,
       coalesce(d.documents, 0) AS documents_in_period,
       round(h.matching::numeric / NULLIF(d.documents, 0), 4)::float8 AS share_of_documents,
       (SELECT matched FROM scale) AS _matched
FROM hits h
-- The undated (NULL) period joins as -infinity: an equality joins by hash.
LEFT JOIN docs d ON d.source = h.source
                 AND coalesce(d.period, DATE '-infinity') = coalesce(h.period, DATE '-infinity')
LEFT JOIN ents e ON e.source = h.source
                 AND coalesce(e.period, DATE '-infinity') = coalesce(h.period, DATE '-infinity')
ORDER BY h.source, h.period NULLS LAST
