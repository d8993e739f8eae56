"""Build ``dbapp/data/catalogue.json`` from public data plus dbapp's own additions.

Run from the repository: ``python -m dbapp.catalogue_build ../shared/corpora/entity-aliases``.
Inputs: mledoze/countries ``countries.json`` (ODbL 1.0) and SupraVerden
``intl_orgs_general_list.yaml`` (CC BY-SA 4.0), and ``dbapp/data/additions.json``.
The output is a derived database under the same terms (see README, "Data and licences").
Needs PyYAML (a test extra); dbapp itself only reads the JSON it writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from dbapp.catalogue import CATALOGUE_PATH, DATA_DIR, normalise_alias

ORG_ALIAS_FIELDS = (
    "Name_en",
    "Abbreviation_en",
    "Name_other_en",
    "Name_other_1_en",
    "Name_other_2_en",
    "Name_other_3_en",
    "Name_other_4_en",
    "Abbreviation_other_en",
    "Abbreviation_other_2_en",
    "Name_former_en",
    "Abbreviation_former_en",
)
ATTRIBUTION = [
    {
        "data": "countries: names, official names, alternative spellings, capitals, demonyms",
        "from": "mledoze/countries countries.json, commit 5e9f370050f83ad2ba4cb885f75d66114badf72c",
        "url": "https://github.com/mledoze/countries",
        "licence": "ODC Open Database License (ODbL) 1.0",
    },
    {
        "data": "international organisations: names, abbreviations, Wikidata ids",
        "from": "SupraVerden general_list.yaml, commit 59ab4fa0f92f3c75bb45e230908e612f15e8dbdf",
        "url": "https://github.com/confirmordeny/supraverden",
        "licence": "CC BY-SA 4.0",
    },
    {
        "data": "regions, institutions and aliases of the sample domain; ambiguity rules",
        "from": "dbapp/data/additions.json",
        "licence": "same as dbapp",
    },
]


def _latin(text: str) -> bool:
    return all(ord(c) < 0x250 or not c.isalpha() for c in text)


def _plural(word: str) -> str | None:
    if word.endswith(("s", "sh", "ch", "x", "z", "y", "ese")) or " " in word:
        return None
    return word + "s"


def _entity(kind: str, name: str, origin: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "name": name, "origin": origin, "aliases": [name], **extra}


def from_countries(countries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Countries (GPE), their capitals (GPE) and demonyms (NORP)."""
    entities = []
    names = {c["name"]["common"] for c in countries}
    demonyms: set[str] = set()
    ordered = sorted(countries, key=lambda c: (not c.get("independent"), c["cca3"]))
    for c in ordered:
        common = c["name"]["common"]
        independent = bool(c.get("independent"))
        country = _entity(
            "GPE",
            common,
            "countries.json",
            external_id=c["cca3"],
            description="country" if independent else "territory",
        )
        country["aliases"] += [c["name"]["official"]] + [
            a for a in c.get("altSpellings", []) if len(a) > 2 and _latin(a)
        ]
        entities.append(country)
        eng = (c.get("demonyms") or {}).get("eng") or {}
        demonym = eng.get("m")
        for capital in c.get("capital", []):
            if capital in names:
                continue  # Singapore, Monaco...: the country's own name wins
            city = _entity("GPE", capital, "countries.json", description=f"capital of {common}")
            if not independent:
                # A territory's capital is often an ordinary word or name (Stanley, Douglas,
                # Hamilton): count it only where the territory itself is named.
                city["context"] = {capital: [common] + ([demonym] if demonym else [])}
            entities.append(city)
        if demonym and demonym not in demonyms:
            demonyms.add(demonym)
            people = _entity(
                "NORP",
                demonym,
                "countries.json",
                external_id=c["cca3"],
                description=f"people or things of {common}",
            )
            forms = [eng.get("f"), _plural(demonym), _plural(eng.get("f") or "")]
            people["aliases"] += [f for f in forms if f]
            entities.append(people)
    return entities


def from_orgs(orgs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """International organisations (ORG) with abbreviations and Wikidata ids."""
    entities = []
    for key in sorted(orgs):
        org = orgs[key]
        name = org.get("Name_en") or key
        entity = _entity(
            "ORG",
            name,
            "intl_orgs_general_list.yaml",
            external_id=org.get("Wikidata_code"),
            description=org.get("Type") or org.get("Org_family"),
        )
        for field in ORG_ALIAS_FIELDS:
            value = org.get(field)
            if isinstance(value, str) and value.strip() and not value.startswith("["):
                entity["aliases"].append(value.strip())
        entities.append(entity)
    return entities


def build(countries_path: Path, orgs_path: Path, additions_path: Path) -> dict[str, Any]:
    """The merged catalogue: deduplicated, each alias unique within its kind, first one wins."""
    import yaml  # a build-time dependency only

    additions = json.loads(additions_path.read_text())
    entities = from_countries(json.loads(countries_path.read_text()))
    entities += from_orgs(yaml.safe_load(orgs_path.read_text()))
    for extra in additions["entities"]:
        entity = _entity(extra["kind"], extra["name"], "additions.json")
        entity["aliases"] = list(extra["aliases"])
        for key in ("external_id", "description"):
            if extra.get(key):
                entity[key] = extra[key]
        if extra.get("context_terms"):
            entity["context"] = dict.fromkeys(extra["aliases"], extra["context_terms"])
        entities.append(entity)

    by_key: dict[str, dict[str, Any]] = {}
    for e in entities:
        by_key.setdefault(f"{e['kind']}|{e['name']}", e)
    for key, aliases in additions["extra_aliases"].items():
        if key not in by_key:
            raise SystemExit(f"extra_aliases: no entity {key}")
        by_key[key]["aliases"] += aliases
    for key, rules in additions["context_terms"].items():
        if key not in by_key:
            raise SystemExit(f"context_terms: no entity {key}")
        by_key[key].setdefault("context", {}).update(rules)
    dropped = set(additions["drop_aliases"])

    seen_names: set[tuple[str, str]] = set()
    seen_aliases: set[tuple[str, str]] = set()
    out = []
    for e in entities:
        if (e["kind"], e["name"]) in seen_names:
            continue
        seen_names.add((e["kind"], e["name"]))
        aliases = []
        for alias in e["aliases"]:
            norm = normalise_alias(alias)
            if alias in dropped or not norm or (e["kind"], norm) in seen_aliases:
                continue
            seen_aliases.add((e["kind"], norm))
            aliases.append(alias)
        if not aliases:
            continue
        item = {
            k: e[k] for k in ("kind", "name", "external_id", "description", "origin") if e.get(k)
        }
        item["aliases"] = aliases
        context = {a: t for a, t in e.get("context", {}).items() if a in aliases}
        if context:
            item["context"] = context
        out.append(item)
    return {
        "about": "dbapp's entity catalogue, derived from public data; rebuild with "
        "`python -m dbapp.catalogue_build DIR`. Do not edit by hand: edit additions.json.",
        "attribution": ATTRIBUTION,
        "news_sources": additions["sources"],
        "entities": out,
    }


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m dbapp.catalogue_build DIR-WITH-countries.json")
    src = Path(argv[0])
    catalogue = build(
        src / "countries.json",
        src / "intl_orgs_general_list.yaml",
        DATA_DIR / "additions.json",
    )
    text = json.dumps(catalogue, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
    CATALOGUE_PATH.write_text(text)
    n = len(catalogue["entities"])
    a = sum(len(e["aliases"]) for e in catalogue["entities"])
    print(f"wrote {CATALOGUE_PATH}: {n} entities, {a} aliases")


if __name__ == "__main__":
    main(sys.argv[1:])
