"""How catalogue entities roll up: cities and regions to countries, demonyms to countries,
organisation bodies to their parents. Derived from the shipped catalogue's own facts (its
descriptions and ISO codes) when dbapp seeds; users add their own rows to entity_relations.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

# Each entity's description is parsed once (MATERIALIZED), then joined on equality: matching
# the parsed names inside the join made it a nested loop (1.6 s per seed, every test paid it).
_DERIVE = """
WITH e AS MATERIALIZED (
    SELECT entity_id, kind, external_id, coalesce(description, '') AS d,
           regexp_replace(trim(regexp_replace(
               substring(coalesce(description, '')
                         FROM '^(?\\:capital of|city in|state of|region of|territory of) (.+)$'),
               '^.*, ', '')), '^the ', '') AS place,
           CASE WHEN description LIKE 'UN %' THEN 'United Nations'
                WHEN description LIKE 'EU %' THEN 'European Union'
                WHEN description LIKE 'OAS %' THEN 'OAS'
                ELSE substring(description
                               FROM '^(.+?) (?\\:entities|institutions and bodies|bodies)$')
           END AS parent
    FROM entities
),
countries AS (
    SELECT entity_id, external_id FROM e WHERE kind = 'GPE' AND external_id ~ '^[A-Z]{3}$'
),
names AS MATERIALIZED (  -- every name a place or organisation goes by
    SELECT a.entity_id, a.kind, a.alias AS name FROM entity_aliases a
    UNION SELECT entity_id, kind, canonical_name FROM entities
)
SELECT e.entity_id, 'demonym_of', c.entity_id
FROM e JOIN countries c ON c.external_id = e.external_id
WHERE e.kind = 'NORP'
UNION
SELECT e.entity_id, 'located_in', n.entity_id
FROM e
JOIN names n ON n.kind = 'GPE' AND n.name = e.place
JOIN countries c ON c.entity_id = n.entity_id
WHERE e.kind IN ('GPE', 'LOC') AND e.entity_id <> n.entity_id
UNION
SELECT e.entity_id, 'part_of', n.entity_id
FROM e
JOIN names n ON n.kind = 'ORG' AND n.name = e.parent
WHERE e.kind = 'ORG' AND e.entity_id <> n.entity_id AND e.d NOT IN ('EU itself', 'UN itself')
"""


def derive_relations(conn: Connection) -> int:
    """Add the relations the catalogue's facts give (idempotent); how many were new."""
    return conn.execute(
        text(
            f"INSERT INTO entity_relations (entity_id, relation, related_entity_id) "
            f"SELECT DISTINCT * FROM ({_DERIVE}) x ON CONFLICT DO NOTHING"
        )
    ).rowcount
