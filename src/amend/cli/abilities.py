"""``amend abilities``: general abilities against the number of edits (and ``amend plot-abilities``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from amend.cli.common import ThreadsOption, set_threads, wide_console, writable_dir
from amend.cli.datasets import DatasetOption

console = wide_console()

COUNTS_HELP = "Edit counts measured at (repeatable; default 1 5 10 20 50 100 500 1000; 0 is always measured)."
ABILITY_HELP = (
    "A built-in ability (repeatable). World model: recall, reading, judgement, two_hop, fluency; other models: "
    "known_facts, arithmetic, fluency. Default: all of the model's suite (none when --harness is given)."
)


def abilities(
    model: Annotated[str | None, typer.Option("--model", "-m", help="Local directory, hub id or .gguf file.")] = None,
    requests: Annotated[Path | None, typer.Option(help="JSON list or JSONL file of edit requests.")] = None,
    testbed: Annotated[str | None, typer.Option(help="A testbed's model (and its requests, for the world).")] = None,
    testbed_dir: Annotated[
        Path | None, typer.Option(help="The testbed's model from this folder.", exists=True, file_okay=False)
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="Format of --path (amend validate --help lists them).")] = None,
    path: Annotated[Path | None, typer.Option(help="A benchmark file read as --dataset.")] = None,
    dataset_option: DatasetOption = None,
    known: Annotated[bool, typer.Option(help="Edit only requests the unedited model knows.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the testbed requests and of the ability items.")] = 0,
    method: Annotated[str, typer.Option(help="Editing method.")] = "rome",
    config: Annotated[Path | None, typer.Option(help="JSON file of method config fields.", exists=True)] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Config override key=value (repeatable).")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Statistics cache directory.")] = None,
    counts: Annotated[list[int] | None, typer.Option("--count", min=1, help=COUNTS_HELP)] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Requests per edit.")] = 1,
    ability: Annotated[list[str] | None, typer.Option(help=ABILITY_HELP)] = None,
    size: Annotated[int, typer.Option(min=1, help="Items per built-in ability.")] = 100,
    harness: Annotated[list[str] | None, typer.Option(help="An lm-evaluation-harness task (repeatable).")] = None,
    harness_include: Annotated[
        Path | None, typer.Option(help="A folder of harness task YAMLs (local data).", exists=True, file_okay=False)
    ] = None,
    harness_limit: Annotated[int | None, typer.Option(min=1, help="Documents per harness task.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for abilities_<date>.json, samples and abilities.png.")] = Path(
        "runs/abilities"
    ),
    held_out: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="known_facts and fluency read the requests from this index on, and avoid the subjects of those "
            "before it (default: the largest --count). Fixing it keeps the items when a resumed run adds counts.",
        ),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run saved in OUT/run.")] = False,
    forward_batch_size: Annotated[int, typer.Option(min=1, help="Prompts per forward pass.")] = 64,
    device: Annotated[str, typer.Option(help="torch device.")] = "cpu",
    threads: ThreadsOption = None,
) -> None:
    """Edit facts one after another (no restoring) and measure general abilities at 0 edits and at every --count.

    The edited requests are the first max(--count) ones; known_facts and fluency read the records after them, or
    after --held-out (give more requests than that). The run saves itself to OUT/run after every checkpoint; --resume
    continues it. Writes OUT/abilities_<date>.json, OUT/samples_<date>.jsonl and OUT/abilities.png.
    """
    from amend.abilities import DEFAULT_COUNTS, AbilitySettings, run_abilities
    from amend.abilities.plot import plot_abilities
    from amend.cli.app import _evaluation_inputs, _known
    from amend.cli.loading import parse_overrides
    from amend.editing import method_config
    from amend.evaluation.runner import EditSetup

    writable_dir(out)
    used_threads = set_threads(threads)
    settings = AbilitySettings(tuple(counts or DEFAULT_COUNTS), batch_size, out / "run", resume, forward_batch_size)
    largest = settings.counts[-1]
    held_out = largest if held_out is None else held_out
    if held_out < largest:
        raise typer.BadParameter(f"--held-out {held_out} is below the largest --count {largest}: edits would be probed")
    lm_model, tokenizer, edit_requests = _evaluation_inputs(
        model, requests, testbed, testbed_dir, held_out, seed, device, own_requests=not (dataset or path)
    )
    if dataset or path:
        from amend.cli.datasets import dataset_requests

        if not (dataset and path):
            raise typer.BadParameter("--dataset and --path go together")
        edit_requests = dataset_requests(dataset, path, dataset_option or [], False, None)
    if known:
        edit_requests = _known(lm_model, tokenizer, edit_requests, forward_batch_size)
    if len(edit_requests) < largest:
        raise typer.BadParameter(f"{len(edit_requests)} request(s) for counts up to {largest}")
    setup = EditSetup(method, method_config(method, lm_model, parse_overrides(set_, config)), cache_dir)
    build = _suite(lm_model, edit_requests, held_out, ability, harness, harness_include, harness_limit, size, seed)
    run = run_abilities(lm_model, tokenizer, edit_requests[:largest], setup, build, settings)
    run.extra["threads"] = used_threads
    _print(run)
    saved = run.save(out)
    figure = plot_abilities([run.to_dict()], out / "abilities.png")
    console.print(f"results written to {saved}; plot {figure}")


def _suite(model, requests, held_out, names, harness, include, limit, size, seed):
    """A function of the unedited model's view that builds the chosen abilities (known facts are selected by it)."""
    from amend.abilities import TEXT_ABILITIES, WORLD_ABILITIES, text_abilities, world_abilities
    from amend.abilities.suites import world_facts
    from amend.testbeds import testbed_of

    bed = testbed_of(model)
    world = getattr(bed, "world", None) if bed is not None and bed.name == "world" else None
    if bed is not None and bed.name == "vision_world":
        raise typer.BadParameter("abilities of vision-language models are not measured yet (text models only)")
    chosen = list(names) if names else ([] if harness else list(WORLD_ABILITIES if world else TEXT_ABILITIES))
    edited = requests[:held_out]

    def build(lm):
        built = []
        if chosen and world is not None:
            built += world_abilities(world, world_facts(world, edited), chosen, size, seed)
        elif chosen:
            built += text_abilities(lm, requests[held_out:], edited, chosen, size, seed)
        if harness:
            from amend.abilities.harness import HarnessAbility

            built += [HarnessAbility(task, include, limit) for task in harness]
        return built

    return build


def _print(run) -> None:
    from rich.table import Table

    names = list(run.checkpoints[0]["abilities"])
    table = Table(title=f"{run.method}: abilities against the number of edits")
    table.add_column("edits", justify="right")
    for name in names:
        table.add_column(f"{name} ({run.checkpoints[0]['abilities'][name]['metric']})", justify="right")
    for checkpoint in run.checkpoints:
        cells = []
        for name in names:
            measured = checkpoint["abilities"][name]
            muted = f" [dim]muted {measured['muted']:.2f}[/]" if "muted" in measured else ""
            cells.append(f"{measured['score']:.3f}{muted}")
        table.add_row(str(checkpoint["edits"]), *cells)
    console.print(table)


def plot_abilities_command(
    run_dirs: Annotated[list[Path], typer.Argument(help="Output folders of `amend abilities` runs.")],
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("abilities.png"),
) -> None:
    """Every ability against the number of edits, one line per run."""
    from amend.abilities.plot import latest_abilities, plot_abilities

    runs = [latest_abilities(d) for d in run_dirs]
    labels = [
        f"{r['method']}, {Path(d).name}" if [x["method"] for x in runs].count(r["method"]) > 1 else r["method"]
        for r, d in zip(runs, run_dirs, strict=True)
    ]
    console.print(f"plot written to {plot_abilities(runs, out, labels)}")
