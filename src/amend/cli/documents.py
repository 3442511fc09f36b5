"""``amend documents``: document-level editing (DocMEdit), one method on a set of documents."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from amend.cli.common import ThreadsOption, set_threads, wide_console, writable_dir
from amend.cli.datasets import DatasetOption

console = wide_console()
UNEDITED = "unedited"
METRICS = ("DR", "DE", "WAT", "ER", "EE", "RSE", "ESE", "DE_nonzero")


def documents(
    model: Annotated[str | None, typer.Option("--model", "-m", help="Local directory, hub id or .gguf file.")] = None,
    testbed: Annotated[str | None, typer.Option(help="A testbed's model (and the world's documents).")] = None,
    testbed_dir: Annotated[
        Path | None, typer.Option(help="The testbed's model from this folder.", exists=True, file_okay=False)
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="Format of --path (docmedit).")] = None,
    path: Annotated[Path | None, typer.Option(help="A document benchmark file read as --dataset.")] = None,
    dataset_option: DatasetOption = None,
    requests: Annotated[Path | None, typer.Option(help="JSON list or JSONL file of document requests.")] = None,
    facts: Annotated[int, typer.Option(min=1, help="New facts per document (the world's documents).")] = 2,
    num: Annotated[
        int | None, typer.Option("--num", "-n", min=1, help="Documents (default: all; the world: 50).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the world's documents.")] = 0,
    method: Annotated[str, typer.Option(help=f"Editing method, or {UNEDITED!r} for the baseline.")] = UNEDITED,
    config: Annotated[Path | None, typer.Option(help="JSON file of method config fields.", exists=True)] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Config override key=value (repeatable).")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Statistics cache directory.")] = None,
    variant: Annotated[
        str | None,
        typer.Option(
            help="Prompt: continue, base, one_shot, evidence, chat (default: continue on the world, else one_shot)."
        ),
    ] = None,
    evidence_source: Annotated[
        str, typer.Option(help="Evidence in evidence/chat prompts: gold or retrieved.")
    ] = "gold",
    max_new_tokens: Annotated[
        int | None,
        typer.Option(min=1, help="Generation budget (default: 1.5 x the target's tokens + 16, ≤ 512)."),
    ] = None,
    entities: Annotated[
        str, typer.Option(help="Entity extractor: auto, spacy, capitalized or a spaCy pipeline.")
    ] = "auto",
    rule: Annotated[str, typer.Option(help="Additions: 'source' (the reference) or 'sentence'.")] = "source",
    threshold: Annotated[float, typer.Option(help="TF-IDF cosine below which a sentence is an addition.")] = 0.7,
    stemmer: Annotated[bool, typer.Option(help="ROUGE-L with the Porter stemmer.")] = True,
    facts_per_edit: Annotated[
        int | None, typer.Option(min=1, help="Edit a document's facts in batches of this many (default: one batch).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for documents_<date>.json and samples.")] = Path("runs/documents"),
    device: Annotated[str, typer.Option(help="torch device.")] = "cpu",
    threads: ThreadsOption = None,
) -> None:
    """Edit each document's facts (one document at a time, reverted after), let the model write the updated
    document, and score it with DocMEdit's metrics: DR and DE (additions), ER and EE (per fact), RSE and ESE
    (preservation). Undefined values are excluded and counted, never filled."""
    from amend.cli.app import _evaluation_inputs
    from amend.cli.loading import parse_overrides
    from amend.editing import method_config
    from amend.evaluation.documents import DocumentSettings, evaluate_documents
    from amend.evaluation.metrics.documents import DocumentMetricSettings
    from amend.evaluation.runner import EditSetup

    writable_dir(out)
    set_threads(threads)
    lm_model, tokenizer, _ = _evaluation_inputs(model, None, testbed, testbed_dir, 1, seed, device, own_requests=False)
    docs = _documents(lm_model, dataset, path, dataset_option, requests, facts, num, seed)
    world = testbed == "world" and not (dataset or path or requests)
    settings = DocumentSettings(
        variant=variant or ("continue" if world else "one_shot"),
        evidence_source=evidence_source,
        max_new_tokens=max_new_tokens,
        metrics=DocumentMetricSettings(threshold, rule, stemmer),
        entities=entities,
        facts_per_edit=facts_per_edit,
    )
    setup = None
    if method != UNEDITED:
        setup = EditSetup(method, method_config(method, lm_model, parse_overrides(set_, config)), cache_dir)
    run = evaluate_documents(lm_model, tokenizer, docs, setup, settings)
    _print(run)
    console.print(f"results written to {run.save(out)}")


def _documents(model, dataset, path, options, requests, facts, num, seed):
    from amend.cli.datasets import dataset_requests
    from amend.datasets import load as load_dataset
    from amend.testbeds import testbed_of

    if dataset or path:
        if not (dataset and path):
            raise typer.BadParameter("--dataset and --path go together")
        docs = dataset_requests(dataset, path, options or [], False, None, kind="document")
    elif requests:
        docs = load_dataset("amend-documents", requests)
    else:
        bed = testbed_of(model)
        if bed is None or bed.name != "world":
            raise typer.BadParameter("give --dataset/--path or --requests (the world testbed makes its own documents)")
        from amend.testbeds.world.documents import world_documents

        return world_documents(num or 50, facts, seed, bed.world)
    return docs[:num] if num else docs


def _print(run) -> None:
    from rich.table import Table

    table = Table(title=f"{run.method}: {len(run.records)} documents (entities: {run.entities})")
    table.add_column("metric")
    for name in ("value", "n", "excluded"):
        table.add_column(name, justify="right")
    for name in METRICS:
        entry = run.summary[name]
        value = "—" if math.isnan(entry["value"]) else f"{entry['value']:.3f}"
        table.add_row(name, value, str(entry["n"]), str(entry["excluded"]))
    console.print(table)
