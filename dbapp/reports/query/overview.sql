-- params: since, until, source
-- The articles matching --query at a glance (with --since/--until/--source): how many, their
-- share of all articles in the same range, sources, dates, and the mentions in them.
WITH {matched},
{sampled},
-- The sample's mentions and distinct entities, in one pass over its mentions.
sample_mentions AS (
    SELECT count(*) AS mentions, count(DISTINCT m.entity_id) AS entities
    FROM sampled mt
    CROSS JOIN LATERAL (
        SELECT * FROM mentions m WHERE m.document_id = mt.document_id OFFSET 0
    ) m
    WHERE m.role <> 'byline'
),
everything AS (
    SELECT sum(documents) AS n FROM report_daily_documents
    WHERE (CAST(:since AS date) IS NULL OR day >= :since)
      AND (CAST(:until AS date) IS NULL OR day <= :until)
      AND (CAST(:source AS text) IS NULL OR source = :source)
)
SELECT (SELECT count(*) FROM matched)::integer AS documents,
       (SELECT n FROM everything)::integer AS documents_in_range,
       round((SELECT count(*) FROM matched)::numeric
             / NULLIF((SELECT n FROM everything), 0), 4)::float8 AS share_of_documents,
       (SELECT count(DISTINCT source_id) FROM matched)::integer AS sources,
       (SELECT min(published_on) FROM matched) AS first_published,
       (SELECT max(published_on) FROM matched) AS last_published,
       (SELECT count(*) FROM matched WHERE published_on IS NULL)::integer AS undated_documents,
       round(coalesce((SELECT mentions FROM sample_mentions) * (SELECT f FROM scale), 0))::integer
           AS mentions,
       (SELECT entities FROM sample_mentions)::integer AS entities_mentioned,
       (SELECT matched FROM scale) AS _matched
