"""Files amend writes and reads back: written atomically with ordinary permissions, read as untrusted data.

Every tensor file carries a digest of its tensors (names, dtypes, shapes and bytes) in its header, checked when it is
read: a file scaled, cast or cut by someone else is refused instead of applied. A file that cannot be parsed gives
the caller's error type naming the file, never a raw JSONDecodeError, SafetensorError or KeyError.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from amend.errors import AmendError

DIGEST_KEY = "sha256"


def tensors_digest(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> str:
    """sha256 over the header entries (but the digest itself) and every tensor's name, dtype, shape and bytes, in
    name order: a header entry such as a second moment's ``count`` is as much a file's content as its tensors."""
    digest = hashlib.sha256()
    header = {key: value for key, value in (metadata or {}).items() if key != DIGEST_KEY}
    digest.update(json.dumps(header, sort_keys=True).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().contiguous().cpu()
        digest.update(json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def write_tensors(path: Path, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> str:
    """Write ``tensors`` (with the digest of them and the header in the header) atomically; returns the digest."""
    digest = tensors_digest(tensors, metadata)
    header = {**(metadata or {}), DIGEST_KEY: digest}
    plain = {name: tensor.detach().contiguous().cpu() for name, tensor in tensors.items()}
    _atomically(path, lambda tmp: save_file(plain, str(tmp), metadata=header))
    return digest


def read_tensors(
    path: Path, error: type[AmendError], *, require_digest: bool = True
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and header of ``path``; ``error`` (naming the file) if it is missing, unreadable, or its tensors
    do not match the digest in its header (or, with ``require_digest``, it has none)."""
    if not path.is_file():
        raise error(f"{path} is missing")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = dict(handle.metadata() or {})
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise error(f"{path} is not a readable safetensors file (truncated or corrupt?): {err}") from None
    expected = header.get(DIGEST_KEY)
    if expected is None and require_digest:
        raise error(f"{path} carries no digest of its tensors; it was not written by amend")
    if expected is not None and tensors_digest(tensors, header) != expected:
        raise error(f"{path}: its tensors do not match the digest in its header (changed since it was written)")
    return tensors, header


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically (a reader never sees half a file)."""
    text = json.dumps(data, indent=2, default=str)
    _atomically(path, lambda tmp: tmp.write_text(text))


def read_json(path: Path, error: type[AmendError]) -> Any:
    """The JSON value in ``path``; ``error`` naming the file if it is missing or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise error(f"{path} is not valid JSON (truncated or corrupt?): {err}") from None


def _atomically(path: Path, write) -> None:
    """Write under a temporary name of this writer's own, then rename: an interrupted run never leaves a half-written
    file, and two writers never write into one file. Files get the permissions any new file gets (safetensors makes
    its files owner-only), so everything a run or a patch writes can be shared alike."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        write(tmp)
        tmp.chmod(0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    """The process's file-creation mask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
