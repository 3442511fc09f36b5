"""Text edit requests: typed, validated, the record every locate-then-edit method and text task reads.

An :class:`EditRequest` is the one record type every method and every metric reads. It is validated when it is
built, so a bad record fails at load time with the record id and the field named, not deep inside a method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from amend.errors import RecordError
from amend.requests.base import EDIT

PLACEHOLDER = "{}"


def fill(template: str, text: str) -> str:
    """Put ``text`` where the single ``{}`` of ``template`` is.

    ``str.format`` is deliberately avoided: prompts may contain other braces.
    """
    return template.replace(PLACEHOLDER, text, 1)


def sentence(template: str, subject: str, obj: str) -> str:
    """A fact as a sentence: the filled template, the object, a full stop."""
    return f"{fill(template, subject)} {obj}."


@dataclass(frozen=True)
class Probe:
    """An evaluation prompt with the answer it should get.

    Attributes:
        prompt: The full prompt text (the subject already in it).
        answer: The expected continuation.
        kind: Optional label used to report groups of probes separately (e.g. ``"neighbour"``,
            ``"same_subject"``, ``"two_hop"``).
        foil: The competing answer the probability protocol compares against (for a portability probe, the
            answer the unedited fact implies). Locality probes default to the request's ``target_new``.
        aliases: Other spellings of the answer that count as correct too (benchmarks such as KnowEdit and MQuAKE
            list them: "UK" for "United Kingdom"); every protocol scores the best of answer and aliases.
    """

    prompt: str
    answer: str
    kind: str = ""
    foil: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rephrase:
    """A paraphrase of the edit prompt (full text, subject included) that should also give ``target_new``.

    Attributes:
        prompt: The paraphrased prompt.
        kind: Optional label reported separately (e.g. ``"subject_first"``, ``"relation_first"``, ``"distractor"``).
    """

    prompt: str
    kind: str = ""


@dataclass(frozen=True)
class EditRequest:
    """One fact to write into a model: ``prompt`` with ``subject`` should now continue with ``target_new``.

    Attributes:
        prompt: The prompt with ``{}`` where the subject goes ("The Eiffel Tower is in" may be given with the
            literal subject; it is stored as "{} is in").
        subject: The subject whose stored fact is edited.
        target_new: The new object.
        target_true: The old object, when known (needed by probability-protocol metrics and CoME).
        rephrase: Paraphrased prompts (strings or :class:`Rephrase`) that should also give ``target_new``.
        locality: Probes whose answers must not change.
        portability: Probes whose answers should follow from the new fact (e.g. two-hop questions).
        generation: Prompts for free generation about the subject (CounterFact's ``generation_prompts``), from
            which fluency and consistency are measured.
        group: Requests with the same group are edited together even in single mode: MQuAKE's edits of one case
            form the chain its multi-hop questions ask about, and only make sense applied at once.
        id: The record id used in error messages and reports.
    """

    prompt: str
    subject: str
    target_new: str
    target_true: str | None = None
    rephrase: tuple[Rephrase, ...] = ()
    locality: tuple[Probe, ...] = ()
    portability: tuple[Probe, ...] = ()
    generation: tuple[str, ...] = ()
    group: str | int | None = None
    id: str | int | None = None

    kind: ClassVar[str] = EDIT

    def __post_init__(self) -> None:
        rid = self.id
        for name in ("prompt", "subject", "target_new"):
            _require_text(rid, name, getattr(self, name))
        if self.target_true is not None:
            _require_text(rid, "target_true", self.target_true)
            if self.target_true.strip() == self.target_new.strip():
                raise RecordError(rid, "target_new", f"equals target_true ({self.target_true!r}): nothing to edit")
        object.__setattr__(self, "prompt", _as_template(rid, self.prompt, self.subject))
        object.__setattr__(self, "rephrase", _rephrase_tuple(rid, self.rephrase))
        object.__setattr__(self, "locality", _probe_tuple(rid, "locality", self.locality))
        object.__setattr__(self, "portability", _probe_tuple(rid, "portability", self.portability))
        object.__setattr__(self, "generation", _text_tuple(rid, "generation", self.generation))
        for name in ("group", "id"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
                raise RecordError(rid, name, f"must be a string or an integer, got {type(value).__name__}")

    @property
    def text(self) -> str:
        """The edit prompt with the subject filled in."""
        return fill(self.prompt, self.subject)

    @property
    def asked(self) -> str:
        """The edit prompt as a model is asked it (the filled prompt; a multimodal request's has an image)."""
        return self.text

    @property
    def record_id(self) -> str | int:
        return self.id if self.id is not None else f"{self.subject} -> {self.target_new}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prompt": self.prompt,
            "subject": self.subject,
            "target_new": self.target_new,
            "target_true": self.target_true,
            "rephrase": [r.prompt if not r.kind else vars(r) for r in self.rephrase],
            "locality": [_probe_dict(p) for p in self.locality],
            "portability": [_probe_dict(p) for p in self.portability],
            **({"generation": list(self.generation)} if self.generation else {}),
            **({"group": self.group} if self.group is not None else {}),
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any], record_id: str | int | None = None) -> EditRequest:
        """Build a request from a plain mapping (the JSON form written by :meth:`to_dict`)."""
        if not isinstance(record, Mapping):
            raise RecordError(record_id, "<record>", f"expected an object, got {type(record).__name__}")
        rid = record_id if record.get("id") is None else record["id"]  # a null id (as to_dict writes) is no id
        known = {"id", "prompt", "subject", "target_new", "target_true", "rephrase", "locality", "portability"}
        known |= {"generation", "group"}
        unknown = sorted(set(record) - known)
        if unknown:
            raise RecordError(rid, unknown[0], f"unknown field; expected some of {sorted(known)}")
        for name in ("prompt", "subject", "target_new"):
            if name not in record:
                raise RecordError(rid, name, "missing")
        return cls(
            prompt=record["prompt"],
            subject=record["subject"],
            target_new=record["target_new"],
            target_true=record.get("target_true"),
            rephrase=_absent_as_empty(record.get("rephrase")),
            locality=_absent_as_empty(record.get("locality")),
            portability=_absent_as_empty(record.get("portability")),
            generation=_absent_as_empty(record.get("generation")),
            group=record.get("group"),
            id=rid,
        )


def _require_text(rid: object, name: str, value: object) -> None:
    if not isinstance(value, str):
        raise RecordError(rid, name, f"must be a string, got {type(value).__name__}")
    if not value.strip():
        raise RecordError(rid, name, "is empty")


def _as_template(rid: object, prompt: str, subject: str) -> str:
    placeholders = prompt.count(PLACEHOLDER)
    if placeholders > 1:
        raise RecordError(rid, "prompt", f"has {placeholders} '{{}}' placeholders; exactly one is allowed")
    if placeholders == 1:
        return prompt
    occurrences = prompt.count(subject)
    if occurrences == 0:
        raise RecordError(rid, "subject", f"{subject!r} does not occur in the prompt {prompt!r}")
    if occurrences > 1:
        raise RecordError(
            rid, "subject", f"{subject!r} occurs {occurrences} times in {prompt!r}; mark the edited one with '{{}}'"
        )
    return prompt.replace(subject, PLACEHOLDER, 1)


def _rephrase_tuple(rid: object, values: object) -> tuple[Rephrase, ...]:
    if isinstance(values, (str, Mapping)) or not isinstance(values, Sequence):
        raise RecordError(rid, "rephrase", f"must be a list of prompts, got {type(values).__name__}")
    out = []
    for i, value in enumerate(values):
        name = f"rephrase[{i}]"
        if isinstance(value, Mapping):
            if "prompt" not in value:
                raise RecordError(rid, f"{name}.prompt", "missing")
            value = Rephrase(value["prompt"], value.get("kind", ""))
        elif not isinstance(value, Rephrase):
            _require_text(rid, name, value)
            value = Rephrase(value)
        _require_text(rid, f"{name}.prompt", value.prompt)
        if not isinstance(value.kind, str):
            raise RecordError(rid, f"{name}.kind", f"must be a string, got {type(value.kind).__name__}")
        out.append(value)
    return tuple(out)


def _probe_dict(probe: Probe) -> dict[str, Any]:
    out = {key: value for key, value in vars(probe).items() if value not in ("", None, ())}
    if probe.aliases:
        out["aliases"] = list(probe.aliases)
    return out


def _absent_as_empty(value: object) -> object:
    """A list field that is absent or null is empty; any other value is validated as given."""
    return () if value is None else value


def _text_tuple(rid: object, name: str, values: object) -> tuple[str, ...]:
    if isinstance(values, (str, Mapping)) or not isinstance(values, Sequence):
        raise RecordError(rid, name, f"must be a list of strings, got {type(values).__name__}")
    for i, value in enumerate(values):
        _require_text(rid, f"{name}[{i}]", value)
    return tuple(values)


def _probe_tuple(rid: object, name: str, values: object) -> tuple[Probe, ...]:
    if isinstance(values, (str, Mapping)) or not isinstance(values, Sequence):
        raise RecordError(rid, name, f"must be a list of probes, got {type(values).__name__}")
    probes = []
    for i, value in enumerate(values):
        probes.append(_as_probe(rid, f"{name}[{i}]", value))
    return tuple(probes)


def _as_probe(rid: object, name: str, value: object) -> Probe:
    if isinstance(value, Probe):
        probe = value
    elif isinstance(value, Mapping):
        for key in ("prompt", "answer"):
            if key not in value:
                raise RecordError(rid, f"{name}.{key}", "missing")
        probe = Probe(
            value["prompt"],
            value["answer"],
            value.get("kind", ""),
            value.get("foil"),
            _absent_as_empty(value.get("aliases")),
        )
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        _require_text(rid, f"{name}[0]", value[0])
        _require_text(rid, f"{name}[1]", value[1])
        probe = Probe(value[0], value[1])
    else:
        raise RecordError(rid, name, f"must be a Probe, {{prompt, answer}} or a (prompt, answer) pair, got {value!r}")
    _require_text(rid, f"{name}.prompt", probe.prompt)
    _require_text(rid, f"{name}.answer", probe.answer)
    if not isinstance(probe.kind, str):
        raise RecordError(rid, f"{name}.kind", f"must be a string, got {type(probe.kind).__name__}")
    if probe.foil is not None:
        _require_text(rid, f"{name}.foil", probe.foil)
    aliases = _text_tuple(rid, f"{name}.aliases", probe.aliases)
    return probe if isinstance(probe.aliases, tuple) else replace(probe, aliases=aliases)


__all__ = ["PLACEHOLDER", "EditRequest", "Probe", "Rephrase", "fill"]
