-- description: Entity pairs in the same articles, with counts, lift and PMI; --entity for one entity's company.
-- params: entity, kind, min_documents, since, until, source, limit
-- All-time pairs come from report_co_mentions. With a date range or a source they are counted
-- live from the mentions (each entity's article count from the monthly and daily summaries).
WITH stored AS (
    SELECT entity_a, kind_a, entity_b, kind_b, documents,
           round(lift::numeric, 3)::float8 AS lift, round(pmi::numeric, 3)::float8 AS pmi
    FROM report_co_mentions
    WHERE CAST(:since AS date) IS NULL AND CAST(:until AS date) IS NULL
      AND CAST(:source AS text) IS NULL
      AND (CAST(:entity_id AS integer) IS NULL
           OR CAST(:entity_id AS integer) IN (entity_a_id, entity_b_id))
      AND documents >= :min_documents
      AND (CAST(:kind AS text) IS NULL OR :kind IN (kind_a, kind_b))
    ORDER BY documents DESC, round(lift::numeric, 3)::float8 DESC, entity_a, entity_b
    LIMIT :limit
),
docs AS (
    SELECT d.document_id FROM documents d JOIN sources s USING (source_id)
    WHERE (CAST(:since AS date) IS NOT NULL OR CAST(:until AS date) IS NOT NULL
           OR CAST(:source AS text) IS NOT NULL)
      AND CAST(:entity_id AS integer) IS NULL
      AND (CAST(:since AS date) IS NULL OR d.published_on >= :since)
      AND (CAST(:until AS date) IS NULL OR d.published_on <= :until)
      AND (CAST(:source AS text) IS NULL OR s.name = :source)
),
-- With --entity, the documents in scope that mention it: from its mentions, not from every
-- document in the range.
anchor AS (
    SELECT DISTINCT m.document_id
    FROM mentions m
    JOIN documents d USING (document_id)
    JOIN sources s USING (source_id)
    WHERE m.entity_id = CAST(:entity_id AS integer) AND m.role <> 'byline'
      AND (CAST(:since AS date) IS NOT NULL OR CAST(:until AS date) IS NOT NULL
           OR CAST(:source AS text) IS NOT NULL)
      AND (CAST(:since AS date) IS NULL OR d.published_on >= :since)
      AND (CAST(:until AS date) IS NULL OR d.published_on <= :until)
      AND (CAST(:source AS text) IS NULL OR s.name = :source)
),
doc_entities AS (
    SELECT DISTINCT m.document_id, m.entity_id
    FROM anchor JOIN mentions m USING (document_id)
    WHERE CAST(:entity_id AS integer) IS NOT NULL AND m.role <> 'byline'
    UNION ALL
    SELECT DISTINCT m.document_id, m.entity_id
    FROM mentions m JOIN docs USING (document_id)
    WHERE CAST(:entity_id AS integer) IS NULL AND m.role <> 'byline'
),
pairs AS (
    -- With --entity every document in scope mentions it: its pairs are the other entities.
    SELECT least(CAST(:entity_id AS integer), entity_id) AS a_id,
           greatest(CAST(:entity_id AS integer), entity_id) AS b_id, count(*)::float8 AS together
    FROM doc_entities
    WHERE CAST(:entity_id AS integer) IS NOT NULL AND entity_id <> CAST(:entity_id AS integer)
    GROUP BY 1, 2
    HAVING count(*) >= :min_documents
    UNION ALL
    SELECT a.entity_id, b.entity_id, count(*)::float8
    FROM doc_entities a
    JOIN doc_entities b ON b.document_id = a.document_id AND a.entity_id < b.entity_id
    WHERE CAST(:entity_id AS integer) IS NULL
    GROUP BY 1, 2
    HAVING count(*) >= :min_documents
),
{chosen},
-- Articles per entity in scope: whole months from report_entity_monthly, the days at either
-- end of the range from report_entity_daily.
months AS (
    SELECT CASE WHEN CAST(:since AS date) IS NOT NULL THEN
                (date_trunc('month', CAST(:since AS date) - 1) + interval '1 month')::date
           END AS first_month,
           CASE WHEN CAST(:until AS date) IS NOT NULL THEN
                (date_trunc('month', CAST(:until AS date) + 1) - interval '1 month')::date
           END AS last_month
),
per_entity AS (
    SELECT entity_id, sum(documents)::float8 AS documents
    FROM (
        SELECT e.entity_id, e.documents
        FROM report_entity_monthly e CROSS JOIN months b
        WHERE (e.month >= b.first_month OR (b.first_month IS NULL AND CAST(:since AS date) IS NULL))
          AND (e.month <= b.last_month OR (b.last_month IS NULL AND CAST(:until AS date) IS NULL))
          AND (CAST(:source AS text) IS NULL OR e.source = :source)
        UNION ALL  -- from --since to the first whole month
        SELECT e.entity_id, e.documents
        FROM report_entity_daily e CROSS JOIN months b
        WHERE CAST(:since AS date) IS NOT NULL
          AND e.day >= :since AND e.day < b.first_month
          AND (CAST(:until AS date) IS NULL OR e.day <= :until)
          AND (CAST(:source AS text) IS NULL OR e.source = :source)
        UNION ALL  -- after the last whole month, to --until
        SELECT e.entity_id, e.documents
        FROM report_entity_daily e CROSS JOIN months b
        WHERE CAST(:until AS date) IS NOT NULL
          AND e.day >= b.last_month + interval '1 month' AND e.day <= :until
          AND (b.first_month IS NULL OR e.day >= b.first_month)
          AND (CAST(:source AS text) IS NULL OR e.source = :source)
    ) scoped
    WHERE (CAST(:since AS date) IS NOT NULL OR CAST(:until AS date) IS NOT NULL
           OR CAST(:source AS text) IS NOT NULL)
      AND entity_id IN (SELECT a_id FROM chosen UNION SELECT b_id FROM chosen)
    GROUP BY entity_id
),
-- All articles in scope, from the per-day summary (exact, and no scan of documents).
total AS (
    SELECT coalesce(sum(t.documents), 0)::float8 AS n
    FROM summary_source_days t JOIN sources s USING (source_id)
    WHERE (CAST(:since AS date) IS NULL OR t.day >= :since)
      AND (CAST(:until AS date) IS NULL OR t.day <= :until)
      AND (CAST(:source AS text) IS NULL OR s.name = :source)
),
live AS (
    SELECT ea.canonical_name AS entity_a, ea.kind AS kind_a, eb.canonical_name AS entity_b,
           eb.kind AS kind_b, p.together::integer AS documents,
           round((p.together * t.n / (pa.documents * pb.documents))::numeric, 3)::float8 AS lift,
           round(ln(p.together * t.n / (pa.documents * pb.documents))::numeric, 3)::float8
               AS pmi
    FROM chosen p
    JOIN per_entity pa ON pa.entity_id = p.a_id
    JOIN per_entity pb ON pb.entity_id = p.b_id
    JOIN entities ea ON ea.entity_id = p.a_id
    JOIN entities eb ON eb.entity_id = p.b_id
    CROSS JOIN total t
    WHERE CAST(:kind AS text) IS NULL OR :kind IN (ea.kind, eb.kind)
)
SELECT * FROM stored
UNION ALL
SELECT * FROM live
ORDER BY documents DESC, lift DESC, entity_a, entity_b
LIMIT :limit
