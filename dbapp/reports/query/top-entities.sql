-- The entities of the articles matching --query; share = of the matching articles.
WITH {matched}
SELECT e.canonical_name AS entity, e.kind, count(*)::integer AS mentions,
       count(DISTINCT m.document_id)::integer AS documents,
       round(count(DISTINCT m.document_id)::numeric
             / NULLIF((SELECT count(*) FROM matched), 0), 4)::float8 AS share_of_documents,
       min(mt.published_on) AS first_seen, max(mt.published_on) AS last_seen
FROM matched mt
JOIN mentions m USING (document_id)
JOIN entities e ON e.entity_id = m.entity_id
WHERE m.role <> 'byline' -- as the plain report: a byline is not news about its author
  AND (CAST(:kind AS text) IS NULL OR e.kind = :kind)
GROUP BY e.entity_id, e.canonical_name, e.kind
ORDER BY documents DESC, mentions DESC, entity
LIMIT :limit
