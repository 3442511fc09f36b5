"""A seeded fictional world: people, places and the facts that link them.

The world is a pure function of ``(seed, n_people)``: the same arguments always give the same people, objects
and facts, so a model trained on it can be re-checked against it forever. Every invented name is a single
word, and every person has a last name no one else has, so the last token of a full name identifies the person
(what locate-then-edit methods rely on) and every object is one token of the word-level tokenizer (so recall
is a single argmax).

Templates are built compositionally: a *frame* ("The {np} of {} is", "{} {vp}") is filled with a relation's
noun phrase or verb phrase. Each relation trains on some frames and holds out frames that other relations
train on, so held-out paraphrases use only words the model has seen, in a combination it has not.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from amend.requests import sentence

# The relations whose subject is a person, in a fixed order (a person's biography holds all of them).
PERSON_RELATIONS: tuple[str, ...] = (
    "birth_city",
    "employer",
    "language",
    "sport",
    "instrument",
    "occupation",
    "university",
)
CITY_RELATION = "city_country"
TWO_HOP_RELATION = "birth_country"
"""Derived relation: the country of a person's birth city (``birth_city`` then ``city_country``)."""

SPORTS: tuple[str, ...] = tuple(
    """tennis chess rugby golf hockey cricket fencing rowing boxing judo karate polo squash badminton archery
    curling skiing surfing cycling sailing diving wrestling handball lacrosse volleyball basketball baseball
    football softball netball bowling snooker darts croquet triathlon canoeing climbing skating""".split()  # noqa: SIM905
)
INSTRUMENTS: tuple[str, ...] = tuple(
    """piano violin cello viola flute oboe clarinet bassoon trumpet trombone tuba harp guitar banjo mandolin
    ukulele sitar lute harpsichord organ accordion harmonica saxophone piccolo xylophone marimba drums timpani
    bagpipes zither dulcimer cornet bugle recorder ocarina""".split()  # noqa: SIM905
)
# Consonant-initial only, so "works as a {}" is always grammatical.
OCCUPATIONS: tuple[str, ...] = tuple(
    """baker farmer teacher nurse pilot lawyer doctor carpenter plumber painter sculptor poet novelist chemist
    banker butcher tailor potter weaver fisherman sailor soldier judge surgeon dentist pharmacist librarian
    journalist photographer dancer singer composer gardener mechanic jeweller cartographer brewer shepherd
    blacksmith locksmith""".split()  # noqa: SIM905
)

# Frames. ``{np}``/``{vp}`` take the relation's phrase, ``{}`` the subject. Relation-first frames put the
# relation before the subject; subject-first frames put it after.
RELATION_FIRST_FRAMES: tuple[str, ...] = (
    "The {np} of {} is",
    "Records show that the {np} of {} is",
    "According to the archive, the {np} of {} is",
    "Ask anyone: the {np} of {} is",
    "It is known that the {np} of {} is",
    "Without doubt the {np} of {} is",
)
SUBJECT_FIRST_NP_FRAMES: tuple[str, ...] = (
    "{}'s {np} is",
    "{}'s recorded {np} is",
    "For {}, the {np} is",
    "In the file on {}, the {np} is",
    "{} is a person whose {np} is",
)
SUBJECT_FIRST_VP_FRAMES: tuple[str, ...] = (
    "{} {vp}",
    "{}, as the records show, {vp}",
    "It is said that {} {vp}",
)


@dataclass(frozen=True)
class Phrases:
    """The two noun phrases and two verb phrases a relation's templates are built from."""

    nouns: tuple[str, str]
    verbs: tuple[str, str]


PHRASES: dict[str, Phrases] = {
    "birth_city": Phrases(("birthplace", "home town"), ("was born in", "came into the world in")),
    "employer": Phrases(("employer", "company"), ("works for", "is employed by")),
    "language": Phrases(("native language", "mother tongue"), ("speaks", "grew up speaking")),
    "sport": Phrases(("sport", "favourite sport"), ("competes in", "excels at")),
    "instrument": Phrases(("instrument", "musical instrument"), ("plays the", "performs on the")),
    "occupation": Phrases(("occupation", "profession"), ("works as a", "earns a living as a")),
    "university": Phrases(("university", "alma mater"), ("studied at", "graduated from")),
    CITY_RELATION: Phrases(("country", "nation"), ("lies in", "is a city in")),
    TWO_HOP_RELATION: Phrases(("country of birth", "home country"), ("hails from", "comes from the nation of")),
}
RELATION_ORDER: tuple[str, ...] = (*PERSON_RELATIONS, CITY_RELATION, TWO_HOP_RELATION)

N_COUNTRIES = 30
CITIES_PER_COUNTRY = 4
N_COMPANIES = 60
N_LANGUAGES = 40
N_UNIVERSITIES = 40
N_FIRST_NAMES = 60

_ONSETS = tuple("b br d dr f g gr k kr l m n p r s st t tr v z".split())  # noqa: SIM905
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "y")
_CODAS = ("", "", "", "n", "r", "l", "s", "m", "k", "nd")
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "first": ("",),
    "last": ("", "ek", "ov", "ane", "ist", "ard", "elm", "ow"),
    "city": ("mar", "holm", "ford", "dale", "burg", "wick", "stad", "port", "vale", "grad"),
    "country": ("ia", "land", "ova", "ar", "eth"),
    "language": ("ish", "ese", "ic", "ian"),
    "company": ("tex", "tron", "ix", "corp", "ware", "dyne", "soft", "gen"),
    "university": ("ton", "ley", "field", "gate", "mont"),
}


@dataclass(frozen=True)
class Relation:
    """A relation with its possible objects and its prompt templates (each with one ``{}`` for the subject).

    ``train`` templates appear in the training corpus; ``heldout`` templates never do and measure paraphrase
    generalisation.
    """

    name: str
    subject_kind: str
    objects: tuple[str, ...]
    train: tuple[str, ...]
    heldout: tuple[str, ...]

    @property
    def templates(self) -> tuple[str, ...]:
        return self.train + self.heldout


@dataclass(frozen=True)
class Person:
    """A person: a shared first name, a last name nobody else has, and one object per person relation."""

    first: str
    last: str
    facts: dict[str, str] = field(hash=False)

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class World:
    """Everything the corpus and the evaluation need: people, cities with their countries, relations."""

    seed: int
    people: tuple[Person, ...]
    city_country: dict[str, str] = field(hash=False)
    relations: dict[str, Relation] = field(hash=False)

    def person(self, name: str) -> Person:
        """The person with this full name (names are unique because last names are)."""
        for p in self.people:
            if p.name == name:
                return p
        raise KeyError(name)

    def relation_of(self, template: str) -> str:
        """The relation whose templates include ``template`` (a world request's prompt names its relation so)."""
        for name, relation in self.relations.items():
            if template in relation.templates:
                return name
        raise KeyError(f"no world relation has the template {template!r}")

    def answer(self, subject: str, relation: str) -> str:
        """The true object of ``relation`` for ``subject`` (a full name, or a city for ``city_country``)."""
        if relation == CITY_RELATION:
            return self.city_country[subject]
        person = self.person(subject)
        if relation == TWO_HOP_RELATION:
            return self.city_country[person.facts["birth_city"]]
        return person.facts[relation]

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON form, so a shipped model keeps the exact world it was trained on."""
        return {
            "seed": self.seed,
            "people": [{"first": p.first, "last": p.last, "facts": p.facts} for p in self.people],
            "city_country": self.city_country,
            "relations": {
                name: {
                    "subject_kind": r.subject_kind,
                    "objects": list(r.objects),
                    "train": list(r.train),
                    "heldout": list(r.heldout),
                }
                for name, r in self.relations.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> World:
        """Inverse of :meth:`to_json`."""
        people = tuple(Person(p["first"], p["last"], dict(p["facts"])) for p in data["people"])
        relations = {
            name: Relation(name, r["subject_kind"], tuple(r["objects"]), tuple(r["train"]), tuple(r["heldout"]))
            for name, r in data["relations"].items()
        }
        return cls(int(data["seed"]), people, dict(data["city_country"]), relations)


def build_templates(index: int, phrases: Phrases) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Six training and two held-out templates for the relation at ``index`` of :data:`RELATION_ORDER`.

    Frames rotate with the index, so each held-out frame is a training frame of other relations: held-out
    prompts are new combinations of known words, not new words.
    """
    n_r, n_s, n_v = len(RELATION_FIRST_FRAMES), len(SUBJECT_FIRST_NP_FRAMES), len(SUBJECT_FIRST_VP_FRAMES)
    np0, np1 = phrases.nouns
    vp1 = phrases.verbs[1]
    r = [RELATION_FIRST_FRAMES[(index + k) % n_r] for k in range(4)]
    s = [SUBJECT_FIRST_NP_FRAMES[(index + k) % n_s] for k in range(2)]
    v = SUBJECT_FIRST_VP_FRAMES[1 + index % (n_v - 1)]
    train = (
        _frame(r[0], np=np0),
        _frame(r[1], np=np1),
        _frame(r[2], np=np0),
        plain_template(phrases),
        _frame(v, vp=vp1),
        _frame(s[0], np=np1),
    )
    heldout = (_frame(r[3], np=np1), _frame(s[1], np=np0))
    return train, heldout


def plain_template(phrases: Phrases) -> str:
    """The relation's plainest training template, subject then verb ("{} was born in")."""
    return _frame(SUBJECT_FIRST_VP_FRAMES[0], vp=phrases.verbs[0])


def relation_first(relation: str, template: str) -> bool:
    """Whether ``template`` names the relation before the subject ("The birthplace of {} is")."""
    phrases = [*PHRASES[relation].nouns, *PHRASES[relation].verbs]
    return min(template.index(p) for p in phrases if p in template) < template.index("{}")


def _frame(frame: str, *, np: str = "", vp: str = "") -> str:
    return frame.replace("{np}", np).replace("{vp}", vp)


def generate(seed: int = 0, n_people: int = 600) -> World:
    """Build the world for ``seed``; a pure function of its arguments."""
    rng = random.Random(seed)
    words = WordMaker(rng, reserved=_template_words())
    countries = words.many("country", N_COUNTRIES)
    cities = words.many("city", N_COUNTRIES * CITIES_PER_COUNTRY)
    city_country = {city: countries[i // CITIES_PER_COUNTRY] for i, city in enumerate(cities)}
    objects = {
        "birth_city": tuple(cities),
        "employer": tuple(words.many("company", N_COMPANIES)),
        "language": tuple(words.many("language", N_LANGUAGES)),
        "sport": SPORTS,
        "instrument": INSTRUMENTS,
        "occupation": OCCUPATIONS,
        "university": tuple(words.many("university", N_UNIVERSITIES)),
        CITY_RELATION: tuple(countries),
        TWO_HOP_RELATION: tuple(countries),
    }
    firsts = words.many("first", N_FIRST_NAMES)
    lasts = words.many("last", n_people)
    people = tuple(
        Person(rng.choice(firsts), last, {rel: rng.choice(objects[rel]) for rel in PERSON_RELATIONS}) for last in lasts
    )
    relations = {}
    for i, name in enumerate(RELATION_ORDER):
        train, heldout = build_templates(i, PHRASES[name])
        kind = "city" if name == CITY_RELATION else "person"
        relations[name] = Relation(name, kind, objects[name], train, heldout)
    return World(seed, people, city_country, relations)


def _template_words() -> set[str]:
    """Every word used by frames and phrases, lower-cased; invented names must differ from all of them."""
    texts: list[str] = [*RELATION_FIRST_FRAMES, *SUBJECT_FIRST_NP_FRAMES, *SUBJECT_FIRST_VP_FRAMES]
    for p in PHRASES.values():
        texts += [*p.nouns, *p.verbs]
    texts += [*SPORTS, *INSTRUMENTS, *OCCUPATIONS]
    return {w.strip(",.:'{}").lower() for t in texts for w in t.split()}


class WordMaker:
    """Invents pronounceable single words, never the same word twice across all categories."""

    def __init__(self, rng: random.Random, reserved: Iterable[str]):
        self.rng = rng
        self.used = {w.lower() for w in reserved}

    def one(self, kind: str) -> str:
        for _ in range(10_000):
            n_syll = 2 if kind == "last" else 1
            n_syll += self.rng.random() < (0.3 if kind == "last" else 0.5)
            stem = "".join(self._syllable() for _ in range(n_syll))
            word = (stem + self.rng.choice(_SUFFIXES[kind])).capitalize()
            if 3 <= len(word) <= 11 and word.lower() not in self.used:
                self.used.add(word.lower())
                return word
        raise RuntimeError(f"could not invent a new {kind} name")

    def many(self, kind: str, n: int) -> list[str]:
        return [self.one(kind) for _ in range(n)]

    def _syllable(self) -> str:
        return self.rng.choice(_ONSETS) + self.rng.choice(_VOWELS) + self.rng.choice(_CODAS)


__all__ = [
    "CITY_RELATION",
    "PERSON_RELATIONS",
    "TWO_HOP_RELATION",
    "Person",
    "Relation",
    "World",
    "generate",
    "relation_first",
    "sentence",
]
