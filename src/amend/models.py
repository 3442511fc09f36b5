"""Loading a causal LM and its tokenizer from a folder, a hub id or a GGUF file.

A GGUF file (a quantized checkpoint, as llama.cpp writes) is dequantized to float32 once and kept as an ordinary
safetensors folder in the cache, keyed by the file's sha256: the first load takes the dequantization's seconds, every
later one about a second, with identical weights. A model recognised as a testbed's (its config names the testbed, or
its GGUF file is one a testbed ships) is marked as such, so an :class:`~amend.Editor` finds the testbed's statistics
corpus and editing defaults with no other option.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch

from amend.architectures.table import ARCHITECTURES
from amend.errors import ConfigError
from amend.registry import TESTBEDS
from amend.stats.cache import default_cache_dir
from amend.testbeds.base import mark


def load_model(
    source: str | Path, *, device: str = "cpu", dtype: str = "float32", cache_dir: str | Path | None = None
) -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a model folder, a hub id (needs the network or the HF cache) or a ``.gguf`` file;
    the model in eval mode on ``device``."""
    path = Path(source)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ConfigError(f"{path} is not a file")
        folder = dequantized(path, cache_dir)
    else:
        folder = source
    model, tokenizer = _from_pretrained(folder, getattr(torch, dtype))
    return model.to(device).eval(), tokenizer


def is_vision_language(model_type: str) -> bool:
    """Whether the architecture table knows ``model_type`` as a vision-language model."""
    spec = ARCHITECTURES.get(model_type)
    return spec is not None and bool(spec.text_models)


def dequantized(gguf: Path, cache_dir: str | Path | None = None) -> Path:
    """The cached float32 safetensors folder of ``gguf`` (made now if missing), marked with the testbed it belongs
    to if any."""
    digest = file_sha256(gguf)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = root / "gguf" / digest[:24]
    if (folder / "config.json").is_file():
        return folder
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = quantized.config
    if hasattr(config, "quantization_config"):  # a GGUF-loaded model refuses save_pretrained while it has one
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantized.state_dict())
    plain.tie_weights()
    testbed = testbed_of_file(digest)
    if testbed is not None:
        mark(plain, testbed)
    plain.config.amend_source = {"gguf": gguf.name, "sha256": digest}
    tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        folder.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def testbed_of_file(digest: str) -> str | None:
    """The registered testbed that ships a model file of this sha256, if any."""
    for name in TESTBEDS:
        if digest in getattr(TESTBEDS.get(name), "file_digests", ()):
            return name
    return None


def _from_pretrained(folder: str | Path, dtype: torch.dtype) -> tuple[Any, Any]:
    """The model and its tokenizer; a vision-language model of the architecture table (LLaVA, Qwen2-VL, BLIP-2)
    with its processor in place of the tokenizer."""
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        AutoModelForImageTextToText,
        AutoProcessor,
        AutoTokenizer,
    )

    try:
        model_type = AutoConfig.from_pretrained(folder).model_type
        if is_vision_language(model_type):
            return AutoModelForImageTextToText.from_pretrained(folder, dtype=dtype), AutoProcessor.from_pretrained(
                folder
            )
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as err:  # transformers raises ValueError for a folder with no model config
        if Path(folder).exists():
            raise ConfigError(f"{folder} is not a model folder transformers can load: {err}") from None
        raise ConfigError(
            f"model {str(folder)!r} is not a local folder and is not available offline (no network, or not in the "
            "HuggingFace cache): download it where there is a network (save_pretrained or hf download) and pass "
            "the folder, --model DIR"
        ) from None
    return model, tokenizer
