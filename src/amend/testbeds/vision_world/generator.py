"""A seeded multimodal world: invented countries, each with a flag and facts, asked about as visual questions.

Like the text world it is a pure function of its arguments, so a model trained on it can be checked against it
forever. A country's flag is a *design* (stripes, colours, an emblem) that :mod:`.render` draws in many renderings
(shifted, scaled, rotated, on different backgrounds, with noise): rendering 0 is the one an edit is made on and the
others are the real "other images of the same thing" image generality asks about. Every question has phrasings the
model trains on and phrasings it never sees (text generality), and every fact can also be asked in words alone
(text locality).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict, dataclass
from typing import Any

from amend.testbeds.world.generator import WordMaker

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (200, 30, 40),
    "green": (20, 140, 60),
    "blue": (30, 60, 190),
    "yellow": (240, 200, 30),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
    "orange": (240, 120, 20),
    "purple": (120, 40, 150),
}
EMBLEMS: tuple[str, ...] = ("none", "circle", "square", "triangle", "diamond", "cross")
LAYOUTS: tuple[str, ...] = ("horizontal", "vertical")
ANIMALS: tuple[str, ...] = tuple(
    """lion eagle bear wolf tiger falcon stag horse owl fox swan heron lynx otter bison crane hawk boar elk
    raven""".split()  # noqa: SIM905
)


@dataclass(frozen=True)
class Flag:
    """What a flag looks like: ``stripes`` colours in ``layout`` order, and an emblem of one colour in the middle."""

    layout: str
    stripes: tuple[str, ...]
    emblem: str
    emblem_colour: str

    def differences(self, other: Flag) -> int:
        """How many of the four visual attributes differ (designs at least two apart are told apart easily)."""
        return sum(
            [
                self.layout != other.layout,
                self.stripes != other.stripes,
                self.emblem != other.emblem,
                self.emblem_colour != other.emblem_colour,
            ]
        )


@dataclass(frozen=True)
class VisualRelation:
    """A fact asked about the country whose flag is shown.

    Attributes:
        name: The relation's name ("country", "capital", …).
        questions: Phrasings the model trains on; the first is the edit prompt.
        held_out: Phrasings it never sees in training (text generality).
        text_questions: The same fact asked about a named country, without an image (``{}`` is the country).
        fact: The fact as a sentence about the flag shown (``{}`` is the object): what a context memory holds.
    """

    name: str
    questions: tuple[str, ...]
    held_out: tuple[str, ...]
    text_questions: tuple[str, ...]
    fact: str


RELATIONS: tuple[VisualRelation, ...] = (
    VisualRelation(
        "country",
        (
            "Which country does this flag belong to?",
            "Whose flag is this?",
            "This flag is the flag of which country?",
            "Name the country of this flag.",
        ),
        ("Which country flies this flag?", "What country is this flag from?"),
        (),
        "This flag belongs to {}.",
    ),
    VisualRelation(
        "capital",
        (
            "What is the capital of the country of this flag?",
            "Which city is the capital of the country whose flag this is?",
            "Name the capital of this flag's country.",
            "The country of this flag has which capital?",
        ),
        ("What city is the capital where this flag flies?", "Which capital belongs to this flag's country?"),
        ("What is the capital of {}?", "Which city is the capital of {}?"),
        "The capital of this flag's country is {}.",
    ),
    VisualRelation(
        "language",
        (
            "What language is spoken in the country of this flag?",
            "Which language do people speak in the country whose flag this is?",
            "Name the language of this flag's country.",
            "The country of this flag speaks which language?",
        ),
        ("What language is spoken where this flag flies?", "Which language belongs to this flag's country?"),
        ("What language is spoken in {}?", "Which language do people speak in {}?"),
        "The language of this flag's country is {}.",
    ),
    VisualRelation(
        "animal",
        (
            "What is the national animal of the country of this flag?",
            "Which animal is the emblem of the country whose flag this is?",
            "Name the national animal of this flag's country.",
            "The country of this flag has which national animal?",
        ),
        ("What national animal belongs where this flag flies?", "Which animal belongs to this flag's country?"),
        ("What is the national animal of {}?", "Which animal is the emblem of {}?"),
        "The national animal of this flag's country is {}.",
    ),
)
RELATION_NAMES: tuple[str, ...] = tuple(relation.name for relation in RELATIONS)


@dataclass(frozen=True)
class Country:
    """One country: its name, flag, and the objects of its facts (``facts["country"]`` is its own name)."""

    name: str
    flag: Flag
    facts: dict[str, str]


@dataclass(frozen=True)
class VisionWorld:
    """The countries of one seed, with the objects every relation draws from."""

    seed: int
    countries: tuple[Country, ...]

    def relation(self, name: str) -> VisualRelation:
        return next(relation for relation in RELATIONS if relation.name == name)

    def objects(self, relation: str) -> list[str]:
        """Every object of ``relation`` in the world, in country order without repeats (edit targets come from
        here)."""
        return list(dict.fromkeys(country.facts[relation] for country in self.countries))

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "countries": [asdict(country) for country in self.countries]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VisionWorld:
        countries = tuple(
            Country(
                entry["name"],
                Flag(
                    entry["flag"]["layout"],
                    tuple(entry["flag"]["stripes"]),
                    entry["flag"]["emblem"],
                    entry["flag"]["emblem_colour"],
                ),
                dict(entry["facts"]),
            )
            for entry in data["countries"]
        )
        return cls(int(data["seed"]), countries)


def _designs(rng: random.Random, n: int) -> list[Flag]:
    """``n`` flags, each at least two attributes away from every other, the emblem never the colour of a stripe it
    sits on."""
    chosen: list[Flag] = []
    colours = list(COLOURS)
    candidates = [
        Flag(layout, stripes, emblem, emblem_colour)
        for layout in LAYOUTS
        for count in (2, 3)
        for stripes in itertools.permutations(colours, count)
        for emblem in EMBLEMS
        for emblem_colour in (colours if emblem != "none" else ["none"])
        if emblem_colour not in stripes
    ]
    rng.shuffle(candidates)
    for flag in candidates:
        if all(flag.differences(other) >= 2 for other in chosen):
            chosen.append(flag)
            if len(chosen) == n:
                return chosen
    raise ValueError(f"could not design {n} flags two attributes apart")


def generate(seed: int = 0, n_countries: int = 40) -> VisionWorld:
    """The world of ``seed``: ``n_countries`` countries with distinct flags, capitals and languages (one each) and
    national animals (shared, so an edit can move a country to another's animal)."""
    rng = random.Random(seed)
    words = WordMaker(
        rng,
        reserved=[
            word for relation in RELATIONS for text in relation.questions for word in text.lower().strip("?.").split()
        ],
    )
    names = words.many("country", n_countries)
    capitals = words.many("city", n_countries)
    languages = words.many("language", n_countries)
    flags = _designs(rng, n_countries)
    countries = tuple(
        Country(
            name,
            flag,
            {"country": name, "capital": capital, "language": language, "animal": rng.choice(ANIMALS)},
        )
        for name, flag, capital, language in zip(names, flags, capitals, languages, strict=True)
    )
    return VisionWorld(seed, countries)
