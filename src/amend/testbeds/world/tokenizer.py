"""A word-level tokenizer for the fictional world.

One token per word makes every object a single token, so recall is one argmax and an edit target is one id.
Words carry a leading ``▁`` for the space before them (as in SentencePiece), punctuation is split off
without one, so ``decode(encode(text)) == text`` for text with single spaces, and ``" Kelmar"`` and
``"Kelmar"`` encode to the same single token (methods that tokenize targets with a leading space get what
they expect).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from amend.requests import fill
from amend.testbeds.world.corpus import (
    CONTEXT_PREFIXES,
    NO,
    YES,
    in_context_prompt,
    relevance_prompt,
)
from amend.testbeds.world.generator import World

PAD = "<pad>"
UNK = "<unk>"
EOS = "<|endoftext|>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, EOS)
_SPACE = "▁"


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_SPACE, prepend_scheme="always", split=True),
            pre_tokenizers.Punctuation("isolated"),
        ]
    )


def lexicon(world: World) -> list[str]:
    """Texts that together contain every word the corpus or the evaluation can produce."""
    person = world.people[0].name
    city = next(iter(world.city_country))
    texts = [*CONTEXT_PREFIXES, YES, NO, in_context_prompt(["x."], "y"), relevance_prompt("x.", "y")]
    for rel in world.relations.values():
        subject = city if rel.subject_kind == "city" else person
        texts += [fill(t, subject) + " x." for t in rel.templates]
        texts += list(rel.objects)
    texts += [w for p in world.people for w in (p.first, p.last)]
    return texts


def build_tokenizer(world: World, model_max_length: int = 256) -> PreTrainedTokenizerFast:
    """The tokenizer whose vocabulary is exactly the words of ``world`` (sorted, so it is deterministic)."""
    return word_level_tokenizer(lexicon(world), model_max_length=model_max_length, exclude={"x", "▁x", "▁y"})


def word_level_tokenizer(
    texts: Iterable[str],
    *,
    special: Sequence[str] = SPECIAL_TOKENS,
    model_max_length: int = 256,
    exclude: Iterable[str] = (),
) -> PreTrainedTokenizerFast:
    """A word-level tokenizer knowing every word of ``texts`` (and no placeholder of ``exclude``): one token per
    word, a leading ``▁`` for the space before it; ``special`` starts with the pad, unknown and end tokens."""
    pre = _pre_tokenizer()
    words = sorted({piece for text in texts for piece, _ in pre.pre_tokenize_str(text)} - set(exclude))
    vocab = {tok: i for i, tok in enumerate([*special, *words])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    backend.normalizer = normalizers.Replace(Regex(r"\s+"), " ")
    backend.pre_tokenizer = pre
    backend.decoder = decoders.Metaspace(replacement=_SPACE, prepend_scheme="always", split=True)
    backend.add_special_tokens(list(special))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD,
        unk_token=UNK,
        bos_token=EOS,
        eos_token=EOS,
        clean_up_tokenization_spaces=False,
        model_max_length=model_max_length,
    )


def single_token_ids(tokenizer: PreTrainedTokenizerFast, words: Iterable[str]) -> list[int]:
    """The token id of each word as a continuation (``" word"``); raises unless each is exactly one token."""
    ids = []
    for word in words:
        encoded = tokenizer(" " + word, add_special_tokens=False)["input_ids"]
        if len(encoded) != 1 or encoded[0] == tokenizer.unk_token_id:
            raise ValueError(f"{word!r} is not a single known token: {encoded}")
        ids.append(encoded[0])
    return ids


__all__ = [
    "EOS",
    "PAD",
    "SPECIAL_TOKENS",
    "UNK",
    "build_tokenizer",
    "lexicon",
    "single_token_ids",
    "word_level_tokenizer",
]
