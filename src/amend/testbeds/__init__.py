"""Testbeds: models with their requests, statistics corpus and editing defaults (:mod:`amend.testbeds.base`).

``world`` is the knowledge world amend trains itself (:mod:`amend.testbeds.world`).
"""

from amend.testbeds import world
from amend.testbeds.base import MARKER, Testbed, load, mark, model_defaults, testbed_class, testbed_of

__all__ = ["MARKER", "Testbed", "load", "mark", "model_defaults", "testbed_class", "testbed_of", "world"]
