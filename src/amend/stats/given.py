"""Statistics an edit is handed instead of computing them: the original ROME/MEMIT ``.npz`` files, amend's own cache
files, or tensors.

Users of the original code already have second-moment files for large models (hours of GPU time each, published by
the authors); an edit given them for its layers uses them as they are. A file is data from elsewhere: it is read
without pickle, and used only if it holds what a second moment can be (a finite square sum of outer products with
a non-negative diagonal and a positive count, as wide as the layer's keys); anything else is refused with an error
naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from amend import storage
from amend.errors import ConfigError
from amend.stats.second_moment import SecondMoment

NPZ_SUM, NPZ_COUNT = "mom2.mom2", "mom2.count"  # the original layer_stats files (runningstats.SecondMoment)


@dataclass(frozen=True)
class GivenMoment:
    """A second moment handed to an edit, with where it came from (reports and patches record ``source``)."""

    moment: SecondMoment
    source: str


def load_moment(path: str | Path) -> GivenMoment:
    """A second moment from an original ``.npz`` (``mom2.mom2``: the raw sum Σkkᵀ, ``mom2.count``) or an amend
    statistics file (``.safetensors``: ``total``, and ``count`` in its header)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"statistics file {path} does not exist")
    if path.suffix == ".npz":
        total, count = _read_npz(path)
    else:
        tensors, header = storage.read_tensors(path, ConfigError, require_digest=False)
        if set(tensors) != {"total"} or not str(header.get("count", "")).isdigit():
            raise ConfigError(f"{path}: expected one tensor 'total' and a whole-number 'count' in the header")
        total, count = tensors["total"], int(header["count"])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return GivenMoment(_checked(SecondMoment(total, count), str(path)), f"{path.name}@{digest}")


def _read_npz(path: Path) -> tuple[torch.Tensor, int]:
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [name for name in (NPZ_SUM, NPZ_COUNT) if name not in data.files]
            if missing:
                raise ConfigError(
                    f"{path}: no {', '.join(map(repr, missing))} array; an original ROME/MEMIT statistics file has "
                    f"{NPZ_SUM!r} (the raw sum) and {NPZ_COUNT!r}, found {sorted(data.files)}"
                )
            total, count = data[NPZ_SUM], data[NPZ_COUNT]
    except (ValueError, OSError) as err:  # not a zip, or an object array that would need pickle
        raise ConfigError(f"{path} is not a readable .npz of numeric arrays: {err}") from None
    if total.dtype.kind != "f" or count.size != 1 or count.dtype.kind not in "iuf":
        raise ConfigError(f"{path}: {NPZ_SUM!r} must be a float matrix and {NPZ_COUNT!r} one number")
    if float(count) != int(count):
        raise ConfigError(f"{path}: {NPZ_COUNT!r} is {float(count)}, not a whole number of keys")
    return torch.from_numpy(np.ascontiguousarray(total)), int(count)


def _checked(moment: SecondMoment, where: str, width: int | None = None) -> SecondMoment:
    total = moment.total
    if total.dim() != 2 or total.shape[0] != total.shape[1]:
        raise ConfigError(f"{where}: the second moment has shape {tuple(total.shape)}, not a square matrix")
    if width is not None and total.shape[0] != width:
        raise ConfigError(f"{where}: the second moment is {total.shape[0]} wide but the layer's keys have {width}")
    if not bool(torch.isfinite(total).all()):
        raise ConfigError(f"{where}: the second moment is not finite (it holds NaN or inf)")
    if moment.count < 1:
        raise ConfigError(f"{where}: its count {moment.count} is not a positive number of keys")
    if not bool(total.any()) or bool((total.diagonal() < 0).any()):
        raise ConfigError(f"{where}: the second moment is all zeros or has negative diagonal entries")
    return moment


def given_moments(
    statistics: Mapping[int, SecondMoment | GivenMoment | str | Path] | None,
) -> dict[int, GivenMoment]:
    """Layer -> :class:`GivenMoment` from files, moments or given moments (checked)."""
    out = {}
    for layer, value in (statistics or {}).items():
        if not isinstance(layer, int) or isinstance(layer, bool) or layer < 0:
            raise ConfigError(f"statistics are given by layer number, not {layer!r}")
        if isinstance(value, GivenMoment):
            out[layer] = value
        elif isinstance(value, SecondMoment):
            out[layer] = GivenMoment(_checked(value, f"statistics of layer {layer}"), "given")
        else:
            out[layer] = load_moment(value)
    return out


def check_width(given: GivenMoment, layer: int, width: int | None) -> SecondMoment:
    """The moment, if it is as wide as the keys of ``layer``."""
    return _checked(given.moment, f"statistics of layer {layer} ({given.source})", width)
