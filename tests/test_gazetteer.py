"""The gazetteer's rules, without a database: case, boundaries, longest match, ambiguity."""

from __future__ import annotations

import pytest

from dbapp.catalogue import CatalogueAlias, shipped_aliases
from dbapp.extract.base import ExtractedMention
from dbapp.extract.gazetteer import Gazetteer, fold, is_exact_case
from dbapp.parse.native import apply_structure, parse_native
from dbapp.parse.records import ParsedDocument
from tests.conftest import SEEDS


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer(shipped_aliases())


def found(g: Gazetteer, body: str) -> list[tuple[str, str, str]]:
    doc = ParsedDocument(body=body, origin_path="t")
    apply_structure(doc)
    mentions = g.extract(doc)
    for m in mentions:
        assert body[m.start : m.end] == m.surface
    return [(m.surface, m.kind, m.name) for m in mentions]


def names(g: Gazetteer, body: str) -> list[str]:
    return [name for _, _, name in found(g, body)]


def test_seed_entities_with_roles(gazetteer: Gazetteer) -> None:
    doc = parse_native((SEEDS / "001_b9ae1a64affd447b.txt").read_bytes(), "s")
    mentions = gazetteer.extract(doc)
    by_name = {(m.name, m.role) for m in mentions}
    for expected in [
        ("Baku", "dateline"),
        ("Azerbaijan", "dateline"),
        ("Leman Zeynalova", "byline"),
        ("Azerbaijan", "body"),
        ("Armenia", "body"),
        ("Karabakh", "body"),
        ("United Nations", "body"),
        ("United Nations Security Council", "body"),
        ("United Nations General Assembly", "body"),
    ]:
        assert expected in by_name
    assert all(doc.body[m.start : m.end] == m.surface for m in mentions)
    assert "Trend" not in {m.surface for m in mentions}  # agency boilerplate is not a mention
    seed0 = parse_native((SEEDS / "000_d1f4e4cf78dcdb67.txt").read_bytes(), "s")
    surfaces = {(m.surface, m.name) for m in gazetteer.extract(seed0)}
    assert ("Milli Majlis", "National Assembly of Azerbaijan") in surfaces
    assert ("Azerbaijani Parliament", "National Assembly of Azerbaijan") in surfaces


def test_aliases_merge_into_one_entity(gazetteer: Gazetteer) -> None:
    body = "The UN said the United Nations and the U.N. agreed. Azeris and Azerbaijanis voted."
    assert names(gazetteer, body) == [
        "United Nations",
        "United Nations",
        "United Nations",
        "Azerbaijani",
        "Azerbaijani",
    ]


def test_longest_match_wins(gazetteer: Gazetteer) -> None:
    assert found(gazetteer, "a UN Security Council resolution on Nagorno-Karabakh.") == [
        ("UN Security Council", "ORG", "United Nations Security Council"),
        ("Nagorno-Karabakh", "LOC", "Karabakh"),
    ]


def test_case_rules(gazetteer: Gazetteer) -> None:
    assert names(gazetteer, "roast turkey and fine china") == []
    assert names(gazetteer, "Turkey and China signed.") == ["Türkiye", "China"]
    assert names(gazetteer, "AZERBAIJAN SAYS BAKU IS READY") == ["Azerbaijan", "Baku"]
    # Acronyms only in their exact case; short ones not in all-caps headlines.
    assert names(gazetteer, "Un-like the un, the Un voted.") == []
    assert names(gazetteer, "WHO SAID THE UN WAS LATE") == []
    assert names(gazetteer, "The UN was late.") == ["United Nations"]


def test_whole_words_only(gazetteer: Gazetteer) -> None:
    assert names(gazetteer, "Bakunin read about Armenians and UNESCOx.") == ["Armenian"]
    assert names(gazetteer, "It cost US$ 5 in a U.S.-led deal.") == []
    assert names(gazetteer, "Armenia-Azerbaijan talks") == ["Armenia", "Azerbaijan"]


def test_ambiguous_names_need_context(gazetteer: Gazetteer) -> None:
    assert names(gazetteer, "Jordan scored twice.") == []
    assert names(gazetteer, "Officials in Jordan met in Amman.") == ["Jordan", "Amman"]
    assert names(gazetteer, "Georgia voted for Biden.") == []
    assert names(gazetteer, "Georgia and Tbilisi airport.") == ["Georgia", "Tbilisi"]
    assert names(gazetteer, "Stanley Fischer spoke.") == []


def test_names_inside_longer_names_are_skipped(gazetteer: Gazetteer) -> None:
    assert names(gazetteer, "He read the Washington Post and the New York Times.") == []
    assert names(gazetteer, "the Reserve Bank of India said") == []
    assert names(gazetteer, "In Azerbaijan's Karabakh region") == ["Azerbaijan", "Karabakh"]
    assert names(gazetteer, "Azerbaijani President Ilham Aliyev") == ["Azerbaijani"]


def test_offsets_stay_exact_with_non_ascii_text() -> None:
    # 'İ' lower-cases to two characters: a naive lower() would shift every offset after it.
    aliases = [CatalogueAlias(1, "GPE", "Baku", "Baku"), CatalogueAlias(2, "GPE", "Ganja", "Ganja")]
    g = Gazetteer(aliases)
    body = "İİİ İstanbul — \u0645\u0631\u062d\u0628\u0627 Baku, then e\u0301 Ganja 😀 Baku."
    mentions = g.extract(ParsedDocument(body=body, origin_path="t"))
    assert [(body[m.start : m.end], m.entity_id) for m in mentions] == [
        ("Baku", 1),
        ("Ganja", 2),
        ("Baku", 1),
    ]
    assert len(fold(body)) == len(body)


def test_ignored_surfaces_never_match() -> None:
    aliases = [CatalogueAlias(1, "GPE", "Armenia", "Armenia")]
    assert (
        Gazetteer(aliases, ignored={"armenia"}).extract(
            ParsedDocument(body="Armenia", origin_path="t")
        )
        == []
    )


def test_exact_case_detection() -> None:
    assert is_exact_case("UN") and is_exact_case("U.N.") and is_exact_case("AfDB")
    assert not is_exact_case("United Nations") and not is_exact_case("Baku")


def test_pickles_for_worker_processes(gazetteer: Gazetteer) -> None:
    import pickle

    clone = pickle.loads(pickle.dumps(gazetteer))
    assert clone.version == gazetteer.version
    doc = ParsedDocument(body="Baku and the UN", origin_path="t")
    assert clone.extract(doc) == gazetteer.extract(doc)
    assert all(isinstance(m, ExtractedMention) for m in clone.extract(doc))


def test_long_text_scans_in_windows_and_keeps_every_name(gazetteer: Gazetteer) -> None:
    """A text longer than one scan window: a name that straddles a window's edge is found
    once, and the hit limit still bounds a text of names and nothing else."""
    from dbapp.extract import gazetteer as module

    filler = "and then the talks went on. "
    head = filler * ((module.SCAN_WINDOW - 6) // len(filler))
    head += " " * (module.SCAN_WINDOW - 6 - len(head))
    body = head + "Azerbaijan signed. " + filler * 10 + "Georgia and Tbilisi agreed."
    spans = [(s, e) for s, e, _ in gazetteer._folded.scan(fold(body))]
    assert (module.SCAN_WINDOW - 6, module.SCAN_WINDOW + 4) in spans  # across the edge
    assert len(spans) == len(set(spans))
    assert "Azerbaijan" in names(gazetteer, body)
    many = "Baku, " * (module.SCAN_WINDOW // 3)
    assert len(gazetteer._folded.scan(fold(many), limit=1000)) == 1000


def test_an_exact_case_alias_wins_its_span_over_a_folded_one() -> None:
    """On the same span the exact-case alias is tried first ("OPEC" the organisation, not a
    user's MISC "Opec"), as the catalogue commands promise."""
    g = Gazetteer(
        [
            CatalogueAlias(1, "ORG", "OPEC", "OPEC"),
            CatalogueAlias(2, "MISC", "Opec (band)", "Opec", origin="user"),
        ]
    )
    assert found(g, "Oil prices rose after OPEC met in Vienna.") == [("OPEC", "ORG", "OPEC")]
    assert found(g, "The band Opec played in Vienna.") == [("Opec", "MISC", "Opec (band)")]


def test_hits_of_a_long_text_come_in_the_order_of_their_ends(gazetteer: Gazetteer) -> None:
    """Windowed or not, the scan yields hits by their end, so the hit limit keeps the same
    hits as one scan of the whole text would."""
    from dbapp.extract import gazetteer as module

    body = "UN " * 20_000 + "." * (module.SCAN_WINDOW - 60_001) + " Special EU Programmes Body met."
    body += " Azerbaijan and Georgia." * 10_000
    text = fold(body)
    hits = gazetteer._folded.scan(text)
    assert [e for _, e, _ in hits] == sorted(e for _, e, _ in hits)
    whole = gazetteer._folded._ac.find_matches_as_indexes(text, overlapping=True)
    assert [(s, e) for s, e, _ in hits] == [(s, e) for _, s, e in whole]
    assert gazetteer._folded.scan(text, limit=5) == hits[:5]


def test_a_lone_surrogate_does_not_stop_extraction(gazetteer: Gazetteer) -> None:
    body = "Baku \ud800 hosted Azerbaijan's talks."
    assert names(gazetteer, body) == ["Baku", "Azerbaijan"]


def test_excluded_ranges_cover_what_one_of_them_holds() -> None:
    """Excluded answers with a binary search over ranges by start and the furthest end so
    far: the same answer as trying every range, nested and overlapping ones included."""
    import random

    from dbapp.extract.gazetteer import Excluded

    rng = random.Random(7)
    for _ in range(200):
        ranges = [(s, s + rng.randint(1, 30)) for s in (rng.randint(0, 200) for _ in range(8))]
        excluded = Excluded(ParsedDocument(body="x" * 300, origin_path="t"))
        excluded._index(ranges)
        for _ in range(50):
            start = rng.randint(0, 230)
            end = start + rng.randint(1, 20)
            expected = any(s <= start and end <= e for s, e in ranges)
            assert excluded.covers(start, end, "x") is expected
