"""The table of contents of editing methods: name -> "module:Class", imported only when used."""

from __future__ import annotations

import difflib
import importlib

from amend.errors import UnknownMethod

METHODS: dict[str, str] = {
    "rome": "amend.methods.rome.method:Rome",
    "memit": "amend.methods.memit.method:Memit",
    "alphaedit": "amend.methods.alphaedit.method:AlphaEdit",
    "pmet": "amend.methods.pmet.method:Pmet",
    "emmet": "amend.methods.emmet.method:Emmet",
    "come": "amend.methods.come.method:Come",
}


def load_method(name: str) -> type:
    """The method class registered as ``name``."""
    try:
        target = METHODS[name.lower()]
    except KeyError:
        close = difflib.get_close_matches(name.lower(), METHODS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownMethod(f"unknown method {name!r}.{hint} Available: {', '.join(sorted(METHODS))}") from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)
