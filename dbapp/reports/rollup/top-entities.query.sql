-- top-entities --rollup with --query, --tag or --language: the matching articles' entities
-- rolled up, an article counted once per roll-up. Past ENTITY_SAMPLE matches, counted in a
-- random sample of them and scaled (report.SAMPLED); shares are of the matching articles.
WITH {matched},
{sampled},
{roots},
-- The sample's mentions first, then roots and names: see query/top-entities.sql.
seen AS MATERIALIZED (
    SELECT m.entity_id, m.document_id, mt.published_on
    FROM sampled mt
    CROSS JOIN LATERAL (SELECT * FROM mentions m WHERE m.document_id = mt.document_id
                        OFFSET 0) m  -- by the primary key, not a hash of every mention
    WHERE m.role <> 'byline'
),
scoped AS (
    SELECT r.root_id, m.entity_id, m.document_id, m.published_on
    FROM seen m
    JOIN roots r ON r.entity_id = m.entity_id AND r.root_id IS NOT NULL
)
SELECT e.canonical_name AS entity, e.kind,
       round(count(*) * (SELECT f FROM scale))::integer AS mentions,
       round(count(DISTINCT s.document_id) * (SELECT f FROM scale))::integer AS documents,
       round(count(DISTINCT s.document_id)::numeric
             / NULLIF((SELECT n FROM scale), 0), 4)::float8 AS share_of_documents,
       min(s.published_on) AS first_seen, max(s.published_on) AS last_seen,
       count(DISTINCT s.entity_id)::integer AS members, r.iso_alpha3,
       (SELECT matched FROM scale) AS _matched
FROM scoped s
JOIN entities e ON e.entity_id = s.root_id
JOIN report_entity_rollups r ON r.entity_id = s.root_id
WHERE (CAST(:kind AS text) IS NULL OR e.kind = :kind)
GROUP BY e.entity_id, e.canonical_name, e.kind, r.iso_alpha3
ORDER BY documents DESC, mentions DESC, entity
LIMIT :limit
