"""How MEMIT's λ and AlphaEdit's null-space threshold act on a model: the numbers behind relative settings.

    .venv/bin/python bench/key_scale.py [--testbed smollm2] [--path FILE] [--num 40] [--layers L ...] [--threads 2]

For the edit requests of a CounterFact file (EasyEdit format) on a testbed's model, at each layer: the subject keys'
kᵀC⁻¹k (mean, min, max; its mean over the statistics corpus is exactly the key width), the fraction of one key a
MEMIT layer writes alone, s / (λ + s), at the reference absolute λ and at the model's relative λ, the largest
eigenvalue of C, and the null-space dimension at AlphaEdit's reference absolute τ and at the model's relative τ.
Statistics come from the testbed's corpus and settings (cached under $AMEND_CACHE).
"""

from __future__ import annotations

import argparse

import torch

from amend.architectures import anatomy
from amend.datasets import load as load_dataset
from amend.editing.editor import Editor
from amend.methods.alphaedit.config import AlphaEditConfig
from amend.methods.locate.common import context_templates, key_covariances
from amend.methods.locate.keys import subject_keys
from amend.testbeds import load as load_testbed

REFERENCE_LAMBDA = 15_000.0  # MEMIT on Llama-3-8B and GPT-J
REFERENCE_TAU = 0.02  # AlphaEdit's absolute threshold


def written(s: torch.Tensor, weight: float) -> float:
    """Mean fraction of its target one key writes alone at a MEMIT layer: s / (λ + s)."""
    return (s / (weight + s)).mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testbed", default="smollm2")
    parser.add_argument("--path", default="../shared/data/counterfact-easyedit/counterfact-val.first300.json")
    parser.add_argument("--num", type=int, default=40, help="requests whose subject keys are measured")
    parser.add_argument("--layers", type=int, nargs="+", help="default: MEMIT's layers for the model")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bed = load_testbed(args.testbed)
    requests = load_dataset("counterfact-easyedit", args.path)[: args.num]
    editor = Editor(bed.model, bed.tokenizer, "memit", progress=True)
    config = editor.config
    method = editor.method_cls(bed.model, bed.tokenizer, config, editor.resources)
    layers = args.layers or list(config.layers)
    covariances = key_covariances(method, config, layers)
    templates = context_templates(method, config)
    tau = AlphaEditConfig.for_model(bed.model)
    print(f"{len(requests)} requests; λ {config.mom2_update_weight:g} ({config.lambda_mode}); "
          f"AlphaEdit τ {tau.nullspace_threshold:g} ({tau.threshold_mode})")  # fmt: skip
    header = "layer  mean s (min-max)        written@15000  written@model  λ_max(C)  null@0.02abs  null@model"
    print(header)
    for layer in layers:
        cov = covariances[layer]
        keys = subject_keys(anatomy(bed.model), bed.tokenizer, requests, templates, layer, average="grouped").double()
        s = torch.einsum("nd,nd->n", keys, torch.linalg.solve(cov, keys.T).T)
        eigen = torch.linalg.eigvalsh(cov)
        model_lambda = config.mom2_weight(cov.shape[0])
        model_tau = tau.nullspace_threshold * (eigen.max() if tau.threshold_mode == "relative" else 1.0)
        print(
            f"{layer:5d}  {s.mean():7.0f} ({s.min():5.0f}-{s.max():6.0f})  {written(s, REFERENCE_LAMBDA):13.2f}"
            f"  {written(s, model_lambda):13.2f}  {eigen.max():8.2f}  {int((eigen < REFERENCE_TAU).sum()):12d}"
            f"  {int((eigen < model_tau).sum()):10d}"
        )


if __name__ == "__main__":
    main()
