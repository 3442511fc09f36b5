"""How much room the world model's MLP keys leave for null-space editing (AlphaEdit).

    .venv/bin/python bench/key_space.py [--cache-dir DIR] [--testbed world DIR] [--layers L ...]

For every person of the world, the subject key (MLP input at the subject's last token, averaged over the context
templates) at AlphaEdit's layers for the model. Prints how close two people's keys are (mean |cos|), then per
null-space threshold the null-space dimension of the key statistics, how many directions hold 95 % of the subject
keys' energy, the share of that energy inside the projector P, and the room P leaves: how many directions of the
projected keys P k have a squared singular value above AlphaEdit's α (its L2 term), roughly the number of edits it
can hold apart, and their mean |cos|. AlphaEdit can only write along P; it protects other subjects only if their
keys lie outside P. Both at once needs subject keys that are nearly orthogonal, which many keys crowded into a few
directions are not. Last, at the model's own threshold, the leak: when the first n people (in the order of the world
requests) are edited in one AlphaEdit solve, an unedited person's key picks up the edited residuals with weights a;
the mean ‖a‖ over the unedited people is printed beside the weight an edited key gets on its own residual, and the
same for random keys of the same norm in as many dimensions as P keeps (the room the projected keys have) and in the
width of one GPT-J MLP. While far fewer are edited than the width, random keys leak about sqrt(edited / width): the
last lines print how wide random keys must be to hold n edits apart.
"""

from __future__ import annotations

import argparse
import tempfile

import torch

from amend.architectures.anatomy import anatomy
from amend.fingerprint import fingerprint
from amend.methods.alphaedit.config import AlphaEditConfig
from amend.methods.locate.keys import subject_keys
from amend.methods.locate.templates import ContextTemplates
from amend.stats import StatsCache
from amend.testbeds import world
from amend.testbeds.world.defaults import stats_corpus

REFERENCE_DIM = 16_384  # one GPT-J MLP: the leak of keys that are as unlike as random ones, for comparison
WIDTHS = (512, 1024, 2048, 4096, 8192, 16_384)  # random-key reference sweep
THRESHOLDS = (("absolute", 0.02), ("relative", 0.05), ("relative", 0.01))


def energy_rank(keys: torch.Tensor, share: float = 0.95) -> int:
    """Number of singular directions that hold ``share`` of the rows' squared norm."""
    energy = torch.linalg.svdvals(keys) ** 2
    return int((energy.cumsum(0) / energy.sum() < share).sum()) + 1


def mean_abs_cosine(keys: torch.Tensor) -> float:
    """Mean |cos| between two different rows: 0 for orthogonal keys, 1 for keys in one direction."""
    unit = keys / keys.norm(dim=1, keepdim=True)
    cosines = unit @ unit.T
    return float(cosines[~torch.eye(len(keys), dtype=torch.bool)].abs().mean())


def leak(projected: torch.Tensor, edited: int, l2: float) -> tuple[float, float]:
    """(mean ‖a‖ of the unedited rows, mean self-weight of the edited rows) for one joint solve on the first
    ``edited`` rows of P k: a = (K_E K_Eᵀ + αI)⁻¹ K_E k (rows are keys). Near-orthogonal keys leak about 0."""
    keys, others = projected[:edited], projected[edited:]
    gram = keys @ keys.T + l2 * torch.eye(edited, dtype=keys.dtype)
    reach = torch.linalg.solve(gram, keys @ others.T).norm(dim=0).mean()
    own = torch.linalg.solve(gram, keys @ keys.T).diagonal().mean()
    return float(reach), float(own)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=None, help="statistics cache (default: a temporary directory)")
    parser.add_argument("--testbed world", default=None, help="a trained world-model folder (default: the shipped one)")
    parser.add_argument("--layers", type=int, nargs="+", help="layers to measure (default: AlphaEdit's for the model)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, tokenizer, facts = world.load(args.world)
    parts = anatomy(model)
    requests = world.edit_requests(len(facts.people), seed=0, world=facts)
    config = AlphaEditConfig.for_model(model)
    templates = ContextTemplates.with_prefixes(config.context_templates)
    cache = StatsCache(args.cache_dir or tempfile.mkdtemp(prefix="amend-keyspace-"))
    layers = args.layers or list(config.layers)
    keys = {
        layer: subject_keys(parts, tokenizer, requests, templates, layer, average="grouped").double()
        for layer in layers
    }
    for layer, k in keys.items():
        print(
            f"layer {layer}: mean |cos| between two people's keys {mean_abs_cosine(k):.3f} "
            f"({mean_abs_cosine(k - k.mean(0)):.3f} after removing the mean key)"
        )
    for mode, tau in THRESHOLDS:
        projectors = cache.projectors(
            parts, tokenizer, layers, stats_corpus(facts), config.stats_settings(), tau, mode,
            progress=False, model_id=fingerprint(model),
        )  # fmt: skip
        for layer in layers:
            k, p = keys[layer], projectors[layer].double()
            projected = k @ p
            inside = float((projected.norm(dim=1) ** 2 / k.norm(dim=1) ** 2).mean())
            room = int((torch.linalg.svdvals(projected) ** 2 > config.l2).sum())
            print(
                f"{mode} τ={tau} layer {layer}: key dim {k.shape[1]}, null dim {int(torch.trace(p).round())}, "
                f"95% of {k.shape[0]} subject keys' energy in {energy_rank(k)} directions, {inside:.3f} of it in P; "
                f"{room} directions of P k above α = {config.l2:g}, mean |cos| {mean_abs_cosine(projected):.3f}"
            )

    own_projectors = cache.projectors(
        parts, tokenizer, layers, stats_corpus(facts), config.stats_settings(), config.nullspace_threshold,
        config.threshold_mode, progress=False, model_id=fingerprint(model),
    )  # fmt: skip
    generator = torch.Generator().manual_seed(0)
    sizes = [n for n in (100, 200, 400, 800) if n < len(facts.people)]
    for layer in layers:
        projected = keys[layer] @ own_projectors[layer].double()
        width = int(torch.trace(own_projectors[layer]).round())  # P k lives in P's range, not in the full width
        norm = float(projected.norm(dim=1).mean())
        references = {dim: random_keys(len(projected), dim, norm, generator) for dim in (width, REFERENCE_DIM)}
        for edited in sizes:
            reach, own = leak(projected, edited, config.l2)
            versus = ", ".join(
                "{:.3f} / {:.3f} in {} dims".format(*leak(reference, edited, config.l2), dim)
                for dim, reference in references.items()
            )
            print(
                f"layer {layer}, {edited} edited: an unedited key's leak ‖a‖ {reach:.3f}, own weight {own:.3f} "
                f"(random keys of that norm: {versus})"
            )
    print(f"random keys of the last layer's norm, leak / own weight by width (α = {config.l2:g}):")
    for dim in WIDTHS:
        reference = random_keys(len(facts.people), dim, norm, generator)
        row = "  ".join("{} edited {:.2f} / {:.2f}".format(n, *leak(reference, n, config.l2)) for n in sizes)
        print(f"  {dim:>6} dims: {row}")


def random_keys(count: int, dim: int, norm: float, generator: torch.Generator) -> torch.Tensor:
    """``count`` Gaussian keys in ``dim`` dimensions, each scaled to ``norm``: keys as unlike as keys can be."""
    keys = torch.randn(count, dim, dtype=torch.float64, generator=generator)
    return keys * (norm / keys.norm(dim=1, keepdim=True))


if __name__ == "__main__":
    main()
