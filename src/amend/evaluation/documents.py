"""Document-level editing (DocMEdit): each document's facts are edited in, the model writes the updated document,
and the DocMEdit metrics (:mod:`amend.evaluation.metrics.documents`) compare it with the target.

One document is one edit: its facts go to the method as one batch (the document's structured facts when it has
them, else one request per evidence passage, :func:`fact_requests`), the updated document is generated greedily
through the method's view of the model (a contextual method rewrites the prompt), and the edit is reverted before
the next document. The prompt is one of the reference's formats (:data:`PROMPT_VARIANTS`):

* ``base`` — "Article: … Updated version:";
* ``one_shot`` — the same after one worked example (the reference's format for the unedited model, FT and MEMIT);
* ``evidence`` — the one-shot format with "Evidences:" after each article (the gold evidence, or the retrieved one:
  ``evidence_source``), the reference's IKE prompt;
* ``chat`` — a system instruction and the article with its evidence in the tokenizer's chat template;
* ``continue`` — the source itself, continued by the model (the prediction is the source and its continuation):
  for models that follow no instruction, such as the world model. Its RSE is 1 by construction.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn
from tqdm.auto import tqdm

from amend.architectures import anatomy
from amend.errors import ConfigError, RecordError
from amend.evaluation.entities import entity_extractor
from amend.evaluation.metrics.documents import DocumentMetricSettings, score_document, summarise
from amend.evaluation.report import run_metadata, save_run
from amend.evaluation.runner import EditSetup, describe
from amend.lm import asked_prompt, language_model, prompt_text
from amend.methods import load_method
from amend.requests import DocumentRequest, EditRequest, kind_of
from amend.tokens import encode

PROMPT_VARIANTS = ("continue", "base", "one_shot", "evidence", "chat")
EVIDENCE_SOURCES = ("gold", "retrieved")
SYSTEM = (
    "You update articles. Given an article and new evidence, write the updated article: keep every sentence the "
    "evidence does not change, and add sentences that state the evidence in the article's own words."
)
REFERENCE_BUDGET = 512
"""The reference's max_new_tokens."""

EXAMPLE = DocumentRequest(
    title="Harrow Vale",
    source="Harrow Vale is a village in the county of Westmere. It lies on the river Ash.",
    target=(
        "Harrow Vale is a village in the county of Westmere. It lies on the river Ash. Since 2021 a ferry has "
        "linked it with Linwick on the far bank."
    ),
    evidence=("Linwick_Ferry INTRODUCTION The Linwick ferry opened in 2021 and crosses the Ash to Harrow Vale.",),
    id="amend-example",
)
"""amend's own one-shot example (an invented village), used when no example is given."""


@dataclass(frozen=True)
class DocumentSettings:
    """How documents are prompted, generated and scored.

    Attributes:
        variant: The prompt format (:data:`PROMPT_VARIANTS`).
        evidence_source: ``gold`` (the record's evidence) or ``retrieved`` (its ``r_evidence``, as the reference's
            IKE) in the ``evidence`` and ``chat`` prompts.
        example: The worked example of the one-shot formats (default :data:`EXAMPLE`; a testbed may give its own).
        system: The chat variant's system instruction.
        max_new_tokens: The generation budget; None: 1.5 times the target's tokens (for ``continue``, those beyond
            the source) plus 16, at most the reference's 512. Always capped by the model's context.
        stop: The generation is cut at the first occurrence (a blank line: the one-shot format's next article).
        metrics: Addition threshold and rule, ROUGE stemmer.
        entities: The entity extractor (:func:`amend.evaluation.entities.entity_extractor`).
        facts_per_edit: The document's facts are edited in batches of this many, one after another (None: all in
            one batch). MEMIT solves one batch jointly, and facts sharing a subject share its keys: 1 edits them
            one at a time instead.
        progress: Show a progress bar.
    """

    variant: str = "one_shot"
    evidence_source: str = "gold"
    example: DocumentRequest | None = None
    system: str = SYSTEM
    max_new_tokens: int | None = None
    stop: str = "\n\n"
    metrics: DocumentMetricSettings = field(default_factory=DocumentMetricSettings)
    entities: str = "auto"
    facts_per_edit: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.variant not in PROMPT_VARIANTS:
            raise ConfigError(f"prompt variant must be one of {', '.join(PROMPT_VARIANTS)}, not {self.variant!r}")
        if self.evidence_source not in EVIDENCE_SOURCES:
            raise ConfigError(f"evidence source must be one of {', '.join(EVIDENCE_SOURCES)}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ConfigError("max_new_tokens must be positive")
        if self.facts_per_edit is not None and self.facts_per_edit < 1:
            raise ConfigError("facts_per_edit must be positive")

    def to_dict(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["example"] = None if self.example is None else self.example.record_id
        return record


def evidence_text(passage: str) -> str:
    """A DocMEdit evidence passage without its "Title SECTION " prefix: the first two words, when the first is a
    title with underscores or the second an upper-case section name ("Ellery_Bridge History It is 2 km long.")."""
    parts = passage.split(" ", 2)
    if len(parts) == 3 and ("_" in parts[0] or (parts[1].isupper() and len(parts[1]) > 1)):
        return parts[2]
    return passage


def fact_requests(request: DocumentRequest) -> list[EditRequest]:
    """What a method edits for ``request``: its structured facts, or one request per evidence passage (the
    passage's first word as the subject, the rest as the new text: fine-tuning learns the passage)."""
    if request.facts:
        return list(request.facts)
    requests = []
    for index, passage in enumerate(request.evidence):
        words = evidence_text(passage).split(" ", 1)
        if len(words) < 2 or not words[1].strip():
            raise RecordError(request.record_id, f"evidence[{index}]", "a fact needs at least two words")
        requests.append(EditRequest("{}", words[0], " " + words[1].strip(), id=f"{request.record_id}/{index}"))
    return requests


def _evidence(request: DocumentRequest, source: str) -> tuple[str, ...]:
    passages = request.evidence if source == "gold" else request.retrieved_evidence
    if not passages:
        raise RecordError(request.record_id, "r_evidence" if source == "retrieved" else "evidence", "is empty")
    return tuple(evidence_text(p) for p in passages)


def _block(request: DocumentRequest, evidence: Sequence[str] | None, target: str | None) -> str:
    lines = [f"Article: {request.source}"]
    if evidence is not None:
        lines.append("Evidences: " + " ".join(f"({i}) {e}" for i, e in enumerate(evidence)))
    lines.append("Updated version:" + (f" {target}" if target is not None else ""))
    return "\n".join(lines)


def document_prompt(request: DocumentRequest, settings: DocumentSettings, tokenizer: Any = None) -> str:
    """The prompt that asks the model for ``request``'s updated document."""
    variant = settings.variant
    if variant == "continue":
        return request.source
    if variant == "base":
        return _block(request, None, None)
    example = settings.example or EXAMPLE
    with_evidence = variant in ("evidence", "chat")
    evidence = _evidence(request, settings.evidence_source) if with_evidence else None
    shown = _block(example, _evidence(example, "gold") if with_evidence else None, example.target)
    asked = _block(request, evidence, None)
    if variant != "chat":
        return f"{shown}\n\n{asked}"
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise ConfigError("the chat prompt needs a tokenizer with a chat template")
    messages = [{"role": "system", "content": settings.system}, {"role": "user", "content": asked}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def prediction(request: DocumentRequest, generation: str, settings: DocumentSettings) -> str:
    """The predicted document: the generation cut at ``stop`` (after the source, for ``continue``)."""
    text = generation.split(settings.stop)[0] if settings.stop else generation
    return f"{request.source} {text.strip()}" if settings.variant == "continue" else text.strip()


def budget(tokenizer: Any, request: DocumentRequest, settings: DocumentSettings) -> int:
    if settings.max_new_tokens is not None:
        return settings.max_new_tokens
    wanted = len(encode(tokenizer, request.target))
    if settings.variant == "continue":
        wanted = max(wanted - len(encode(tokenizer, request.source)), 1)
    return min(math.ceil(1.5 * wanted) + 16, REFERENCE_BUDGET)


@dataclass
class DocumentRun:
    """One method's document-editing results: the summary (:func:`summarise`), one record per document, and the
    samples (prompt as asked, generation, prediction, per-fact values)."""

    method: str
    config: dict[str, Any]
    settings: dict[str, Any]
    model: dict[str, Any]
    entities: str
    summary: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def save(self, out_dir: str | Path) -> Path:
        """Write ``documents_<date>.json`` (metadata, summary, records) and ``samples_<date>.jsonl``."""
        results = {**run_metadata(), **{k: v for k, v in dataclasses.asdict(self).items() if k != "samples"}}
        return save_run(out_dir, "documents", results, self.samples)


def evaluate_documents(
    model: nn.Module,
    tokenizer: Any,
    requests: Sequence[DocumentRequest],
    setup: EditSetup | None = None,
    settings: DocumentSettings = DocumentSettings(),
) -> DocumentRun:
    """Edit each document's facts with ``setup`` (None: the unedited model), generate the updated document, score
    it, revert. The model is as it was when this returns (each edit is reverted, also on error)."""
    for request in requests:
        if kind_of(request) != "document":
            raise RecordError(request.record_id, "kind", f"is {kind_of(request)}: document editing reads documents")
    extractor = entity_extractor(settings.entities)
    lm = language_model(model, tokenizer, progress=False)
    method_cls = None if setup is None else load_method(setup.method)
    method = "unedited" if method_cls is None else method_cls.name
    observed = lm if method_cls is None else method_cls.observed(lm, model, setup.config)
    editor = None if setup is None else setup.editor(model, tokenizer)
    config = {} if setup is None else setup.config.to_dict()
    run = DocumentRun(method, config, settings.to_dict(), describe(model), extractor.name)
    context = anatomy(model).context_length
    scores, fact_counts = [], []
    for request in tqdm(requests, desc=f"{method} documents", disable=not settings.progress):
        prompt = document_prompt(request, settings, tokenizer)
        edit_seconds = 0.0
        if editor is not None:
            started = time.perf_counter()
            edits = fact_requests(request)
            size = settings.facts_per_edit or len(edits)
            for start in range(0, len(edits), size):
                editor.edit(edits[start : start + size])
            edit_seconds = time.perf_counter() - started
        try:
            asked = prompt_text(asked_prompt(observed, prompt))
            room = context - len(encode(tokenizer, asked))
            if room < 1:
                raise RecordError(request.record_id, "source", f"the prompt fills the model's {context}-token context")
            generation = observed.generate([prompt], [min(budget(tokenizer, request, settings), room)])[0]
        finally:
            if editor is not None:
                editor.revert()
        predicted = prediction(request, generation, settings)
        evidence = [evidence_text(e) for e in request.evidence]
        score = score_document(request.source, request.target, predicted, evidence, extractor, settings.metrics)
        scores.append(score)
        fact_counts.append(len(evidence))
        values = score.to_dict()
        run.records.append(
            {"id": request.record_id, "facts": len(evidence), "edit_seconds": edit_seconds}
            | {k: values[k] for k in ("DR", "DE", "ER", "EE", "RSE", "ESE")}
        )
        sample = {"id": request.record_id, "source": request.source, "target": request.target, "evidence": evidence}
        run.samples.append(sample | {"asked": asked, "generation": generation, "prediction": predicted, **values})
    run.summary = summarise(scores, fact_counts)
    return run
