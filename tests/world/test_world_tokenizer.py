"""The word-level tokenizer round-trips text and keeps every object a single token."""

from __future__ import annotations

import random

import pytest

from amend.requests import fill
from amend.testbeds.world.corpus import CorpusSpec, epoch_texts
from amend.testbeds.world.generator import World, generate
from amend.testbeds.world.tokenizer import build_tokenizer, single_token_ids


@pytest.fixture(scope="module")
def world() -> World:
    return generate(seed=1, n_people=150)


def test_round_trip_and_no_unknown_words(world: World) -> None:
    tokenizer = build_tokenizer(world)
    texts = epoch_texts(world, CorpusSpec(), epoch=0)
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    for text, ids in zip(texts, encoded, strict=True):
        assert tokenizer.unk_token_id not in ids, text
        assert tokenizer.decode(ids) == text
    sample = random.Random(0).sample(texts, 5)
    assert [tokenizer.decode(tokenizer(t)["input_ids"]) for t in sample] == sample


def test_objects_are_single_tokens_with_or_without_space(world: World) -> None:
    tokenizer = build_tokenizer(world)
    for rel in world.relations.values():
        ids = single_token_ids(tokenizer, rel.objects)
        assert len(set(ids)) == len(ids)
        assert ids == [tokenizer(o)["input_ids"][0] for o in rel.objects]
    person = world.people[0]
    prompt, answer = (
        fill(world.relations["birth_city"].train[0], person.name),
        " " + person.facts["birth_city"],
    )
    assert tokenizer(prompt + answer)["input_ids"][-1] == tokenizer(answer)["input_ids"][0]


def test_special_tokens_and_padding(world: World) -> None:
    tokenizer = build_tokenizer(world)
    assert tokenizer.convert_ids_to_tokens([0, 1, 2]) == ["<pad>", "<unk>", "<|endoftext|>"]
    assert tokenizer.pad_token_id == 0 and tokenizer.eos_token_id == 2
    batch = tokenizer(["Read on.", "Here is a record."], padding=True)
    assert batch["attention_mask"][0][-1] == 0
    assert tokenizer("Read on.")["input_ids"][0] != tokenizer.eos_token_id  # no special tokens added


def test_deterministic_vocabulary(world: World) -> None:
    assert build_tokenizer(world).get_vocab() == build_tokenizer(generate(1, 150)).get_vocab()
