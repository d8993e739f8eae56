-- co-mentions --query with --entity: that entity's company in the matching articles.
-- Shared articles are counted in the matches that mention the entity (past :anchor_sample of
-- them, in a random sample, scaled). Lift needs each entity's own count in all the matches:
-- the entity's is exact (its matches), the others' come from a random sample of
-- :entity_sample matches, scaled, and only for the pairs that make the list. Reading every
-- match's mentions instead took 4-6 s for a common word at 1M articles.
WITH {matched},
{sampled},
anchor AS MATERIALIZED (
    SELECT mt.document_id FROM matched mt
    WHERE EXISTS (
        SELECT 1 FROM mentions m
        WHERE m.entity_id = CAST(:entity_id AS integer) AND m.document_id = mt.document_id
          AND m.role <> 'byline')
),
anchor_sample AS MATERIALIZED (
    SELECT document_id FROM anchor ORDER BY hashint8(document_id), document_id LIMIT :anchor_sample
),
anchor_scale AS (
    SELECT (SELECT count(*) FROM anchor) AS anchored,
           (SELECT count(*) FROM anchor)::float8
           / NULLIF((SELECT count(*) FROM anchor_sample), 0) AS f
),
pairs AS (
    SELECT least(CAST(:entity_id AS integer), m.entity_id) AS a_id,
           greatest(CAST(:entity_id AS integer), m.entity_id) AS b_id,
           count(DISTINCT m.document_id) * (SELECT f FROM anchor_scale) AS together
    FROM anchor_sample s
    CROSS JOIN LATERAL (
        SELECT * FROM mentions m WHERE m.document_id = s.document_id OFFSET 0
    ) m
    WHERE m.role <> 'byline' AND m.entity_id <> CAST(:entity_id AS integer)
    GROUP BY m.entity_id
    HAVING count(DISTINCT m.document_id) * (SELECT f FROM anchor_scale) >= :min_documents
),
{chosen},
-- The other entities' articles among all matches, from the sample of them, scaled.
others AS (
    SELECT m.entity_id, count(DISTINCT m.document_id) * (SELECT f FROM scale)::float8 AS documents
    FROM sampled s
    CROSS JOIN LATERAL (
        SELECT * FROM mentions m WHERE m.document_id = s.document_id OFFSET 0
    ) m
    WHERE m.role <> 'byline'
      AND m.entity_id IN (SELECT a_id FROM chosen UNION SELECT b_id FROM chosen)
      AND m.entity_id <> CAST(:entity_id AS integer)
    GROUP BY 1
),
per_entity AS (
    SELECT entity_id, documents FROM others
    UNION ALL
    SELECT CAST(:entity_id AS integer), (SELECT anchored FROM anchor_scale)::float8
),
-- An entity is in at least the articles it shares: a sample that missed it gives that.
scored AS (
    SELECT p.a_id, p.b_id, p.together,
           greatest(coalesce(pa.documents, 0), p.together) AS a_documents,
           greatest(coalesce(pb.documents, 0), p.together) AS b_documents
    FROM chosen p
    LEFT JOIN per_entity pa ON pa.entity_id = p.a_id
    LEFT JOIN per_entity pb ON pb.entity_id = p.b_id
)
SELECT ea.canonical_name AS entity_a, ea.kind AS kind_a,
       eb.canonical_name AS entity_b, eb.kind AS kind_b,
       round(p.together)::integer AS documents,
       round((p.together * sc.matched / (p.a_documents * p.b_documents))::numeric, 3)::float8
           AS lift,
       round(ln(p.together * sc.matched / (p.a_documents * p.b_documents))::numeric, 3)::float8
           AS pmi,
       sc.matched AS _matched,
       (SELECT anchored FROM anchor_scale) AS _anchored
FROM scored p
CROSS JOIN scale sc
JOIN entities ea ON ea.entity_id = p.a_id
JOIN entities eb ON eb.entity_id = p.b_id
WHERE (CAST(:kind AS text) IS NULL OR :kind IN (ea.kind, eb.kind))
ORDER BY documents DESC, lift DESC, entity_a, entity_b
LIMIT :limit
