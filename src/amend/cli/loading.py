"""Loading models, tokenizers, requests and option overrides for the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from amend.errors import ConfigError
from amend.requests import EditRequest


def load_model(name_or_path: str, device: str = "cpu", dtype: str = "float32"):
    """A causal LM and its tokenizer from a folder, a hub id (the hub needs the network) or a GGUF file."""
    from amend.models import load_model as load

    return load(name_or_path, device=device, dtype=dtype)


def load_requests(path: str | Path) -> list[EditRequest]:
    """Edit requests from a JSON list or a JSONL file of request objects (``EditRequest.to_dict`` form)."""
    from amend.datasets import load

    return load("amend", path)


def parse_statistics(pairs: list[str] | None) -> dict[int, Path]:
    """``LAYER=FILE`` pairs of ``--stats`` as layer -> path (the files are read and checked by the edit)."""
    out = {}
    for pair in pairs or []:
        layer, sep, file = pair.partition("=")
        if not sep or not layer.strip().isdigit() or not file:
            raise ConfigError(f"--stats expects LAYER=FILE (e.g. 17=mlp_17.npz), got {pair!r}")
        out[int(layer)] = Path(file)
    return out


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
