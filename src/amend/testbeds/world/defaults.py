"""Editing settings that suit the world model, and the corpus its key statistics are computed on.

These are per-model defaults, not method code: the world testbed hands them to every method's config
(``MethodConfig.for_model``) over the architecture's defaults, and a caller's overrides still win. Measured on the
shipped model (`docs/world.md` has the tables and commands):

* context templates are the filler sentences the model saw before passages (:data:`CONTEXT_PREFIXES`); prefixes
  built from other people's sentences confuse a biography-trained model;
* the KL term (ROME's and the MEMIT family's) keeps the model's answers to the person's *other* relations
  (:data:`KL_PROMPTS`, read at the prompt's end, weight 0.2) instead of ROME's single "{} is a", and ROME uses the
  template-averaged key everywhere (r-ROME): both lower the damage to the same person's other facts, the first
  most (the prompt of the edited relation is left out of the term per request, as the model answers it with the
  old object);
* the MEMIT family edits layer 0 only (where this model recalls facts; the subject keys of layers 1-2 crowd into
  15 and 6 directions, `bench/key_space.py`) and uses a covariance weight λ of 100 (at
  the reference 15000 the update vanishes on this model: its key statistics are far more isotropic than a
  pretrained LM's), with a larger norm limit and a lighter decay (`docs/sequential.md`).
"""

from __future__ import annotations

from typing import Any

from amend.stats import Corpus
from amend.testbeds.world.corpus import (
    CONTEXT_PREFIXES,
    FACT_MARK,
    QUESTION_MARK,
    CorpusSpec,
    epoch_texts,
    relevance_prompt,
)
from amend.testbeds.world.generator import PERSON_RELATIONS, PHRASES, World, plain_template

CONTEXT_TEMPLATES = tuple(f"{prefix} {{}}" for prefix in CONTEXT_PREFIXES)
KL_PROMPTS = tuple(plain_template(PHRASES[relation]) for relation in PERSON_RELATIONS)  # one per person relation

# Keep the person's other answers: the KL term of every locate-then-edit method here.
_KEEP_THE_PERSON = {"kl_prompts": list(KL_PROMPTS), "kl_position": "last", "kl_factor": 0.2}

_BATCHED = {
    "layers": [0],
    "mom2_update_weight": 100.0,
    "clamp_norm_factor": 2.0,
    "v_weight_decay": 0.05,
    "v_num_grad_steps": 60,
    **_KEEP_THE_PERSON,
    "context_templates": list(CONTEXT_TEMPLATES[:5]),
    "stats_tokens": 200_000,
}

# SCR asks in the formats the model was trained on: its relevance judgement and its in-context reading.
_READ_IN_CONTEXT = {
    "judge_template": relevance_prompt("{fact}", "{question}"),
    "judge_chat": False,
    "judge_tokens": 1,
    "answer_template": f"{{facts}} {QUESTION_MARK} {{question}}",
    "fact_line": f"{FACT_MARK} {{fact}}",
    "fact_separator": " ",
}

EDIT_DEFAULTS: dict[str, dict[str, Any]] = {
    "scr": dict(_READ_IN_CONTEXT),
    # IKE's demonstrations in the reading format the model knows ("Fact: ... Question: ... answer").
    "ike": {
        "fact_template": "{prompt} {target}.",
        "demo_template": f"{FACT_MARK} {{fact}} {QUESTION_MARK} {{prompt}}",
        "separator": " ",
    },
    "rome": {
        "layer": 0,
        **_KEEP_THE_PERSON,
        "v_num_grad_steps": 100,
        "key_mode": "consistent",
        "context_templates": list(CONTEXT_TEMPLATES),
        "stats_tokens": 200_000,
    },
    "memit": dict(_BATCHED),
    # The reference absolute τ = 0.02 makes AlphaEdit write nothing here: at layer 0 it leaves a null space of 29 of
    # 512 dimensions, holding 0.1 % of the subjects' key energy. A relative τ of 0.01 keeps 442 (α is the reference 10).
    "alphaedit": {**_BATCHED, "threshold_mode": "relative", "nullspace_threshold": 0.01},
}

STATS_EPOCHS = 3


def stats_corpus(world: World) -> Corpus:
    """The world's training texts of the first epochs: the 'Wikipedia' of the world model's key statistics."""
    texts = [text for epoch in range(STATS_EPOCHS) for text in epoch_texts(world, CorpusSpec(), epoch)]
    return Corpus.from_texts(texts, name=f"world{world.seed}")
