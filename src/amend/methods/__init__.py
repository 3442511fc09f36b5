"""Editing methods. The table of contents is :data:`amend.registry.METHODS`; each method is a package
``methods/<name>/`` with a documented ``config.py`` and its update rule in ``method.py``."""

from __future__ import annotations

from amend.registry import METHODS


def load_method(name: str) -> type:
    """The method class registered as ``name`` (unknown names fail with the closest match)."""
    return METHODS.get(name)


__all__ = ["METHODS", "load_method"]
