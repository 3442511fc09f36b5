"""Tiny models and locally built tokenizers: nothing can be downloaded in tests."""

from __future__ import annotations

import functools
import random

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

from amend import EditRequest, Probe, Rephrase
from amend.tokens import encode, pad_id, pad_right

SUBJECTS = [
    "Danielle Darrieux",
    "Edwin of Northumbria",
    "Toko Yasuda",
    "Autonomous University of Madrid",
    "Thomas Joannes Stieltjes",
    "Anaal Nathrakh",
    "Apple A5",
    "Honus Wagner",
    "Basilica of Saint Mary",
]
OBJECTS = [
    "French",
    "English",
    "Christianity",
    "guitar",
    "Spain",
    "Dutch",
    "Birmingham",
    "Google",
    "baseball",
    "Paris",
    "Rome",
    "London",
    "Tokyo",
    "piano",
    "Nokia",
    "Athens",
]
FRAMES = [
    "The mother tongue of {} is",
    "{} is located in",
    "{} plays the",
    "{} was born in",
    "{} is a product of",
    "The official religion of {} is",
    "{} works for",
    "{} speaks",
]


def facts(seed: int = 0) -> dict[tuple[str, str], str]:
    """A fixed object for every (frame, subject): the facts a tiny trained model learns."""
    rng = random.Random(seed)
    return {(frame, subject): rng.choice(OBJECTS) for frame in FRAMES for subject in SUBJECTS}


def corpus(n: int = 400, seed: int = 0) -> list[str]:
    """Two-fact documents drawn from :func:`facts` (tokenizer training, statistics, tiny-model training)."""
    rng = random.Random(seed)
    table = list(facts().items())
    docs = []
    for _ in range(n):
        (f1, s1), o1 = rng.choice(table)
        (f2, s2), o2 = rng.choice(table)
        docs.append(f"{f1.replace('{}', s1)} {o1}. {f2.replace('{}', s2)} {o2}.")
    return docs


@functools.cache
def tokenizer(bos: bool = False) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on :func:`corpus`. ``bos=True`` adds ``<s>`` to every call, Llama-style;
    otherwise it behaves like GPT-2 (leading-space tokens, no special tokens added)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<s>", "<pad>"]
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus(), trainer)
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
        )
        return PreTrainedTokenizerFast(
            tokenizer_object=tok, bos_token="<s>", eos_token="<|endoftext|>", pad_token="<pad>"
        )
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>")


_SMALL = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=8,
    max_position_embeddings=128,
)
TINY_CONFIGS: dict[str, dict] = {
    "gpt2": dict(n_embd=32, n_inner=64, n_layer=3, n_head=4, n_positions=128),
    "gptj": dict(n_embd=32, n_inner=64, n_layer=3, n_head=4, n_positions=128, rotary_dim=4),
    "gpt_neox": dict(_SMALL, num_key_value_heads=4),
    "llama": _SMALL,
    "mistral": _SMALL,
    "qwen2": _SMALL,
    "qwen3": _SMALL,
    "phi3": dict(_SMALL, num_key_value_heads=4),
    "gemma2": _SMALL,
    "opt": dict(
        hidden_size=32,
        ffn_dim=64,
        num_hidden_layers=3,
        num_attention_heads=4,
        word_embed_proj_dim=32,
        max_position_embeddings=128,
    ),
}


def tiny_model(model_type: str, seed: int = 0, vocab_size: int | None = None) -> torch.nn.Module:
    """A randomly initialised model of ``model_type`` sized for the test tokenizers, in eval mode."""
    vocab = vocab_size or len(tokenizer())
    config = AutoConfig.for_model(
        model_type,
        vocab_size=vocab,
        pad_token_id=vocab - 1,
        bos_token_id=1,
        initializer_range=0.2,
        eos_token_id=0,
        **TINY_CONFIGS[model_type],
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    return model.eval()


@functools.cache
def _trained_state(model_type: str, bos: bool, steps: int) -> dict[str, torch.Tensor]:
    model = tiny_model(model_type).train()
    tok = tokenizer(bos)
    docs = corpus(2000, seed=1)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        index = torch.randint(len(docs), (32,), generator=generator).tolist()
        batch = pad_right([encode(tok, docs[i]) for i in index], pad_id(tok))
        labels = batch.input_ids.masked_fill(batch.attention_mask == 0, -100)
        loss = model(**batch.model_inputs(), labels=labels).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def trained_tiny_model(model_type: str, bos: bool = False, steps: int = 300) -> torch.nn.Module:
    """A tiny model trained for a few seconds on :func:`facts`, so that it knows them (fresh copy each call)."""
    model = tiny_model(model_type)
    model.load_state_dict(_trained_state(model_type, bos, steps))
    return model.eval()


# ROME settings under which a 3-layer model trained for seconds can take an edit (its facts are weakly stored).
ROME_TEST_SETTINGS = dict(
    layer=0, clamp_norm_factor=10.0, v_num_grad_steps=50, context_templates=("Rain fell. {}", "I said that. {}")
)


BATCH_TEST_SETTINGS = dict(
    layers=(0, 1),
    v_lr=0.5,
    clamp_norm_factor=10.0,
    v_num_grad_steps=50,
    context_templates=("Rain fell. {}",),
    mom2_update_weight=100.0,
)  # the MEMIT family on a trained tiny model: two layers, one context template


def batch_test_requests() -> list[EditRequest]:
    """Three counterfactual requests on distinct subjects of :func:`facts` (a MEMIT-family batch)."""
    return [
        edit_request("The mother tongue of {} is", "Danielle Darrieux"),
        edit_request("{} works for", "Apple A5"),
        edit_request("{} plays the", "Toko Yasuda"),
    ]


def edit_request(frame: str, subject: str, new: str = "Tokyo") -> EditRequest:
    """A counterfactual request on a fact of :func:`facts` (target_new differs from the true object)."""
    true = facts()[(frame, subject)]
    return EditRequest(frame, subject, new if new != true else "Paris", true)


def world_like_requests(n: int = 4) -> list[EditRequest]:
    """Requests with a prefixed rephrase, neighbour and same-subject locality probes, over :func:`facts`."""
    table = facts()
    requests = []
    for subject in SUBJECTS[:n]:
        request = edit_request(FRAMES[0], subject)
        neighbours = [Probe(FRAMES[0].format(s), table[(FRAMES[0], s)], "neighbour") for s in SUBJECTS[n:]]
        same = [Probe(f.format(subject), table[(f, subject)], "same_subject") for f in FRAMES[1:4]]
        requests.append(
            EditRequest(
                request.prompt,
                subject,
                request.target_new,
                request.target_true,
                rephrase=[Rephrase("Rain fell. " + request.text, "prefixed")],
                locality=neighbours[:3] + same,
                id=subject,
            )
        )
    return requests
