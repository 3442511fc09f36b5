"""``amend``: edit, apply and list from the command line. Every subcommand has ``--help``."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import track
from rich.table import Table

from amend.cli.abilities import abilities, plot_abilities_command
from amend.cli.common import ThreadsOption, set_threads, wide_console, writable_dir
from amend.cli.datasets import DatasetOption
from amend.cli.datasets import validate as validate_dataset
from amend.cli.documents import documents
from amend.cli.world import world_app
from amend.errors import AmendError, ConfigError

app = typer.Typer(
    help="Knowledge editing for language models.\n\nExamples:\n\n"
    "  amend ls\n\n"
    "  amend edit --model gpt2-xl --method rome --requests edits.json --out runs/eiffel\n\n"
    "  amend apply runs/eiffel --model gpt2-xl --save-model runs/eiffel-model\n\n"
    "  amend validate --dataset counterfact counterfact.json\n\n"
    "  amend evaluate --model gpt2-xl --dataset zsre --path zsre_mend_eval.json --mode batch\n\n"
    "  amend evaluate --testbed world --method memit --mode sequential --batch-size 50 -n 200",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = wide_console()
app.add_typer(world_app, name="world")
app.command("validate")(validate_dataset)
app.command("abilities")(abilities)
app.command("plot-abilities")(plot_abilities_command)
app.command("documents")(documents)

STATS_HELP = (
    "LAYER=FILE: that layer's key second moment from a file instead of computed (repeatable): an original "
    "ROME/MEMIT .npz (mom2.mom2, mom2.count) or an amend statistics .safetensors."
)
ModelOption = Annotated[str, typer.Option("--model", "-m", help="Local directory or hub id of a causal LM.")]


@app.command()
def edit(
    model: ModelOption,
    requests: Annotated[Path, typer.Option(help="JSON list or JSONL file of edit requests.", exists=True)],
    out: Annotated[Path, typer.Option(help="Directory the patch is written to.")],
    method: Annotated[str, typer.Option(help="Editing method (see `amend ls`).")] = "rome",
    config: Annotated[Path | None, typer.Option(help="JSON file of method config fields.", exists=True)] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Config override key=value (repeatable).")] = None,
    corpus: Annotated[Path | None, typer.Option(help="Text file (one document per line) for key statistics.")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Statistics cache directory.")] = None,
    stats: Annotated[list[str] | None, typer.Option(help=STATS_HELP)] = None,
    save_model: Annotated[bool, typer.Option(help="Also save the edited model to OUT/model.")] = False,
    device: Annotated[str, typer.Option(help="torch device.")] = "cpu",
    threads: ThreadsOption = None,
) -> None:
    """Edit a model and write the patch (and optionally the edited model)."""
    from amend.cli.loading import load_model, load_requests, parse_overrides, parse_statistics
    from amend.editing import Editor, method_config
    from amend.stats import Corpus

    writable_dir(out)
    set_threads(threads)
    overrides = parse_overrides(set_, config)
    statistics = parse_statistics(stats)
    edit_requests = load_requests(requests)
    lm, tokenizer = load_model(model, device)
    method_settings = method_config(method, lm, overrides)
    editor = Editor(
        lm,
        tokenizer,
        method,
        config=method_settings,
        cache_dir=cache_dir,
        corpus=Corpus.from_file(corpus) if corpus else None,
        statistics=statistics,
        progress=True,
    )
    patch = editor.edit(edit_requests)
    patch.save(out)
    console.print(f"[green]edited[/] {len(edit_requests)} request(s) with {patch.method}; patch written to {out}")
    if save_model:
        lm.save_pretrained(out / "model")
        tokenizer.save_pretrained(out / "model")
        console.print(f"edited model saved to {out / 'model'}")


@app.command()
def evaluate(
    model: Annotated[str | None, typer.Option("--model", "-m", help="Local directory or hub id.")] = None,
    requests: Annotated[Path | None, typer.Option(help="JSON list or JSONL file of edit requests.")] = None,
    testbed: Annotated[
        str | None, typer.Option(help="Use a testbed's model and requests (`amend ls` lists them; e.g. world).")
    ] = None,
    testbed_dir: Annotated[
        Path | None,
        typer.Option(
            help="The testbed's model from this folder (one `amend world train` wrote) instead of the shipped one.",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    num_requests: Annotated[
        int, typer.Option("--num-requests", "-n", min=1, help="Testbed requests (with --testbed).")
    ] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the testbed requests.")] = 0,
    method: Annotated[str, typer.Option(help="Editing method, or 'none' for the unedited model.")] = "rome",
    mode: Annotated[str, typer.Option(help="single, batch or sequential.")] = "single",
    task: Annotated[
        str | None, typer.Option(help="Evaluation task (`amend ls` lists them; default: the one for the requests).")
    ] = None,
    protocol: Annotated[
        list[str] | None, typer.Option(help="probability, token_accuracy, exact_match (repeatable; default all).")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="JSON file of method config fields.", exists=True)] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Config override key=value (repeatable).")] = None,
    corpus: Annotated[Path | None, typer.Option(help="Text file (one document per line) for key statistics.")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Statistics cache directory.")] = None,
    stats: Annotated[list[str] | None, typer.Option(help=STATS_HELP)] = None,
    out: Annotated[Path, typer.Option(help="Directory for results_<date>.json and samples_<date>.jsonl.")] = Path(
        "runs/evaluate"
    ),
    num_edits: Annotated[int | None, typer.Option(min=1, help="Evaluate only the first N requests.")] = None,
    known: Annotated[bool, typer.Option(help=KNOWN_HELP)] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Requests per edit batch (sequential mode).")] = 1,
    checkpoint_every: Annotated[int, typer.Option(min=1, help="Sequential: evaluate all edits every N batches.")] = 10,
    save_every: Annotated[int, typer.Option(min=1, help="Sequential: save the run every N batches.")] = 5,
    resume: Annotated[bool, typer.Option(help="Sequential: continue the run saved in OUT/run.")] = False,
    forward_batch_size: Annotated[int, typer.Option(min=1, help="Prompts per forward pass.")] = 64,
    device: Annotated[str, typer.Option(help="torch device.")] = "cpu",
    dataset: Annotated[str | None, typer.Option(help="Format of --path (amend validate --help lists them).")] = None,
    path: Annotated[Path | None, typer.Option(help="A benchmark file read as --dataset.")] = None,
    dataset_option: DatasetOption = None,
    image_root: Annotated[
        Path | None,
        typer.Option(
            help="Folder a multimodal dataset's image paths are relative to (they may not leave it).",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    prompt_template: Annotated[
        str | None,
        typer.Option(
            help="How a vision-language prompt is written: {image} and {text} (default: the processor's "
            "chat template, else '{image} {text}')."
        ),
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option(help="Leave bad dataset records out (listed) instead of stopping.")
    ] = False,
    generation: Annotated[
        str | None, typer.Option(help="Also measure fluency/consistency from generation prompts: top_k or greedy.")
    ] = None,
    generation_option: Annotated[
        list[str] | None, typer.Option(help="Generation setting key=value: top_k, seed, max_new_tokens.")
    ] = None,
    references: Annotated[
        Path | None, typer.Option(help="JSON {request id: [reference texts]} for consistency.", exists=True)
    ] = None,
    threads: ThreadsOption = None,
) -> None:
    """Edit in single, batch or sequential mode; report reliability, generalization, locality, portability.

    Requests come from --requests (amend's format), --dataset with --path (a benchmark file), or --testbed (its
    shipped model, or the one in --testbed-dir, with its own requests, statistics corpus and editing defaults).
    Sequential mode applies batches of --batch-size without restoring, evaluates each batch right after it is
    written and all edits so far every --checkpoint-every batches, saves itself to OUT/run, and --resume continues.
    """
    from amend.cli.loading import parse_overrides, parse_statistics
    from amend.editing import method_config
    from amend.evaluation import PROTOCOLS, EvaluationSettings
    from amend.evaluation import evaluate as run_evaluation
    from amend.evaluation.generation import GenerationSettings, load_references
    from amend.evaluation.sequential import SequentialSettings
    from amend.stats import Corpus

    writable_dir(out)
    used_threads = set_threads(threads)
    overrides = parse_overrides(set_, config)
    statistics = parse_statistics(stats)
    settings = EvaluationSettings(
        mode=mode,
        protocols=tuple(protocol or PROTOCOLS),
        task=task,
        forward_batch_size=forward_batch_size,
        sequential=SequentialSettings(batch_size, checkpoint_every, out / "run", save_every, resume),
        generation=GenerationSettings(generation, **parse_overrides(generation_option)) if generation else None,
    )
    if dataset or path:
        from amend.cli.datasets import dataset_requests

        if not (dataset and path):
            raise typer.BadParameter("--dataset and --path go together")
        options = [*(dataset_option or []), *([f"image_root={image_root}"] if image_root else [])]
        edit_requests = dataset_requests(dataset, path, options, skip_invalid, settings.task)
    lm, tokenizer, testbed_requests = _evaluation_inputs(
        model, requests, testbed, testbed_dir, num_requests, seed, device, own_requests=not (dataset or path)
    )
    if prompt_template is not None:
        from amend.prompting import ImageTextEncoder, encoder_of

        found = encoder_of(tokenizer)
        if found is None:
            raise typer.BadParameter("--prompt-template is for vision-language models (a processor)")
        tokenizer = ImageTextEncoder(found.processor, prompt_template)
    if not (dataset or path):
        edit_requests = testbed_requests
    if not edit_requests:
        raise typer.BadParameter("give the requests: --requests, or --dataset with --path")
    available = len(edit_requests)
    if known:
        edit_requests = _known(lm, tokenizer, edit_requests, forward_batch_size)
    chosen = None if method == "none" else method
    method_settings = None if chosen is None else method_config(chosen, lm, overrides)
    result = run_evaluation(
        lm,
        tokenizer,
        edit_requests[:num_edits],
        chosen,
        settings=settings,
        config=method_settings,
        cache_dir=cache_dir,
        corpus=Corpus.from_file(corpus) if corpus else None,
        statistics=statistics,
        references=load_references(references) if references else None,
    )
    result.extra["threads"] = used_threads
    if known:
        result.extra["known_filter"] = {"known": len(edit_requests), "of": available}
    console.print(result.table())
    console.print(f"results written to {result.save(out)}")


KNOWN_HELP = (
    "Keep only the requests the unedited model knows (it prefers the true object to the new one on the edit prompt), "
    "before --num-edits / --num."
)


def _known(lm, tokenizer, requests, batch_size=64):
    from amend.evaluation.known import known_requests
    from amend.lm import language_model

    kept = known_requests(language_model(lm, tokenizer, batch_size=batch_size), requests)
    console.print(f"the model knows {len(kept)} of {len(requests)} request(s)")
    if not kept:
        raise typer.BadParameter("--known: the model knows none of the requests")
    return kept


def _evaluation_inputs(model, requests, testbed, testbed_dir, num_requests, seed, device, own_requests=True):
    """Model, tokenizer and requests from --testbed (or --testbed-dir) or from --model/--requests; a testbed's own
    requests are drawn only when no dataset is given (``own_requests``)."""
    from amend.cli.loading import load_model, load_requests

    if testbed_dir is not None and testbed is None:
        raise typer.BadParameter("--testbed-dir goes with --testbed NAME")
    if testbed is not None:
        from amend.testbeds import load

        bundle = load(testbed, testbed_dir)
        if requests or not own_requests:
            return bundle.model.to(device), bundle.tokenizer, load_requests(requests) if requests else []
        return bundle.model.to(device), bundle.tokenizer, bundle.requests(num_requests, seed)
    if not model:
        raise typer.BadParameter("give --model (with --requests or --dataset/--path), or --testbed")
    lm, tokenizer = load_model(model, device)
    return lm, tokenizer, load_requests(requests) if requests else []


@app.command()
def trace(
    model: Annotated[str | None, typer.Option("--model", "-m", help="Folder, hub id or .gguf file.")] = None,
    testbed: Annotated[str | None, typer.Option(help="Trace a testbed's model.")] = None,
    prompt: Annotated[str | None, typer.Option(help="A prompt with {} for the subject.")] = None,
    subject: Annotated[str | None, typer.Option(help="The subject (with --prompt).")] = None,
    answer: Annotated[str | None, typer.Option(help="The answer traced (default: the model's next token).")] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Trace the edit prompts of a benchmark file (its true objects).")
    ] = None,
    path: Annotated[Path | None, typer.Option(help="The benchmark file (with --dataset).")] = None,
    num: Annotated[int, typer.Option(min=1, help="Prompts traced from --dataset.")] = 50,
    known: Annotated[bool, typer.Option(help=KNOWN_HELP)] = False,
    samples: Annotated[int, typer.Option(min=1, help="Noise samples per condition.")] = 5,
    window: Annotated[int, typer.Option(min=1, help="Layers restored together for mlp and attn.")] = 10,
    out: Annotated[Path, typer.Option(help="Directory for trace.json and trace.png.")] = Path("runs/trace"),
    threads: ThreadsOption = None,
) -> None:
    """Causal tracing (ROME): restore clean states in a subject-corrupted run; heat maps, and the MLP layer with
    the largest effect at the subject's last token (where ROME would edit)."""
    import json

    from amend.cli.datasets import dataset_requests
    from amend.tracing import plot_trace, recommend_layer
    from amend.tracing import trace as run_trace

    writable_dir(out)
    set_threads(threads)
    if dataset or path:
        if not (dataset and path):
            raise typer.BadParameter("--dataset and --path go together")
    elif not (prompt and subject):
        raise typer.BadParameter("give --prompt and --subject, or --dataset and --path")
    lm, tokenizer, _ = _evaluation_inputs(model, None, testbed, None, 1, 0, "cpu", own_requests=False)
    if dataset:
        records = dataset_requests(dataset, path, None, False, "edit")
        records = _known(lm, tokenizer, records) if known else records
        cases = [(r.prompt, r.subject, r.target_true) for r in records[:num]]
    else:
        cases = [(prompt, subject, answer)]
    traces = []
    for template, who, expected in track(cases, description="tracing", console=console):
        traces.append(run_trace(lm, tokenizer, template, who, expected, samples=samples, window=window))
    layer = recommend_layer(traces)
    record = {"recommended_layer": layer, "samples": samples, "window": window, "traces": [t.to_dict() for t in traces]}
    (out / "trace.json").write_text(json.dumps(record, indent=1))
    plot_trace(traces, out / "trace.png")
    console.print(f"{len(traces)} trace(s); MLP effect at the subject's last token peaks at layer {layer}")
    console.print(f"written to {out / 'trace.json'} and {out / 'trace.png'}")


@app.command()
def plot(
    run_dirs: Annotated[list[Path], typer.Argument(help="Output directories of sequential `amend evaluate` runs.")],
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("sequential.png"),
    protocol: Annotated[str, typer.Option(help="Protocol to plot.")] = "probability",
) -> None:
    """Plot reliability, generalization and locality against the number of edits for one or several runs."""
    from amend.evaluation.plot import plot_runs

    console.print(f"plot written to {plot_runs(run_dirs, out, protocol)}")


@app.command()
def apply(
    patch_dir: Annotated[Path, typer.Argument(help="A directory written by `amend edit`.", exists=True)],
    model: ModelOption,
    save_model: Annotated[Path, typer.Option(help="Where to save the patched model.")],
    device: Annotated[str, typer.Option(help="torch device.")] = "cpu",
) -> None:
    """Apply a saved patch to the model it was computed on and save the result."""
    from amend.changes import Patch
    from amend.cli.loading import load_model

    writable_dir(save_model)
    patch = Patch.load(patch_dir)  # a broken patch is refused before the model is loaded
    lm, tokenizer = load_model(model, device)
    patch.apply(lm)
    lm.save_pretrained(save_model)
    tokenizer.save_pretrained(save_model)
    console.print(f"[green]applied[/] {patch_dir} and saved the model to {save_model}")


@app.command()
def inspect(
    path: Annotated[Path, typer.Argument(help="A saved patch, or a saved editor run (its patches in order).")],
    tokenizer: Annotated[
        str | None, typer.Option(help="Decode entry labels with this model folder's, hub id's or testbed's tokenizer.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many entries per codebook (the last ones).")] = 50,
) -> None:
    """List what a patch changes and, for codebook methods (GRACE, BalancEdit), every entry it leaves: radius,
    key norm, label, and which patch wrote or rewrote it."""
    from amend.changes import Patch
    from amend.changes.codebook import codebook_entries
    from amend.editing.editor import EDITOR_FILE

    if (path / EDITOR_FILE).is_file():
        patches = [Patch.load(d) for d in sorted((path / "patches").iterdir()) if d.is_dir()]
    else:
        patches = [Patch.load(path)]
    summary = Table("patch", "method", "changes", "targets", "base", "result", title=str(path))
    for number, patch in enumerate(patches):
        kinds = ", ".join(sorted({change.kind for change in patch.changes}))
        targets = ", ".join(patch.targets[:4]) + (" …" if len(patch.targets) > 4 else "")
        result = (patch.result_fingerprint or "")[:12]
        summary.add_row(str(number), patch.method, kinds, escape(targets), patch.base_fingerprint[:12], result)
    console.print(summary)
    decode = _label_decoder(tokenizer)
    rows = codebook_entries([patch.changes for patch in patches])
    for label in dict.fromkeys(row.codebook for row in rows):
        own = [row for row in rows if row.codebook == label]
        table = Table("entry", "radius", "key norm", "label", "written by", "rewritten by", title=f"codebook {label}")
        for row in own[-limit:]:
            again = ", ".join(map(str, row.rewritten_by))
            table.add_row(
                str(row.index),
                f"{row.radius:.4g}",
                f"{row.key_norm:.4g}",
                escape(decode(row.label)),
                str(row.written_by),
                again,
            )
        console.print(table)
        if len(own) > limit:
            console.print(f"({len(own) - limit} earlier entries not shown; --limit)")


def _label_decoder(name: str | None):
    if name is None:
        return lambda ids: " ".join(map(str, ids))
    from amend.registry import TESTBEDS

    if name in TESTBEDS:
        from amend.testbeds import load as load_testbed

        tokenizer = load_testbed(name).tokenizer
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(name)
    return lambda ids: repr(tokenizer.decode(list(ids)))


@app.command("ls")
def list_(
    method: Annotated[str | None, typer.Option(help="Show one method's config fields.")] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="With --method: the defaults for this model folder.")
    ] = None,
    testbed: Annotated[str | None, typer.Option(help="With --method: the defaults for this testbed's model.")] = None,
) -> None:
    """List methods, datasets, tasks, testbeds and supported architectures (or one method's options: with --model
    or --testbed, the values that model will actually be edited with)."""
    from amend.architectures import ARCHITECTURES
    from amend.methods import load_method
    from amend.registry import DATASETS, METHODS, TASKS, TESTBEDS

    if method:
        config_cls = load_method(method).config_cls
        values = _defaults_for(method, model, testbed)
        title = f"{method} ({config_cls.__name__})" + (f" for {model or testbed}" if values else "")
        table = Table("field", "default", "meaning", title=title)
        for field in dataclasses.fields(config_cls):
            value = values[field.name] if values else field.default
            table.add_row(field.name, repr(value), field.metadata.get("help", ""))
        console.print(table)
        return
    for registry in (METHODS, DATASETS, TASKS, TESTBEDS):
        entries = Table(registry.kind, "implementation", title=f"{registry.kind}s")
        for name, target in registry.items():
            entries.add_row(name, target)
        console.print(entries)
    archs = Table("model_type", "layers", "edited MLP projection", "attention output", title="architectures")
    for model_type, spec in sorted(ARCHITECTURES.items()):
        archs.add_row(model_type, spec.layers, spec.mlp_out_proj, spec.attn_out_proj)
    console.print(archs)


def _defaults_for(method: str, model: str | None, testbed: str | None) -> dict | None:
    """The config ``method`` would use for a model folder (its config only, no weights) or a testbed's model."""
    if model is None and testbed is None:
        return None
    from types import SimpleNamespace

    from amend.editing import method_config

    if testbed is not None:
        from amend.testbeds import load

        target = load(testbed).model
    else:
        from transformers import AutoConfig

        try:
            target = SimpleNamespace(config=AutoConfig.from_pretrained(model))
        except OSError:
            raise ConfigError(f"{model!r} is not a model folder (or a model available offline)") from None
    return method_config(method, target).to_dict()


@app.command()
def demo(
    multimodal: Annotated[
        bool, typer.Option(help="Edit what the multimodal world's model answers about a flag, with BalancEdit.")
    ] = False,
) -> None:
    """Edit a fact with ROME (or, --multimodal, an answer about an image with BalancEdit), show the model before
    and after, and revert."""
    if multimodal:
        from amend.cli.demo_multimodal import run_multimodal_demo

        run_multimodal_demo(console)
        return
    from amend.cli.demo import run_demo

    run_demo(console)


def main() -> None:
    """Console-script entry point: amend errors become one clear line and exit code 2 (the message is printed as
    text: a subject such as ``[/bold] Bob`` or ``amend[datasets]`` is not markup)."""
    try:
        app()
    except AmendError as err:
        console.print(f"[red]error:[/] {escape(str(err))}")
        raise SystemExit(2) from None
