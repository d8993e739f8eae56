-- top-entities --rollup with no filter: the members' all-time figures from the summaries
-- (mentions add up; first and last seen are the members' earliest and latest), and the
-- articles of a root with several members mentioned counted once, from the mentions index.
WITH {roots},
members AS (
    SELECT r.root_id, s.entity_id, s.mentions, s.documents, t.first_seen, t.last_seen
    FROM roots r
    JOIN summary_entities s USING (entity_id)
    JOIN (SELECT entity_id, min(first_seen) AS first_seen, max(last_seen) AS last_seen
          FROM summary_entity_sources GROUP BY entity_id) t USING (entity_id)
    WHERE r.root_id IS NOT NULL AND s.documents > 0
),
several AS (
    SELECT root_id FROM members GROUP BY root_id HAVING count(*) > 1
),
unions AS (
    -- Places and organisations are never bylines: read from the index alone. A person (a
    -- user may relate one to a country) leaves its bylines out, as the summaries do.
    SELECT x.root_id, count(DISTINCT x.document_id) AS documents
    FROM (
        SELECT r.root_id, m.document_id
        FROM roots r JOIN entities e USING (entity_id) JOIN mentions m ON m.entity_id = r.entity_id
        WHERE r.root_id IN (SELECT root_id FROM several) AND e.kind <> 'PERSON'
        UNION ALL
        SELECT r.root_id, m.document_id
        FROM roots r JOIN entities e USING (entity_id) JOIN mentions m ON m.entity_id = r.entity_id
        WHERE r.root_id IN (SELECT root_id FROM several) AND e.kind = 'PERSON'
          AND m.role <> 'byline'
    ) x
    GROUP BY x.root_id
),
total AS (SELECT sum(documents) AS n FROM report_daily_documents)
SELECT e.canonical_name AS entity, e.kind, sum(mb.mentions)::integer AS mentions,
       coalesce(max(u.documents), sum(mb.documents))::integer AS documents,
       round(coalesce(max(u.documents), sum(mb.documents))::numeric
             / NULLIF((SELECT n FROM total), 0), 4)::float8 AS share_of_documents,
       min(mb.first_seen) AS first_seen, max(mb.last_seen) AS last_seen,
       count(*)::integer AS members, r.iso_alpha3
FROM members mb
JOIN entities e ON e.entity_id = mb.root_id
JOIN report_entity_rollups r ON r.entity_id = mb.root_id
LEFT JOIN unions u ON u.root_id = mb.root_id
WHERE (CAST(:kind AS text) IS NULL OR e.kind = :kind)
GROUP BY e.entity_id, e.canonical_name, e.kind, r.iso_alpha3
ORDER BY documents DESC, mentions DESC, entity
LIMIT :limit
