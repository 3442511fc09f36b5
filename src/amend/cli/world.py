"""``amend world``: train, measure and probe the knowledge-world model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from amend.cli.common import wide_console

world_app = typer.Typer(
    help="The knowledge-world testbed: a fictional world and a small GPT-2 that knows it.", no_args_is_help=True
)
console = wide_console()

PathOption = Annotated[Path | None, typer.Option(help="A trained world-model folder (default: the shipped one).")]


@world_app.command("train")
def train_world(
    out: Annotated[Path, typer.Option(help="Folder to write the model, tokenizer, world and model card to.")],
    preset: Annotated[
        str, typer.Option(help="Training preset: default (the shipped model), wide (1,024-wide MLP) or tiny.")
    ] = "default",
    epochs: Annotated[int | None, typer.Option(help="Override the preset's epochs.")] = None,
    seed: Annotated[int | None, typer.Option(help="Override the preset's seed.")] = None,
    n_inner: Annotated[int | None, typer.Option(help="Override the preset's MLP width.")] = None,
    force: Annotated[
        bool, typer.Option(help="Write into --out even if it holds files (they are overwritten).")
    ] = False,
) -> None:
    """Generate the world and train its model from scratch (deterministic given the seed)."""
    from dataclasses import replace

    from amend.cli.common import writable_dir
    from amend.errors import ConfigError
    from amend.testbeds.world.train import PRESETS, train

    if preset not in PRESETS:
        raise typer.BadParameter(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    if out.exists() and any(out.iterdir()) and not force:
        raise ConfigError(f"{out} is not empty; choose another --out, or pass --force to overwrite what is there")
    writable_dir(out)
    overrides = {k: v for k, v in {"epochs": epochs, "seed": seed, "n_inner": n_inner}.items() if v is not None}
    card = train(replace(PRESETS[preset], **overrides), out)
    _print_recall(card["recall"], f"trained in {card['train_seconds']:.0f}s, {card['parameters']:,} parameters")


@world_app.command("recall")
def recall(path: PathOption = None) -> None:
    """Top-1 recall of the model on training and held-out templates, in-context reading and relevance."""
    from amend.testbeds import world
    from amend.testbeds.world.recall import recall_report

    model, tokenizer, facts = world.load(path)
    _print_recall(recall_report(model, tokenizer, facts), "recall")


@world_app.command("probe")
def probe(
    path: PathOption = None,
    requests: Annotated[int, typer.Option("--requests", "-n", help="Counterfactual requests to probe with.")] = 20,
    steps: Annotated[int, typer.Option(help="Optimisation steps per vector.")] = 100,
) -> None:
    """Best p(new) a free residual vector reaches, per layer, at the subject's last token and the final token."""
    from amend.diagnostics import free_vector_reach
    from amend.testbeds import world

    model, tokenizer, facts = world.load(path)
    reach = free_vector_reach(model, tokenizer, world.edit_requests(requests, seed=1, world=facts), steps=steps)
    table = Table("layer", "subject's last token", "final token", title="free-vector reach: mean p(new)")
    for layer in sorted({layer for layer, _ in reach}):
        table.add_row(str(layer), f"{reach[(layer, 'subject_last')]:.3f}", f"{reach[(layer, 'last')]:.3f}")
    console.print(table)


@world_app.command("export-counterfact")
def export_counterfact(
    out: Annotated[Path, typer.Argument(help="JSON file to write.")],
    requests: Annotated[int, typer.Option("--requests", "-n", help="Number of edits (one per person).")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the world requests.")] = 0,
    path: PathOption = None,
) -> None:
    """Write world edit requests as a CounterFact file (ROME/MEMIT format), for `amend evaluate --dataset`."""
    import json

    from amend.testbeds import world
    from amend.testbeds.world.export import counterfact_records

    records = counterfact_records(requests, seed, world.load_world(path))
    out.write_text(json.dumps(records, indent=2))
    console.print(f"{len(records)} CounterFact records written to {out}")


def _print_recall(recall: dict[str, float], title: str) -> None:
    table = Table("group", "top-1 recall", title=title)
    for name, value in recall.items():
        table.add_row(name, f"{value:.4f}")
    console.print(table)
