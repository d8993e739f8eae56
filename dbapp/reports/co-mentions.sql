-- description: Entity pairs in the same articles, with counts, lift and PMI; --entity for one entity's company.
-- params: entity, kind, min_documents, since, until, source, limit
WITH docs AS (
    SELECT d.document_id FROM documents d JOIN sources s USING (source_id)
    WHERE (CAST(:since AS date) IS NULL OR d.published_on >= :since)
      AND (CAST(:until AS date) IS NULL OR d.published_on <= :until)
      AND (CAST(:source AS text) IS NULL OR s.name = :source)
),
doc_entities AS (
    SELECT DISTINCT m.document_id, m.entity_id
    FROM mentions m JOIN docs USING (document_id)
    WHERE m.role <> 'byline'
),
per_entity AS (
    SELECT entity_id, count(*)::float8 AS documents FROM doc_entities GROUP BY entity_id
),
anchor AS (
    SELECT document_id FROM doc_entities WHERE entity_id = CAST(:entity_id AS integer)
),
pairs AS (
    SELECT a.entity_id AS a_id, b.entity_id AS b_id, count(*)::float8 AS together
    FROM doc_entities a
    JOIN doc_entities b ON b.document_id = a.document_id AND a.entity_id < b.entity_id
    WHERE CAST(:entity_id AS integer) IS NULL
       OR (a.document_id IN (SELECT document_id FROM anchor)
           AND CAST(:entity_id AS integer) IN (a.entity_id, b.entity_id))
    GROUP BY 1, 2
    HAVING count(*) >= :min_documents
),
total AS (SELECT count(*)::float8 AS n FROM docs)
SELECT ea.canonical_name AS entity_a, ea.kind AS kind_a, eb.canonical_name AS entity_b,
       eb.kind AS kind_b, p.together::integer AS documents,
       round((p.together * t.n / (pa.documents * pb.documents))::numeric, 3)::float8 AS lift,
       round(ln(p.together * t.n / (pa.documents * pb.documents))::numeric, 3)::float8 AS pmi
FROM pairs p
JOIN per_entity pa ON pa.entity_id = p.a_id
JOIN per_entity pb ON pb.entity_id = p.b_id
JOIN entities ea ON ea.entity_id = p.a_id
JOIN entities eb ON eb.entity_id = p.b_id
CROSS JOIN total t
WHERE CAST(:kind AS text) IS NULL OR :kind IN (ea.kind, eb.kind)
ORDER BY documents DESC, lift DESC, entity_a, entity_b
LIMIT :limit
