"""Tokenization shared by methods and evaluation: one rule for targets, right-padded batches.

Right padding everywhere: indices and labels are counted from the left of the unpadded sequence, and the
tokenizer object is never mutated (no ``tokenizer.padding_side = ...`` behind the caller's back).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase


def encode(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Token ids of ``text`` with the special tokens the tokenizer adds (a BOS for Llama-style tokenizers)."""
    return list(tokenizer(text)["input_ids"])


def with_leading_space(target: str) -> str:
    """Targets continue a prompt, so they start with a space (added only when missing)."""
    return target if target.startswith(" ") else " " + target


def target_ids(tokenizer: PreTrainedTokenizerBase, prompt_text: str, target: str) -> tuple[list[int], list[int]]:
    """Split ``prompt + target`` into the prompt's tokens and the target's tokens.

    The target's tokens are those of the joint text minus the prompt's, never ``tokenizer(target)`` alone: a
    target tokenized alone gets a BOS (Llama) or a different first token than it has after the prompt. When the
    joint tokenization does not start with the prompt's tokens (the prompt's last token merges with the target),
    the target is tokenized on its own without special tokens.

    Returns:
        (prompt ids, target ids); the target ids are never empty.
    """
    target = with_leading_space(target)
    prompt = encode(tokenizer, prompt_text)
    joint = encode(tokenizer, prompt_text + target)
    eos = tokenizer.eos_token_id
    if joint[: len(prompt)] == prompt:
        tail = joint[len(prompt) :]
        # Tokenizers configured to append EOS would put it after the target too.
        if tail and prompt and prompt[-1] == eos and tail[-1] == eos:
            tail = tail[:-1]
    else:
        tail = list(tokenizer(target, add_special_tokens=False)["input_ids"])
    if not tail:
        raise ValueError(f"target {target!r} produced no tokens after prompt {prompt_text!r}")
    return prompt, tail


def target_ids_many(
    tokenizer: PreTrainedTokenizerBase, pairs: Sequence[tuple[str, str]]
) -> list[tuple[list[int], list[int]]]:
    """:func:`target_ids` for many (prompt, target) pairs, with two batched tokenizer calls (fast tokenizers
    tokenize a list in parallel, without a Python round trip per text)."""
    if not pairs:
        return []
    targets = [with_leading_space(target) for _, target in pairs]
    unique = list(dict.fromkeys(prompt for prompt, _ in pairs))  # an answer and its foil share their prompt
    encoded = dict(zip(unique, _encode_many(tokenizer, unique), strict=True))
    prompts = [encoded[prompt] for prompt, _ in pairs]
    joints = _encode_many(tokenizer, [prompt + target for (prompt, _), target in zip(pairs, targets, strict=True)])
    out = []
    for (prompt_text, target), prompt, joint in zip(pairs, prompts, joints, strict=True):
        tail = joint[len(prompt) :]
        simple = joint[: len(prompt)] == prompt and tail and tail[-1] != tokenizer.eos_token_id
        out.append((list(prompt), list(tail)) if simple else target_ids(tokenizer, prompt_text, target))
    return out


def _encode_many(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> list[list[int]]:
    """Token ids of many texts, as ``tokenizer(text)`` gives them; a fast tokenizer's backend is called directly."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return [encoding.ids for encoding in backend.encode_batch(texts)]
    return tokenizer(texts)["input_ids"]


def pad_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The id used for padding: the pad token, else EOS (GPT-2 and Llama have no pad token), else 0."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if candidate is not None:
            return int(candidate)
    return 0


# Image inputs aligned with the tokens (Qwen2-VL's ``mm_token_type_ids``): a row's tensor covers its prompt, and the
# rest of the row (answer tokens, padding) is text, 0.
TOKEN_ALIGNED_INPUTS = frozenset({"mm_token_type_ids", "token_type_ids"})

ImageInputs = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class Batch:
    """A padded batch of token rows, and the image inputs of its rows on a vision-language model.

    Right padding is the default everywhere. Left-padded batches (for generation) carry explicit position ids, so
    that models with absolute position embeddings (GPT-2) see the same positions as without padding, and
    ``offsets`` (the pad count of each row) to translate unpadded indices.

    ``images`` holds, per row, what the model's processor made of that row's images (``pixel_values``, Qwen2-VL's
    ``image_grid_thw``…; an empty mapping for a row without one). They are joined only when the model is called,
    in row order, as a processor joins the images of a batch, so a batch can be cut into rows and regrouped.
    """

    input_ids: torch.Tensor  # (batch, seq)
    attention_mask: torch.Tensor  # (batch, seq)
    lengths: torch.Tensor  # (batch,) unpadded lengths
    position_ids: torch.Tensor | None = None  # (batch, seq), left padding only
    images: tuple[ImageInputs, ...] | None = None  # per row, for a vision-language model

    @property
    def offsets(self) -> torch.Tensor:
        """Index of each row's first real token (0 with right padding)."""
        if self.position_ids is None:
            return torch.zeros_like(self.lengths)
        return self.input_ids.shape[1] - self.lengths

    def to(self, device: torch.device | str) -> Batch:
        positions = None if self.position_ids is None else self.position_ids.to(device)
        images = None
        if self.images is not None:
            images = tuple({name: tensor.to(device) for name, tensor in row.items()} for row in self.images)
        return Batch(
            self.input_ids.to(device), self.attention_mask.to(device), self.lengths.to(device), positions, images
        )

    def select(self, rows: torch.Tensor) -> Batch:
        """A right-padded batch holding only ``rows`` (trimmed to their longest length)."""
        if self.position_ids is not None:
            raise ValueError("select() is for right-padded batches")
        width = int(self.lengths[rows].max())
        images = None if self.images is None else tuple(self.images[i] for i in rows.tolist())
        return Batch(self.input_ids[rows, :width], self.attention_mask[rows, :width], self.lengths[rows], None, images)

    def model_inputs(self) -> dict[str, torch.Tensor]:
        inputs = {"input_ids": self.input_ids, "attention_mask": self.attention_mask}
        if self.position_ids is not None and self.images is None:  # a VLM places its tokens itself (M-RoPE)
            inputs["position_ids"] = self.position_ids
        if self.images is not None:
            inputs.update(self._image_inputs())
        return inputs

    def _image_inputs(self) -> dict[str, torch.Tensor]:
        assert self.images is not None
        names = dict.fromkeys(name for row in self.images for name in row)
        joined: dict[str, torch.Tensor] = {}
        for name in names:
            if name in TOKEN_ALIGNED_INPUTS:
                aligned = torch.zeros_like(self.input_ids)
                for row, (offset, images) in enumerate(zip(self.offsets.tolist(), self.images, strict=True)):
                    if name in images:
                        values = images[name].reshape(-1)
                        aligned[row, offset : offset + len(values)] = values
                joined[name] = aligned
            else:
                joined[name] = torch.cat([images[name] for images in self.images if name in images])
        return joined


def pad_right(rows: Sequence[Sequence[int]], pad: int) -> Batch:
    """Stack token rows into a right-padded batch."""
    if not rows:
        raise ValueError("cannot build a batch from no rows")
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        attention_mask[i, : len(row)] = 1
    lengths = torch.tensor([len(row) for row in rows], dtype=torch.long)
    return Batch(input_ids, attention_mask, lengths)


def pad_left(rows: Sequence[Sequence[int]], pad: int) -> Batch:
    """Stack token rows into a left-padded batch with explicit position ids."""
    if not rows:
        raise ValueError("cannot build a batch from no rows")
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    position_ids = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        start = width - len(row)
        input_ids[i, start:] = torch.tensor(row, dtype=torch.long)
        attention_mask[i, start:] = 1
        position_ids[i, start:] = torch.arange(len(row))
    lengths = torch.tensor([len(row) for row in rows], dtype=torch.long)
    return Batch(input_ids, attention_mask, lengths, position_ids)


def pad(
    rows: Sequence[Sequence[int]],
    pad_token: int,
    side: str = "right",
    images: Sequence[ImageInputs] | None = None,
) -> Batch:
    """A right- or left-padded batch (with the image inputs of each row, on a vision-language model)."""
    if side not in {"right", "left"}:
        raise ValueError(f"padding side must be 'right' or 'left', not {side!r}")
    batch = pad_right(rows, pad_token) if side == "right" else pad_left(rows, pad_token)
    if images is None:
        return batch
    if len(images) != len(rows):
        raise ValueError(f"{len(images)} image inputs for {len(rows)} rows")
    return dataclasses.replace(batch, images=tuple(images))
