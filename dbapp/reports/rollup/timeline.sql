-- Attention over time for --entity rolled up (--rollup country: the country with its cities,
-- regions and demonyms; --rollup parent: the organisation with its bodies): an article counts
-- once per period, however many members it mentions. With --query, only matching articles
-- count; the share stays of all the period's articles (attention).
WITH root AS (
    SELECT CASE WHEN :rollup = 'country' THEN country_id
                ELSE coalesce(parent_id, entity_id) END AS root_id
    FROM report_entity_rollups WHERE entity_id = CAST(:entity_id AS integer)
),
members AS (
    SELECT r.entity_id FROM report_entity_rollups r, root
    WHERE (CASE WHEN :rollup = 'country' THEN r.country_id
                ELSE coalesce(r.parent_id, r.entity_id) END) = root.root_id
),
{calendar},
hits AS (
    SELECT date_trunc(:period, d.published_on)::date AS period, count(*)::integer AS mentions,
           count(DISTINCT m.document_id)::integer AS documents
    FROM mentions m
    JOIN members USING (entity_id)
    JOIN documents d ON d.document_id = m.document_id
    WHERE m.role <> 'byline' AND d.published_on IS NOT NULL
      AND (CAST(:since AS date) IS NULL OR d.published_on >= :since)
      AND (CAST(:until AS date) IS NULL OR d.published_on <= :until)
      AND (CAST(:source AS text) IS NULL
           OR d.source_id = (SELECT source_id FROM sources WHERE name = :source))
      AND (CAST(:query AS text) IS NULL
           OR d.search_vector @@ websearch_to_tsquery('english', :query))
      {tagged}
    GROUP BY 1
)
SELECT c.period, coalesce(h.mentions, 0) AS mentions, coalesce(h.documents, 0) AS documents,
       coalesce(p.documents, 0) AS documents_in_period,
       round(CASE WHEN coalesce(p.documents, 0) = 0 THEN NULL
                  ELSE coalesce(h.documents, 0)::numeric / p.documents END, 4)::float8
           AS share_of_documents
FROM calendar c LEFT JOIN periods p USING (period) LEFT JOIN hits h USING (period)
ORDER BY c.period
