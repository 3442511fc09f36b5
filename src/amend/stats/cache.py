"""An explicit, on-disk cache of statistics, keyed by everything they depend on.

Files are safetensors under ``root/<fingerprint>/<module>/``; the key (model fingerprint, module, corpus
identity, token budget, maximum length, dtype) is in the file name and repeated in the header, which is checked
on load. There is no module-level cache: callers hold a :class:`StatsCache` and pass it where it is needed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import PreTrainedTokenizerBase

from amend.architectures.anatomy import Anatomy
from amend.fingerprint import fingerprint
from amend.stats.corpus import Corpus
from amend.stats.projector import null_space_projector
from amend.stats.second_moment import SecondMoment, StatsSettings, collect_second_moments


def default_cache_dir() -> Path:
    """``$AMEND_CACHE`` or ``~/.cache/amend``."""
    return Path(os.environ.get("AMEND_CACHE", Path.home() / ".cache" / "amend"))


class StatsCache:
    """Loads statistics when a matching file exists and computes (then saves) them otherwise.

    Args:
        root: The writable cache directory (default ``$AMEND_CACHE`` or ``~/.cache/amend``).
        read_only: Further directories searched first, never written (statistics shipped with a model).
    """

    def __init__(self, root: str | Path | None = None, read_only: Sequence[str | Path] = ()):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.read_only = [Path(p) for p in read_only]
        self.computed = 0  # how many layers were computed rather than loaded (visible for tests and logs)

    @classmethod
    def coerce(cls, cache: StatsCache | str | Path | None) -> StatsCache:
        return cache if isinstance(cache, StatsCache) else cls(cache)

    def second_moments(
        self,
        anatomy: Anatomy,
        tokenizer: PreTrainedTokenizerBase,
        layers: Sequence[int],
        corpus: Corpus,
        settings: StatsSettings,
        *,
        progress: bool = True,
        model_id: str | None = None,
    ) -> dict[int, SecondMoment]:
        """E[k kᵀ] statistics for the MLP keys at ``layers``; missing layers are computed in one pass.

        ``model_id`` names the model the statistics stand for; it defaults to the model's current fingerprint. A
        sequential editor passes the fingerprint of the unedited model, so that statistics are computed once,
        as in the original methods, rather than again after every edit.
        """
        model_id = model_id or fingerprint(anatomy.model)
        paths = {layer: self._path(model_id, anatomy.mlp_out_proj_name(layer), corpus, settings) for layer in layers}
        found = {}
        for layer, path in paths.items():
            existing = self._existing(path)
            if existing is not None:
                found[layer] = _load(existing)
        missing = [layer for layer in layers if layer not in found]
        if missing:
            computed = collect_second_moments(anatomy, tokenizer, missing, corpus, settings, progress=progress)
            for layer, moment in computed.items():
                _save(paths[layer], moment, model_id, corpus, settings)
            found.update(computed)
            self.computed += len(missing)
        return {layer: found[layer] for layer in layers}

    def projectors(
        self,
        anatomy: Anatomy,
        tokenizer: PreTrainedTokenizerBase,
        layers: Sequence[int],
        corpus: Corpus,
        settings: StatsSettings,
        threshold: float,
        mode: str = "absolute",
        *,
        progress: bool = True,
        model_id: str | None = None,
    ) -> dict[int, torch.Tensor]:
        """Null-space projectors (float64) of the key statistics at ``layers``, cached beside the statistics."""
        model_id = model_id or fingerprint(anatomy.model)
        out, missing = {}, []
        for layer in layers:
            path = self._path(model_id, anatomy.mlp_out_proj_name(layer), corpus, settings)
            path = path.with_name(path.stem + f"__P{mode}{threshold:g}.safetensors")
            existing = self._existing(path)
            if existing is not None:
                with safe_open(str(existing), framework="pt") as handle:
                    out[layer] = handle.get_tensor("projector")
            else:
                missing.append((layer, path))
        if missing:
            moments = self.second_moments(
                anatomy,
                tokenizer,
                [layer for layer, _ in missing],
                corpus,
                settings,
                progress=progress,
                model_id=model_id,
            )
            for layer, path in missing:
                out[layer] = null_space_projector(moments[layer].mean(), threshold, mode)
                _write_atomically(path, {"projector": out[layer].contiguous()})
        return {layer: out[layer] for layer in layers}

    def _existing(self, path: Path) -> Path | None:
        """``path`` under a read-only root, else under the writable root, if the file exists."""
        relative = path.relative_to(self.root)
        for root in [*self.read_only, self.root]:
            if (root / relative).exists():
                return root / relative
        return None

    def _path(self, model_id: str, module: str, corpus: Corpus, settings: StatsSettings) -> Path:
        length = settings.max_length or "ctx"
        name = f"{corpus.identity}__{settings.token_budget}tok__len{length}__{settings.dtype}.safetensors"
        return self.root / model_id[:20] / module / "mom2" / name


def _save(path: Path, moment: SecondMoment, model_id: str, corpus: Corpus, settings: StatsSettings) -> None:
    header = {
        "fingerprint": model_id,
        "corpus": corpus.identity,
        "token_budget": str(settings.token_budget),
        "max_length": str(settings.max_length),
        "dtype": settings.dtype,
        "count": str(moment.count),
    }
    _write_atomically(path, {"total": moment.total.contiguous()}, header)


def _write_atomically(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Write under a temporary name of this writer's own, then rename: an interrupted run never leaves a
    half-written cache file, and two runs sharing a cache never write into one file. safetensors creates files
    readable by their owner only; a cache file gets the permissions any new file would, so a cache can be shared."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        tmp.chmod(0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    """The process's file-creation mask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _load(path: Path) -> SecondMoment:
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
        total = handle.get_tensor("total")
    return SecondMoment(
        total=total.to(torch.float64 if meta["dtype"] == "float64" else torch.float32), count=int(meta["count"])
    )
