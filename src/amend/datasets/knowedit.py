"""KnowEdit (Zhang et al. 2024, EasyEdit's benchmark): WikiData_recent, WikiData_counterfact, ZsRE and WikiBio.

Records: ``subject``, ``prompt`` (the subject in it), ``target_new``; optionally ``ground_truth`` (the old object),
``rephrase_prompt``, and two groups of probes, ``portability`` {``Reasoning``, ``Subject_Aliasing``,
``Logical_Generalization``} and ``locality`` {``Relation_Specificity``, ``Forgetfulness``}, each a list of
{``prompt``, ``ground_truth``}. WikiBio records name their fields ``concept``, ``text`` and ``labels`` instead.

A ``ground_truth`` is written three ways across the subsets: a string, a list of strings, or a list of alias lists
(one list per acceptable answer). All are kept: the first string is the probe's answer and every other one an
alias, and an answer counts as correct if it matches any of them. Every key of a group is kept as the probe kind
(so the report shows ``portability/Reasoning``, ``locality_agreement/Forgetfulness``), including keys not listed
above. A probe whose ``prompt`` is a list gives one probe per prompt. The Sanitation and ConvSent files have
another layout and are not read here.
"""

from __future__ import annotations

from amend.datasets.fields import Record
from amend.requests import EditRequest, Probe, Rephrase

PORTABILITY_KINDS = ("Reasoning", "Subject_Aliasing", "Logical_Generalization")
LOCALITY_KINDS = ("Relation_Specificity", "Forgetfulness")
WIKIBIO_FIELDS = {"subject": "concept", "prompt": "text", "target_new": "labels"}


def parse(record: Record) -> list[EditRequest]:
    """One request from a KnowEdit record (any subset but Sanitation and ConvSent)."""
    names = {key: _field(record, key) for key in ("subject", "prompt", "target_new")}
    prompt, subject = record.template(names["prompt"], names["subject"])
    true = answers(record, "ground_truth")[0] if record.has("ground_truth") else None
    rephrase = record.text_or_texts("rephrase_prompt") if record.has("rephrase_prompt") else ()
    request = record.build(
        EditRequest,
        {**names, "target_true": "ground_truth", "rephrase": "rephrase_prompt"},
        prompt=prompt,
        subject=subject,
        target_new=record.text(names["target_new"]),
        target_true=true,
        rephrase=tuple(Rephrase(p, "rephrase") for p in rephrase),
        locality=probe_groups(record, "locality"),
        portability=probe_groups(record, "portability"),
        id=record.record_id,
    )
    return [request]


def _field(record: Record, key: str) -> str:
    """The record's name for ``key``: KnowEdit's own, or WikiBio's when only that is present."""
    wikibio = WIKIBIO_FIELDS[key]
    return wikibio if not record.has(key) and record.has(wikibio) else key


def probe_groups(record: Record, key: str) -> tuple[Probe, ...]:
    """Every probe of every group under ``key``, kind = the group's name (empty when the record has none)."""
    if not record.has(key):
        return ()
    groups = record.child(key)
    probes = []
    for kind in groups.data:
        if groups.data[kind] is None:
            continue
        for item in groups.children(kind):
            found = answers(item, "ground_truth")
            probes += [Probe(p, found[0], kind, aliases=found[1:]) for p in item.text_or_texts("prompt")]
    return tuple(probes)


def answers(record: Record, key: str) -> tuple[str, ...]:
    """The acceptable answers of a ``ground_truth``: a string, a list of strings, or a list of alias lists,
    flattened in order without repeats."""
    value = record.value(key)
    if isinstance(value, str):
        return (record.text(key),)
    if not isinstance(value, list) or not value:
        raise record.error(key, "must be a string, a non-empty list of strings, or a list of alias lists")
    found: list[str] = []
    for i, entry in enumerate(value):
        aliases = entry if isinstance(entry, list) else [entry]
        if not aliases:
            raise record.error(f"{key}[{i}]", "is an empty list")
        for j, alias in enumerate(aliases):
            name = f"{key}[{i}][{j}]" if isinstance(entry, list) else f"{key}[{i}]"
            if not isinstance(alias, str) or not alias.strip():
                raise record.error(name, "must be a non-empty string")
            if alias not in found:
                found.append(alias)
    return tuple(found)
