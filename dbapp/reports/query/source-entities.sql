-- The entities each source mentions most (--limit per source), in the articles matching --query
-- (past ENTITY_SAMPLE matches, in a random sample of them, scaled: report.SAMPLED).
WITH {matched},
{sampled},
-- The sample's mentions first, then names: see query/top-entities.sql.
seen AS MATERIALIZED (
    SELECT m.entity_id, m.document_id, mt.source_id
    FROM sampled mt
    CROSS JOIN LATERAL (SELECT * FROM mentions m WHERE m.document_id = mt.document_id OFFSET 0) m
    WHERE m.role <> 'byline'
),
ranked AS (
    SELECT s.name AS source, e.canonical_name AS entity, e.kind,
           round(count(*) * (SELECT f FROM scale))::integer AS mentions,
           round(count(DISTINCT m.document_id) * (SELECT f FROM scale))::integer AS documents,
           row_number() OVER (PARTITION BY s.name
                              ORDER BY count(DISTINCT m.document_id) DESC, count(*) DESC,
                                       e.canonical_name) AS rank
    FROM seen m
    JOIN sources s ON s.source_id = m.source_id
    JOIN entities e ON e.entity_id = m.entity_id
    WHERE CAST(:kind AS text) IS NULL OR e.kind = :kind
    GROUP BY s.name, e.entity_id, e.canonical_name, e.kind
)
SELECT source, entity, kind, mentions, documents, (SELECT matched FROM scale) AS _matched
FROM ranked
WHERE rank <= :limit
ORDER BY source, rank
