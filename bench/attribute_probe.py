"""Are a world model's attributes readable on their own at the subject? A linear probe on held-out people.

    .venv/bin/python bench/attribute_probe.py [--testbed world DIR] [--train-share 0.8]

For every person, the residual stream at the last token of their bare name, after each block, is fitted by ridge
regression to the one-hot object of each relation on one share of the people and scored (argmax accuracy) on the rest.
A model that stores a person as a sum of attribute directions (what a clean single-relation edit needs: move one
direction, leave the others) is readable so for people the probe never saw; a model that stores an identity code
decoded later is not. As yardsticks, the same probe runs in the same run on synthetic codes of the same width that
are such sums (one random vector per object, summed over the person's relations), alone and with a random
person-specific part as large as the sum (×1) or twice as large (×2): a low reading means the attribute directions
are missing *or* buried under a larger identity part, which the probe cannot tell apart.
"""

from __future__ import annotations

import argparse

import torch

from amend.testbeds import world
from amend.testbeds.world import PERSON_RELATIONS
from amend.testbeds.world.generator import Person

RIDGE = (0.1, 1.0, 10.0, 100.0)  # the best held-out accuracy over these is reported
IDENTITY_SCALES = (0.0, 1.0, 2.0)  # size of the yardsticks' person-specific part, relative to the attribute sum


def name_states(model, tokenizer, people: list[Person]) -> torch.Tensor:
    """[people, blocks + 1, width]: the residual at the name's last token, embeddings first (one padded forward)."""
    enc = tokenizer([p.name for p in people], return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        hidden = model(**enc, output_hidden_states=True).hidden_states
    last = enc["attention_mask"].sum(1) - 1  # the world tokenizer pads on the right
    return torch.stack([h[torch.arange(len(people)), last] for h in hidden], 1).double()


def probe_accuracy(features: torch.Tensor, labels: torch.Tensor, n_train: int) -> float:
    """Best held-out argmax accuracy of a ridge regression onto one-hot labels."""
    x = torch.cat([features, torch.ones(len(features), 1, dtype=features.dtype)], 1)
    y = torch.nn.functional.one_hot(labels).double()
    gram, best = x[:n_train].T @ x[:n_train], 0.0
    for ridge in RIDGE:
        weights = torch.linalg.solve(gram + ridge * torch.eye(x.shape[1], dtype=x.dtype), x[:n_train].T @ y[:n_train])
        best = max(best, ((x[n_train:] @ weights).argmax(1) == labels[n_train:]).double().mean().item())
    return best


def synthetic_codes(people: list[Person], width: int, identity_scale: float = 0.0, seed: int = 0) -> torch.Tensor:
    """Each person as the sum of one random vector per (relation, object), plus a random vector of their own whose
    norm is ``identity_scale`` times the sum's."""
    generator = torch.Generator().manual_seed(seed)
    keys = sorted({(relation, person.facts[relation]) for person in people for relation in PERSON_RELATIONS})
    vectors = {key: torch.randn(width, generator=generator, dtype=torch.float64) for key in keys}
    sums = torch.stack([sum(vectors[r, p.facts[r]] for r in PERSON_RELATIONS) for p in people])
    identity = torch.randn(sums.shape, generator=generator, dtype=torch.float64)
    identity *= identity_scale * sums.norm(dim=1, keepdim=True) / identity.norm(dim=1, keepdim=True)
    return sums + identity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testbed world", default=None, help="a trained world-model folder (default: the shipped one)")
    parser.add_argument("--train-share", type=float, default=0.8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, tokenizer, facts = world.load(args.world)
    people = facts.people
    n_train = int(args.train_share * len(people))
    states = name_states(model, tokenizer, people)
    yardsticks = [synthetic_codes(people, states.shape[-1], scale) for scale in IDENTITY_SCALES]
    print(f"{len(people)} people, probe fitted on {n_train}; model columns: embeddings, then after each block")
    sums = " ".join(f"{'sum' if s == 0 else f'sum+id×{s:g}':>9s}" for s in IDENTITY_SCALES)
    print(f"{'relation':12s} {'chance':>6s} {sums}  model")
    for relation in PERSON_RELATIONS:
        objects = sorted({p.facts[relation] for p in people})
        labels = torch.tensor([objects.index(p.facts[relation]) for p in people])
        layers = [probe_accuracy(states[:, block], labels, n_train) for block in range(states.shape[1])]
        reference = " ".join(f"{probe_accuracy(code, labels, n_train):9.2f}" for code in yardsticks)
        print(f"{relation:12s} {1 / len(objects):6.3f} {reference}  " + " ".join(f"{a:.2f}" for a in layers))


if __name__ == "__main__":
    main()
