-- Entities rolled up (--rollup country: cities, regions and demonyms into their country;
-- --rollup parent: bodies into their organisation). An article counts once per roll-up,
-- however many of its members it mentions, so this reads the mentions, not the summaries.
-- With --query, only the matching articles count, and the share is of them.
WITH {roots},
scoped AS (
    SELECT r.root_id, m.entity_id, m.document_id, d.published_on
    FROM mentions m
    JOIN roots r ON r.entity_id = m.entity_id AND r.root_id IS NOT NULL
    JOIN documents d ON d.document_id = m.document_id
    WHERE m.role <> 'byline'
      AND (CAST(:since AS date) IS NULL OR d.published_on >= :since)
      AND (CAST(:until AS date) IS NULL OR d.published_on <= :until)
      AND (CAST(:source AS text) IS NULL
           OR d.source_id = (SELECT source_id FROM sources WHERE name = :source))
      AND (CAST(:query AS text) IS NULL
           OR d.search_vector @@ websearch_to_tsquery('english', :query))
      {tagged}
),
-- The share's denominator: the articles in scope (with --query, the matching ones).
total AS (
    SELECT sum(documents) AS n FROM report_daily_documents
    WHERE CAST(:query AS text) IS NULL AND CAST(:tag AS text) IS NULL
      AND CAST(:language AS text) IS NULL
      AND (CAST(:since AS date) IS NULL OR day >= :since)
      AND (CAST(:until AS date) IS NULL OR day <= :until)
      AND (CAST(:source AS text) IS NULL OR source = :source)
    UNION ALL
    SELECT count(*) FROM documents d
    WHERE (CAST(:query AS text) IS NOT NULL OR CAST(:tag AS text) IS NOT NULL
           OR CAST(:language AS text) IS NOT NULL)
      AND (CAST(:query AS text) IS NULL
           OR d.search_vector @@ websearch_to_tsquery('english', :query))
      {tagged}
      AND (CAST(:since AS date) IS NULL OR d.published_on >= :since)
      AND (CAST(:until AS date) IS NULL OR d.published_on <= :until)
      AND (CAST(:source AS text) IS NULL
           OR d.source_id = (SELECT source_id FROM sources WHERE name = :source))
)
SELECT e.canonical_name AS entity, e.kind, count(*)::integer AS mentions,
       count(DISTINCT s.document_id)::integer AS documents,
       round(count(DISTINCT s.document_id)::numeric / NULLIF((SELECT sum(n) FROM total), 0), 4)::float8
           AS share_of_documents,
       min(s.published_on) AS first_seen, max(s.published_on) AS last_seen,
       count(DISTINCT s.entity_id)::integer AS members, r.iso_alpha3
FROM scoped s
JOIN entities e ON e.entity_id = s.root_id
JOIN report_entity_rollups r ON r.entity_id = s.root_id
WHERE (CAST(:kind AS text) IS NULL OR e.kind = :kind)
GROUP BY e.entity_id, e.canonical_name, e.kind, r.iso_alpha3
ORDER BY documents DESC, mentions DESC, entity
LIMIT :limit
