"""Editing methods. The table of contents is :data:`amend.registry.METHODS`; each method is a package
``methods/<name>/`` with a documented ``config.py`` and its update rule in ``method.py``."""

from __future__ import annotations

from amend.registry import METHODS


def load_method(method: str | type) -> type:
    """The method class registered as ``method`` (unknown names fail with the closest match), or ``method`` itself
    when it is a method class (one of your own, used without registering it)."""
    if isinstance(method, type):
        from amend.methods.base import EditMethod

        if not issubclass(method, EditMethod):
            raise TypeError(f"{method.__name__} is not an EditMethod subclass")
        return method
    return METHODS.get(method)


__all__ = ["METHODS", "load_method"]
