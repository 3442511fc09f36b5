"""Loading models, tokenizers, requests and option overrides for the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from amend.errors import ConfigError
from amend.requests import EditRequest


def load_model(name_or_path: str, device: str = "cpu", dtype: str = "float32"):
    """A causal LM and its tokenizer from a local directory or a hub id (the hub needs the network)."""
    try:
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=getattr(torch, dtype))
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as err:  # transformers raises ValueError for a folder with no model config
        if Path(name_or_path).exists():
            raise ConfigError(f"{name_or_path} is not a model folder transformers can load: {err}") from None
        raise ConfigError(
            f"model {name_or_path!r} is not a local folder and is not available offline (no network, or not in the "
            "HuggingFace cache): download it where there is a network (save_pretrained or hf download) and pass "
            "the folder, --model DIR"
        ) from None
    return model.to(device).eval(), tokenizer


def load_requests(path: str | Path) -> list[EditRequest]:
    """Edit requests from a JSON list or a JSONL file of request objects (``EditRequest.to_dict`` form)."""
    from amend.datasets import load

    return load("amend", path)


def parse_overrides(pairs: list[str] | None, config_file: Path | None = None) -> dict[str, Any]:
    """``key=value`` pairs (values parsed as JSON when they parse, else kept as strings) over a JSON file."""
    values: dict[str, Any] = {}
    if config_file:
        try:
            values = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ConfigError(f"--config {config_file} is not a JSON object of config fields: {err}") from None
        if not isinstance(values, dict):
            raise ConfigError(
                f"--config {config_file} must hold a JSON object of config fields, not a {type(values).__name__}"
            )
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        try:
            values[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            values[key.strip()] = raw
    return values
