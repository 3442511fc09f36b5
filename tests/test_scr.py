"""SCR: the judge's prompt and its parsing, the answer prompt, locality by construction (a query with no confirmed
fact is asked exactly as the unedited model is asked), the store kept equal to the memory, and edits of the world
model, which was trained to judge relevance and to read stated facts."""

from __future__ import annotations

import pytest
import torch

from amend import Editor, Patch
from amend.changes import attached
from amend.changes.attachments import MemoryEntry
from amend.evaluation import EvaluationSettings, evaluate
from amend.knowledge import SQLiteStore
from amend.lm import CausalLM, ContextualLM, Scored
from amend.methods.contextual import MemoryIndex
from amend.methods.scr.config import ScrConfig
from amend.methods.scr.method import Scr, reader
from amend.methods.scr.reader import SelectiveReader, verdict
from amend.testbeds import load as load_testbed


@pytest.mark.parametrize(
    ("reply", "confirms"),
    [("yes", True), (" Yes.", True), ("YES, it is", True), ("\nyes", True), (" no", False), ("", False),
     ("yesterday", False), ("Not yes", False), ("...", False)],
)  # fmt: skip
def test_a_verdict_is_the_first_word_of_the_reply(reply, confirms):
    assert verdict(reply, "yes") is confirms


class FixedReplies:
    """A language model whose replies are fixed by the fact named in the prompt; records what it was asked."""

    def __init__(self, replies: dict[str, str]):
        self.replies, self.asked = replies, []

    def generate(self, prompts, max_new_tokens, *, top_k=None, seed=0):
        self.asked.extend(prompts)
        return [next(reply for fact, reply in self.replies.items() if fact in prompt) for prompt in prompts]

    def score(self, pairs):
        return [Scored((1,), (-float(len(prompt)),), (1,)) for prompt, _ in pairs]

    def decode(self, ids):
        return ""


class ChatTokenizer:
    chat_template = "{{ messages }}"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        assert not tokenize and add_generation_prompt
        return f"<user>{messages[0]['content']}</user><assistant>"


FACTS = ["Ada Lovelace lives in Paris.", "Ada Lovelace works as a pilot.", "Alan Turing lives in Rome."]


def memory_model(facts):
    model = torch.nn.Linear(1, 1)
    attached(model).entries("default").extend(MemoryEntry(fact) for fact in facts)
    return model


@pytest.mark.parametrize("tokenizer", [None, ChatTokenizer()])
def test_the_judge_is_asked_per_candidate_and_only_confirmed_facts_are_read(tokenizer):
    config = ScrConfig(retrieval="lexical", top_k=3)
    lm = FixedReplies({FACTS[0]: " Yes.", FACTS[1]: " no", FACTS[2]: "No, it is not"})
    model = memory_model(FACTS)
    scr = SelectiveReader(lm, MemoryIndex(model, SQLiteStore(), "default"), config, tokenizer)
    question = "Where does Ada Lovelace live?"
    prompt = scr(question)
    judge = (
        "Fact: {fact}\nQuestion: Where does Ada Lovelace live?\n"
        "Is the fact relevant to answering the question? Answer yes or no."
    )
    expected = [judge.format(fact=fact) for fact in FACTS[:2]]  # Alan Turing's shares no word: not retrieved
    if tokenizer is not None:
        expected = [f"<user>{text}</user><assistant>" for text in expected]
    assert sorted(lm.asked) == sorted(expected)  # one relevance question per candidate, in the template
    assert prompt == (
        "Use the following facts if relevant.\nFacts:\n- Ada Lovelace lives in Paris.\n"
        "Question: Where does Ada Lovelace live?\nAnswer:"
    )
    trace = scr.traces[-1]
    assert [hit.text for hit, kept in zip(trace.candidates, trace.confirmed, strict=True) if kept] == [FACTS[0]]
    assert scr(question) == prompt and len(lm.asked) == 2  # cached while the memory is unchanged
    assert scr("Who is Grace Hopper?") is None  # nothing retrieved by its words: asked as it is


def test_the_store_follows_the_memory_as_facts_come_and_go():
    model = memory_model(FACTS[:2])
    store = SQLiteStore()
    index = MemoryIndex(model, store, "default")
    index.sync()
    assert sorted(store.texts(store.ids()).values()) == sorted(FACTS[:2])
    entries = attached(model).entries("default")
    entries.pop(0)
    entries.extend([MemoryEntry(FACTS[2]), MemoryEntry(FACTS[2])])  # the same text twice is two facts
    version = index.version
    index.sync()
    assert sorted(store.texts(store.ids()).values()) == sorted([FACTS[1], FACTS[2], FACTS[2]])
    assert index.version == version + 1
    index.sync()
    assert index.version == version + 1  # nothing changed, nothing done


@pytest.fixture(scope="module")
def world():
    bed = load_testbed("world")
    return bed.model, bed.tokenizer, bed.requests(6)


def test_the_world_model_judges_its_own_fact_relevant_and_another_persons_not(world):
    model, tok, requests = world
    editor = Editor(model, tok, "scr", retrieval="lexical")
    request, other = requests[0], requests[1]
    lm = CausalLM(model, tok)
    scr = reader(lm, model, editor.config)
    editor.edit([request, other])
    prompt = scr(request.rephrase[0].prompt)
    trace = scr.traces[-1]
    verdicts = {hit.text: kept for hit, kept in zip(trace.candidates, trace.confirmed, strict=True)}
    own, others = f"{request.text} {request.target_new}.", f"{other.text} {other.target_new}."
    assert verdicts[own] is True and verdicts.get(others, False) is False
    assert prompt == f"Fact: {own} Question: {request.rephrase[0].prompt}"
    editor.revert()


def test_a_query_with_no_confirmed_fact_is_answered_exactly_as_by_the_unedited_model(world):
    model, tok, requests = world
    editor = Editor(model, tok, "scr", retrieval="lexical", top_k=3)
    lm = CausalLM(model, tok)
    seen = Scr.observed(lm, model, editor.config)
    pairs = [(probe.prompt, probe.answer) for request in requests[:3] for probe in request.locality]
    before = lm.score(pairs)
    editor.edit(requests[:3])
    after = seen.score(pairs)
    traces = seen.context.traces
    untouched = [i for i, (prompt, _) in enumerate(pairs) if seen.context(prompt) is None]
    rejected = [trace for trace in traces if trace.candidates and trace.prompt is None]
    assert rejected  # facts were retrieved for these probes and the judge turned them down
    assert len(untouched) >= len(pairs) // 2
    for i in untouched:
        assert after[i] == before[i]  # bit for bit: the same prompt, the same forward
    editor.revert()
    assert seen.context(pairs[0][0]) is None


def test_scr_edits_the_world_model_through_evaluation_and_its_patch_round_trips(world, tmp_path):
    model, tok, requests = world
    settings = EvaluationSettings(protocols=("probability",), progress=False)
    result = evaluate(model, tok, requests, "scr", settings=settings, retrieval="lexical")
    summary = {name: value["probability"]["mean"] for name, value in result.summary.items()}
    assert summary["reliability"] == 1.0 and summary["locality_agreement"] == 1.0
    assert summary["portability"] >= 0.8
    assert result.pre_summary["reliability"]["probability"]["mean"] == 0.0
    traces = [sample["context_trace"] for sample in result.samples if "context_trace" in sample]
    context = result.extra["context"]
    assert len(traces) == context["queries"] > context["answered_in_context"] > 0
    # the observation before the edits asks every probe with an empty store: at most half retrieve a fact
    assert context["queries_with_candidates"] == sum(bool(trace["candidates"]) for trace in traces) <= len(traces) // 2
    assert any(trace["candidates"] and trace["prompt"] for trace in traces)  # saved with the run, stage by stage
    patch = Editor(model, tok, "scr").edit(requests[:2])
    patch.save(tmp_path / "scr")
    patch.revert()
    assert not attached(model).facts()
    Patch.load(tmp_path / "scr").apply(model)
    assert attached(model).facts() == [f"{r.text} {r.target_new}." for r in requests[:2]]
    attached(model).memories.clear()


def test_a_contextual_lm_rewrites_only_what_its_context_returns():
    lm = FixedReplies({})
    seen = ContextualLM(lm, lambda prompt: f"[{prompt}]" if "x" in prompt else None)
    scores = seen.score([("x marks", "a"), ("plain", "b")])
    assert [s.logprobs[0] for s in scores] == [-len("[x marks]"), -len("plain")]


@pytest.mark.parametrize("backend", ["sqlite-file", "postgres"])
def test_scr_reads_the_same_through_a_persistent_store(world, backend, embedder, tmp_path, request):
    """The store a user points SCR at (a SQLite file, a PostgreSQL URL) gives the prompts the in-memory one gives,
    and mirrors the memory: reopened over the same facts it embeds nothing again, reverted facts leave it."""
    model, tok, requests = world
    store = str(tmp_path / "facts.sqlite") if backend == "sqlite-file" else request.getfixturevalue("postgres_url")
    editor = Editor(model, tok, "scr", top_k=2)
    lm = CausalLM(model, tok)
    here = reader(lm, model, editor.config, embedder)
    there = reader(lm, model, Editor(model, tok, "scr", top_k=2, store=store).config, embedder)
    editor.edit(requests[:4])
    queries = [r.rephrase[0].prompt for r in requests[:4]] + [requests[5].text]
    assert [there(q) for q in queries] == [here(q) for q in queries]
    assert sum(there(q) is not None for q in queries) >= 3
    again = reader(lm, model, Editor(model, tok, "scr", store=store).config, embedder)
    again.index.store.add = None  # nothing may be added: every fact is there already
    again.index.sync()
    assert len(again.index.store) == 4
    editor.revert()
    again.index.sync()
    assert len(again.index.store) == 0
    if backend == "postgres":
        again.index.store.drop()


def test_in_sequence_the_facts_accumulate_and_each_query_finds_its_own(world):
    model, tok, requests = world
    settings = EvaluationSettings(mode="sequential", protocols=("probability",), progress=False)
    result = evaluate(model, tok, requests, "scr", settings=settings, retrieval="lexical")
    summary = {name: value["probability"]["mean"] for name, value in result.summary.items()}
    assert summary["reliability"] == 1.0 and summary["generalization"] >= 0.6  # all six facts stored at the end
    confirmed = [
        sum(sample["context_trace"]["confirmed"])
        for sample in result.samples
        if "context_trace" in sample and sample["context_trace"]["prompt"]
    ]
    assert max(confirmed) == 1  # one fact confirmed per query although six are stored
    assert not attached(model).facts()
