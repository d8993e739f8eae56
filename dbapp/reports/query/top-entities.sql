-- The entities of the articles matching --query; share = of the matching articles. Past
-- ENTITY_SAMPLE matches, counted in a random sample of them and scaled (report.SAMPLED).
WITH {matched},
{sampled},
-- Each sampled article's mentions by the primary key (OFFSET 0: not flattened into a hash
-- join over every mention in the database), materialized before the names are joined: joined
-- inside that loop, the planner hashed the whole catalogue once per article (5 s for 10,000).
seen AS MATERIALIZED (
    SELECT m.entity_id, m.document_id, mt.published_on
    FROM sampled mt
    CROSS JOIN LATERAL (SELECT * FROM mentions m WHERE m.document_id = mt.document_id OFFSET 0) m
    WHERE m.role <> 'byline' -- as the plain report: a byline is not news about its author
)
SELECT e.canonical_name AS entity, e.kind,
       round(count(*) * (SELECT f FROM scale))::integer AS mentions,
       round(count(DISTINCT s.document_id) * (SELECT f FROM scale))::integer AS documents,
       round(count(DISTINCT s.document_id)::numeric
             / NULLIF((SELECT n FROM scale), 0), 4)::float8 AS share_of_documents,
       min(s.published_on) AS first_seen, max(s.published_on) AS last_seen,
       (SELECT matched FROM scale) AS _matched
FROM seen s
JOIN entities e ON e.entity_id = s.entity_id
WHERE CAST(:kind AS text) IS NULL OR e.kind = :kind
GROUP BY e.entity_id, e.canonical_name, e.kind
ORDER BY documents DESC, mentions DESC, entity
LIMIT :limit
