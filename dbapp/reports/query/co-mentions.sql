-- Entity pairs in the articles matching --query (with --entity: that entity's company there).
-- Lift compares a pair's shared articles with what the two entities' own counts in the
-- matching articles would give by chance.
WITH {matched},
{sampled},
doc_entities AS (
    SELECT DISTINCT m.document_id, m.entity_id
    FROM sampled mt CROSS JOIN LATERAL (SELECT * FROM mentions m WHERE m.document_id = mt.document_id OFFSET 0) m
    WHERE m.role <> 'byline'
),
anchored AS (
    SELECT document_id FROM doc_entities WHERE entity_id = CAST(:entity_id AS integer)
),
scoped AS (
    SELECT de.* FROM doc_entities de
    WHERE CAST(:entity_id AS integer) IS NULL
       OR de.document_id IN (SELECT document_id FROM anchored)
),
per_entity AS (
    SELECT entity_id, count(*)::float8 AS documents FROM doc_entities GROUP BY 1
),
pairs AS (
    SELECT a.entity_id AS a_id, b.entity_id AS b_id, count(*)::float8 AS together
    FROM scoped a JOIN scoped b ON a.document_id = b.document_id AND a.entity_id < b.entity_id
    WHERE CAST(:entity_id AS integer) IS NULL
       OR CAST(:entity_id AS integer) IN (a.entity_id, b.entity_id)
    GROUP BY 1, 2
    HAVING count(*) * (SELECT f FROM scale) >= :min_documents
),
-- Scaling by f >= 1 keeps the order of shared articles strict (a pair with fewer never rounds
-- to as many). At 1M articles a common word's sample has 121,000 pairs; naming them all took
-- 0.45 s.
{chosen},
total AS (SELECT n::float8 AS n FROM scale)
SELECT ea.canonical_name AS entity_a, ea.kind AS kind_a,
       eb.canonical_name AS entity_b, eb.kind AS kind_b,
       round(p.together * (SELECT f FROM scale))::integer AS documents,
       round((p.together * t.n / (pa.documents * pb.documents))::numeric, 3)::float8 AS lift,
       round(ln(p.together * t.n / (pa.documents * pb.documents))::numeric, 3)::float8 AS pmi,
       (SELECT matched FROM scale) AS _matched
FROM chosen p
CROSS JOIN total t
JOIN per_entity pa ON pa.entity_id = p.a_id
JOIN per_entity pb ON pb.entity_id = p.b_id
JOIN entities ea ON ea.entity_id = p.a_id
JOIN entities eb ON eb.entity_id = p.b_id
WHERE (CAST(:kind AS text) IS NULL OR :kind IN (ea.kind, eb.kind))
ORDER BY documents DESC, lift DESC, entity_a, entity_b
LIMIT :limit
