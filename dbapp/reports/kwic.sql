-- description: Keyword in context: every mention of --entity with --context characters either side.
-- params: entity, context, since, until, source, limit
SELECT d.document_id, d.published_on, s.name AS source,
       substr(d.body, greatest(m.start - :context, 0) + 1, least(m.start, :context)) AS left,
       m.surface AS match,
       substr(d.body, m."end" + 1, :context) AS right,
       m.role
FROM mentions m
JOIN documents d USING (document_id)
JOIN sources s ON s.source_id = d.source_id
WHERE m.entity_id = CAST(:entity_id AS integer)
  AND (CAST(:since AS date) IS NULL OR d.published_on >= :since)
  AND (CAST(:until AS date) IS NULL OR d.published_on <= :until)
  AND (CAST(:source AS text) IS NULL OR s.name = :source)
ORDER BY d.published_on NULLS LAST, d.document_id, m.start
LIMIT :limit
