"""An explicit, on-disk cache of statistics, keyed by everything they depend on.

Files are safetensors under ``root/<fingerprint>/<module>/``; the key (model fingerprint, module, corpus
identity, token budget, maximum length, dtype, and a projector's threshold and mode) is in the file name and
repeated in the header. There is no module-level cache: callers hold a :class:`StatsCache` and pass it where it is
needed.

A cache is shared between runs (and users, and read-only copies shipped with a model), and wrong statistics make
an edit silently wrong rather than fail, so a file is used only if it is what its name says. On load the header
must match the key asked for, the tensors must read back whole with the expected name, dtype and shape, their
values must be possible (finite; a second moment's diagonal non-negative and not all zero, its count between one
and the token budget; a projector's entries at most 1 in magnitude), and they must match the ``sha256`` content
digest in the header (:func:`amend.storage.tensors_digest`, written on save). Anything else raises
:class:`CacheError` naming the file and what is wrong; deleting the file has it recomputed. Nothing is silently
recomputed over a bad file: the file may be someone else's, or in a read-only root.

Files written before the digest existed have none and still load, with every other check made (for a second
moment: the key in the header and its values; for a projector, whose header was empty then: its values). The
digest catches corruption and a file edited without it being recomputed; it is a checksum, not a signature, so
it cannot stop someone who rewrites the digest too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

import torch
from safetensors import SafetensorError, safe_open
from transformers import PreTrainedTokenizerBase

from amend import storage
from amend.architectures.anatomy import Anatomy
from amend.architectures.weights import dims
from amend.errors import CacheError
from amend.fingerprint import fingerprint
from amend.stats.corpus import Corpus
from amend.stats.projector import null_space_projector
from amend.stats.second_moment import SecondMoment, StatsSettings, collect_second_moments

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


class EditedStatisticsWarning(UserWarning):
    """Statistics (or sampled templates) had to come from an edited model: those of the unedited model it was
    edited from are not cached, and the unedited model is not at hand to compute them."""


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
        present_id: str | None = None,
    ) -> dict[int, SecondMoment]:
        """E[k kᵀ] statistics for the MLP keys at ``layers``; missing layers are computed in one pass.

        ``model_id`` names the model the statistics stand for; it defaults to the model's current fingerprint. An
        editor passes the fingerprint of the unedited model (:meth:`unedited`), so that statistics are computed
        once, as in the original methods, rather than again (and drifting) after every edit. ``present_id`` is the
        fingerprint of the model as it is now (default ``model_id``): a layer whose statistics are not cached under
        ``model_id`` can only be computed from the present model, and when that is another (edited) model they are
        stored under ``present_id`` and an :class:`EditedStatisticsWarning` says so.
        """
        model_id = model_id or fingerprint(anatomy.model)
        owners = {layer: self._owner(anatomy, layer, corpus, settings, model_id, present_id) for layer in layers}
        keys = {layer: _key(owners[layer], anatomy.mlp_out_proj_name(layer), corpus, settings) for layer in layers}
        paths = {
            layer: self._path(owners[layer], anatomy.mlp_out_proj_name(layer), corpus, settings) for layer in layers
        }
        found = {}
        for layer, path in paths.items():
            existing = self._existing(path)
            if existing is not None:
                found[layer] = _load(existing, keys[layer], settings, key_width(anatomy, layer))
        missing = [layer for layer in layers if layer not in found]
        if missing:
            computed = collect_second_moments(anatomy, tokenizer, missing, corpus, settings, progress=progress)
            for layer, moment in computed.items():
                _save(paths[layer], moment, keys[layer], settings)
            found.update(computed)
            self.computed += len(missing)
        return {layer: found[layer] for layer in layers}

    def _owner(
        self,
        anatomy: Anatomy,
        layer: int,
        corpus: Corpus,
        settings: StatsSettings,
        model_id: str,
        present_id: str | None,
    ) -> str:
        """Whose statistics a layer gets: ``model_id``'s if they are cached or the present model is that model,
        else the present model's (computed from it)."""
        if present_id is None or present_id == model_id:
            return model_id
        if self._existing(self._path(model_id, anatomy.mlp_out_proj_name(layer), corpus, settings)) is not None:
            return model_id
        warnings.warn(
            f"the statistics of layer {layer} are not cached for the unedited model {model_id[:12]}; they are "
            f"computed from the edited model {present_id[:12]} as it is now (edit with one amend.Editor, or "
            "compute them on the unedited model first, to keep the originals' statistics)",
            EditedStatisticsWarning,
            stacklevel=4,
        )
        return present_id

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
        present_id: str | None = None,
    ) -> dict[int, torch.Tensor]:
        """Null-space projectors (float64) of the key statistics at ``layers``, cached beside the statistics (whose
        owner they share: see :meth:`second_moments`)."""
        model_id = model_id or fingerprint(anatomy.model)
        out, missing, keys = {}, [], {}
        for layer in layers:
            module = anatomy.mlp_out_proj_name(layer)
            owner = self._owner(anatomy, layer, corpus, settings, model_id, present_id)
            keys[layer] = {
                **_key(owner, module, corpus, settings),
                "threshold": repr(float(threshold)),
                "mode": mode,
            }
            path = self._path(owner, module, corpus, settings)
            path = path.with_name(path.stem + f"__P{mode}{threshold:g}.safetensors")
            existing = self._existing(path)
            if existing is not None:
                out[layer] = _load_projector(existing, keys[layer], key_width(anatomy, layer))
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
                present_id=present_id,
            )
            for layer, path in missing:
                out[layer] = null_space_projector(moments[layer].mean(), threshold, mode)
                storage.write_tensors(path, {"projector": out[layer].contiguous()}, keys[layer])
        return {layer: out[layer] for layer in layers}

    def sampled_ids(
        self,
        model_id: str,
        key: Mapping[str, str],
        sample: Callable[[], list[torch.Tensor]],
        vocab_size: int,
        rows: Sequence[int],
        present_id: str | None = None,
    ) -> list[torch.Tensor]:
        """Token ids sampled once from a model (context templates), cached as integer tensors under
        ``root/<model>/sampled/``: ``key`` (e.g. lengths, prompts, seed) names what was sampled, and a file whose
        header does not match it, whose digest fails, whose blocks are not ``rows`` samples each, or whose ids are
        not tokens of a ``vocab_size`` vocabulary is refused (:class:`CacheError`). Ids not cached for ``model_id``
        are sampled from the present model, and kept under ``present_id`` when that is another (edited) model."""
        path, full_key = self._sampled_path(model_id, key)
        existing = self._existing(path)
        if existing is None and present_id not in (None, model_id):
            path, full_key = self._sampled_path(present_id, key)
            existing = self._existing(path)
        if existing is not None:
            return _load_ids(existing, full_key, vocab_size, rows)
        ids = [tensor.to(torch.int64).cpu().contiguous() for tensor in sample()]
        storage.write_tensors(path, {f"ids.{i}": tensor for i, tensor in enumerate(ids)}, full_key)
        return ids

    def _sampled_path(self, model_id: str, key: Mapping[str, str]) -> tuple[Path, dict[str, str]]:
        full_key = {"fingerprint": model_id, **key}
        name = hashlib.sha256(json.dumps(full_key, sort_keys=True).encode()).hexdigest()[:24]
        return self.root / model_id[:20] / "sampled" / f"{name}.safetensors", full_key

    def record_edit(self, before: str, after: str) -> None:
        """Remember that the model with fingerprint ``after`` is the one with ``before`` after an amend edit, so that
        a later edit of it uses the statistics of the unedited model (:meth:`unedited`). A cache that cannot be
        written only loses that memory (with a warning), never the edit."""
        record = {"edited": after, "unedited": self.unedited(before)}
        if record["unedited"] == after:
            return
        try:
            storage.write_json(self.root / "lineage" / f"{after[:40]}.json", record)
        except OSError as err:
            warnings.warn(f"could not record the edit lineage in {self.root}: {err}", EditedStatisticsWarning, 2)

    def unedited(self, model_id: str) -> str:
        """The fingerprint of the unedited model that amend edits turned ``model_id`` into, if the cache recorded
        them (:meth:`record_edit`), else ``model_id``. A lineage file is data: one that is not a pair of
        fingerprints, or names another model, is refused (:class:`CacheError`)."""
        for root in [*self.read_only, self.root]:
            path = root / "lineage" / f"{model_id[:40]}.json"
            if path.exists():
                record = storage.read_json(path, CacheError)
                valid = isinstance(record, dict) and all(
                    isinstance(record.get(name), str) and _FINGERPRINT.fullmatch(record[name])
                    for name in ("edited", "unedited")
                )
                if not valid or record["edited"] != model_id:
                    _refuse(path, "not a lineage record of this model (expected edited/unedited fingerprints)")
                return record["unedited"]
        return model_id

    def _existing(self, path: Path) -> Path | None:
        """``path`` under a read-only root, else under the writable root, if the file exists."""
        relative = path.relative_to(self.root)
        for root in [*self.read_only, self.root]:
            if (root / relative).exists():
                return root / relative
        return None

    def _path(self, model_id: str, module: str, corpus: Corpus, settings: StatsSettings) -> Path:
        length = settings.max_length or "ctx"
        sample = "" if settings.sample_seed is None else f"__seed{settings.sample_seed}"
        name = f"{corpus.identity}__{settings.token_budget}tok__len{length}__{settings.dtype}{sample}.safetensors"
        return self.root / model_id[:20] / module / "mom2" / name


# Header fields of a second-moment file that every version has written: required even in a file without a digest.
_LEGACY_FIELDS = ("fingerprint", "corpus", "token_budget", "max_length", "dtype")
DIGEST = storage.DIGEST_KEY
_KEY_NAMES = {
    "fingerprint": "model",
    "corpus": "corpus",
    "token_budget": "token budget",
    "max_length": "maximum length",
    "sample": "document sample",
    "threshold": "null-space threshold",
    "mode": "threshold mode",
}  # what a header field that does not match says the file is of


def _key(model_id: str, module: str, corpus: Corpus, settings: StatsSettings) -> dict[str, str]:
    """The header fields a file must carry to stand for these statistics (the file name abbreviates them)."""
    return {
        "fingerprint": model_id,
        "module": module,
        "corpus": corpus.identity,
        "token_budget": str(settings.token_budget),
        "max_length": str(settings.max_length),
        "dtype": settings.dtype,
        # Files of corpus-order statistics were written before documents were sampled: their key has no sample.
        **({} if settings.sample_seed is None else {"sample": f"seed {settings.sample_seed}"}),
    }


def key_width(anatomy: Anatomy, layer: int) -> int | None:
    """The dimension of the keys at ``layer`` (the input width of the MLP output projection), if it can be read."""
    module = anatomy.module(anatomy.mlp_out_proj_name(layer))
    width = getattr(module, "in_features", None)  # nn.Linear, and quantised ones whose packed weight has other shapes
    if isinstance(width, int):
        return width
    try:
        return dims(module)[1]
    except TypeError:  # neither Linear nor Conv1D: the statistics must still be square, whatever their size
        return None


def _save(path: Path, moment: SecondMoment, key: dict[str, str], settings: StatsSettings) -> None:
    # The checks of a load, made before writing: a file this writer could not read back is never written.
    problem = _moment_problem(moment.total, moment.count, settings, None)
    if problem is not None:
        raise CacheError(
            f"statistics computed for {key['module']} are unusable: {problem}. Nothing was written to {path}; "
            f"the model's activations at that module are the place to look"
        )
    storage.write_tensors(path, {"total": moment.total.contiguous()}, {**key, "count": str(moment.count)})


def _load(path: Path, key: dict[str, str], settings: StatsSettings, width: int | None) -> SecondMoment:
    """The second moment in ``path``, if the file is what it is named for (else :class:`CacheError`)."""
    meta, tensors = _read(path)
    digested = DIGEST in meta
    _check_key(path, meta, key, required=tuple(key) if digested else _LEGACY_FIELDS)
    if "count" not in meta:
        _refuse(path, "its header has no 'count' (the number of keys summed)")
    try:
        count = int(meta["count"])
    except ValueError:
        count = None
    if count is None or not 1 <= count <= settings.token_budget:
        _refuse(path, f"its header's count {meta['count']!r} is not a number of keys from 1 to the token budget")
    total = _only_tensor(path, tensors, "total")
    problem = _moment_problem(total, count, settings, width)
    if problem is not None:
        _refuse(path, problem)
    _check_digest(path, meta, tensors)
    return SecondMoment(total=total, count=count)


def _load_projector(path: Path, key: dict[str, str], width: int | None) -> torch.Tensor:
    """The projector in ``path``, if the file is what it is named for (else :class:`CacheError`). Projectors were
    once written without a header: such a file has its values checked and nothing else."""
    meta, tensors = _read(path)
    _check_key(path, meta, key, required=tuple(key) if DIGEST in meta else ())
    projector = _only_tensor(path, tensors, "projector")
    problem = _matrix_problem("projector", projector, torch.float64, width)
    if problem is None and bool((projector.abs() > 1 + 1e-6).any()):
        problem = "'projector' has entries above 1 in magnitude, which no orthogonal projector has"
    if problem is not None:
        _refuse(path, problem)
    _check_digest(path, meta, tensors)
    return projector


def _load_ids(path: Path, key: Mapping[str, str], vocab_size: int, rows: Sequence[int]) -> list[torch.Tensor]:
    meta, tensors = _read(path)
    _check_key(path, meta, key, required=tuple(key))
    names = [f"ids.{i}" for i in range(len(rows))]
    if sorted(tensors) != sorted(names):
        _refuse(path, f"it holds tensors {sorted(tensors)}, not the {len(rows)} blocks ids.0 … ids.{len(rows) - 1}")
    for name, count in zip(names, rows, strict=True):
        ids = tensors[name]
        if ids.dtype != torch.int64 or ids.dim() != 2 or ids.shape[0] != count:
            _refuse(path, f"{name!r} is not {count} rows of int64 token ids")
        if ids.numel() and not (int(ids.min()) >= 0 and int(ids.max()) < vocab_size):
            _refuse(path, f"{name!r} holds ids outside the model's vocabulary of {vocab_size}")
    _check_digest(path, meta, tensors)
    return [tensors[name] for name in names]


def _refuse(path: Path, problem: str) -> NoReturn:
    raise CacheError(f"statistics cache file {path}: {problem}. Delete the file to have it recomputed.")


def _read(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """Header and every tensor of a safetensors file; a file that does not parse is refused, not raised through."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = dict(handle.metadata() or {})
            tensors = {name: handle.get_tensor(name) for name in list(handle.keys())}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        _refuse(path, f"it is truncated or corrupt (not a readable safetensors file: {err})")
    return meta, tensors


def _check_key(path: Path, meta: Mapping[str, str], key: Mapping[str, str], required: Sequence[str]) -> None:
    """Every field of ``key`` in the header must match; those in ``required`` must be there."""
    for name, expected in key.items():
        if name not in meta:
            if name in required:
                _refuse(path, f"its header has no {name!r}, so it cannot be told to be for {name} {expected!r}")
            continue
        if meta[name] != expected:
            what = _KEY_NAMES.get(name, name)
            _refuse(
                path, f"it holds statistics of another {what} ({name} {meta[name]!r} in its header, not {expected!r})"
            )


def _only_tensor(path: Path, tensors: Mapping[str, torch.Tensor], name: str) -> torch.Tensor:
    if list(tensors) != [name]:
        _refuse(path, f"it holds tensors {sorted(tensors)}, not just {name!r}")
    return tensors[name]


def _matrix_problem(name: str, matrix: torch.Tensor, dtype: torch.dtype, width: int | None) -> str | None:
    """What makes ``matrix`` unusable as a (width, width) ``dtype`` statistic, or ``None``."""
    if matrix.dtype != dtype:
        return f"{name!r} is {str(matrix.dtype).removeprefix('torch.')}, not {str(dtype).removeprefix('torch.')}"
    square = matrix.dim() == 2 and matrix.shape[0] == matrix.shape[1]
    if not square or (width is not None and matrix.shape[0] != width):
        expected = f"({width}, {width}) (the keys have {width} dimensions)" if width is not None else "square"
        return f"{name!r} has shape {tuple(matrix.shape)}, not {expected}"
    if not bool(torch.isfinite(matrix).all()):
        return f"{name!r} is not finite (it holds NaN or inf)"
    return None


def _moment_problem(total: torch.Tensor, count: int, settings: StatsSettings, width: int | None) -> str | None:
    """What makes (``total``, ``count``) impossible as a sum of ``count`` outer products k kᵀ, or ``None``."""
    problem = _matrix_problem("total", total, getattr(torch, settings.dtype), width)
    if problem is not None:
        return problem
    if count < 1:
        return f"its count {count} is not a positive number of keys"
    if not bool(total.any()):
        return "'total' is all zeros"
    if bool((total.diagonal() < 0).any()):
        return "'total' has negative diagonal entries, which a sum of k kᵀ (sums of squares) cannot have"
    return None


def _check_digest(path: Path, meta: Mapping[str, str], tensors: Mapping[str, torch.Tensor]) -> None:
    if DIGEST in meta and storage.tensors_digest(tensors, meta) != meta[DIGEST]:
        _refuse(
            path, "its content does not match the sha256 digest in its header (it was changed after it was written)"
        )
