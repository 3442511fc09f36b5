"""The HuggingFace causal-LM backend of :class:`~amend.lm.LanguageModel`: batched teacher-forced scoring and
generation, the only model calls text evaluation makes.

Scoring runs one padded forward per batch and unembeds only the answer positions. Pairs are sorted by length
before batching (less padding) and results returned in the caller's order; tokenization is cached, since the
same pairs are scored before and after an edit. Because rows are regrouped, a hook that acts per batch row (such
as :func:`amend.hooks.add_at_positions`) must not wrap a multi-pair call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from amend.changes.attachments import needs_whole_sequence
from amend.errors import ConfigError
from amend.forward import logits_at
from amend.lm.base import TOP_K, Prompt, Scored, VisualPrompt
from amend.tokens import Batch, ImageInputs, encode, pad, pad_id, target_ids, target_ids_many

# Scoring or generating this many batches or more shows a progress bar (a whole dataset before a sequential run
# takes minutes on CPU; the few batches of one edit's probes stay silent).
PROGRESS_FROM = 8


class CausalLM:
    """Scores (prompt, answer) pairs and generates from prompts with one causal LM and its tokenizer."""

    def __init__(
        self,
        model: nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        *,
        batch_size: int = 64,
        padding_side: str = "right",
        progress: bool = True,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.padding_side = padding_side
        self.progress = progress  # bars on calls of PROGRESS_FROM batches or more
        self._pairs: dict[tuple[str, str], tuple[list[int], list[int]]] = {}

    def tokens(self, prompt: str, answer: str) -> tuple[list[int], list[int]]:
        key = (prompt, answer)
        if key not in self._pairs:
            self._pairs[key] = target_ids(self.tokenizer, prompt, answer)
        return self._pairs[key]

    @torch.no_grad()
    def score(self, pairs: Sequence[tuple[Prompt, str]]) -> list[Scored]:
        """Teacher-forced scores of each answer after its prompt."""
        encoded, images = self._encode_pairs(pairs)
        rows = [prompt + answer[:-1] for prompt, answer in encoded]
        results: list[Scored | None] = [None] * len(pairs)
        chunks = self._chunks(rows, images)
        quiet = not self.progress or len(chunks) < PROGRESS_FROM
        for chunk in tqdm(chunks, desc="scoring", unit="batch", leave=False, disable=quiet):
            batch = self._pad([rows[i] for i in chunk], None if images is None else [images[i] for i in chunk])
            for i, scored in zip(chunk, self._score_batch(batch, [encoded[i] for i in chunk]), strict=True):
                results[i] = scored
        return results  # type: ignore[return-value]

    def _encode_pairs(
        self, pairs: Sequence[tuple[Prompt, str]]
    ) -> tuple[list[tuple[list[int], list[int]]], list[ImageInputs] | None]:
        """(prompt ids, answer ids) of each pair, and each pair's image inputs (None: a text model)."""
        _refuse_images(prompt for prompt, _ in pairs)
        new = list(dict.fromkeys(pair for pair in pairs if pair not in self._pairs))
        self._pairs.update(zip(new, target_ids_many(self.tokenizer, new), strict=True))
        return [self._pairs[pair] for pair in pairs], None  # type: ignore[index]

    def _encode_prompts(self, prompts: Sequence[Prompt]) -> tuple[list[list[int]], list[ImageInputs] | None]:
        _refuse_images(prompts)
        return [encode(self.tokenizer, prompt) for prompt in prompts], None  # type: ignore[arg-type]

    def _pad(self, rows: list[list[int]], images: list[ImageInputs] | None, side: str | None = None) -> Batch:
        return pad(rows, pad_id(self.tokenizer), side or self.padding_side, images)

    def _score_batch(self, batch: Batch, encoded: list[tuple[list[int], list[int]]]) -> list[Scored]:
        device = next(self.model.parameters()).device
        row_index, col_index, answers = [], [], []
        offsets = batch.offsets.tolist()
        for row, (prompt, answer) in enumerate(encoded):
            for j in range(len(answer)):
                row_index.append(row)
                col_index.append(offsets[row] + len(prompt) - 1 + j)
            answers.extend(answer)
        logits = logits_at(self.model, batch.to(device), torch.tensor(row_index), torch.tensor(col_index))
        logprobs = logits.log_softmax(-1)
        chosen = logprobs.gather(1, torch.tensor(answers, device=logits.device)[:, None])[:, 0].tolist()
        argmax = logits.argmax(-1).tolist()
        top = logits.topk(min(TOP_K, logits.shape[-1]), dim=-1).indices.tolist()
        out, start = [], 0
        for _, answer in encoded:
            end = start + len(answer)
            ranked = tuple(tuple(ids) for ids in top[start:end])
            out.append(Scored(tuple(answer), tuple(chosen[start:end]), tuple(argmax[start:end]), ranked))
            start = end
        return out

    @torch.no_grad()
    def generate(
        self, prompts: Sequence[str], max_new_tokens: Sequence[int], *, top_k: int | None = None, seed: int = 0
    ) -> list[str]:
        """Continuations (decoded, special tokens dropped), each at most its own number of new tokens.

        Greedy by default; with ``top_k``, sampled among the k most likely tokens (ROME's ``generate_fast``), each
        batch under its own seed derived from ``seed``, so a run is reproducible and leaves torch's global random
        state as it was.
        """
        rows, images = self._encode_prompts(prompts)
        results: list[str] = [""] * len(prompts)
        device = next(self.model.parameters()).device
        pad_token = pad_id(self.tokenizer)
        sampling = {"do_sample": False} if top_k is None else {"do_sample": True, "top_k": top_k, "top_p": 1.0}
        chunks = self._chunks(rows, images)
        quiet = not self.progress or len(chunks) < PROGRESS_FROM
        shown = tqdm(chunks, desc="generating", unit="batch", leave=False, disable=quiet)
        for number, chunk in enumerate(shown):
            chosen = None if images is None else [images[i] for i in chunk]
            batch = self._pad([rows[i] for i in chunk], chosen, "left").to(device)
            inputs = batch.model_inputs()
            inputs.pop("position_ids", None)  # generate derives positions from the attention mask
            limit = max(max_new_tokens[i] for i in chunk)
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                torch.manual_seed(seed + number)
                output = self.model.generate(
                    **inputs,
                    max_new_tokens=limit,
                    pad_token_id=pad_token,
                    use_cache=not needs_whole_sequence(self.model),
                    **sampling,
                )
            new = output[:, batch.input_ids.shape[1] :].tolist()
            for i, tokens in zip(chunk, new, strict=True):
                tokens = _until_eos(tokens[: max_new_tokens[i]], self.tokenizer.eos_token_id)
                results[i] = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return results

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids))

    def _chunks(self, rows: Sequence[Sequence[int]], images: Sequence[ImageInputs] | None = None) -> list[list[int]]:
        """Batches of row indices, sorted by length (less padding); rows with and without images never share a
        batch (BLIP-2 needs an image on every row)."""
        order = sorted(range(len(rows)), key=lambda i: (bool(images and images[i]), len(rows[i])))
        chunks = []
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            if images is None:
                chunks.append(chunk)
                continue
            for kind in (False, True):
                part = [i for i in chunk if bool(images[i]) == kind]
                if part:
                    chunks.append(part)
        return chunks


def _refuse_images(prompts: Iterable[Prompt]) -> None:
    if any(isinstance(prompt, VisualPrompt) for prompt in prompts):
        raise ConfigError("a text causal LM cannot read images; evaluate multimodal requests with a vision backend")


def _until_eos(tokens: list[int], eos: int | None) -> list[int]:
    return tokens[: tokens.index(eos)] if eos is not None and eos in tokens else tokens
