"""``amend validate`` and the ``--dataset`` inputs of ``amend evaluate``: benchmark files through amend.datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from amend.errors import ConfigError

console = Console(soft_wrap=True)  # a record per line, however long: easy to grep

DatasetOption = Annotated[
    list[str] | None,
    typer.Option("--dataset-option", help="Format option key=value (zsre: target=answers|alt; image roots)."),
]


def parse_options(pairs: list[str] | None) -> dict[str, str]:
    """``key=value`` pairs, values kept as strings (paths, convention names)."""
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--dataset-option expects key=value, got {pair!r}")
        options[key.strip()] = value
    return options


def validate(
    dataset: Annotated[str, typer.Option(help="Dataset format (counterfact, zsre, mquake, knowedit, ...).")],
    file: Annotated[Path, typer.Argument(help="The dataset file (OKEDIT: its folder).")],
    dataset_option: DatasetOption = None,
) -> None:
    """Check a whole dataset file and list every bad record (exit code 1 if there is one)."""
    from amend.datasets import read

    loaded = read(dataset, file, **parse_options(dataset_option))
    report(loaded)
    if loaded.invalid:
        raise typer.Exit(1)


def report(loaded) -> None:
    """One line of counts, then one line per skipped and per invalid record."""
    colour = "red" if loaded.invalid else "green"
    console.print(
        f"[{colour}]{escape(loaded.source)}[/]: {loaded.records} records as {loaded.dataset}: "
        f"{len(loaded.requests)} requests, {len(loaded.skipped)} skipped, {len(loaded.invalid)} invalid"
    )
    for skipped in loaded.skipped:
        console.print(f"  skipped record {skipped.index} (id {skipped.record_id!r}): {escape(skipped.reason)}")
    for error in loaded.invalid:
        console.print(f"  [red]invalid[/] {escape(str(error).removeprefix(f'{loaded.source}: '))}")


def dataset_requests(
    dataset: str, path: Path, pairs: list[str] | None, skip_invalid: bool, task: str | None, kind: str | None = None
) -> list:
    """The requests of a dataset file for evaluation by ``task`` (or, given ``kind``, by a command that reads
    requests of that kind itself); bad records stop the run unless ``skip_invalid``. A dataset is refused, before its
    file is read, when no task reads its request kind, the chosen task reads another, or it is not of ``kind``."""
    from amend.datasets import dataset_format, read
    from amend.evaluation.tasks import tasks_reading
    from amend.requests import DOCUMENT

    produces = dataset_format(dataset).produces
    if kind is not None and produces != kind:
        raise ConfigError(f"dataset {dataset!r} holds {produces} requests, not {kind} requests")
    readers = tasks_reading(produces) if kind is None else [None]
    if not readers:
        hint = "amend documents evaluates them" if produces == DOCUMENT else "read them with amend.datasets.load"
        raise ConfigError(
            f"dataset {dataset!r} holds {produces} requests, and no evaluation task reads {produces} requests ({hint})"
        )
    if task is not None and task not in readers:
        raise ConfigError(
            f"dataset {dataset!r} holds {produces} requests, which task {task!r} does not read; use --task {readers[0]}"
        )
    loaded = read(dataset, path, **parse_options(pairs))
    if loaded.invalid and not skip_invalid:
        raise loaded.invalid[0]
    if loaded.invalid or loaded.skipped:
        report(loaded)
    if not loaded.requests:
        raise ConfigError(f"{path}: no valid requests to evaluate")
    return list(loaded.requests)
