"""Free generation from each request's generation prompts, judged by fluency and consistency (CounterFact's GE, RS).

ROME samples its generations (top-k, k = 5, about 100 tokens); greedy decoding is also offered, because sampled
text needs several seeds to compare runs and greedy text does not. The choice, k, seed and length go into the
report (``extra["generation"]``): two fluency numbers are only comparable under the same settings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from amend.errors import ConfigError
from amend.evaluation.metrics import mean_fluency, tfidf_cosine
from amend.lm import LanguageModel
from amend.requests import EditRequest

SAMPLINGS = ("top_k", "greedy")
PROTOCOL = "generation"


@dataclass(frozen=True)
class GenerationSettings:
    """How texts are generated for fluency and consistency.

    Attributes:
        sampling: ``"top_k"`` (ROME: sample among the ``top_k`` most likely tokens) or ``"greedy"``.
        top_k: k of top-k sampling.
        seed: Seed of the sampling (each batch of prompts draws from its own seed derived from it).
        max_new_tokens: Length of each generation (ROME: 100 tokens, prompt excluded).
    """

    sampling: str = "top_k"
    top_k: int = 5
    seed: int = 0
    max_new_tokens: int = 100

    def __post_init__(self) -> None:
        if self.sampling not in SAMPLINGS:
            raise ConfigError(f"sampling must be one of {SAMPLINGS}, not {self.sampling!r}")
        if self.top_k < 1 or self.max_new_tokens < 1:
            raise ConfigError("top_k and max_new_tokens must be positive")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.sampling == "greedy":
            del out["top_k"], out["seed"]
        return out


def generate_texts(lm: LanguageModel, prompts: Sequence[str], settings: GenerationSettings) -> list[str]:
    """One continuation of each prompt under ``settings``."""
    top_k = settings.top_k if settings.sampling == "top_k" else None
    return lm.generate(prompts, [settings.max_new_tokens] * len(prompts), top_k=top_k, seed=settings.seed)


class Generations:
    """Generates the generation prompts of chosen requests and keeps the texts, by request index."""

    def __init__(self, settings: GenerationSettings, requests: Sequence[EditRequest]):
        self.settings = settings
        self.requests = requests
        self.texts: dict[int, list[str]] = {}

    def run(self, lm: LanguageModel, members: Sequence[int]) -> None:
        """Generate for ``members`` (request indices) with the model as it is now."""
        chosen = [r for r in members if self.requests[r].generation]
        prompts = [prompt for r in chosen for prompt in self.requests[r].generation]
        texts = iter(generate_texts(lm, prompts, self.settings))
        for r in chosen:
            self.texts[r] = [next(texts) for _ in self.requests[r].generation]


def quality(
    texts: Mapping[int, Sequence[str]],
    requests: Sequence[EditRequest],
    references: Mapping[str, Sequence[str]] | None = None,
    idf: Mapping[str, float] | None = None,
) -> list[tuple[int, dict[str, dict[str, float]]]]:
    """(request index, {"fluency"|"consistency": {"generation": value}}) for every request that generated text.

    Consistency needs reference texts, looked up by the request's id (as a string); requests without any get
    fluency only. ``idf`` is the IDF table of the TF-IDF vectors (see :func:`rome_idf`).
    """
    out = []
    for r in sorted(texts):
        values = {"fluency": {PROTOCOL: mean_fluency(texts[r])}}
        reference = (references or {}).get(str(requests[r].record_id))
        if reference:
            values["consistency"] = {PROTOCOL: tfidf_cosine(texts[r], reference, idf)}
        out.append((r, values))
    return out


def load_references(path: str | Path) -> dict[str, list[str]]:
    """Reference texts for consistency: a JSON object mapping request ids to lists of texts."""
    data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and all(isinstance(t, str) for t in v) for v in data.values()
    ):
        raise ConfigError(f"{path}: expected a JSON object mapping request ids to lists of reference texts")
    return {str(key): value for key, value in data.items()}


def rome_idf(vocab_file: str | Path, idf_file: str | Path) -> dict[str, float]:
    """ROME's Wikipedia IDF table (``tfidf_vocab.json`` term -> index, ``idf.npy`` values) as a term -> idf map."""
    import numpy as np

    vocab = json.loads(Path(vocab_file).read_text())
    idf = np.load(idf_file)
    return {term: float(idf[index]) for term, index in vocab.items()}
