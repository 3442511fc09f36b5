"""Train a small GPT-2 from scratch on the fictional world, on CPU, deterministically.

A plain PyTorch loop (AdamW, warm-up then cosine decay) over padded batches of passages, loss on every non-pad
token. The ``default`` preset is the shipped model; ``tiny`` retrains in seconds and exists to test this loop.

Run: ``python -m amend.testbeds.world.train --preset default --out src/amend/testbeds/world/data``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from amend.testbeds.base import mark
from amend.testbeds.world import WORLD_FILE
from amend.testbeds.world.corpus import CorpusSpec, epoch_texts
from amend.testbeds.world.generator import World, generate
from amend.testbeds.world.recall import answer_token, recall_report
from amend.testbeds.world.tokenizer import build_tokenizer

CARD_FILE = "model_card.json"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained world model (same config, same thread count: same weights).

    The defaults are the shipped model. Non-obvious fields: ``min_lr_ratio`` is the floor of the cosine decay;
    ``bucket_batches`` is how many batches' worth of texts are length-sorted together (less padding);
    ``n_inner`` is the MLP width (None: GPT-2's 4 × ``n_embd``), the dimension of the keys locate-then-edit methods
    write against: a wider MLP leaves sequential editing more room (``docs/sequential.md``);
    ``threads`` is the torch thread count (1 leaves the machine's other cores free); ``eval_limit`` caps the
    prompts per group of the final recall measurement; ``eval_every`` logs a quick recall check every N epochs
    (it does not change the weights).
    """

    name: str = "default"
    seed: int = 0
    n_people: int = 1000
    n_layer: int = 8
    n_embd: int = 128
    n_head: int = 4
    n_inner: int | None = None
    n_positions: int = 256
    epochs: int = 100
    batch_size: int = 16
    lr: float = 2e-3
    min_lr_ratio: float = 0.05
    warmup_steps: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    bucket_batches: int = 20
    threads: int = 1
    eval_limit: int | None = 4000
    eval_every: int = 0
    subject_init: float = 6.0
    corpus: CorpusSpec = field(default_factory=CorpusSpec)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form, written into the model card."""
        return asdict(self)


PRESETS: dict[str, TrainConfig] = {
    "default": TrainConfig(),
    # The shipped recipe with a 1,024-wide MLP (53 % more parameters; 44 minutes on two threads): the sequential-
    # editing experiment of docs/sequential.md. Not shipped.
    "wide": TrainConfig(name="wide1024", n_inner=1024, threads=2),
    "tiny": TrainConfig(
        name="tiny",
        n_people=40,
        n_layer=2,
        n_embd=32,
        n_head=2,
        n_positions=160,
        epochs=4,
        batch_size=16,
        lr=3e-3,
        warmup_steps=5,
        eval_limit=200,
    ),
}


def model_config(config: TrainConfig, tokenizer: PreTrainedTokenizerFast) -> GPT2Config:
    """A GPT-2 architecture without dropout (the goal is exact memorisation, not regularisation)."""
    return GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=config.n_positions,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        n_inner=config.n_inner,
        activation_function="gelu",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        loss_type="ForCausalLM",
    )


def seed_subject_embeddings(
    model: GPT2LMHeadModel, tokenizer: PreTrainedTokenizerFast, world: World, scale: float
) -> None:
    """Start each person's last-name embedding with the sum of their objects' embeddings in it.

    Why: trained from a random start, the world model keeps a person as an identity that later layers decode per
    relation, so an edit at the subject moves all of the person's facts together (`docs/world.md`: donor facts,
    attribute probe). Pretrained LMs instead enrich the subject with its attributes, which is what locate-then-edit
    methods rely on. Giving the name its attributes as directions at the start (the normalised sum of the person's
    object embeddings, ``scale`` times the row's own norm, added to its random initialisation) leads training to read
    them there. The facts are still learned: the sum carries no relation, so which object answers which question,
    and every template, comes from the corpus. Deterministic (no random draws), so the trainer stays reproducible.
    """
    if scale == 0:
        return
    embeddings = model.get_input_embeddings().weight
    with torch.no_grad():
        for person in world.people:
            (name,) = tokenizer(" " + person.last, add_special_tokens=False)["input_ids"]
            objects = [answer_token(tokenizer, obj) for obj in person.facts.values()]
            attributes = embeddings[objects].sum(0)
            embeddings[name] += scale * embeddings[name].norm() * attributes / attributes.norm()


def lr_at(step: int, total: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio * lr``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(total - config.warmup_steps, 1)
    cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return config.lr * (config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine)


def batches(
    texts: list[str], tokenizer: PreTrainedTokenizerFast, config: TrainConfig, rng: random.Random
) -> Iterator[dict[str, torch.Tensor]]:
    """Padded batches; texts of similar length are grouped (less padding), batch order is shuffled."""
    ids = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=config.n_positions)["input_ids"]
    chunk = config.batch_size * config.bucket_batches
    groups: list[list[list[int]]] = []
    for start in range(0, len(ids), chunk):
        ordered = sorted(ids[start : start + chunk], key=len)
        groups += [ordered[i : i + config.batch_size] for i in range(0, len(ordered), config.batch_size)]
    rng.shuffle(groups)
    for group in groups:
        yield _pad(group, tokenizer.pad_token_id)


def _pad(group: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(x) for x in group)
    input_ids = torch.full((len(group), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(group), width), dtype=torch.long)
    for i, x in enumerate(group):
        input_ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    labels = input_ids.masked_fill(mask == 0, -100)
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def optimizer_for(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, norms)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.98))


def fit(
    model: GPT2LMHeadModel,
    tokenizer: PreTrainedTokenizerFast,
    world: World,
    config: TrainConfig,
    progress: bool = True,
) -> tuple[list[float], float]:
    """Train in place; returns the mean loss of each epoch and the seconds spent in progress checks."""
    steps_per_epoch = math.ceil(len(epoch_texts(world, config.corpus, 0)) / config.batch_size)
    total = steps_per_epoch * config.epochs
    optimizer = optimizer_for(model, config)
    rng = random.Random(config.seed)
    epoch_losses: list[float] = []
    eval_seconds = 0.0
    model.train()
    with tqdm(total=total, disable=not progress, desc=f"world[{config.name}]", mininterval=5) as bar:
        step = 0
        for epoch in range(config.epochs):
            losses = []
            for batch in batches(epoch_texts(world, config.corpus, epoch), tokenizer, config, rng):
                losses.append(train_step(model, optimizer, batch, lr_at(step, total, config), config.grad_clip))
                step += 1
                bar.update()
            epoch_losses.append(sum(losses) / len(losses))
            bar.set_postfix(epoch=epoch, loss=f"{epoch_losses[-1]:.3f}")
            if config.eval_every and (epoch + 1) % config.eval_every == 0:
                paused = time.time()
                _log_recall(model, tokenizer, world, config, epoch, bar)
                bar.unpause()
                eval_seconds += time.time() - paused
    model.eval()
    return epoch_losses, eval_seconds


def train_step(
    model: GPT2LMHeadModel, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor], lr: float, clip: float
) -> float:
    """One optimizer step at learning rate ``lr``; returns the batch loss."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


def _log_recall(
    model: GPT2LMHeadModel,
    tokenizer: PreTrainedTokenizerFast,
    world: World,
    config: TrainConfig,
    epoch: int,
    bar: tqdm,
) -> None:
    """A quick recall check during training (a few hundred prompts per group), to watch learning curves."""
    recall = recall_report(model, tokenizer, world, config.corpus, limit=300)
    bar.write(f"epoch {epoch + 1}: " + json.dumps(recall))
    model.train()


def train(config: TrainConfig, out_dir: str | Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Generate the world, train a model on it, measure recall, and save everything to ``out_dir``.

    Returns the model card (also written as ``model_card.json``).
    """
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    started = time.time()
    world = generate(config.seed, config.n_people)
    tokenizer = build_tokenizer(world, config.n_positions)
    model = GPT2LMHeadModel(model_config(config, tokenizer))
    seed_subject_embeddings(model, tokenizer, world, config.subject_init)
    mark(model, "world")  # an Editor finds the world's corpus and defaults through the testbed it names
    losses, eval_seconds = fit(model, tokenizer, world, config, progress)
    train_seconds = time.time() - started - eval_seconds
    recall = recall_report(model, tokenizer, world, config.corpus, limit=config.eval_limit)
    card = {
        "config": config.to_json(),
        "seed": config.seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "train_seconds": round(train_seconds, 1),
        "epoch_losses": [round(x, 4) for x in losses],
        "recall": recall,
        "torch": torch.__version__,
    }
    if out_dir is not None:
        save(model, tokenizer, world, card, Path(out_dir))
    return card


def save(model: GPT2LMHeadModel, tokenizer: PreTrainedTokenizerFast, world: World, card: dict, out: Path) -> None:
    """Write model (safetensors), tokenizer, world JSON and model card into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / WORLD_FILE).write_text(json.dumps(world.to_json(), indent=1, ensure_ascii=False))
    (out / CARD_FILE).write_text(json.dumps(card, indent=1))


def main(argv: list[str] | None = None) -> None:
    """Command line: train a preset (optionally overriding a few fields) into a folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--n-people", type=int)
    parser.add_argument("--eval-every", type=int, help="log a quick recall check every N epochs")
    parser.add_argument("--n-inner", type=int, help="MLP width (default 4 × n_embd)")
    args = parser.parse_args(argv)
    config = PRESETS[args.preset]
    overrides = {
        "epochs": args.epochs,
        "n_people": args.n_people,
        "eval_every": args.eval_every,
        "n_inner": args.n_inner,
    }
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    card = train(config, args.out)
    print(json.dumps({k: card[k] for k in ("train_seconds", "parameters", "recall")}, indent=1))


if __name__ == "__main__":
    main()
