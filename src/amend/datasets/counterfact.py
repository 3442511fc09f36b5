"""CounterFact (Meng et al. 2022) in its two published layouts.

``counterfact`` — ROME/MEMIT's nested records (``counterfact.json``, 21,919 records; ``multi_counterfact.json``):
``requested_rewrite`` {``prompt`` with ``{}``, ``subject``, ``target_new.str``, ``target_true.str``,
``relation_id``}, and lists of ``paraphrase_prompts``, ``neighborhood_prompts``, ``attribute_prompts`` and
``generation_prompts``. They become:

* rephrases of kind ``paraphrase`` (each starts with an unrelated sentence, on purpose);
* locality probes of kind ``neighborhood``: other subjects with the same true object, answer ``target_true``,
  foil ``target_new`` (the Neighborhood Score);
* locality probes of kind ``attribute``: other subjects whose true object is ``target_new``, answer
  ``target_new``, foil ``target_true`` (scored by ROME, not a headline metric);
* generation prompts, for fluency and consistency.

``counterfact-easyedit`` — EasyEdit's flat records (``counterfact-{edit,train,val}.json``): the filled-in
``prompt``, ``subject``, ``target_new``, ``ground_truth``, one ``rephrase_prompt``, one ``locality_prompt`` with
its ``locality_ground_truth``. The ``case_id`` of either layout is the request id.
"""

from __future__ import annotations

from amend.datasets.fields import Record
from amend.errors import ConfigError
from amend.requests import EditRequest, Probe, Rephrase

PARAPHRASE, NEIGHBORHOOD, ATTRIBUTE = "paraphrase", "neighborhood", "attribute"


def parse_nested(record: Record) -> list[EditRequest]:
    """One request from a ROME/MEMIT CounterFact record."""
    if not record.has("requested_rewrite") and record.has("target_new"):
        raise record.error("requested_rewrite", "missing; this looks like the flat layout: use 'counterfact-easyedit'")
    rewrite = record.child("requested_rewrite")
    prompt, subject = rewrite.template("prompt", "subject")
    new = rewrite.child("target_new").text("str")
    true = rewrite.child("target_true").text("str")
    neighbours = [Probe(p, true, NEIGHBORHOOD) for p in record.texts("neighborhood_prompts")]
    attributes = [Probe(p, new, ATTRIBUTE, true) for p in record.texts("attribute_prompts", required=False)]
    names = {
        "prompt": "requested_rewrite.prompt",
        "subject": "requested_rewrite.subject",
        "target_new": "requested_rewrite.target_new.str",
        "target_true": "requested_rewrite.target_true.str",
        "rephrase": "paraphrase_prompts",
        "locality": "neighborhood_prompts",
        "generation": "generation_prompts",
    }
    request = record.build(
        EditRequest,
        names,
        prompt=prompt,
        subject=subject,
        target_new=new,
        target_true=true,
        rephrase=tuple(Rephrase(p, PARAPHRASE) for p in record.texts("paraphrase_prompts")),
        locality=(*neighbours, *attributes),
        generation=record.texts("generation_prompts", required=False),
        id=record.record_id,
    )
    return [request]


GENERATION_SOURCES = ("none", "prompt")


def parse_flat(record: Record, generation: str = "none") -> list[EditRequest]:
    """One request from an EasyEdit flat CounterFact record.

    The flat layout has no generation prompts; ``generation="prompt"`` makes the filled edit prompt the request's
    one generation prompt, as EasyEdit measures fluency (its ``test_generation_quality`` generates from the
    ``prompt``). Consistency still needs reference texts about the new object, which this layout does not carry.
    """
    if generation not in GENERATION_SOURCES:
        raise ConfigError(f"counterfact-easyedit generation must be one of {GENERATION_SOURCES}, not {generation!r}")
    if record.has("requested_rewrite"):
        raise record.error("prompt", "absent from a nested record: use the dataset 'counterfact'")
    prompt, subject = record.template("prompt", "subject")
    names = {"target_true": "ground_truth", "rephrase": "rephrase_prompt", "locality": "locality_prompt"}
    request = record.build(
        EditRequest,
        names,
        prompt=prompt,
        subject=subject,
        target_new=record.text("target_new"),
        target_true=record.text("ground_truth"),
        rephrase=(Rephrase(record.text("rephrase_prompt"), PARAPHRASE),),
        locality=(Probe(record.text("locality_prompt"), record.text("locality_ground_truth"), NEIGHBORHOOD),),
        generation=(record.text("prompt"),) if generation == "prompt" else (),
        id=record.record_id,
    )
    return [request]
