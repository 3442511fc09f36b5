"""A model fingerprint: what a patch and a statistics cache are tied to.

It hashes the architecture config and, for every parameter, its name, shape, dtype and the exact bytes of up to
``SAMPLES`` evenly spaced entries, and whatever patches attached besides weights (module adapters, context memory:
:mod:`amend.changes.attachments`). That tells apart any two checkpoints (and a model before and after an edit,
which changes whole rows or columns), costs milliseconds even for billions of parameters, and is identical on
every machine for the same weights and dtype.
"""

from __future__ import annotations

import hashlib
import json

import torch
from torch import nn

SAMPLES = 4096
ATTACHED = "_amend_attached"  # the model attribute holding :class:`amend.changes.attachments.Attachments`
# Not the model: where it was loaded from, library versions, and amend's own labels (the testbed a model belongs to;
# the editing defaults world models stored in their config before testbeds existed).
_VOLATILE_CONFIG_KEYS = {
    "_name_or_path",
    "transformers_version",
    "torch_dtype",
    "dtype",
    "_commit_hash",
    "amend_testbed",
    "amend_defaults",
}


def fingerprint(model: nn.Module) -> str:
    """Hex digest identifying the model's architecture and weights."""
    digest = hashlib.sha256()
    config = {k: v for k, v in model.config.to_dict().items() if k not in _VOLATILE_CONFIG_KEYS}
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    for name, param in sorted(model.state_dict(keep_vars=True).items()):
        digest.update(f"{name}|{tuple(param.shape)}|{param.dtype}".encode())
        digest.update(_sample_bytes(param.detach()))
    attachments = model.__dict__.get(ATTACHED)
    if attachments:  # an unadapted model's fingerprint is the same as before adapters existed
        digest.update(f"attached|{attachments.digest()}".encode())
    return digest.hexdigest()


def tensor_digest(tensor: torch.Tensor) -> str:
    """Exact hash of a whole tensor (used to check a weight is still what a patch wrote)."""
    flat = tensor.detach().contiguous().view(-1).cpu()
    return hashlib.sha256(flat.view(torch.uint8).numpy().tobytes()).hexdigest()


FULL_HASH_UP_TO = 1 << 20  # entries: below this an attached tensor is hashed whole (milliseconds), above sampled


def sampled_digest(tensor: torch.Tensor) -> str:
    """Hash of a tensor's dtype, shape and entries: every entry of a tensor of up to ``FULL_HASH_UP_TO`` (a codebook's
    radii, where one changed entry must change the hash), else ``SAMPLES`` evenly spaced ones (a layer copy per
    entry of a long codebook)."""
    head = f"{tensor.dtype}|{tuple(tensor.shape)}|".encode()
    flat = tensor.detach().reshape(-1)
    data = flat.contiguous().cpu().view(torch.uint8).numpy().tobytes() if flat.numel() <= FULL_HASH_UP_TO else None
    return hashlib.sha256(head + (data if data is not None else _sample_bytes(flat))).hexdigest()


def _sample_bytes(tensor: torch.Tensor) -> bytes:
    flat = tensor.reshape(-1)
    if flat.numel() > SAMPLES:
        # Integer arithmetic: a float linspace rounds past the last index for tensors of tens of millions.
        index = torch.arange(SAMPLES, device=flat.device) * (flat.numel() - 1) // (SAMPLES - 1)
        flat = flat[index]
    return flat.contiguous().cpu().view(torch.uint8).numpy().tobytes()
