"""The trainer runs end to end on the tiny preset, quickly, and its loss goes down."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from amend.world import load
from amend.world.train import CARD_FILE, PRESETS, train


def test_tiny_trains_fast_and_learns(tmp_path: Path) -> None:
    started = time.time()
    card = train(PRESETS["tiny"], tmp_path, progress=False)
    assert time.time() - started < 60
    losses = card["epoch_losses"]
    assert losses[-1] < losses[0] - 0.5
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / CARD_FILE).exists()
    model, tokenizer, world = load(tmp_path)
    assert len(world.people) == PRESETS["tiny"].n_people
    assert model.config.vocab_size == len(tokenizer)
    assert set(card["recall"]) >= {"train_templates", "heldout_templates", "in_context", "relevance"}


def test_training_is_deterministic() -> None:
    config = replace(PRESETS["tiny"], epochs=1, eval_limit=20)
    assert train(config, progress=False)["epoch_losses"] == train(config, progress=False)["epoch_losses"]
