"""Editing as a transaction: :class:`Editor` (sequences of batches with method state) and :func:`edit`."""

from amend.editing.editor import Editor, as_requests, edit, method_config

__all__ = ["Editor", "as_requests", "edit", "method_config"]
