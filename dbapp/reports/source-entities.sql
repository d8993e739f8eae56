-- description: Which entities each source mentions most.
-- params: since, until, source, kind, limit
SELECT source, entity, kind, sum(mentions)::integer AS mentions,
       sum(documents)::integer AS documents
FROM report_entity_daily
WHERE (CAST(:since AS date) IS NULL OR day >= :since)
  AND (CAST(:until AS date) IS NULL OR day <= :until)
  AND (CAST(:source AS text) IS NULL OR source = :source)
  AND (CAST(:kind AS text) IS NULL OR kind = :kind)
GROUP BY source, entity_id, entity, kind
ORDER BY source, documents DESC, mentions DESC, entity
LIMIT :limit
