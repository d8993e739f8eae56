"""A document's language: English told by its function words (a set lookup per word), every
other language by py3langid (measured in benchmarks/README.md: about 2,000 documents of 2 KB a
second; the English shortcut skips it for most news in English)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_WORD = re.compile(r"[^\W\d_]+")
# The commonest English words; in English news they are about a third of the words, in other
# languages that use the Latin alphabet a few per cent at most ("a", "in", "on"...).
_ENGLISH = frozenset(
    "the of and to in a is that for on with as by at from said was it are has have be its "
    "were this which an will not but they their he his also had been after who".split()
)
ENGLISH_SHARE = 0.25  # of the words without a capital: in English news about 0.4
MIN_WORDS = 12  # fewer words cannot be told apart reliably: the default stands
SAMPLE_CHARS = 1000
ENGLISH_CHARS = 400  # enough words to recognise English


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text``'s language, or None when it is too short to tell."""
    # Names say little of a text's language and mislead a classifier ("Ilham Aliyev visited
    # Baku" is not Azerbaijani): only the words that do not start with a capital count.
    # English first, from the opening (this runs for every document: keep it cheap).
    words = [w for w in _WORD.findall(text[:ENGLISH_CHARS]) if not w[0].isupper()]
    english = sum(map(_ENGLISH.__contains__, words))
    if english >= ENGLISH_SHARE * len(words) and len(set(words)) >= MIN_WORDS:
        return "en"
    words = [w for w in _WORD.findall(text[:SAMPLE_CHARS]) if not w[0].isupper()]
    if len(set(words)) < MIN_WORDS:  # too few to tell ("Baku, Baku, Baku..."): the default
        return None
    if sum(map(_ENGLISH.__contains__, words)) >= ENGLISH_SHARE * len(words):
        return "en"
    return str(_identifier().classify(" ".join(words))[0])


@lru_cache(maxsize=1)
def _identifier() -> Any:
    """py3langid restricted to the languages news is written in (its 97 include Acehnese and
    Volapük, which a list of names can look like)."""
    from py3langid.langid import _load_identifier

    return _load_identifier(langs=NEWS_LANGUAGES)


NEWS_LANGUAGES = (
    "en fr de es it pt nl sv da no fi pl cs sk hu ro bg hr sr sl ru uk be el tr az ka hy "
    "kk uz ar fa ur he hi bn ta te mr zh ja ko vi th id ms tl sw af et lv lt sq mk"
).split()


_NAMES = {
    "english": "en", "french": "fr", "francais": "fr", "français": "fr", "german": "de",
    "deutsch": "de", "spanish": "es", "español": "es", "espanol": "es", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "russian": "ru", "русский": "ru", "ukrainian": "uk",
    "polish": "pl", "turkish": "tr", "azerbaijani": "az", "azeri": "az", "georgian": "ka",
    "armenian": "hy", "arabic": "ar", "persian": "fa", "farsi": "fa", "chinese": "zh",
    "japanese": "ja", "korean": "ko", "hindi": "hi", "swedish": "sv", "greek": "el",
    # ISO 639-2 codes of the same
    "eng": "en", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de", "spa": "es", "ita": "it",
    "por": "pt", "nld": "nl", "dut": "nl", "rus": "ru", "ukr": "uk", "pol": "pl", "tur": "tr",
    "aze": "az", "kat": "ka", "geo": "ka", "hye": "hy", "arm": "hy", "ara": "ar", "fas": "fa",
    "per": "fa", "zho": "zh", "chi": "zh", "jpn": "ja", "kor": "ko", "hin": "hi", "swe": "sv",
    "ell": "el", "gre": "el",
}  # fmt: skip
_CODE = re.compile(r"(?P<code>[a-z]{2,3})(?:[-_][a-z0-9]{2,8})*")


def language_code(value: str | None) -> str | None:
    """A record's language field as an ISO 639 code: ``EN`` -> en, ``en-US`` -> en,
    ``English`` -> en; None (so it is detected) for what is neither."""
    if not value:
        return None
    text = value.strip().lower()
    m = _CODE.fullmatch(text)
    code = m["code"] if m else text
    return _NAMES.get(code, code if m else None)
