"""What every command shares: a console that never cuts a table, the thread count, and an early check that the
output folder can be written (before hours of work, not after)."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from amend.errors import ConfigError

ThreadsOption = Annotated[
    int | None,
    typer.Option(min=1, help="torch CPU threads (default: every core, at most 8; docs/speed.md has the measurement)."),
]


def wide_console() -> Console:
    """A console for the terminal, or, when the output is a log or a pipe, one wide enough that no table cell is
    cut to an ellipsis (a log must show every digit)."""
    return Console() if sys.stdout.isatty() else Console(width=1000, soft_wrap=True)


def default_threads() -> int:
    """Every core, at most 8: on two-core machines one edit of SmolLM2 is 8–26 % faster on two threads than on one
    (docs/smollm2.md, docs/speed.md). Two runs side by side do better with ``--threads 1`` each."""
    return max(1, min(8, os.cpu_count() or 1))


def set_threads(threads: int | None) -> int:
    """Set torch's CPU threads (``threads``, or :func:`default_threads`) and return the number set."""
    import torch

    chosen = threads or default_threads()
    torch.set_num_threads(chosen)
    return chosen


def writable_dir(path: Path) -> None:
    """Refuse an output folder that cannot be created or written, before any work is done."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".amend-write-test-{uuid.uuid4().hex[:8]}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ConfigError(f"cannot write to {path}: {err.strerror or err}") from None
