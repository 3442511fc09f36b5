"""Would a wider MLP on the world model's residual stream give keys that leak less? Random features say how far.

    .venv/bin/python bench/key_width.py [--testbed world DIR] [--layer L] [--widths W ...]

AlphaEdit protects an unedited person only as far as their key lies outside the edited keys' span (the leak of
`bench/key_space.py`). Random keys leak about sqrt(edited / width), so a wider MLP would seem to help; but a key
is a function of the MLP's input, the normed residual stream at the subject's last token, and that has the
residual stream's width. This script takes those inputs from the model (every person of the world, averaged over
the context templates as the methods do) and prints leak / own weight (as in `bench/key_space.py`) at 200 and 800
edited for: the model's own keys; random features of the same inputs at several widths, GELU (GPT-2's MLP) and
gated SiLU (Llama's); and random Gaussian keys of each width, the best any keys of that width can do. Last, people
as unlike as they can be in a residual stream of width d (Gaussian inputs) through a GELU MLP 4 × d wide: how wide
the residual stream itself must be. Keys are
centred (the shared direction, which AlphaEdit's projector removes) and scaled to mean norm 1, with α 0.05, so
that every row is on one scale. Random features are not trained ones (a trained MLP might learn neurons that pick out
single people); they show what width alone buys on these inputs.
"""

from __future__ import annotations

import argparse

import torch

from amend.architectures import Component, Site, anatomy
from amend.methods.alphaedit.config import AlphaEditConfig
from amend.methods.locate.keys import subject_keys, template_average, values_per_row
from amend.methods.locate.templates import ContextTemplates
from amend.testbeds import world
from key_space import leak, random_keys  # bench/ is the script's folder, so on its path

ALPHA = 0.05  # relative to the unit mean key norm
EDITED = (200, 800)


def leak_ratio(keys: torch.Tensor, edited: int) -> float:
    """Leak ‖a‖ of the unedited keys over the self-weight of the edited ones, one joint ridge solve (0: no leak)."""
    reach, own = leak(keys, edited, ALPHA)
    return reach / own


def normalised(keys: torch.Tensor) -> torch.Tensor:
    centred = keys.double() - keys.double().mean(0)
    return centred / centred.norm(dim=1).mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testbed world", default=None, help="a trained world-model folder (default: the shipped one)")
    parser.add_argument("--layer", type=int, default=None, help="layer (default: AlphaEdit's first for the model)")
    parser.add_argument("--widths", type=int, nargs="+", default=[512, 2048, 8192])
    parser.add_argument("--residual-widths", type=int, nargs="+", default=[128, 512, 2048])
    args = parser.parse_args()
    torch.set_num_threads(2)
    model, tokenizer, facts = world.load(args.world)
    parts = anatomy(model)
    config = AlphaEditConfig.for_model(model)
    layer = config.layers[0] if args.layer is None else args.layer
    requests = world.edit_requests(len(facts.people), seed=0, world=facts)
    templates = ContextTemplates.with_prefixes(config.context_templates)
    flat = templates.flat()
    inputs = values_per_row(parts, tokenizer, requests, flat, Site(Component.MLP_INPUT, layer), "subject_last")
    inputs = inputs.view(len(requests), len(flat), -1).double()
    inputs = (inputs - inputs.mean((0, 1))) / inputs.std((0, 1))  # standardised, so random weights of 1/√d suit
    own = subject_keys(parts, tokenizer, requests, templates, layer, average="grouped")
    sizes = [n for n in EDITED if n < len(requests)]

    def row(label: str, keys: torch.Tensor) -> None:
        keys = normalised(keys)
        ratios = "  ".join(f"{n} edited {leak_ratio(keys, n):.2f}" for n in sizes)
        print(f"  {label:<34} {ratios}")

    print(f"layer {layer}: {len(requests)} people, MLP input width {inputs.shape[-1]}; leak / own weight")
    row(f"the model's keys ({own.shape[1]})", own)
    generator = torch.Generator().manual_seed(0)
    scale = inputs.shape[-1] ** -0.5
    for width in args.widths:
        up, gate = (
            torch.randn(inputs.shape[-1], width, dtype=torch.float64, generator=generator) * scale for _ in "ug"
        )
        gelu = torch.nn.functional.gelu(inputs @ up)
        row(f"random GELU features ({width})", template_average(gelu, templates, "grouped"))
        gated = torch.nn.functional.silu(inputs @ gate) * (inputs @ up)
        row(f"random gated features ({width})", template_average(gated, templates, "grouped"))
        row(f"random keys ({width})", random_keys(len(requests), width, 1.0, generator))
    print("random people in a residual stream of width d, GELU MLP of 4 × d; leak / own weight")
    for d in args.residual_widths:
        people = torch.randn(len(requests), d, dtype=torch.float64, generator=generator)
        up = torch.randn(d, 4 * d, dtype=torch.float64, generator=generator) / d**0.5
        row(f"d = {d}", torch.nn.functional.gelu(people @ up))


if __name__ == "__main__":
    main()
