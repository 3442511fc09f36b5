"""Reversible changes and the patches that hold them.

Three kinds, one contract (apply, undo bit-exactly, save and load as safetensors + JSON):

* :class:`WeightDelta` — an additive change to one module's weight (the locate-then-edit methods);
* :class:`ModuleAdapter` — a component attached at a named site through a hook the patch owns (memory-based
  methods such as GRACE; :class:`AddVector` is the simplest);
* :class:`ContextFacts` — facts stored in a context memory that a contextual method retrieves (SCR, IKE).
"""

from amend.changes.adapters import AddVector, ModuleAdapter, SiteAdapter
from amend.changes.attachments import Attachments, attached
from amend.changes.base import Change, Journal, Undo
from amend.changes.codebook import Codebook, CodebookWrite
from amend.changes.memory import ContextFacts
from amend.changes.patch import CHANGE_KINDS, Patch, revert_all
from amend.changes.weights import WeightDelta, add_delta

__all__ = [
    "CHANGE_KINDS",
    "AddVector",
    "Attachments",
    "Change",
    "Codebook",
    "CodebookWrite",
    "ContextFacts",
    "Journal",
    "ModuleAdapter",
    "Patch",
    "SiteAdapter",
    "Undo",
    "WeightDelta",
    "add_delta",
    "attached",
    "revert_all",
]
