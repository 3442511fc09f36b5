"""``amend demo``: what the knowledge-world model believes about one fact, edited with ROME, and reverted.

Shows the edit prompt, a held-out paraphrase, a neighbour (another person, same relation) and a two-hop question,
each with the probabilities of the old and new answers before and after the edit.
"""

from __future__ import annotations

import math
import time

import torch
from rich.console import Console

from amend.editing import edit
from amend.lm import CausalLM, LanguageModel
from amend.requests import EditRequest


def _demo_request(world_module, facts) -> EditRequest:
    """The first birth-city edit of the default request stream (it has a two-hop question)."""
    for request in world_module.edit_requests(50, seed=0, world=facts):
        if request.portability:
            return request
    raise RuntimeError("no birth-city request among the first 50")


def _rows(request: EditRequest) -> list[tuple[str, str, str, str]]:
    """(label, prompt, answer expected after the edit, competing answer)."""
    rows = [("edit prompt", request.text, request.target_new, request.target_true)]
    if request.rephrase:
        rows.append(("held-out paraphrase", request.rephrase[0].prompt, request.target_new, request.target_true))
    neighbour = next(p for p in request.locality if p.kind == "neighbour")
    rows.append(("neighbour (unchanged)", neighbour.prompt, neighbour.answer, request.target_new))
    if request.portability:
        hop = request.portability[0]
        rows.append(("two-hop question", hop.prompt, hop.answer, hop.foil or ""))
    return rows


def _probabilities(lm: LanguageModel, rows) -> list[tuple[float, float]]:
    pairs = [(prompt, answer) for _, prompt, answer, _ in rows] + [(prompt, foil) for _, prompt, _, foil in rows]
    scored = lm.score(pairs)
    half = len(rows)
    return [(math.exp(-scored[i].nll), math.exp(-scored[half + i].nll)) for i in range(half)]


def run_demo(console: Console) -> None:
    from amend.testbeds import world

    torch.set_num_threads(1)  # a 1.7M-parameter model runs fastest on one thread (and 20x slower on a busy core)
    start = time.perf_counter()
    model, tokenizer, facts = world.load()
    request = _demo_request(world, facts)
    lm = CausalLM(model, tokenizer)
    rows = _rows(request)
    console.print(f"[bold]The model believes:[/] {request.text} [red]{request.target_true}[/]")
    console.print(f"[bold]Edit with ROME:[/] {request.text} → [green]{request.target_new}[/]\n")
    before = _probabilities(lm, rows)
    patch = edit(model, tokenizer, [request], "rome")  # the world testbed supplies its corpus and defaults
    after = _probabilities(lm, rows)
    for (label, prompt, answer, foil), (a0, f0), (a1, f1) in zip(rows, before, after, strict=True):
        console.print(f"[bold]{label}[/]: {prompt} …")
        console.print(f"    p({answer}) {a0:.2f} → [bold]{a1:.2f}[/]    p({foil}) {f0:.2f} → {f1:.2f}")
    patch.revert()
    restored = _probabilities(lm, rows[:1])[0][0]
    console.print(f"reverted bit for bit: p({request.target_new}) is {restored:.2f} again.")
    console.print(f"done in {time.perf_counter() - start:.1f}s.\n")
    console.print("Full evaluation on 100 world requests (reliability, generalization, locality, portability):")
    console.print("  amend evaluate --testbed world --method rome --mode single -n 100 --out runs/world-rome")
