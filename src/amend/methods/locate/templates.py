"""Context templates: short prefixes put before a prompt so keys and targets do not depend on one phrasing.

The originals sample them from the model without a seed and keep them in a module global, generated once by the
model as it was at the first edit. Here they are a value: sampled with an explicit seed, or injected.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from amend.requests import PLACEHOLDER
from amend.tokens import encode

BARE = PLACEHOLDER


@dataclass(frozen=True)
class ContextTemplates:
    """Templates in groups; the first group is always the bare prompt ``("{}",)``.

    ROME averages keys over all templates (:meth:`flat`); the MEMIT family averages within groups, then over
    groups, so the bare prompt weighs one half.
    """

    groups: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        for template in self.flat():
            if template.count(PLACEHOLDER) != 1:
                raise ValueError(f"context template {template!r} must contain exactly one '{{}}'")
        if not self.groups or self.groups[0] != (BARE,):
            raise ValueError("the first group of context templates must be the bare prompt ('{}',)")

    @classmethod
    def with_prefixes(cls, templates: Sequence[str]) -> ContextTemplates:
        templates = tuple(t for t in templates if t != BARE)
        return cls(((BARE,), templates) if templates else ((BARE,),))

    def flat(self) -> list[str]:
        return [template for group in self.groups for template in group]

    def group_sizes(self) -> list[int]:
        return [len(group) for group in self.groups]


def sample_context_templates(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    lengths: Sequence[tuple[int, int]],
    prompts: Sequence[str] | None = None,
    seed: int = 0,
) -> ContextTemplates:
    """Sample templates ``"<generated text>. {}"`` with top-5 sampling, seeded.

    Args:
        lengths: (samples per prompt, total length in tokens, prompt included) pairs.
        prompts: Texts to continue; ``None`` starts from the BOS (or EOS) token, as ROME does.
        seed: Seed of a private generator; the global RNG is not touched.
    """
    return templates_from_ids(tokenizer, sample_template_ids(model, tokenizer, lengths, prompts, seed))


def sample_template_ids(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    lengths: Sequence[tuple[int, int]],
    prompts: Sequence[str] | None = None,
    seed: int = 0,
) -> list[torch.Tensor]:
    """The token ids :func:`sample_context_templates` decodes: one (samples, length) tensor per (length pair,
    prompt), in that order. Ids rather than text are what a cache keeps: decoding them is deterministic."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    starts = [encode(tokenizer, p) for p in prompts] if prompts else [[_start_token(tokenizer)]]
    return [
        torch.tensor(_sample(model, start, count, length, generator)) for count, length in lengths for start in starts
    ]


def sampled_block_sizes(lengths: Sequence[tuple[int, int]], prompts: Sequence[str] | None = None) -> list[int]:
    """Samples in each block :func:`sample_template_ids` returns, in its order (what a cached file must hold)."""
    starts = len(prompts) if prompts else 1
    return [count for count, _ in lengths for _ in range(starts)]


def templates_from_ids(tokenizer: PreTrainedTokenizerBase, sampled: Sequence[torch.Tensor]) -> ContextTemplates:
    """Context templates from sampled token ids: each sample decoded, cleaned, and followed by ``". {}"``."""
    templates = [
        _clean(tokenizer.decode(ids, skip_special_tokens=True)) + ". " + BARE
        for block in sampled
        for ids in block.tolist()
    ]
    return ContextTemplates.with_prefixes(templates)


DOCUMENT_SEPARATOR = "<|endoftext|>"


def _start_token(tokenizer: PreTrainedTokenizerBase) -> int:
    """The token a document starts after: the BOS (as ROME), else the EOS, else the document separator, but never a
    token written in the chat template (SmolLM2's BOS is ``<|im_start|>`` and its EOS ``<|im_end|>``: text sampled
    after them is a chat turn, junk as a context; its ``<|endoftext|>`` separates documents)."""
    chat = str(getattr(tokenizer, "chat_template", None) or "")
    separator = tokenizer.get_vocab().get(DOCUMENT_SEPARATOR)
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id, separator):
        if token_id is not None and not (chat and tokenizer.convert_ids_to_tokens(int(token_id)) in chat):
            return int(token_id)
    raise ValueError("the tokenizer has no document token to sample templates from; set template_prompts")


@torch.no_grad()
def _sample(model: nn.Module, start: list[int], count: int, length: int, generator: torch.Generator) -> list[list[int]]:
    device = next(model.parameters()).device
    ids = torch.tensor([start] * count, device=device)
    while ids.shape[1] < length:
        logits = model(input_ids=ids).logits[:, -1].float().cpu()
        top = logits.topk(5, dim=-1)
        choice = torch.multinomial(top.values.softmax(-1), 1, generator=generator)
        ids = torch.cat([ids, top.indices.gather(1, choice).to(device)], dim=1)
    return ids.tolist()


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return " ".join(text.replace("{", " ").replace("}", " ").split())
