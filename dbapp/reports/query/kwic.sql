-- Keyword in context: the mentions of --entity in the articles matching --query.
WITH {matched}
SELECT d.document_id, d.published_on, s.name AS source,
       substr(d.body, greatest(m.start - :context, 0) + 1, least(m.start, :context)) AS left,
       m.surface AS match,
       substr(d.body, m."end" + 1, :context) AS right,
       m.role
FROM matched mt
JOIN mentions m USING (document_id)
JOIN documents d ON d.document_id = mt.document_id
JOIN sources s ON s.source_id = d.source_id
WHERE m.entity_id = CAST(:entity_id AS integer)
ORDER BY d.published_on NULLS LAST, d.document_id, m.start
LIMIT :limit
