"""Get and set activations at (component, layer, position); every hook is removed when its block exits.

Methods use these context managers and never call ``register_forward_hook`` themselves.
"""

from amend.hooks._register import hook_sites, wrap_site
from amend.hooks.capture import capture, select_positions
from amend.hooks.intervene import add_at_positions, noise_at_embeddings
from amend.hooks.positions import TokenRule, subject_span, token_index
from amend.hooks.stop import StopForward, stop_after

__all__ = [
    "StopForward",
    "TokenRule",
    "add_at_positions",
    "capture",
    "hook_sites",
    "noise_at_embeddings",
    "select_positions",
    "stop_after",
    "subject_span",
    "token_index",
    "wrap_site",
]
