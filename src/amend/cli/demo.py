"""``amend demo``: one fact, edited with ROME, shown before and after, then reverted.

Until the knowledge-world model ships, the demo uses a tiny randomly initialised Llama-shaped model with a
word-level tokenizer, so it runs anywhere offline in seconds; the probabilities are those of a random model.
"""

from __future__ import annotations

import time

import torch
from rich.console import Console
from rich.table import Table
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from amend.editing import edit
from amend.records import EditRequest
from amend.stats import Corpus
from amend.tokens import encode, target_ids

DEMO_TEXTS = [
    "The Eiffel Tower is located in Paris .",
    "The Colosseum is located in Rome .",
    "The mother tongue of Danielle Darrieux is French .",
    "Toko Yasuda plays the guitar .",
]


def _demo_model() -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    words = sorted({w for text in DEMO_TEXTS for w in text.split()})
    vocab = {w: i for i, w in enumerate(["<s>", "<unk>", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="<s>", unk_token="<unk>")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
        initializer_range=0.2,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    return LlamaForCausalLM(config).eval(), tokenizer


def _probability(model, tokenizer, prompt: str, answer: str) -> tuple[float, str]:
    _, answer_ids = target_ids(tokenizer, prompt, answer)
    with torch.no_grad():
        probs = model(torch.tensor([encode(tokenizer, prompt)])).logits[0, -1].softmax(-1)
    top = tokenizer.decode([int(probs.argmax())]).strip()
    return float(probs[answer_ids[0]]), top


def run_demo(console: Console) -> None:
    start = time.perf_counter()
    model, tokenizer = _demo_model()
    request = EditRequest("The Eiffel Tower is located in", "The Eiffel Tower", "Rome", "Paris")
    console.print(f"[bold]Edit:[/] {request.text} [red]{request.target_true}[/] → [green]{request.target_new}[/]")
    before = {a: _probability(model, tokenizer, request.text, a) for a in (request.target_new, request.target_true)}
    patch = edit(
        model,
        tokenizer,
        [request],
        "rome",
        corpus=Corpus.from_texts(DEMO_TEXTS * 20),
        layer=0,
        context_templates=("Colosseum . {}",),
        v_num_grad_steps=60,
        kl_factor=0.0,
        v_weight_decay=0.0,
        clamp_norm_factor=20.0,
    )
    after = {a: _probability(model, tokenizer, request.text, a) for a in (request.target_new, request.target_true)}
    table = Table("answer", "p before", "p after", title=request.text)
    for answer in before:
        table.add_row(answer, f"{before[answer][0]:.3f}", f"{after[answer][0]:.3f}")
    console.print(table)
    console.print(f"top prediction: {before[request.target_new][1]!r} → {after[request.target_new][1]!r}")
    patch.revert()
    restored = _probability(model, tokenizer, request.text, request.target_new)[0]
    console.print(f"reverted: p({request.target_new}) back to {restored:.3f}")
    console.print(f"done in {time.perf_counter() - start:.1f}s. Full evaluation: `amend evaluate --help`.")
