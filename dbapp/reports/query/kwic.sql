-- Keyword in context: the mentions of --entity in the articles matching --query. It starts
-- from the entity's mentions (its index) and checks their articles against the query:
-- reading every matching article first took seconds for common words.
WITH q AS (
    SELECT CASE WHEN CAST(:query AS text) IS NULL THEN NULL
                ELSE websearch_to_tsquery('english', :query) END AS query
)
SELECT d.document_id, d.published_on, s.name AS source,
       substr(d.body, greatest(m.start - :context, 0) + 1, least(m.start, :context)) AS left,
       m.surface AS match,
       substr(d.body, m."end" + 1, :context) AS right,
       m.role
FROM mentions m
JOIN documents d ON d.document_id = m.document_id
JOIN sources s ON s.source_id = d.source_id
CROSS JOIN q
WHERE m.entity_id = CAST(:entity_id AS integer)
  AND (q.query IS NULL OR d.search_vector @@ q.query)
  AND (CAST(:since AS date) IS NULL OR d.published_on >= :since)
  AND (CAST(:until AS date) IS NULL OR d.published_on <= :until)
  AND (CAST(:source AS text) IS NULL
       OR d.source_id = (SELECT source_id FROM sources WHERE name = :source))
  {tagged}
ORDER BY d.published_on NULLS LAST, d.document_id, m.start
LIMIT :limit
