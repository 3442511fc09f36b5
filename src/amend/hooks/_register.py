"""The single place amend registers PyTorch hooks; every hook is removed when its context exits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from torch import nn

from amend.architectures.anatomy import Anatomy, Component, Site

# A transform receives the activation tensor (batch, seq, width) and returns its replacement (or None to keep).
Transform = Callable[[torch.Tensor], torch.Tensor | None]
# A wrapping transform of a module's output also reads the module's input: (input, output) -> new output or None.
WrapTransform = Callable[[torch.Tensor, torch.Tensor], torch.Tensor | None]
# Sites inside the MLP: where a layer flattens tokens around its MLP (OPT), hooks there restore the batch shape.
_INSIDE_THE_MLP = frozenset({Component.MLP_INPUT, Component.MLP_KEY, Component.MLP_OUTPUT})


@contextmanager
def hook_site(anatomy: Anatomy, site: Site, transform: Transform) -> Iterator[None]:
    """Run ``transform`` on the activation at ``site`` during every forward pass inside the block."""
    handles = install(anatomy, site, transform)
    try:
        yield
    finally:
        remove(handles)


@contextmanager
def wrap_site(anatomy: Anatomy, site: Site, transform: WrapTransform) -> Iterator[None]:
    """Run ``transform(input, output)`` on the sub-layer whose output is ``site`` during the block (see
    :func:`install_wrap`)."""
    handles = install_wrap(anatomy, site, transform)
    try:
        yield
    finally:
        remove(handles)


@contextmanager
def hook_output(module: nn.Module, transform: Transform) -> Iterator[None]:
    """Run ``transform`` on the output of ``module`` (one that is no named site, such as the token embeddings)."""
    handle = _register(module, "output", transform)
    try:
        yield
    finally:
        handle.remove()


def install(anatomy: Anatomy, site: Site, transform: Transform) -> list[torch.utils.hooks.RemovableHandle]:
    """Register ``transform`` at ``site`` until :func:`remove` is called on the handles returned.

    Only for an owner that outlives a block and removes the hooks itself: a patch's module adapter, which installs
    on apply and removes on revert. Everything else uses :func:`hook_site`.
    """
    module, kind = anatomy.site_module(site)
    handles = []
    if anatomy.spec.mlp_flattens_tokens and site.component in _INSIDE_THE_MLP:
        shape: list[torch.Size] = []
        layer = anatomy.module(anatomy.layer_path(site.layer))
        handles.append(layer.register_forward_pre_hook(_remember_batch_shape(shape), with_kwargs=True))
        transform = _unflattened(transform, shape)
    handles.append(_register(module, kind, transform))
    return handles


def install_wrap(anatomy: Anatomy, site: Site, transform: WrapTransform) -> list[torch.utils.hooks.RemovableHandle]:
    """Register ``transform(input, output)`` on the module whose output is ``site`` (a linear sub-layer: the MLP
    output projection, whose input is the MLP key), until :func:`remove`: a codebook reads the layer's input to
    decide, and replaces its output. Both arrive as (batch, seq, width)."""
    module, kind = anatomy.site_module(site)
    if kind != "output":
        raise ValueError(f"{site.component.value} is a module input; a wrapping adapter needs an output site")
    handles = []
    shape: list[torch.Size] = []
    if anatomy.spec.mlp_flattens_tokens and site.component in _INSIDE_THE_MLP:
        layer = anatomy.module(anatomy.layer_path(site.layer))
        handles.append(layer.register_forward_pre_hook(_remember_batch_shape(shape), with_kwargs=True))

    def hook(_module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor | None:
        inputs, flat = args[0], output.dim() == 2 and bool(shape)
        if flat:
            inputs, output = inputs.view(*shape[0], inputs.shape[-1]), output.view(*shape[0], output.shape[-1])
        new = transform(inputs, output)
        if new is None:
            return None
        return new.reshape(-1, new.shape[-1]) if flat else new

    handles.append(module.register_forward_hook(hook))
    return handles


def install_call_watch(model: nn.Module, watch: Callable[[dict[str, Any]], None]) -> torch.utils.hooks.RemovableHandle:
    """Call ``watch(kwargs)`` before every forward of ``model`` (pass the base model: amend's scoring calls it, not
    the LM head wrapper) with its keyword arguments (``attention_mask``, ``input_ids``...), until the handle is
    removed: an adapter that pools over a row's tokens reads which positions are padding."""

    def pre_hook(_module: nn.Module, _args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        watch(kwargs)

    return model.register_forward_pre_hook(pre_hook, with_kwargs=True)


def remove(handles: list[torch.utils.hooks.RemovableHandle]) -> None:
    for handle in handles:
        handle.remove()


@contextmanager
def hook_sites(anatomy: Anatomy, transforms: dict[Site, Transform]) -> Iterator[None]:
    with ExitStack() as stack:
        for site, transform in transforms.items():
            stack.enter_context(hook_site(anatomy, site, transform))
        yield


def _register(module: nn.Module, kind: str, transform: Transform) -> torch.utils.hooks.RemovableHandle:
    if kind == "input":

        def pre_hook(_module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
            new = transform(args[0])
            return None if new is None else (new, *args[1:])

        return module.register_forward_pre_hook(pre_hook)

    def hook(_module: nn.Module, _args: tuple[Any, ...], output: Any) -> Any:
        # Decoder layers return a tensor in recent transformers and a tuple in others (GPT-J).
        hidden = output[0] if isinstance(output, tuple) else output
        new = transform(hidden)
        if new is None:
            return None
        return (new, *output[1:]) if isinstance(output, tuple) else new

    return module.register_forward_hook(hook)


def _remember_batch_shape(shape: list[torch.Size]):
    def pre_hook(_module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        hidden = args[0] if args else kwargs["hidden_states"]
        shape[:] = [hidden.shape[:2]]

    return pre_hook


def _unflattened(transform: Transform, shape: list[torch.Size]) -> Transform:
    """Give ``transform`` (batch, seq, width) views of (batch·seq, width) activations."""

    def wrapped(hidden: torch.Tensor) -> torch.Tensor | None:
        if hidden.dim() != 2:
            return transform(hidden)
        new = transform(hidden.view(*shape[0], hidden.shape[-1]))
        return None if new is None else new.reshape(hidden.shape)

    return wrapped
