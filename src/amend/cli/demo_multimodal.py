"""``amend demo --multimodal``: what the multimodal world's model answers about one flag, edited with BalancEdit,
and reverted.

Shows the edited question about the flag, a rephrased question, another rendering of the same flag, another
country's flag and a question in words, each with the probabilities of the old and new answers before and after,
and saves the images with the answers the model generates before and after (``runs/demo-multimodal.png``).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from rich.console import Console

from amend.editing import edit
from amend.lm import LanguageModel, VisionLM, VisualPrompt
from amend.requests import MultimodalRequest

FIGURE = Path("runs/demo-multimodal.png")


def _rows(request: MultimodalRequest) -> list[tuple[str, object, str, str]]:
    """(label, prompt, answer expected after the edit, competing answer)."""
    other = request.image_locality[0]
    text = request.locality[0]
    return [
        ("edited question", request.asked, request.target_new, request.target_true or ""),
        (
            "rephrased question",
            VisualPrompt(request.rephrase[1].prompt, request.image),
            request.target_new,
            request.target_true or "",
        ),
        (
            "another rendering",
            VisualPrompt(request.prompt, request.image_rephrase[0]),
            request.target_new,
            request.target_true or "",
        ),
        ("another flag (should not change)", VisualPrompt(other.prompt, other.image), other.answer, request.target_new),
        ("question in words (should not change)", text.prompt, text.answer, request.target_new),
    ]


def _probabilities(lm: LanguageModel, rows) -> list[tuple[float, float]]:
    pairs = [(prompt, answer) for _, prompt, answer, _ in rows] + [(prompt, foil) for _, prompt, _, foil in rows]
    scored = lm.score(pairs)
    half = len(rows)
    return [(math.exp(-scored[i].nll), math.exp(-scored[half + i].nll)) for i in range(half)]


def _figure(rows, before: list[str], after: list[str]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    shown = [
        (label, prompt, b, a)
        for (label, prompt, _, _), b, a in zip(rows, before, after, strict=True)
        if isinstance(prompt, VisualPrompt)
    ]
    figure, axes = plt.subplots(1, len(shown), figsize=(3 * len(shown), 3.9))
    for axis, (label, prompt, was, now) in zip(axes, shown, strict=True):
        axis.imshow(Image.open(prompt.image).convert("RGB"))
        axis.set_title(f"{label}\n{prompt.text}", fontsize=7)
        axis.set_xlabel(f"before: {was}\nafter: {now}", fontsize=8)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(FIGURE, dpi=120)
    plt.close(figure)
    return FIGURE


def run_multimodal_demo(console: Console) -> None:
    from amend.testbeds import load

    torch.set_num_threads(1)
    start = time.perf_counter()
    bed = load("vision_world")
    request = bed.requests(1, seed=0)[0]
    lm = VisionLM(bed.model, bed.tokenizer, progress=False)
    rows = _rows(request)
    console.print(f"[bold]Asked about {request.image.name}:[/] {request.prompt} [red]{request.target_true}[/]")
    console.print(f"[bold]Edit with BalancEdit:[/] → [green]{request.target_new}[/]\n")
    prompts = [prompt for _, prompt, _, _ in rows]
    before, generated_before = _probabilities(lm, rows), lm.generate(prompts, [3] * len(prompts))
    patch = edit(bed.model, bed.tokenizer, [request], "balancedit")
    after, generated_after = _probabilities(lm, rows), lm.generate(prompts, [3] * len(prompts))
    for (label, prompt, answer, foil), (a0, f0), (a1, f1) in zip(rows, before, after, strict=True):
        text = prompt.text if isinstance(prompt, VisualPrompt) else prompt
        console.print(f"[bold]{label}[/]: {text}")
        console.print(f"    p({answer}) {a0:.2f} → [bold]{a1:.2f}[/]    p({foil}) {f0:.2f} → {f1:.2f}")
    figure = _figure(rows, generated_before, generated_after)
    patch.revert()
    restored = _probabilities(lm, rows[:1])[0][0]
    console.print(f"reverted bit for bit: p({request.target_new}) is {restored:.2f} again.")
    console.print(f"the images with the answers generated before and after: {figure}")
    console.print(f"done in {time.perf_counter() - start:.1f}s.\n")
    console.print("Full evaluation on the 160 facts (reliability, T- and I-generality, locality, harmonic mean):")
    console.print("  amend evaluate --testbed vision_world --method balancedit -n 160 --out runs/vision-balancedit")
