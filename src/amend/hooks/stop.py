"""Stop a forward pass once a site has been computed (statistics need only the layers below it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from amend.architectures.anatomy import Anatomy, Site
from amend.hooks._register import hook_site


class StopForward(Exception):
    """Raised by the stop hook; caught by :func:`stop_after`."""


@contextmanager
def stop_after(anatomy: Anatomy, site: Site) -> Iterator[None]:
    """Abort every forward pass inside the block right after ``site`` is computed.

    The model call inside the block then returns nothing: the statement after it inside the block does not run,
    but captures registered outside this context keep what they recorded::

        with capture(anatomy, [site]) as rec:
            with stop_after(anatomy, site):
                model(input_ids)
    """

    def stop(_hidden: torch.Tensor) -> None:
        raise StopForward

    try:
        with hook_site(anatomy, site, stop):
            yield
    except StopForward:
        pass
